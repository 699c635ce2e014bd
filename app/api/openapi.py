"""The machine-readable description of API v1, served at /api/v1/openapi.json.

Tests check that every route of the API blueprint is described here (and
nothing else), and validate the API's answers against these schemas.
"""

from app.services.core import validation

# A time of day as the services check it (HH:MM), anchored as JSON Schema wants.
CLOCK_TIME = {"type": "string", "pattern": f"^{validation.CLOCK_TIME.pattern}$"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _array(name: str) -> dict:
    return {"type": "array", "items": _ref(name)}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    text = {
        400: "Invalid input; `field` names what is wrong",
        401: "No or bad token",
        403: "Not allowed for this user",
        404: "Unknown id",
        409: "Conflict; the body also carries the current state",
    }
    return {str(status): _json(_ref("Error"), text[status]) for status in statuses}


NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}
PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0},
     "description": "From the `Link: <…>; rel=\"next\"` header of the previous page."},
]

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            },
            "unit": _ref("Unit"),
            "referral": _ref("Referral"),
            "alert": _ref("Alert"),
            "notification": _ref("Notification"),
        },
    },
    "Figures": {
        "type": "object",
        "required": ["total", "available", "held", "free"],
        "properties": {k: {"type": "integer", "minimum": 0} for k in ("total", "available", "held", "free")},
    },
    "Region": {
        "type": "object",
        "required": ["slug", "name", "stale_facilities", "capacity"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "stale_facilities": {"type": "integer", "minimum": 0},
            "capacity": {"type": "object", "additionalProperties": _ref("Figures"),
                         "description": "Per capacity kind code. Free places count open facilities only."},
        },
    },
    "Unit": {
        "type": "object",
        "required": ["id", "kind", "total", "available", "held", "free", "room_size", "version",
                     "updated_at", "updated_by", "stale"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "total": {"type": "integer", "minimum": 0},
            "available": {"type": "integer", "minimum": 0},
            "held": {"type": "integer", "minimum": 0},
            "free": {"type": "integer", "minimum": 0,
                     "description": "available − held; 0 while the facility is closed for intake"},
            "room_size": NULLABLE_INT,
            "version": {"type": "integer", "description": "Send it back with a change (optimistic concurrency)."},
            "updated_at": TIME,
            "updated_by": NULLABLE_STRING,
            "stale": {"type": "boolean"},
        },
    },
    "IntakeHours": {
        "type": "object",
        "required": ["always", "weekly"],
        "properties": {
            "always": {"type": "boolean"},
            "weekly": {
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"type": "array", "items": CLOCK_TIME,
                              "minItems": 2, "maxItems": 2},
                },
            },
        },
    },
    "Facility": {
        "type": "object",
        "required": ["id", "slug", "name", "region", "type", "municipality", "postcode", "intake_phone",
                     "intake_hours", "open_now", "open_for_intake", "closed_reason", "confidential", "accepts",
                     "languages", "stale_after_hours", "units"],
        "properties": {
            "id": {"type": "integer"},
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "region": {"type": "string"},
            "type": {"enum": ["crisis_centre", "refuge", "relief_point", "offender_programme"]},
            "municipality": {"type": "string"},
            "postcode": {"type": "string"},
            "intake_phone": NULLABLE_STRING,
            "intake_hours": _ref("IntakeHours"),
            "open_now": {"type": "boolean"},
            "open_for_intake": {"type": "boolean"},
            "closed_reason": NULLABLE_STRING,
            "confidential": {"type": "boolean"},
            "accepts": {
                "type": "object",
                "required": ["genders", "children", "max_children", "max_child_age", "wheelchair", "pets",
                             "high_security"],
                "properties": {
                    "genders": {"type": "array", "items": {"type": "string"}},
                    "children": {"type": "boolean"},
                    "max_children": NULLABLE_INT,
                    "max_child_age": NULLABLE_INT,
                    "wheelchair": {"type": "boolean"},
                    "pets": {"type": "boolean"},
                    "high_security": {"type": "boolean"},
                },
            },
            "languages": {"type": "array", "items": {"type": "string"}},
            "stale_after_hours": {"type": "integer"},
            "units": _array("Unit"),
            "address": {
                "description": "Only for non-confidential facilities, or for the facility's own staff and admins.",
                "type": "object",
                "required": ["street", "postcode", "municipality"],
                "properties": {"street": NULLABLE_STRING, "postcode": {"type": "string"},
                               "municipality": {"type": "string"}},
            },
            "lat": {"type": ["number", "null"], "description": "As `address`."},
            "lon": {"type": ["number", "null"], "description": "As `address`."},
        },
    },
    "Change": {
        "type": "object",
        "required": ["at", "before", "after", "source", "actor", "note"],
        "properties": {
            "id": {"type": "integer"},
            "at": TIME,
            "action": {"enum": ["set", "confirm"], "description": "`confirm`: counts still correct, no change."},
            "field": {"enum": ["available", "total"]},
            "before": {"type": "integer"},
            "after": {"type": "integer"},
            "source": {"enum": ["web", "sms", "api", "hold", "import"]},
            "actor": NULLABLE_STRING,
            "note": NULLABLE_STRING,
        },
    },
    "UnitChange": {
        "type": "object",
        "required": ["available", "version"],
        "properties": {
            "available": {"type": "integer", "minimum": 0},
            "version": {"type": "integer"},
            "note": {"type": "string", "maxLength": 500},
        },
    },
    "Hold": {
        "type": "object",
        "required": ["id", "unit_id", "persons", "places", "status", "expires_at", "created_by"],
        "properties": {
            "id": {"type": "integer"},
            "unit_id": {"type": "integer"},
            "facility_id": {"type": "integer"},
            "facility": {"type": "string"},
            "kind": {"type": "string"},
            "persons": {"type": "integer", "minimum": 1},
            "places": {"type": "integer", "minimum": 1,
                       "description": "What the hold takes of the unit: persons, or one room or slot."},
            "household": NULLABLE_STRING,
            "arrival": {"type": ["string", "null"], "format": "date-time"},
            "status": {"enum": ["active", "confirmed", "released", "expired"],
                       "description": "As of now: an active hold past `expires_at` is `expired`."},
            "created_at": TIME,
            "expires_at": TIME,
            "created_by": NULLABLE_STRING,
            "contact": NULLABLE_STRING,
            "note": NULLABLE_STRING,
            "call_id": {"type": ["integer", "null"], "description": "Not shown to partners."},
        },
    },
    "NewHold": {
        "type": "object",
        "required": ["unit_id", "persons"],
        "properties": {
            "unit_id": {"type": "integer"},
            "persons": {"type": "integer", "minimum": 1, "maximum": 30},
            "household": {"type": "string", "maxLength": 500},
            "arrival": {"type": "string", "format": "date-time"},
            "minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 120},
            "call_id": {"type": "integer"},
            "search_id": {"type": "integer", "description": "The search the hold came from."},
            "note": {"type": "string", "maxLength": 2000},
            "contact": {"type": "string", "maxLength": 200,
                        "description": "How the facility reaches whoever holds it; default: your name and phone."},
        },
    },
}

REFERRAL_STATUS = {"enum": ["proposed", "accepted", "declined", "arrived"]}
SCHEMAS.update({
    "Referral": {
        "type": "object",
        "required": ["id", "facility_id", "facility", "organisation_id", "organisation", "kind", "status",
                     "created_at", "created_by", "updated_at", "updated_by"],
        "properties": {
            "id": {"type": "integer"},
            "call_id": {"type": ["integer", "null"],
                        "description": "Not shown to partners, but on their own referrals (which carry none)."},
            "facility_id": NULLABLE_INT,
            "facility": {**NULLABLE_STRING, "description": "The facility's name; exactly one of facility and "
                                                          "organisation is set."},
            "organisation_id": NULLABLE_INT,
            "organisation": {**NULLABLE_STRING, "description": "The organisation's name."},
            "kind": {"type": "string", "description": "A slot kind of the facility (intake_slot, offender_slot), "
                                                      "or the organisation's kind (police_zone, justice_house, …)."},
            "note": {**NULLABLE_STRING, "description": "As `call_id`."},
            "status": {**REFERRAL_STATUS,
                       "description": "proposed → accepted | declined; accepted → arrived | declined."},
            "created_at": TIME,
            "created_by": NULLABLE_STRING,
            "updated_at": TIME,
            "updated_by": NULLABLE_STRING,
        },
    },
    "NewReferral": {
        "type": "object",
        "description": "Exactly one of facility_id and organisation_id.",
        "properties": {
            "facility_id": {"type": "integer", "description": "A relief point or offender programme with slots."},
            "organisation_id": {"type": "integer"},
            "kind": {"type": "string", "description": "Default: the facility's slot kind when it has only one, "
                                                      "or the organisation's kind."},
            "call_id": {"type": "integer", "description": "Operators and managers only; a partner's is refused."},
            "note": {"type": "string", "maxLength": 2000},
        },
    },
    "ReferralStatus": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": REFERRAL_STATUS,
            "note": {"type": "string", "maxLength": 500,
                     "description": "Why (a decline's reason, say): added to the referral's note."},
        },
    },
})


def _id_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


PATHS = {
    "/api/v1/openapi.json": {
        "get": {"summary": "This description", "security": [], "responses": {"200": _json({"type": "object"})}},
    },
    "/api/v1/regions": {
        "get": {
            "summary": "Each region with its capacity per kind and its number of stale facilities",
            "responses": {"200": _json(_array("Region")), **_errors(401)},
        },
    },
    "/api/v1/facilities": {
        "get": {
            "summary": "Facilities with their units",
            "parameters": [
                {"name": "region", "in": "query", "schema": {"type": "string"}, "description": "Region slug"},
                {"name": "kind", "in": "query", "schema": {"type": "string"}, "description": "Capacity kind code"},
                *PAGING,
            ],
            "responses": {"200": _json(_array("Facility")), **_errors(400, 401, 403)},
        },
    },
    "/api/v1/facilities/{facility_id}": {
        "get": {
            "summary": "One facility",
            "parameters": [_id_param("facility_id")],
            "responses": {"200": _json(_ref("Facility")), **_errors(401, 403, 404)},
        },
    },
    "/api/v1/units/{unit_id}": {
        "patch": {
            "summary": "Set what a unit has available, naming the version you saw",
            "parameters": [_id_param("unit_id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("UnitChange")}}},
            "responses": {"200": _json(_ref("Unit")), **_errors(400, 401, 403, 404, 409)},
        },
    },
    "/api/v1/units/{unit_id}/history": {
        "get": {
            "summary": "The unit's changes, newest first",
            "parameters": [_id_param("unit_id"), *PAGING],
            "responses": {"200": _json(_array("Change")), **_errors(400, 401, 403, 404)},
        },
    },
}


def _hold_action(summary: str, body: dict | None = None) -> dict:
    operation = {
        "summary": summary,
        "parameters": [_id_param("hold_id")],
        "responses": {"200": _json(_ref("Hold")), **_errors(400, 401, 403, 404, 409)},
    }
    if body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return {"post": operation}


PATHS.update({
    "/api/v1/holds": {
        "post": {
            "summary": "Hold a place; 409 when not enough places are free at this moment",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewHold")}}},
            "responses": {"201": _json(_ref("Hold"), "Held"), **_errors(400, 401, 403, 404, 409)},
        },
        "get": {
            "summary": "Holds you may see: all for operators and managers, your facilities' for shelter staff, "
                       "your own for partners",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": ["active", "confirmed", "released", "expired"]}},
                {"name": "facility", "in": "query", "schema": {"type": "integer"}},
                *PAGING,
            ],
            "responses": {"200": _json(_array("Hold")), **_errors(400, 401)},
        },
    },
    "/api/v1/holds/{hold_id}/confirm": _hold_action(
        "The household arrived: the unit's available count drops by the hold's places"),
    "/api/v1/holds/{hold_id}/release": _hold_action("Free the place"),
    "/api/v1/holds/{hold_id}/extend": _hold_action(
        "Keep the place longer", {"type": "object", "required": ["minutes"],
                                  "properties": {"minutes": {"type": "integer", "minimum": 1, "maximum": 1440}}}),
})

PATHS.update({
    "/api/v1/referrals": {
        "post": {
            "summary": "Refer a contact to a relief point or an organisation (operators, managers, admins, partners)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewReferral")}}},
            "responses": {"201": _json(_ref("Referral"), "Referred"), **_errors(400, 401, 403)},
        },
        "get": {
            "summary": "Referrals you may see: all for operators, managers and admins, those to your facilities "
                       "for shelter staff, your own for partners",
            "parameters": [
                {"name": "status", "in": "query", "schema": REFERRAL_STATUS},
                {"name": "facility", "in": "query", "schema": {"type": "integer"}},
                *PAGING,
            ],
            "responses": {"200": _json(_array("Referral")), **_errors(400, 401)},
        },
    },
    "/api/v1/referrals/{referral_id}": {
        "patch": {
            "summary": "Move a referral on: by the receiving facility's staff, or by operators and managers for an "
                       "organisation; 409 with the current state when the move is not allowed from its status",
            "parameters": [_id_param("referral_id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ReferralStatus")}}},
            "responses": {"200": _json(_ref("Referral")), **_errors(400, 401, 403, 404, 409)},
        },
    },
})


# --- placement search and turn-aways -----------------------------------------

REASON_TEXT = {"type": "string", "description": "e.g. `speaks fr`, `wheelchair`, `high security`, `pets`, "
                                                "`children up to 12`, `room for 4`, `24/7`"}
TURN_AWAY_REASON = {"enum": ["full", "ineligible", "closed"]}
CODES = {"type": "array", "items": {"type": "string"}}
SCHEMAS.update({
    "PlacementCriteria": {
        "type": "object",
        "required": ["client_type", "postcode"],
        "additionalProperties": False,
        "description": "Any other field is refused (400 naming it), so that a misspelt criterion is never ignored.",
        "properties": {
            "client_type": {"enum": ["victim", "offender", "couple"]},
            "adults": {"type": "integer", "minimum": 1, "maximum": 30,
                       "description": "Default 1; a couple is at least 2 (and 2 by default)."},
            "children": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 17},
                         "description": "Each child's age. A household is at most 30 persons."},
            "gender": {"enum": ["female", "male", "x"]},
            "needs": {"type": "array", "items": {"enum": ["wheelchair", "pets", "high_security"]},
                      "description": "wheelchair is a must; pets and high_security are preferences."},
            "languages": {**CODES, "description": "ISO 639-1 codes: preferences."},
            "postcode": {"type": ["string", "integer"],
                         "description": "A Belgian postcode, a municipality's Dutch or French name, or both."},
            "kinds": {**CODES, "description": "Capacity kind codes serving the client type. Default: its bed kinds "
                                              "(counted in persons or rooms), or every kind serving it when it "
                                              "has none (offenders, couples)."},
            "avoid_facilities": {"type": "array", "items": {"type": "integer"}, "maxItems": 100,
                                 "description": "Facility ids never to propose (where the other party is)."},
            "beyond_region": {"type": ["boolean", "null"],
                              "description": "true: everywhere; false: the postcode's region only; absent: the "
                                             "region first, everywhere only when nothing fits there."},
            "call_id": {"type": "integer", "description": "The call (operators, managers, admins; a partner's is "
                                                          "refused): the contact a turn-away is recorded for."},
            "session": {"type": "string", "maxLength": 64,
                        "description": "The search session, the contact when there is no call."},
            "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 25},
        },
    },
    "PlacementResult": {
        "type": "object",
        "required": ["facility", "unit", "distance_km", "updated_at", "stale", "reasons", "unmet", "open_now",
                     "opens_at", "beyond_region"],
        "additionalProperties": False,
        "properties": {
            "facility": {
                "type": "object",
                "required": ["id", "name", "region", "intake_phone", "intake_hours"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "region": {"type": "string"},
                    "intake_phone": NULLABLE_STRING,
                    "intake_hours": {"type": "string", "description": "`24/7`, or e.g. `mon 08:00-20:00; …`"},
                },
            },
            "unit": {
                "type": "object",
                "required": ["id", "kind", "free", "room_size"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "integer"},
                    "kind": {"type": "string"},
                    "free": {"type": "integer", "minimum": 1},
                    "room_size": NULLABLE_INT,
                },
            },
            "distance_km": {"type": ["number", "null"],
                            "description": "From the searched place, one decimal; to a confidential facility from "
                                           "its municipality's centre, in whole km. null: unknown."},
            "updated_at": TIME,
            "stale": {"type": "boolean"},
            "reasons": {"type": "array", "items": REASON_TEXT, "description": "Why it matched."},
            "unmet": {"type": "array", "items": REASON_TEXT,
                      "description": "Preferences it does not meet; each ranks it as PLACEMENT_PREFERENCE_KM "
                                     "(25 km) further."},
            "places": {"type": "integer", "minimum": 1,
                       "description": "What a hold for this household takes: persons, or one room or slot."},
            "open_now": {"type": "boolean", "description": "Within its intake hours now; those outside come last."},
            "opens_at": {"type": ["string", "null"], "format": "date-time",
                         "description": "When intake opens next, if it is closed now."},
            "beyond_region": {"type": "boolean", "description": "Outside the searched postcode's region."},
        },
    },
    "PlacementSearchResult": {
        "type": "object",
        "required": ["search_id", "results", "turn_away"],
        "properties": {
            "search_id": {"type": "integer", "description": "Send it with a hold (`search_id`)."},
            "results": _array("PlacementResult"),
            "turn_away": {
                "oneOf": [{"type": "null"},
                          {"type": "object", "required": ["reason"], "properties": {"reason": TURN_AWAY_REASON}}],
                "description": "When nothing fits: closed (places exist but their facilities are switched closed), "
                               "full (eligible facilities, too few free places) or ineligible. Recorded once per "
                               "contact; a hold for the contact withdraws it.",
            },
            "beyond_region": {"type": "boolean", "description": "Whether the search looked past the region."},
            "place": {
                "type": "object",
                "required": ["postcode", "municipality", "region"],
                "properties": {"postcode": {"type": "string"}, "municipality": {"type": "string"},
                               "region": {"type": "string"}},
            },
        },
    },
    "TurnAway": {
        "type": "object",
        "required": ["id", "at", "region", "reason", "criteria"],
        "properties": {
            "id": {"type": "integer"},
            "at": TIME,
            "region": NULLABLE_STRING,
            "reason": TURN_AWAY_REASON,
            "criteria": {"type": "object", "description": "The search's criteria, without personal data."},
            "call_id": NULLABLE_INT,
            "search_id": NULLABLE_INT,
            "note": NULLABLE_STRING,
            "withdrawn_at": {"type": ["string", "null"], "format": "date-time",
                             "description": "Set when a hold for the contact followed."},
        },
    },
    "NewTurnAway": {
        "type": "object",
        "required": ["reason"],
        "properties": {
            "reason": TURN_AWAY_REASON,
            "call_id": {"type": "integer"},
            "session": {"type": "string", "maxLength": 64},
            "region": {"type": "string", "description": "Region slug; default: that of the contact's last search."},
            "note": {"type": "string", "maxLength": 2000},
        },
    },
})

PATHS.update({
    "/api/v1/placements/search": {
        "post": {
            "summary": "Search places for a household, best first (operators, managers, partners, admins)",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": _ref("PlacementCriteria")}}},
            "responses": {"200": _json(_ref("PlacementSearchResult")), **_errors(400, 401, 403)},
        },
    },
    "/api/v1/turn-aways": {
        "get": {
            "summary": "Turn-aways not withdrawn on a day (local time): all for operators and admins, their "
                       "regions' for managers",
            "parameters": [
                {"name": "region", "in": "query", "schema": {"type": "string"}, "description": "Region slug"},
                {"name": "date", "in": "query", "schema": {"type": "string", "format": "date"},
                 "description": "Default: today"},
                *PAGING,
            ],
            "responses": {"200": _json(_array("TurnAway")), **_errors(400, 401, 403)},
        },
        "post": {
            "summary": "Record that a contact ended without a place (operators, managers); once per contact",
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewTurnAway")}}},
            "responses": {"201": _json(_ref("TurnAway"), "Recorded"),
                          "200": _json(_ref("TurnAway"), "Already recorded for this contact: the first record"),
                          **_errors(400, 401, 403)},
        },
    },
})


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Opvang API",
            "version": "1",
            "description": "Crisis-bed capacity and hotline operations. Errors are "
            '`{"error": {"code", "message", "field"?}}`; lists page with `limit` and `cursor` '
            'and a `Link: <…>; rel="next"` header.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "`flask tokens create EMAIL` or the admin's user page."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "The web UI's session; writes then need the X-CSRFToken header."},
            },
            "schemas": SCHEMAS,
        },
        "paths": PATHS,
    }


# --- the hotline's calls (app/api/calls.py) -------------------------------------

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
        "responses": {"200": _json(_array("Call")), **_errors(400, 401, 403)},
    },
}


# --- alert rules, alerts and the outbox (app/api/alerts.py) ----------------------

ALERT_STATE = {"enum": ["pending", "firing", "resolved"]}
OUTBOX_STATUS = {"enum": ["pending", "sending", "sent", "delivered", "failed", "undeliverable"]}
CHANNELS = {"type": "array", "items": {"enum": ["sms", "email"]}, "minItems": 1, "uniqueItems": True}
EMAILS = {"type": "array", "items": {"type": "string", "format": "email"}}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
QUIET_HOURS = {
    "oneOf": [
        {"type": "null"},
        {"type": "object", "required": ["from", "to"], "additionalProperties": False,
         "properties": {"from": CLOCK_TIME, "to": CLOCK_TIME}},
    ],
    "description": "Local time (TIMEZONE, Europe/Brussels by default); from and to differ. Every notice but "
                   "`critical` waits until they end.",
}
RULE_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "region": {**NULLABLE_STRING, "description": "Region slug; null: every region, each on its own (admins only)."},
    "kinds": {"type": "array", "items": {"type": "string"}, "minItems": 1,
              "description": "Capacity kind codes; their free places are summed."},
    "threshold": {"type": "integer", "minimum": 1, "maximum": 100000,
                  "description": "The condition is free < threshold."},
    "critical_at": {"type": "integer", "minimum": 0, "default": 0,
                    "description": "Below the threshold; free <= critical_at is critical (sent even in quiet hours)."},
    "for_minutes": {"type": "integer", "minimum": 0, "maximum": 1440, "default": 10,
                    "description": "How long the condition must hold before the alert fires."},
    "margin": {"type": "integer", "minimum": 0, "default": 1,
               "description": "Hysteresis: resolved only once free >= threshold + margin …"},
    "keep_firing_minutes": {"type": "integer", "minimum": 0, "maximum": 1440, "default": 10,
                            "description": "… has held this long."},
    "repeat_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 10080, "default": 60,
                       "description": "Repeat while unacknowledged; null: never."},
    "escalate_after_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 10080, "default": None,
                               "description": "Tell `escalate_to` when unacknowledged this long; null: never."},
    "escalate_to": {**EMAILS, "description": "Users' e-mail addresses; empty: the active admins."},
    "quiet_hours": QUIET_HOURS,
    "channels": {**CHANNELS, "description": "Each recipient's own settings pick among them."},
    "recipients": {**EMAILS, "description": "Users' e-mail addresses; empty: the region's managers."},
    "active": {"type": "boolean", "default": True},
}
SCHEMAS.update({
    "AlertRule": {
        "type": "object",
        "required": ["id", *RULE_FIELDS],
        "properties": {"id": {"type": "integer"}, **RULE_FIELDS},
    },
    "NewAlertRule": {
        "type": "object",
        "required": ["name", "kinds", "threshold"],
        "additionalProperties": False,
        "description": "Any other field is refused (400 naming it).",
        "properties": RULE_FIELDS,
    },
    "AlertRuleChange": {
        "type": "object",
        "additionalProperties": False,
        "description": "Only the fields that change; the others keep their values.",
        "properties": RULE_FIELDS,
    },
    "Alert": {
        "type": "object",
        "required": ["id", "code", "rule_id", "region", "state", "free", "threshold", "started_at", "fired_at",
                     "acknowledged_at", "acknowledged_by", "resolved_at"],
        "properties": {
            "id": {"type": "integer"},
            "code": {"type": "integer", "description": "The acknowledgement code (SMS `OK code`)."},
            "rule_id": {"type": "integer"},
            "region": {"type": "string"},
            "state": ALERT_STATE,
            "critical": {"type": "boolean"},
            "free": {"type": "integer", "minimum": 0, "description": "Free places of the rule's kinds, last seen."},
            "threshold": {"type": "integer"},
            "full_facilities": {"type": "integer", "minimum": 0},
            "stale_facilities": {"type": "integer", "minimum": 0},
            "started_at": TIME,
            "fired_at": NULLABLE_TIME,
            "acknowledged_at": NULLABLE_TIME,
            "acknowledged_by": {**NULLABLE_STRING, "description": "The user's e-mail address."},
            "resolved_at": NULLABLE_TIME,
        },
    },
    "AlertEvent": {
        "type": "object",
        "required": ["at", "event", "free", "actor", "details"],
        "properties": {
            "at": TIME,
            "event": {"enum": ["pending", "fired", "repeated", "escalated", "acknowledged", "resolved", "cancelled",
                               "critical"]},
            "free": NULLABLE_INT,
            "actor": {**NULLABLE_STRING, "description": "Who acted (an acknowledgement): e-mail address."},
            "details": {"type": "object", "description": "e.g. `told`: [[user id, channel], …]; `n`: the repeat's "
                                                         "number; `held_until`: the end of the quiet hours."},
        },
    },
    "Notification": {
        "type": "object",
        "required": ["id", "channel", "purpose", "status", "recipient", "user", "alert_id", "attempts",
                     "created_at", "next_attempt_at", "sent_at", "last_error"],
        "properties": {
            "id": {"type": "integer"},
            "channel": {"enum": ["sms", "email"]},
            "purpose": {"type": "string", "description": "alert, sms_reply, command_reply, …"},
            "status": OUTBOX_STATUS,
            "recipient": {"type": "string", "description": "Masked (`+32 4•• •• •• 56`): never a full number."},
            "user": {**NULLABLE_STRING, "description": "The user told (e-mail address); null for a help-seeker."},
            "alert_id": NULLABLE_INT,
            "attempts": {"type": "integer", "minimum": 0},
            "created_at": TIME,
            "next_attempt_at": {**NULLABLE_TIME, "description": "While pending: not sent before then."},
            "sent_at": NULLABLE_TIME,
            "last_error": NULLABLE_STRING,
        },
    },
})
SCHEMAS["AlertDetail"] = {
    "allOf": [_ref("Alert"), {
        "type": "object",
        "required": ["events", "notices"],
        "properties": {
            "events": {**_array("AlertEvent"), "description": "The timeline, oldest first."},
            "notices": {**_array("Notification"), "description": "Who was told by what, and what became of it."},
        },
    }],
}


def _rule_body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


PATHS.update({
    "/api/v1/alert-rules": {
        "get": {
            "summary": "The alert rules you may edit (managers: their regions'; admins: all), active or not, by name",
            "responses": {"200": _json(_array("AlertRule")), **_errors(401, 403)},
        },
        "post": {
            "summary": "Make an alert rule (managers for their own regions; admins, also for every region)",
            "requestBody": _rule_body("NewAlertRule"),
            "responses": {"201": _json(_ref("AlertRule"), "Made"), **_errors(400, 401, 403)},
        },
    },
    "/api/v1/alert-rules/{rule_id}": {
        "patch": {
            "summary": "Change a rule: an open alert of a region it no longer watches, or of a rule made inactive, "
                       "is cancelled",
            "parameters": [_id_param("rule_id")],
            "requestBody": _rule_body("AlertRuleChange"),
            "responses": {"200": _json(_ref("AlertRule")), **_errors(400, 401, 403, 404)},
        },
        "delete": {
            "summary": "Delete a rule; one that had alerts is deactivated instead (its alerts keep their "
                       "timeline; an open one is cancelled)",
            "parameters": [_id_param("rule_id")],
            "responses": {"200": _json({"type": "object", "required": ["id", "result"],
                                        "properties": {"id": {"type": "integer"},
                                                       "result": {"enum": ["deleted", "deactivated"]}}}),
                          **_errors(401, 403, 404)},
        },
    },
    "/api/v1/alerts": {
        "get": {
            "summary": "Alerts, newest first (managers: their regions'; admins: all)",
            "parameters": [{"name": "state", "in": "query", "schema": ALERT_STATE}, *PAGING],
            "responses": {"200": _json(_array("Alert")), **_errors(400, 401, 403)},
        },
    },
    "/api/v1/alerts/{alert_id}": {
        "get": {
            "summary": "An alert with its timeline and its notices (managers of its region, admins, and the users "
                       "its rule names)",
            "parameters": [_id_param("alert_id")],
            "responses": {"200": _json(_ref("AlertDetail")), **_errors(401, 403, 404)},
        },
    },
    "/api/v1/alerts/{alert_id}/ack": {
        "post": {
            "summary": "Acknowledge a firing alert: no more repeats or escalation; its resolution is still "
                       "announced. 409 with the alert when it is pending, acknowledged already or resolved",
            "parameters": [_id_param("alert_id")],
            "responses": {"200": _json(_ref("AlertDetail")), **_errors(401, 403, 404, 409)},
        },
    },
    "/api/v1/notifications": {
        "get": {
            "summary": "The outbox, newest first (operators, managers, admins): every SMS and e-mail and what "
                       "became of it, recipients masked",
            "parameters": [{"name": "status", "in": "query", "schema": OUTBOX_STATUS}, *PAGING],
            "responses": {"200": _json(_array("Notification")), **_errors(400, 401, 403)},
        },
    },
    "/api/v1/notifications/{message_id}/retry": {
        "post": {
            "summary": "Send a failed or waiting message again at the next delivery run; 409 with the message "
                       "when it was sent already",
            "parameters": [_id_param("message_id")],
            "responses": {"200": _json(_ref("Notification")), **_errors(401, 403, 404, 409)},
        },
    },
})
