"""API description: call-backs (app/api/callbacks.py)."""

from app.api.openapi.common import NULLABLE_STRING, TIME, array, errors, id_param, ref, response

SCHEMAS = {}
PATHS = {}

SCHEMAS["CallbackConsent"] = {
    "type": "object",
    "required": ["callback"],
    "properties": {
        "callback": {"const": True, "description": "The caller agreed, on the phone, to be called back."},
        "note": {**NULLABLE_STRING, "maxLength": 500, "description": "How and when it was agreed (audited)."},
    },
}
SCHEMAS["CallbackConsentRecorded"] = {
    "type": "object",
    "required": ["id", "callback_requested", "number_erase_at"],
    "properties": {
        "id": {"type": "integer", "description": "The call."},
        "callback_requested": {"type": "boolean"},
        "number_erase_at": {"type": ["string", "null"], "format": "date-time",
                            "description": "When the kept (sealed, never shown) number is erased."},
    },
}
SCHEMAS["CallbackStart"] = {
    "type": "object",
    "properties": {
        "confirm_unknown": {"type": "boolean", "default": False,
                            "description": "Call back although `safe_to_call_back` is unknown."},
    },
}
SCHEMAS["CallbackAttempt"] = {
    "type": "object",
    "required": ["id", "status", "operator", "started_at", "ended_at", "result"],
    "properties": {
        "id": {"type": "integer"},
        "status": {"enum": ["calling_operator", "calling_caller", "in_progress", "ended"]},
        "operator": {"type": "string", "description": "Who called back."},
        "started_at": TIME,
        "ended_at": {"type": ["string", "null"], "format": "date-time"},
        "result": {"enum": ["answered", "no_answer", "busy", "voicemail", "operator_no_answer", "failed", None]},
    },
}
REFUSALS = ("409: `no_consent` (no number kept for a call-back: an SMS conversation's number never counts), "
            "`not_safe_to_call_back`, `confirm_unknown`, `attempt_open` or `too_many_attempts`.")
PATHS["/api/v1/calls/{call_id}/consent"] = {
    "post": {
        "summary": "Record call-back consent given live (operators, managers; audited): the app reads the call's "
                   "number from Twilio and keeps it sealed. 409 `sms_contact` for an SMS contact, `withheld` for a "
                   "withheld number; 503 when Twilio cannot be asked",
        "parameters": [id_param("call_id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CallbackConsent")}}},
        "responses": {"200": response(ref("CallbackConsentRecorded")), **errors(400, 401, 403, 404, 409, 503)},
    },
}
PATHS["/api/v1/calls/{call_id}/callback"] = {
    "post": {
        "summary": "Call a contact back (operators, managers with a phone): Twilio rings the operator first, "
                   "then, on their key, the caller. " + REFUSALS,
        "parameters": [id_param("call_id")],
        "requestBody": {"content": {"application/json": {"schema": ref("CallbackStart")}}},
        "responses": {
            "202": response(ref("CallbackAttempt"), "The attempt, calling the operator (`ended`, `failed`, when "
                                                    "Twilio refused to call)"),
            **errors(400, 401, 403, 404, 409),
        },
    },
}
PATHS["/api/v1/calls/{call_id}/callbacks"] = {
    "get": {
        "summary": "A contact's call-back attempts, newest first (operators, managers)",
        "parameters": [id_param("call_id")],
        "responses": {"200": response(array("CallbackAttempt")), **errors(401, 403, 404)},
    },
}
