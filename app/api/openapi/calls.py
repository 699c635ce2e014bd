"""API description: the hotline's calls and their risk screening (app/api/calls.py)."""

from app.api.openapi.common import NULLABLE_INT, NULLABLE_STRING, PAGING, TIME, array, errors, id_param, ref, response

SCHEMAS = {}
PATHS = {}

CALL_STATUS = {"enum": ["ringing", "in-progress", "voicemail", "completed", "no-answer", "busy", "failed", "canceled"]}
RISK_LEVEL = {"enum": ["standard", "elevated", "high", None]}
RISK_ANSWER = {"enum": ["yes", "no", "unknown"]}
SCHEMAS["Call"] = {
    "type": "object",
    "required": ["id", "sid", "channel", "caller", "language", "status", "started_at", "answered_at", "ended_at",
                 "duration_s", "operator", "safe_to_call_back", "safe_to_leave_message", "outcome", "risk_level"],
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
        "risk_level": {**RISK_LEVEL, "description": "The level that counts; null: not screened."},
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

SCHEMAS["RiskItem"] = {
    "type": "object",
    "required": ["key", "label", "weight", "critical", "child_at_risk"],
    "properties": {
        "key": {"type": "string"},
        "label": {"type": "string", "description": "In the user's language."},
        "weight": {"type": "integer", "minimum": 0},
        "critical": {"type": "boolean", "description": "While unanswered, the contact is not screened."},
        "child_at_risk": {"type": "boolean", "description": "Yes prompts a referral to child protection."},
    },
}
SCHEMAS["RiskAnswers"] = {
    "type": "object",
    "required": ["answers"],
    "properties": {
        "answers": {"type": "object", "additionalProperties": {**RISK_ANSWER, "enum": [*RISK_ANSWER["enum"], None]},
                    "description": "By item key; a missing or null answer is unanswered."},
        "level": {**RISK_LEVEL, "description": "An override by professional judgement; needs a reason."},
        "reason": NULLABLE_STRING,
    },
}
SCHEMAS["RiskScreening"] = {
    "type": "object",
    "required": ["score", "computed_level", "level", "overridden", "answers", "history", "answered", "total"],
    "properties": {
        "score": {"type": "integer"},
        "computed_level": {**RISK_LEVEL, "description": "null: a critical item is unanswered (not screened)."},
        "level": RISK_LEVEL,
        "overridden": {"type": "boolean", "description": "The level was set by judgement; after the retention purge "
                                                          "(reason gone): the level differs from the computed one."},
        "answers": {"type": "object", "additionalProperties": RISK_ANSWER},
        "answered": {"type": "integer"},
        "total": {"type": "integer"},
        "history": {"type": "array", "description": "The caller's earlier contacts' levels, newest first.",
                    "items": {"type": "object", "required": ["call_id", "at", "level"],
                              "properties": {"call_id": {"type": "integer"}, "at": TIME, "level": RISK_LEVEL}}},
    },
}
PATHS["/api/v1/risk-items"] = {
    "get": {
        "summary": "The risk screening's active items, in order (operators, managers)",
        "responses": {"200": response(array("RiskItem")), **errors(401, 403)},
    },
}
PATHS["/api/v1/calls/{call_id}/risk"] = {
    "put": {
        "summary": "Record a contact's risk screening (operators, managers); a level needs a reason",
        "parameters": [id_param("call_id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("RiskAnswers")}}},
        "responses": {"200": response(ref("RiskScreening")), **errors(400, 401, 403, 404)},
    },
}
