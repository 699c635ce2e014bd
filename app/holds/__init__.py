from flask import Blueprint

bp = Blueprint("holds", __name__)

from app.holds import routes  # noqa: E402,F401
