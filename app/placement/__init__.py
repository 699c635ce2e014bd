"""The operator's placement search: a form, htmx results, one click to hold."""

from flask import Blueprint

bp = Blueprint("placement", __name__, url_prefix="/placement")

from app.placement import routes  # noqa: E402,F401
