from flask import Blueprint

bp = Blueprint("shelter", __name__, url_prefix="/shelter")

from app.shelter import routes  # noqa: E402,F401
