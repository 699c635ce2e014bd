"""API description: regions, facilities, units and their history (app/api/routes.py)."""

from app.api.openapi.common import (
    CLOCK_TIME,
    NULLABLE_INT,
    NULLABLE_STRING,
    PAGING,
    TIME,
    array,
    errors,
    id_param,
    ref,
    response,
)

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
            "unit": ref("Unit"),
            "referral": ref("Referral"),
            "alert": ref("Alert"),
            "notification": ref("Notification"),
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
            "capacity": {"type": "object", "additionalProperties": ref("Figures"),
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
            "postcode": {"type": ["string", "null"],
                         "description": "null for a confidential facility, but for its own staff and admins."},
            "intake_phone": NULLABLE_STRING,
            "intake_hours": ref("IntakeHours"),
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
                    "max_boy_age": {**NULLABLE_INT, "description": "Boys only up to this age; null: as max_child_age."},
                    "wheelchair": {"type": "boolean"},
                    "pets": {"type": "boolean"},
                    "high_security": {"type": "boolean"},
                },
            },
            "languages": {"type": "array", "items": {"type": "string"}},
            "stale_after_hours": {"type": "integer"},
            "units": array("Unit"),
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
            "actor": {"type": ["string", "null"],
                      "description": "Who made the change; null but for the hotline, admins and the "
                                     "facility's own staff."},
            "note": {"type": ["string", "null"], "description": "As `actor`."},
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
}


PATHS = {
    "/api/v1/openapi.json": {
        "get": {"summary": "This description", "security": [], "responses": {"200": response({"type": "object"})}},
    },
    "/api/v1/regions": {
        "get": {
            "summary": "Each region with its capacity per kind and its number of stale facilities",
            "responses": {"200": response(array("Region")), **errors(401)},
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
            "responses": {"200": response(array("Facility")), **errors(400, 401, 403)},
        },
    },
    "/api/v1/facilities/{facility_id}": {
        "get": {
            "summary": "One facility",
            "parameters": [id_param("facility_id")],
            "responses": {"200": response(ref("Facility")), **errors(401, 403, 404)},
        },
    },
    "/api/v1/units/{unit_id}": {
        "patch": {
            "summary": "Set what a unit has available, naming the version you saw",
            "parameters": [id_param("unit_id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("UnitChange")}}},
            "responses": {"200": response(ref("Unit")), **errors(400, 401, 403, 404, 409)},
        },
    },
    "/api/v1/units/{unit_id}/history": {
        "get": {
            "summary": "The unit's changes, newest first",
            "parameters": [id_param("unit_id"), *PAGING],
            "responses": {"200": response(array("Change")), **errors(400, 401, 403, 404)},
        },
    },
}
