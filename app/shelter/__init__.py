from flask import Blueprint

bp = Blueprint("shelter", __name__, url_prefix="/shelter")

from app.shelter import holds, referrals, routes  # noqa: E402,F401
