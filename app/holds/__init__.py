from flask import Blueprint

bp = Blueprint("holds", __name__)

from app.holds import presenters, routes  # noqa: E402,F401
