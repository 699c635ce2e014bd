"""API description: the placement search and turn-aways (app/api/routes.py)."""

from app.api.openapi.common import NULLABLE_INT, NULLABLE_STRING, PAGING, TIME, array, errors, ref, response

SCHEMAS = {}
PATHS = {}

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
            "children": {"type": "array",
                         "items": {"oneOf": [
                             {"type": "integer", "minimum": 0, "maximum": 17},
                             {"type": "object", "required": ["age"], "additionalProperties": False,
                              "properties": {"age": {"type": "integer", "minimum": 0, "maximum": 17},
                                             "gender": {"enum": ["female", "male", "x"]}}}]},
                         "description": "Each child's age, or age and gender: a boy counts against a "
                                        "facility's `accepts.max_boy_age`. A household is at most 30 persons."},
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
            "danger_places": {
                "type": "array", "maxItems": 5,
                "items": {"type": "object", "additionalProperties": False,
                          "oneOf": [{"required": ["postcode"]}, {"required": ["municipality"]}],
                          "properties": {"postcode": {"type": ["string", "integer"]},
                                         "municipality": {"type": "string"},
                                         "radius_km": {"type": "number", "minimum": 1, "maximum": 100,
                                                       "default": 15}}},
                "description": "Where the person must stay away from: every facility within the radius of the "
                               "place's municipality centre is left out; a confidential one when its "
                               "municipality's centre lies within the radius plus that municipality's extent. "
                               "Never stored, logged or repeated in an answer (errors name the item's "
                               "position only)."},
        },
    },
    "PlacementResult": {
        "type": "object",
        "required": ["facility", "unit", "distance_km", "updated_at", "stale", "reasons", "unmet", "open_now",
                     "opens_at", "beyond_region", "interpreter_needed"],
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
            "interpreter_needed": {"type": "boolean",
                                   "description": "Languages were asked and the facility speaks none of them."},
        },
    },
    "PlacementSearchResult": {
        "type": "object",
        "required": ["search_id", "results", "turn_away"],
        "properties": {
            "search_id": {"type": "integer", "description": "Send it with a hold (`search_id`)."},
            "results": array("PlacementResult"),
            "turn_away": {
                "oneOf": [{"type": "null"},
                          {"type": "object", "required": ["reason"], "properties": {"reason": TURN_AWAY_REASON}}],
                "description": "When nothing fits: closed (places exist but their facilities are switched closed), "
                               "full (eligible facilities, too few free places) or ineligible. Recorded once per "
                               "contact; a hold for the contact withdraws it.",
            },
            "beyond_region": {"type": "boolean", "description": "Whether the search looked past the region."},
            "excluded_by_danger": {"type": "integer", "minimum": 0,
                                   "description": "How many facilities the danger places left out of the results: "
                                                  "they pass every other rule (eligible, open, with free places for "
                                                  "the household) and would have ranked ahead of the last result; "
                                                  "with fewer results than `limit`, all such in the scope the "
                                                  "results come from."},
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
                            "content": {"application/json": {"schema": ref("PlacementCriteria")}}},
            "responses": {"200": response(ref("PlacementSearchResult")), **errors(400, 401, 403)},
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
            "responses": {"200": response(array("TurnAway")), **errors(400, 401, 403)},
        },
        "post": {
            "summary": "Record that a contact ended without a place (operators, managers); once per contact",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("NewTurnAway")}}},
            "responses": {"201": response(ref("TurnAway"), "Recorded"),
                          "200": response(ref("TurnAway"), "Already recorded for this contact: the first record"),
                          **errors(400, 401, 403)},
        },
    },
})
