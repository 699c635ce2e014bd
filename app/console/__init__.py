"""The operator console: who is on duty, the live contacts, a call's page
(needs, safety flags, notes, outcome, the SMS conversation, the placement
search from the call) and the call log with its CSV export."""

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")

from app.console import callbacks, routes  # noqa: E402,F401
