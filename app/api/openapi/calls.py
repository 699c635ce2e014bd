"""API description: the hotline's calls (app/api/calls.py)."""

from app.api.openapi.common import NULLABLE_INT, NULLABLE_STRING, PAGING, TIME, array, errors, response

SCHEMAS = {}
PATHS = {}

CALL_STATUS = {"enum": ["ringing", "in-progress", "voicemail", "completed", "no-answer", "busy", "failed", "canceled"]}
SCHEMAS["Call"] = {
    "type": "object",
    "required": ["id", "sid", "channel", "caller", "language", "status", "started_at", "answered_at", "ended_at",
                 "duration_s", "operator", "safe_to_call_back", "safe_to_leave_message", "outcome"],
    "properties": {
        "id": {"type": "integer"},
        "sid": {"type": "string", "description": "Twilio's CallSid, or the first MessageSid of an SMS contact."},
        "channel": {"enum": ["voice", "sms"]},
        "caller": {"type": "string", "description": "Masked (`+32 4•• •• •• 56`) or `withheld`: never a full number."},
        "language": NULLABLE_STRING,
        "status": CALL_STATUS,
        "started_at": TIME,
        "answered_at": {"type": ["string", "null"], "format": "date-time"},
        "ended_at": {"type": ["string", "null"], "format": "date-time"},
        "duration_s": NULLABLE_INT,
        "operator": {**NULLABLE_STRING, "description": "The name of the operator who has the call."},
        "safe_to_call_back": {"type": ["boolean", "null"], "description": "null: not known."},
        "safe_to_leave_message": {"type": ["boolean", "null"], "description": "null: not known."},
        "outcome": {"enum": ["placed", "held", "referred", "advice", "callback", "dropped", "emergency", None]},
    },
}
PATHS["/api/v1/calls"] = {
    "get": {
        "summary": "Hotline calls and SMS contacts by id (operators, managers, admins); masked numbers only",
        "parameters": [
            {"name": "status", "in": "query", "schema": CALL_STATUS},
            {"name": "since", "in": "query", "schema": {"type": "string"},
             "description": "Started at or after: a time with its zone, or a day (from its local midnight)."},
            *PAGING,
        ],
        "responses": {"200": response(array("Call")), **errors(400, 401, 403)},
    },
}
