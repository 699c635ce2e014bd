"""API description: the waiting list, its placement requests and the offers of freed places (app/api/routes.py)."""

from app.api.openapi.common import NULLABLE_INT, NULLABLE_STRING, PAGING, TIME, array, errors, id_param, ref, response
from app.api.openapi.placement import SCHEMAS as PLACEMENT_SCHEMAS

CRITERIA = PLACEMENT_SCHEMAS["PlacementCriteria"]
SCHEMAS = {}
PATHS = {}

RISK_LEVEL = {"enum": ["standard", "elevated", "high", None],
              "description": "The call's risk level (null: not screened), kept current."}
SCHEMAS.update({
    "PlacementOffer": {
        "type": "object",
        "required": ["id", "request_id", "status", "facility", "unit", "places", "offered_at", "expires_at"],
        "properties": {
            "id": {"type": "integer"},
            "request_id": {"type": "integer"},
            "status": {"enum": ["open", "taken", "declined", "expired", "withdrawn"]},
            "facility": {"type": "object", "required": ["id", "name"],
                         "properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
            "unit": {"type": "object", "required": ["id", "kind"],
                     "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}}},
            "places": {"type": "integer", "description": "What a hold for the household takes."},
            "offered_at": TIME,
            "expires_at": {**TIME, "description": "Not taken by then, the place passes to the next request."},
            "hold_id": NULLABLE_INT,
        },
    },
    "PlacementRequest": {
        "type": "object",
        "required": ["id", "status", "risk_level", "opened_at", "expires_at", "region", "criteria", "offer"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"enum": ["open", "placed", "withdrawn", "expired"]},
            "risk_level": RISK_LEVEL,
            "opened_at": TIME,
            "expires_at": TIME,
            "closed_at": {"type": ["string", "null"], "format": "date-time"},
            "close_reason": NULLABLE_STRING,
            "region": NULLABLE_STRING,
            "call_id": NULLABLE_INT,
            "note": NULLABLE_STRING,
            "criteria": {"type": "object", "description": "The search's criteria as stored: never danger places."},
            "excluded": {"type": "integer", "description": "How many facilities the request skips."},
            "offer": {"oneOf": [{"type": "null"}, ref("PlacementOffer")],
                      "description": "The freed place offered to it now, if any."},
            "matches": {"type": "array", "description": "What fits now (one request, not the list).",
                        "items": {"allOf": [ref("PlacementResult"), {
                            "type": "object", "properties": {"danger_checked": {
                                "type": "boolean",
                                "description": "false: the facility was added or moved after the danger places "
                                               "were checked: not checked against the danger place."}}}]}},
        },
    },
    "NewPlacementRequest": {
        **CRITERIA,
        "properties": {**CRITERIA["properties"], "note": {"type": "string", "maxLength": 2000}},
        "description": "The search's criteria (PlacementCriteria) and a `note`; one open request per `call_id`.",
    },
})

_REQUEST = id_param("request_id")
_OFFER = id_param("offer_id")
PATHS.update({
    "/api/v1/placement-requests": {
        "post": {
            "summary": "Put a household on the waiting list (operators, managers); a place free now is offered "
                       "at once",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("NewPlacementRequest")}}},
            "responses": {"201": response(ref("PlacementRequest"), "Filed"),
                          **errors(400, 401, 403, 409)},
        },
        "get": {
            "summary": "The waiting list: risk level high, elevated, not screened, standard; then the longest "
                       "waiting first (operators and managers)",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": ["open", "placed", "withdrawn", "expired"]}},
                {"name": "region", "in": "query", "schema": {"type": "string"}, "description": "Region slug"},
                *PAGING,
            ],
            "responses": {"200": response(array("PlacementRequest")), **errors(400, 401, 403)},
        },
    },
    "/api/v1/placement-requests/{request_id}": {
        "get": {
            "summary": "One request, with what fits it now (`matches`)",
            "parameters": [_REQUEST],
            "responses": {"200": response(ref("PlacementRequest")), **errors(401, 403, 404)},
        },
    },
    "/api/v1/placement-requests/{request_id}/withdraw": {
        "post": {
            "summary": "Take a request off the list; its open offer passes to the next request",
            "parameters": [_REQUEST],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["reason"],
                "properties": {"reason": {"type": "string", "maxLength": 500}}}}}},
            "responses": {"200": response(ref("PlacementRequest")), **errors(400, 401, 403, 404, 409)},
        },
    },
    "/api/v1/placement-offers/{offer_id}/take": {
        "post": {
            "summary": "Hold the offered place for the request's household (a hold linked to the request)",
            "parameters": [_OFFER],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"minutes": {"type": "integer", "minimum": 1, "maximum": 1440}}}}}},
            "responses": {"201": response({"type": "object", "required": ["offer", "hold"], "properties": {
                "offer": ref("PlacementOffer"), "hold": ref("Hold")}}, "Held"),
                **errors(400, 401, 403, 404, 409)},
        },
    },
    "/api/v1/placement-offers/{offer_id}/decline": {
        "post": {
            "summary": "Pass: the place goes to the next request",
            "parameters": [_OFFER],
            "responses": {"200": response({"type": "object", "required": ["offer"], "properties": {
                "offer": ref("PlacementOffer")}}),
                **errors(401, 403, 404, 409)},
        },
    },
})
