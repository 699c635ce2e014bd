"""The voicemail queue in API v1 (PRODUCT.md flow E; section 5, rule 10):
`GET /api/v1/voicemails?status=unheard|handled`, `GET
/api/v1/voicemails/<id>/audio` (the recording, streamed through the app from
Twilio, each listening audited) and `POST /api/v1/voicemails/<id>/handled`
`{"outcome"}`. A voicemail's id is its call's.

Call readers list the queue; operators and managers handle voicemails and
hear them (admins get 403 there); partners and shelter staff get 403
everywhere. No answer carries the recording's Twilio link.
"""

from flask import Response, jsonify, request

from app import clock
from app.api import bp
from app.api.paging import next_link, page_args
from app.clock import iso_local
from app.models import Call
from app.services.core import access
from app.services.core.errors import InvalidInput
from app.services.hotline import voicemails
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required


def voicemail_json(call: Call) -> dict:
    return {
        "id": call.id,
        "call_id": call.id,
        "caller": call.caller_masked,
        "language": call.language,
        "duration_s": call.recording_duration_s,
        "left_at": iso_local(call.voicemail_at),
        "status": call.voicemail_status,
        "risk_level": call.risk_level,
    }


@bp.route("/voicemails")
@roles_required(*access.VOICEMAIL_READERS)
def voicemail_list():
    limit, cursor = page_args()
    rows = voicemails.listed(status=request.args.get("status") or None, after_id=cursor, limit=limit)
    return jsonify([voicemail_json(call) for call in rows]), 200, next_link(rows, limit, lambda call: call.id)


@bp.route("/voicemails/<int:voicemail_id>/audio")
@roles_required(*access.VOICEMAIL_LISTENERS)
def voicemail_audio(voicemail_id: int):
    """The recording as Twilio keeps it (MP3), never cached. Each listening
    is audited once Twilio gives the audio, and the event is committed
    before the audio flows. The audit is the request's only write, begun as
    a writer's after Twilio answered (a browser's player may ask twice at
    once; nobody waits for Twilio)."""
    actor, voicemail = current_actor(), voicemails.get(voicemail_id)
    audio = voicemails.open_audio(actor, voicemail)
    try:
        unit_of_work.writes_from_here()
        voicemails.record_listening(actor, voicemail, clock.now())
    except Exception:
        audio.close()
        raise
    headers = {"Cache-Control": "no-store", "Content-Disposition": "inline"}
    if audio.length:
        headers["Content-Length"] = audio.length
    return Response(audio.chunks(), mimetype=audio.content_type, headers=headers)


@bp.route("/voicemails/<int:voicemail_id>/handled", methods=["POST"])
@roles_required(*access.VOICEMAIL_HANDLERS)
def handle_voicemail(voicemail_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object with Content-Type: application/json", field="body")
    voicemail = voicemails.get(voicemail_id)
    with unit_of_work.change():
        voicemails.handle(current_actor(), voicemail, body.get("outcome"), clock.now())
    return jsonify(voicemail_json(voicemail))
