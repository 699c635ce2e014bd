"""The managers' alert pages (flow C): current and past alerts with their
timelines and the acknowledge button, and the alert rules editor."""

from flask import Blueprint

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

from app.alerts import routes  # noqa: E402,F401
