"""The hotline's calls in API v1: `GET /api/v1/calls?status=&since=`, and
the risk screening: `GET /api/v1/risk-items`, `PUT /api/v1/calls/<id>/risk`.

Operators, managers and admins list calls; partners and shelter staff get
403 (they never see a call). Masked numbers only: never a full number, never
notes. Risk answers are for operators and managers alone (PRODUCT.md
section 5, rule 11): admins get 403 there too.
"""

from flask import jsonify, request
from flask_babel import get_locale

from app import clock
from app.api import bp
from app.api.paging import next_link, page_args
from app.clock import iso_local
from app.models import Call
from app.services.core import access
from app.services.core.errors import InvalidInput
from app.services.hotline import call_log, call_records, risk
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required


def call_json(call: Call) -> dict:
    return {
        "id": call.id,
        "sid": call.sid,
        "channel": call.channel,
        "caller": call.caller_masked,
        "language": call.language,
        "status": call.status,
        "started_at": iso_local(call.started_at),
        "answered_at": iso_local(call.answered_at),
        "ended_at": iso_local(call.ended_at),
        "duration_s": call.duration_s,
        "operator": call.operator.name if call.operator else None,
        "safe_to_call_back": call.safe_to_call_back,
        "safe_to_leave_message": call.safe_to_leave_message,
        "outcome": call.outcome,
        "risk_level": call.risk_level,
    }


@bp.route("/calls")
@roles_required(*access.CALL_READERS)
def call_list():
    limit, cursor = page_args()
    since = call_log.parse_since(request.args.get("since"), clock.local_zone())
    rows = call_log.listed(status=request.args.get("status") or None, since=since, after_id=cursor, limit=limit)
    return jsonify([call_json(call) for call in rows]), 200, next_link(rows, limit, lambda call: call.id)


@bp.route("/risk-items")
@roles_required(*access.RISK_SCREENERS)
def risk_items():
    items, _scale = risk.instrument()
    locale = str(get_locale())
    return jsonify([{"key": item.key, "label": item.label(locale), "weight": item.weight, "critical": item.critical,
                     "child_at_risk": item.child_at_risk} for item in items])


def risk_json(call: Call, assessment: risk.Assessment) -> dict:
    return {
        "score": assessment.score,
        "computed_level": assessment.computed_level,
        "level": call.risk_level,
        "overridden": risk.overridden(call),
        "answers": dict(call.risk_answers or {}),
        "answered": assessment.answered,
        "total": assessment.total,
        "history": [{**entry, "at": iso_local(entry["at"])} for entry in risk.history(call)],
    }


@bp.route("/calls/<int:call_id>/risk", methods=["PUT"])
@roles_required(*access.RISK_SCREENERS)
def save_risk(call_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object with Content-Type: application/json", field="body")
    contact = call_records.get_by_id(call_id)
    with unit_of_work.change():
        assessment = risk.save_answers(current_actor(), contact, body.get("answers", {}), body.get("level"),
                                       body.get("reason"), clock.now())
    return jsonify(risk_json(contact, assessment))
