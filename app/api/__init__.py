"""JSON API v1: bearer tokens (or the UI's session), shapes in ../shared/API.md."""

from flask import Blueprint

from app import errors
from app.api.serializers import current_state_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.record_once
def _serialise_conflicts(state) -> None:
    errors.serialise_conflicts_with(state.app, current_state_json)


# Routes on `bp`: calls holds GET /calls; callbacks the call-backs; voicemails the queue;
# alerts the alert rules, alerts and the outbox; statistics the daily statistics.
from app.api import alerts, callbacks, calls, routes, statistics, voicemails  # noqa: E402,F401
