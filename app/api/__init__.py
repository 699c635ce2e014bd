"""JSON API v1: bearer tokens (or the UI's session), shapes in ../shared/API.md."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Routes on `bp`: calls holds GET /calls; alerts the alert rules, alerts and the outbox.
from app.api import alerts, calls, routes  # noqa: E402,F401
