"""Call-backs in API v1 (API.md "Hotline"; app.services.hotline.callbacks):

    POST /api/v1/calls/<id>/consent     {"callback": true, "note"}: consent given live (audited)
    POST /api/v1/calls/<id>/callback    {"confirm_unknown": false} → 202 the attempt, calling the operator
    GET  /api/v1/calls/<id>/callbacks   the contact's attempts, newest first

Operators and managers only: partners and shelter staff (and admins, who
work no calls) get 403. The caller's number is in no answer: an attempt
says who called back, when, and how it ended.
"""

from flask import current_app, jsonify, request

from app import clock
from app.api import bp
from app.clock import iso_local
from app.models import CallbackAttempt
from app.services.core import access
from app.services.core.errors import InvalidInput
from app.services.hotline import call_records, callbacks, twilio_gateway
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required


def _body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object with Content-Type: application/json", field="body")
    return body


def attempt_json(attempt: CallbackAttempt) -> dict:
    return {
        "id": attempt.id,
        "status": attempt.status,
        "operator": attempt.operator.name,
        "started_at": iso_local(attempt.started_at),
        "ended_at": iso_local(attempt.ended_at),
        "result": attempt.result,
    }


@bp.route("/calls/<int:call_id>/consent", methods=["POST"])
@roles_required(*access.CALL_WORKERS)
def callback_consent(call_id: int):
    body = _body()
    if body.get("callback") is not True:
        raise InvalidInput("callback must be true: the caller agreed to be called back", field="callback")
    contact = call_records.get_by_id(call_id)
    config = current_app.config
    with unit_of_work.change():
        callbacks.record_live_consent(current_actor(), contact, clock.now(), body.get("note"),
                                      twilio_gateway.client(config), hash_key=config["CALLER_HASH_KEY"],
                                      retention_days=config["CALLBACK_NUMBER_RETENTION_DAYS"])
    return jsonify({"id": contact.id, "callback_requested": contact.callback_requested,
                    "number_erase_at": iso_local(contact.number_erase_at)})


@bp.route("/calls/<int:call_id>/callback", methods=["POST"])
@roles_required(*access.CALL_WORKERS)
def start_callback(call_id: int):
    """The attempt is committed before Twilio is asked to ring the operator.
    The body is optional: none is {"confirm_unknown": false}."""
    confirm_unknown = (_body() if request.get_data() else {}).get("confirm_unknown", False)
    contact = call_records.get_by_id(call_id)
    config = current_app.config
    attempt = callbacks.start_callback(current_actor(), contact, clock.now(), confirm_unknown=confirm_unknown,
                                       daily_limit=config["CALLBACK_DAILY_LIMIT"])
    unit_of_work.commit_now()
    callbacks.dial_operator(attempt, twilio_gateway.client(config), config, clock.now())
    unit_of_work.commit_now()
    return jsonify(attempt_json(attempt)), 202


@bp.route("/calls/<int:call_id>/callbacks")
@roles_required(*access.CALL_WORKERS)
def callback_list(call_id: int):
    contact = call_records.get_by_id(call_id)
    return jsonify([attempt_json(attempt) for attempt in callbacks.attempts_of(contact)])
