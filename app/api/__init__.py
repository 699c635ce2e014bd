"""JSON API v1: bearer tokens (or the UI's session), shapes in ../shared/API.md."""

from flask import Blueprint

from app import errors
from app.api.serializers import current_state_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.record_once
def _serialise_conflicts(state) -> None:
    errors.serialise_conflicts_with(state.app, current_state_json)


# Routes on `bp`: calls holds GET /calls; alerts the alert rules, alerts and the outbox; voicemails the queue.
from app.api import alerts, calls, routes, voicemails  # noqa: E402,F401
