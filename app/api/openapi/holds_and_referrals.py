"""API description: holds and referrals (app/api/routes.py)."""

from app.api.openapi.common import NULLABLE_INT, NULLABLE_STRING, PAGING, TIME, array, errors, id_param, ref, response
from app.models.placement import DECLINE_REASONS, HOLD_OUTCOMES, HOLD_STATUSES, RELEASE_OUTCOMES

SCHEMAS = {
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
            "status": {"enum": list(HOLD_STATUSES),
                       "description": "As of now: an active or requested hold past `expires_at` is `expired`. "
                                      "On a kind that requires the facility's acceptance a new hold is "
                                      "`requested` (it takes its places) until accepted."},
            "created_at": TIME,
            "expires_at": {**TIME, "description": "While requested: the same as `accept_by`."},
            "accept_by": {**TIME, "description": "Only on a hold that waits (or waited) for the facility's "
                                                 "acceptance: unanswered by then, it lapses."},
            "outcome": {"enum": [*HOLD_OUTCOMES, None],
                        "description": "How it ended; null while open."},
            "outcome_reason": {"enum": list(DECLINE_REASONS), "description": "Only on a declined hold."},
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
            "minutes": {"type": "integer", "minimum": 1, "maximum": 1440,
                        "description": "Default 120 (HOLD_DEFAULT_MINUTES); for a call screened high risk 240 "
                                       "(HOLD_LONGEST_MINUTES). On a kind that requires acceptance, counted "
                                       "from the acceptance."},
            "call_id": {"type": "integer"},
            "search_id": {"type": "integer", "description": "The search the hold came from."},
            "request_id": {"type": "integer", "description": "The open waiting-list request the hold is for "
                                                             "(operators, managers)."},
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



PATHS = {}


def _hold_action(summary: str, body: dict | None = None, *, required: bool = True) -> dict:
    operation = {
        "summary": summary,
        "parameters": [id_param("hold_id")],
        "responses": {"200": response(ref("Hold")), **errors(400, 401, 403, 404, 409)},
    }
    if body:
        operation["requestBody"] = {"required": required, "content": {"application/json": {"schema": body}}}
    return {"post": operation}


PATHS.update({
    "/api/v1/holds": {
        "post": {
            "summary": "Hold a place; 409 when not enough places are free at this moment",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("NewHold")}}},
            "responses": {"201": response(ref("Hold"), "Held"), **errors(400, 401, 403, 404, 409)},
        },
        "get": {
            "summary": "Holds you may see: all for operators and managers, your facilities' for shelter staff, "
                       "your own for partners",
            "parameters": [
                {"name": "status", "in": "query", "schema": {"enum": list(HOLD_STATUSES)}},
                {"name": "facility", "in": "query", "schema": {"type": "integer"}},
                *PAGING,
            ],
            "responses": {"200": response(array("Hold")), **errors(400, 401)},
        },
    },
    "/api/v1/holds/{hold_id}/confirm": _hold_action(
        "The household arrived: the unit's available count drops by the hold's places"),
    "/api/v1/holds/{hold_id}/release": _hold_action(
        "Free the place, with how it ended (default `cancelled`); `declined` only by the facility's staff, "
        "with a reason", {"type": "object", "properties": {
            "outcome": {"enum": list(RELEASE_OUTCOMES), "default": "cancelled"},
            "reason": {"enum": list(DECLINE_REASONS), "description": "Required with `declined`, only then."},
            "note": {"type": "string", "maxLength": 2000}}}, required=False),
    "/api/v1/holds/{hold_id}/accept": _hold_action(
        "The facility's staff accept a requested hold: it becomes active for its minutes from now"),
    "/api/v1/holds/{hold_id}/decline": _hold_action(
        "The facility's staff decline a hold (requested or active): it is released with the outcome `declined`",
        {"type": "object", "required": ["reason"], "properties": {
            "reason": {"enum": list(DECLINE_REASONS)}, "note": {"type": "string", "maxLength": 2000}}}),
    "/api/v1/holds/{hold_id}/extend": _hold_action(
        "Keep the place longer", {"type": "object", "required": ["minutes"],
                                  "properties": {"minutes": {"type": "integer", "minimum": 1, "maximum": 1440}}}),
})

PATHS.update({
    "/api/v1/referrals": {
        "post": {
            "summary": "Refer a contact to a relief point or an organisation (operators, managers, admins, partners)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("NewReferral")}}},
            "responses": {"201": response(ref("Referral"), "Referred"), **errors(400, 401, 403)},
        },
        "get": {
            "summary": "Referrals you may see: all for operators, managers and admins, those to your facilities "
                       "for shelter staff, your own for partners",
            "parameters": [
                {"name": "status", "in": "query", "schema": REFERRAL_STATUS},
                {"name": "facility", "in": "query", "schema": {"type": "integer"}},
                *PAGING,
            ],
            "responses": {"200": response(array("Referral")), **errors(400, 401)},
        },
    },
    "/api/v1/referrals/{referral_id}": {
        "patch": {
            "summary": "Move a referral on: by the receiving facility's staff, or by operators and managers for an "
                       "organisation; 409 with the current state when the move is not allowed from its status",
            "parameters": [id_param("referral_id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("ReferralStatus")}}},
            "responses": {"200": response(ref("Referral")), **errors(400, 401, 403, 404, 409)},
        },
    },
})
