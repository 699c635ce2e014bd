"""API description: the voicemail queue (app/api/voicemails.py)."""

from app.api.openapi.calls import RISK_LEVEL
from app.api.openapi.common import NULLABLE_INT, NULLABLE_STRING, PAGING, TIME, array, errors, id_param, ref, response
from app.models.hotline import VOICEMAIL_OUTCOMES, VOICEMAIL_STATUSES

SCHEMAS = {}
PATHS = {}

VOICEMAIL_STATUS = {"enum": list(VOICEMAIL_STATUSES)}
SCHEMAS["Voicemail"] = {
    "type": "object",
    "required": ["id", "call_id", "caller", "language", "duration_s", "left_at", "status", "risk_level"],
    "properties": {
        "id": {"type": "integer", "description": "The voicemail's id: its call's."},
        "call_id": {"type": "integer"},
        "caller": {"type": "string", "description": "Masked (`+32 4•• •• •• 56`) or `withheld`: never a full number."},
        "language": NULLABLE_STRING,
        "duration_s": {**NULLABLE_INT, "description": "The recording's length, as Twilio reported it."},
        "left_at": TIME,
        "status": {**VOICEMAIL_STATUS, "description": "unheard: in the queue until an operator handles it."},
        "risk_level": {**RISK_LEVEL, "description": "The call's level that counts; null: not screened."},
    },
}
SCHEMAS["VoicemailHandling"] = {
    "type": "object",
    "required": ["outcome"],
    "properties": {
        "outcome": {"enum": list(VOICEMAIL_OUTCOMES),
                    "description": "callback: the caller is to be called back; advice: the message asked for "
                                   "advice that was given; emergency: passed to the emergency services; "
                                   "no_action: nothing to act on (silence, a wrong number)."},
    },
}
PATHS["/api/v1/voicemails"] = {
    "get": {
        "summary": "Voicemails by id, the longest waiting first (operators, managers, admins); masked numbers only",
        "parameters": [{"name": "status", "in": "query", "schema": VOICEMAIL_STATUS}, *PAGING],
        "responses": {"200": response(array("Voicemail")), **errors(400, 401, 403)},
    },
}
PATHS["/api/v1/voicemails/{voicemail_id}/audio"] = {
    "get": {
        "summary": "The recording, streamed through the app from Twilio (operators, managers); each listening "
                   "is audited",
        "parameters": [id_param("voicemail_id")],
        "responses": {
            "200": {"description": "The audio, as Twilio keeps it",
                    "content": {"audio/mpeg": {"schema": {"type": "string", "format": "binary"}}}},
            **errors(401, 403, 404, 503),
        },
    },
}
PATHS["/api/v1/voicemails/{voicemail_id}/handled"] = {
    "post": {
        "summary": "Handle a voicemail with an outcome (operators, managers): it leaves the queue; once only",
        "parameters": [id_param("voicemail_id")],
        "requestBody": {"required": True,
                        "content": {"application/json": {"schema": ref("VoicemailHandling")}}},
        "responses": {"200": response(ref("Voicemail")), **errors(400, 401, 403, 404, 409)},
    },
}
