"""Alerts in API v1 (API.md "Alerts"): the rules, their alerts, the outbox.

Rules: managers (of their own regions, and the hotline's) and admins.
Alerts: managers of the alert's region (every manager for the hotline's) and
admins, and whoever the rule names for the one alert.
The outbox: operators, managers and admins, as its page. Recipients are
masked: never a full number.
"""

from flask import jsonify, request

from app import clock
from app.api import bp
from app.api.paging import next_link, page_args
from app.api.serializers import alert_json, notification_json, rule_json
from app.clock import iso_local
from app.models import Alert, AlertEvent
from app.services.alerts import episodes, rules
from app.services.core import access
from app.services.core.errors import Forbidden
from app.services.delivery import outbox
from app.web import unit_of_work
from app.web.auth import current_actor, login_required, roles_required

# --- rules ---------------------------------------------------------------------


@bp.route("/alert-rules")
@login_required
def alert_rule_list():
    return jsonify([rule_json(rule) for rule in rules.rules_for(current_actor())])


@bp.route("/alert-rules", methods=["POST"])
@login_required
def create_alert_rule():
    with unit_of_work.change():
        rule = rules.save_rule(current_actor(), clock.now(), request.get_json(silent=True))
    return jsonify(rule_json(rule)), 201


@bp.route("/alert-rules/<int:rule_id>", methods=["PATCH"])
@login_required
def update_alert_rule(rule_id: int):
    rule = rules.get_rule(rule_id)
    with unit_of_work.change():
        rules.save_rule(current_actor(), clock.now(), request.get_json(silent=True), rule)
    return jsonify(rule_json(rule))


@bp.route("/alert-rules/<int:rule_id>", methods=["DELETE"])
@login_required
def delete_alert_rule(rule_id: int):
    rule = rules.get_rule(rule_id)
    with unit_of_work.change():
        result = rules.delete_rule(current_actor(), clock.now(), rule)
    return jsonify({"id": rule_id, "result": result})


# --- alerts --------------------------------------------------------------------


def _event_json(event: AlertEvent) -> dict:
    return {
        "at": iso_local(event.at),
        "event": event.event,
        "free": event.free,
        "actor": event.actor.email if event.actor else None,
        "details": event.details or {},
    }


def _alert_detail_json(alert: Alert) -> dict:
    return {
        **alert_json(alert),
        "events": [_event_json(event) for event in alert.events],
        "notices": [notification_json(message) for message in episodes.notices(alert)],
    }


def _alert_for_me(alert_id: int) -> Alert:
    alert = episodes.get_alert(alert_id)
    if not access.may_acknowledge_alert(current_actor().user, alert):
        raise Forbidden("this alert is for the managers of its region")
    return alert


@bp.route("/alerts")
@login_required
def alert_list():
    limit, cursor = page_args()
    rows = episodes.alerts_for(current_actor(), request.args.get("state") or None, limit=limit, before_id=cursor)
    return jsonify([alert_json(alert) for alert in rows]), 200, next_link(rows, limit, lambda a: a.id)


@bp.route("/alerts/<int:alert_id>")
@login_required
def alert_detail(alert_id: int):
    return jsonify(_alert_detail_json(_alert_for_me(alert_id)))


@bp.route("/alerts/<int:alert_id>/ack", methods=["POST"])
@login_required
def acknowledge_alert(alert_id: int):
    with unit_of_work.change():
        alert = episodes.acknowledge(current_actor(), episodes.get_alert(alert_id), clock.now())
    return jsonify(_alert_detail_json(alert))


# --- the outbox ------------------------------------------------------------------


@bp.route("/notifications")
@roles_required(*access.OUTBOX_USERS)
def notification_list():
    limit, cursor = page_args()
    rows = outbox.listed(status=request.args.get("status") or None, before_id=cursor, limit=limit)
    return jsonify([notification_json(message) for message in rows]), 200, next_link(rows, limit, lambda m: m.id)


@bp.route("/notifications/<int:message_id>/retry", methods=["POST"])
@roles_required(*access.OUTBOX_USERS)
def retry_notification(message_id: int):
    with unit_of_work.change():
        message = outbox.retry(current_actor(), outbox.get(message_id), clock.now())
    return jsonify(notification_json(message))
