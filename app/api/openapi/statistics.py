"""API description: the daily statistics (app/api/statistics.py)."""

from app.api.openapi.common import array, errors, response
from app.models.placement import HOLD_OUTCOMES, TURN_AWAY_REASONS
from app.services.statistics.days import DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS


def _counts(keys) -> dict:
    return {"type": "object", "required": list(keys), "additionalProperties": False,
            "properties": {key: {"type": "integer", "minimum": 0} for key in keys}}


SCHEMAS = {
    "RegionDay": {
        "type": "object",
        "description": "One region, capacity kind and local day. Free places are available minus held, none "
                       "while a facility is closed for intake, summed over the region's units of the kind. "
                       "Today's row is the day so far, kept current by the scheduler.",
        "required": ["day", "region", "kind", "mean_free", "min_free", "hours_at_zero", "turn_aways",
                     "requests_opened", "holds", "referral_accept_median_h"],
        "additionalProperties": False,
        "properties": {
            "day": {"type": "string", "format": "date"},
            "region": {"type": "string", "description": "Region slug"},
            "kind": {"type": "string", "description": "Capacity kind code"},
            "mean_free": {"type": "number", "minimum": 0, "description": "Weighted by time over the day"},
            "min_free": {"type": "integer", "minimum": 0},
            "hours_at_zero": {"type": "number", "minimum": 0, "maximum": 25},
            "turn_aways": {**_counts(TURN_AWAY_REASONS),
                           "description": "By reason; each contact under the first kind it searched for"},
            "requests_opened": {"type": "integer", "minimum": 0},
            "holds": {**_counts(HOLD_OUTCOMES), "description": "Holds that ended that day, by outcome"},
            "referral_accept_median_h": {"type": ["number", "null"],
                                         "description": "Median hours from referral to acceptance of the "
                                                        "referrals to the region's facilities accepted that day"},
        },
    },
    "HotlineDay": {
        "type": "object",
        "description": "One hotline number and local day: what became of its voice calls. Today's row is the "
                       "day so far, kept current by the scheduler.",
        "required": ["day", "number", "offered", "answered", "missed", "menu_hangups", "voicemails", "callbacks",
                     "median_answer_s"],
        "additionalProperties": False,
        "properties": {
            "day": {"type": "string", "format": "date"},
            "number": {"type": ["string", "null"], "description": "The hotline number dialled (E.164)"},
            "offered": {"type": "integer", "minimum": 0},
            "answered": {"type": "integer", "minimum": 0},
            "missed": {"type": "integer", "minimum": 0,
                       "description": "Reached the operators' ring and nobody accepted"},
            "menu_hangups": {"type": "integer", "minimum": 0},
            "voicemails": {"type": "integer", "minimum": 0},
            "callbacks": {"type": "integer", "minimum": 0, "description": "Calls called back"},
            "median_answer_s": {"type": ["number", "null"],
                                "description": "Median seconds from the operators' ring to an answer"},
        },
    },
}

_PERIOD = [
    {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": f"Default: {DEFAULT_PERIOD_DAYS - 1} days before `until`"},
    {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": f"Default: today. At most {MAX_PERIOD_DAYS} days from `since`"},
]

PATHS = {
    "/api/v1/stats/daily": {
        "get": {
            "summary": "Daily statistics per region, kind and day, kept after the detail they came from is "
                       "purged (managers: their own regions; admins: all)",
            "parameters": [
                {"name": "region", "in": "query", "schema": {"type": "string"},
                 "description": "Region slug; a manager's other regions are refused (403)"},
                {"name": "kind", "in": "query", "schema": {"type": "string"}, "description": "Capacity kind code"},
                *_PERIOD,
            ],
            "responses": {"200": response(array("RegionDay")), **errors(400, 401, 403)},
        },
    },
    "/api/v1/stats/hotline-daily": {
        "get": {
            "summary": "Daily statistics per hotline number and day, kept after the detail (managers and admins: "
                       "the hotline belongs to no region)",
            "parameters": _PERIOD,
            "responses": {"200": response(array("HotlineDay")), **errors(400, 401, 403)},
        },
    },
}
