"""JSON API v1: bearer tokens (or the UI's session), shapes in ../shared/API.md."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import routes  # noqa: E402,F401
