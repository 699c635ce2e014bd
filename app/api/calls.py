"""The hotline's calls in API v1: `GET /api/v1/calls?status=&since=`.

Operators, managers and admins; partners and shelter staff get 403 (they
never see a call). Masked numbers only: never a full number, never notes.
"""

from flask import jsonify, request

from app import clock
from app.api import bp
from app.api.paging import next_link, page_args
from app.clock import iso_local
from app.models import Call
from app.services.core import access
from app.services.hotline import call_log
from app.web.auth import roles_required


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
    }


@bp.route("/calls")
@roles_required(*access.CALL_READERS)
def call_list():
    limit, cursor = page_args()
    since = call_log.parse_since(request.args.get("since"), clock.local_zone())
    rows = call_log.listed(status=request.args.get("status") or None, since=since, after_id=cursor, limit=limit)
    return jsonify([call_json(call) for call in rows]), 200, next_link(rows, limit, lambda call: call.id)
