"""The outbox page: every outbound SMS and e-mail and what became of it. In
the embedded default (no Twilio, no SMTP) this is where messages stay."""

from flask import Blueprint

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

from app.outbox import routes  # noqa: E402,F401
