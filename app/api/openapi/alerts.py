"""API description: alert rules, alerts and the outbox (app/api/alerts.py)."""

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

SCHEMAS = {}
PATHS = {}

ALERT_STATE = {"enum": ["pending", "firing", "resolved"]}
OUTBOX_STATUS = {"enum": ["pending", "sending", "sent", "delivered", "failed", "undeliverable"]}
CHANNELS = {"type": "array", "items": {"enum": ["sms", "email"]}, "minItems": 1, "uniqueItems": True}
EMAILS = {"type": "array", "items": {"type": "string", "format": "email"}}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
QUIET_HOURS = {
    "oneOf": [
        {"type": "null"},
        {"type": "object", "required": ["from", "to"], "additionalProperties": False,
         "properties": {"from": CLOCK_TIME,
                        "to": CLOCK_TIME}},
    ],
    "description": "Local time (TIMEZONE, Europe/Brussels by default); from and to differ. Every notice but "
                   "`critical` waits until they end.",
}
ACTIVE_HOURS = {
    "oneOf": [
        {"type": "null"},
        {"type": "object", "required": ["from", "to"], "additionalProperties": False,
         "properties": {"from": CLOCK_TIME, "to": CLOCK_TIME}},
    ],
    "description": "operators_on_duty only (required there): the staffed hours, local time; watched only then. "
                   "From after to spans midnight; from equal to to is all day.",
}
RULE_FIELDS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "metric": {"enum": ["free_places", "operators_on_duty", "missed_calls"], "default": "free_places",
               "description": "What the rule watches; it does not change once made. The hotline's metrics "
                              "(operators_on_duty, missed_calls) have no region and no kinds, name their "
                              "recipients, and their alerts are every manager's."},
    "region": {**NULLABLE_STRING, "description": "Region slug; null: every region, each on its own (admins only). "
                                                 "Null for the hotline's metrics."},
    "kinds": {"type": ["array", "null"], "items": {"type": "string"}, "minItems": 1,
              "description": "Capacity kind codes; their free places are summed. Required for free_places, null "
                             "for the hotline's metrics."},
    "active_hours": ACTIVE_HOURS,
    "window_minutes": {"type": ["integer", "null"], "minimum": 5, "maximum": 1440,
                       "description": "missed_calls only (required there): the calls missed within the last "
                                      "this many minutes are counted."},
    "threshold": {"type": "integer", "minimum": 1, "maximum": 100000,
                  "description": "The condition is free < threshold (operators on duty < threshold; missed calls "
                                 ">= threshold)."},
    "critical_at": {"type": "integer", "minimum": 0, "default": 0,
                    "description": "Below the threshold; free <= critical_at is critical (sent even in quiet hours). "
                                   "missed_calls: 0 (never) or above the threshold, missed >= critical_at."},
    "for_minutes": {"type": "integer", "minimum": 0, "maximum": 1440, "default": 10,
                    "description": "How long the condition must hold before the alert fires."},
    "margin": {"type": "integer", "minimum": 0, "default": 1,
               "description": "Hysteresis: resolved only once free >= threshold + margin (missed calls < "
                              "threshold - margin; there margin is below the threshold) …"},
    "keep_firing_minutes": {"type": "integer", "minimum": 0, "maximum": 1440, "default": 10,
                            "description": "… has held this long."},
    "repeat_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 10080, "default": 60,
                       "description": "Repeat while unacknowledged; null: never."},
    "escalate_after_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 10080, "default": None,
                               "description": "Tell `escalate_to` when unacknowledged this long; null: never."},
    "escalate_to": {**EMAILS, "description": "Users' e-mail addresses; empty: the active admins."},
    "quiet_hours": QUIET_HOURS,
    "channels": {**CHANNELS, "description": "Each recipient's own settings pick among them."},
    "recipients": {**EMAILS, "description": "Users' e-mail addresses; empty: the region's managers. Required for "
                                            "the hotline's metrics: managers or admins."},
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
        "required": ["name", "threshold"],
        "additionalProperties": False,
        "description": "Any other field is refused (400 naming it). free_places needs kinds; operators_on_duty "
                       "recipients and active_hours; missed_calls recipients and window_minutes.",
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
            "code": {"type": "string",
                     "description": "The acknowledgement code (SMS `OK code`): random, unique among open alerts."},
            "rule_id": {"type": "integer"},
            "region": {**NULLABLE_STRING, "description": "Region slug; null for the hotline's alerts."},
            "state": ALERT_STATE,
            "critical": {"type": "boolean"},
            "free": {"type": "integer", "minimum": 0,
                     "description": "The value watched, last seen: free places of the rule's kinds, operators on "
                                    "duty, or missed calls in the window (the rule's metric)."},
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
    "allOf": [ref("Alert"), {
        "type": "object",
        "required": ["events", "notices"],
        "properties": {
            "events": {**array("AlertEvent"), "description": "The timeline, oldest first."},
            "notices": {**array("Notification"), "description": "Who was told by what, and what became of it."},
        },
    }],
}


def _rule_body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


PATHS.update({
    "/api/v1/alert-rules": {
        "get": {
            "summary": "The alert rules you may edit (managers: their regions' and the hotline's; admins: all), "
                       "active or not, by name",
            "responses": {"200": response(array("AlertRule")), **errors(401, 403)},
        },
        "post": {
            "summary": "Make an alert rule (managers for their own regions and the hotline; admins, also for every "
                       "region)",
            "requestBody": _rule_body("NewAlertRule"),
            "responses": {"201": response(ref("AlertRule"), "Made"), **errors(400, 401, 403)},
        },
    },
    "/api/v1/alert-rules/{rule_id}": {
        "patch": {
            "summary": "Change a rule: an open alert of a region it no longer watches, or of a rule made inactive, "
                       "is cancelled",
            "parameters": [id_param("rule_id")],
            "requestBody": _rule_body("AlertRuleChange"),
            "responses": {"200": response(ref("AlertRule")), **errors(400, 401, 403, 404)},
        },
        "delete": {
            "summary": "Delete a rule; one that had alerts is deactivated instead (its alerts keep their "
                       "timeline; an open one is cancelled)",
            "parameters": [id_param("rule_id")],
            "responses": {"200": response({"type": "object", "required": ["id", "result"],
                                        "properties": {"id": {"type": "integer"},
                                                       "result": {"enum": ["deleted", "deactivated"]}}}),
                          **errors(401, 403, 404)},
        },
    },
    "/api/v1/alerts": {
        "get": {
            "summary": "Alerts, newest first (managers: their regions' and the hotline's; admins: all)",
            "parameters": [{"name": "state", "in": "query", "schema": ALERT_STATE}, *PAGING],
            "responses": {"200": response(array("Alert")), **errors(400, 401, 403)},
        },
    },
    "/api/v1/alerts/{alert_id}": {
        "get": {
            "summary": "An alert with its timeline and its notices (managers of its region, admins, and the users "
                       "its rule names)",
            "parameters": [id_param("alert_id")],
            "responses": {"200": response(ref("AlertDetail")), **errors(401, 403, 404)},
        },
    },
    "/api/v1/alerts/{alert_id}/ack": {
        "post": {
            "summary": "Acknowledge a firing alert: no more repeats or escalation; its resolution is still "
                       "announced. 409 with the alert when it is pending, acknowledged already or resolved",
            "parameters": [id_param("alert_id")],
            "responses": {"200": response(ref("AlertDetail")), **errors(401, 403, 404, 409)},
        },
    },
    "/api/v1/notifications": {
        "get": {
            "summary": "The outbox, newest first (operators, managers, admins): every SMS and e-mail and what "
                       "became of it, recipients masked",
            "parameters": [{"name": "status", "in": "query", "schema": OUTBOX_STATUS}, *PAGING],
            "responses": {"200": response(array("Notification")), **errors(400, 401, 403)},
        },
    },
    "/api/v1/notifications/{message_id}/retry": {
        "post": {
            "summary": "Send a failed or waiting message again at the next delivery run; 409 with the message "
                       "when it was sent already",
            "parameters": [id_param("message_id")],
            "responses": {"200": response(ref("Notification")), **errors(401, 403, 404, 409)},
        },
    },
})
