"""API v1, alerts: the rules, the alerts with their timeline and notices, and
the outbox with its retry. Alerts are made by the real engine
(alerts.evaluate) on the frozen clock, after a facility lowers its beds."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app import clock as app_clock
from app.api.serializers import rule_json
from app.clock import iso_local
from app.extensions import db
from app.models import Alert, AlertEvent, AlertRule, AuditEvent, OutboxMessage
from app.services.accounts import users
from app.services.alerts import evaluation, rules
from app.services.core.access import Actor
from app.services.delivery import sending
from app.services.registry import capacity
from tests import factories as make
from tests.api import assert_documented, call

MANAGER_PHONE = "+32470111122"
MASKED_PHONE = "+32 4•• •• •• 22"
RULE = {"name": "Antwerpen crisis beds", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 3}


@pytest.fixture
def app_config(twilio_server, smtp_server):
    return {**twilio_server.config(), **smtp_server.config()}


@pytest.fixture
def w(app, twilio, smtp):
    shelter = make.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (8, 5)})
    make.facility("crisis-gent", region_slug="oost-vlaanderen", municipality="Gent", postcode="9000",
                  units={"crisis_bed": (6, 4)})
    people = SimpleNamespace(
        manager=make.user("manager", regions=[make.region("antwerpen")], phone=MANAGER_PHONE,
                          email="manager@example.org"),
        other_manager=make.user("manager", regions=[make.region("oost-vlaanderen")]),
        operator=make.user("operator", email="operator@example.org"),
        partner=make.user("partner"),
        staff=make.user("shelter_staff", facilities_=[shelter]),
        admin=make.user("admin", email="admin@example.org"),
    )
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    return SimpleNamespace(unit=shelter.units[0], people=people, tokens=tokens, twilio=twilio)


def make_rule(w, **fields) -> AlertRule:
    rule = rules.save_rule(Actor(w.people.admin, "web"), app_clock.now(), {**RULE, **fields})
    db.session.commit()
    return rule


def set_available(w, available: int) -> None:
    capacity.set_available(Actor(w.people.staff, "web"), w.unit, available, w.unit.version, app_clock.now())
    db.session.commit()


def evaluate(clock) -> dict:
    summary = evaluation.evaluate(clock.now())
    db.session.commit()
    return summary


def firing_alert(w, clock, **fields) -> Alert:
    """The shelter drops to 1 free bed: pending, then firing 10 minutes on."""
    rule = make_rule(w, **fields)
    set_available(w, 1)
    evaluate(clock)
    clock.advance(minutes=rule.for_minutes)
    assert evaluate(clock)["fired"] == 1
    return db.session.scalar(select(Alert).where(Alert.rule_id == rule.id))


def counts() -> dict:
    """What a refused request must leave as it was."""
    db.session.commit()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (AlertRule, Alert, AlertEvent, OutboxMessage, AuditEvent)}


def rule_row(rule_id: int) -> dict:
    db.session.commit()
    return rule_json(rules.get_rule(rule_id))


# --- rules ------------------------------------------------------------------------


def test_managers_list_the_rules_of_their_regions_admins_all(client, w):
    antwerpen = make_rule(w, name="B Antwerpen")
    gent = make_rule(w, name="C Gent", region="oost-vlaanderen")
    everywhere = make_rule(w, name="A Everywhere", region=None)
    expected = {
        "manager": [antwerpen.id],
        "other_manager": [gent.id],
        "admin": [everywhere.id, antwerpen.id, gent.id],
    }
    for who, ids in expected.items():
        body = assert_documented(call(client, "GET", "/api/v1/alert-rules", getattr(w.tokens, who)),
                                 "/api/v1/alert-rules")
        assert [rule["id"] for rule in body] == ids, who
    [rule] = call(client, "GET", "/api/v1/alert-rules", w.tokens.manager).get_json()
    assert rule == {**rule_json(antwerpen), "name": "B Antwerpen", "region": "antwerpen",
                    "threshold": 3, "critical_at": 0, "for_minutes": 10, "margin": 1, "keep_firing_minutes": 10,
                    "repeat_minutes": 60, "escalate_after_minutes": None, "escalate_to": [], "quiet_hours": None,
                    "channels": ["sms", "email"], "recipients": [], "active": True, "metric": "free_places",
                    "active_hours": None, "window_minutes": None}


def test_a_manager_makes_a_rule_for_their_region(client, w):
    body = {**RULE, "critical_at": 1, "for_minutes": 15, "margin": 2, "escalate_after_minutes": 30,
            "escalate_to": ["admin@example.org"], "quiet_hours": {"from": "22:00", "to": "07:00"},
            "channels": ["sms"]}
    response = call(client, "POST", "/api/v1/alert-rules", w.tokens.manager, json=body)
    rule = assert_documented(response, "/api/v1/alert-rules", "post")
    assert response.status_code == 201
    assert rule == {"id": rule["id"], **body, "keep_firing_minutes": 10, "repeat_minutes": 60, "recipients": [],
                    "active": True, "metric": "free_places", "active_hours": None, "window_minutes": None}
    assert rule_row(rule["id"]) == rule
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "alert_rule.create"))
    assert audit.actor_id == w.people.manager.id
    listed = call(client, "GET", "/api/v1/alert-rules", w.tokens.manager).get_json()
    assert [r["id"] for r in listed] == [rule["id"]]


def test_an_admin_makes_a_rule_for_every_region(client, w):
    response = call(client, "POST", "/api/v1/alert-rules", w.tokens.admin, json={**RULE, "region": None})
    assert assert_documented(response, "/api/v1/alert-rules", "post")["region"] is None
    assert response.status_code == 201


BAD_RULES = [
    ({"threshold": -1}, "threshold"),
    ({"threshold": 0}, "threshold"),
    ({"threshold": "three"}, "threshold"),
    ({"margin": -1}, "margin"),
    ({"critical_at": -1}, "critical_at"),
    ({"critical_at": 3}, "critical_at"),
    ({"for_minutes": 1441}, "for_minutes"),
    ({"region": "nowhere"}, "region"),
    ({"kinds": ["sofa"]}, "kinds"),
    ({"kinds": []}, "kinds"),
    ({"colour": "red"}, "colour"),
    ({"quiet_hours": {"from": "25:00", "to": "07:00"}}, "quiet_hours"),
    ({"quiet_hours": {"from": "22:00"}}, "quiet_hours"),
    ({"quiet_hours": {"from": "22:00", "to": "22:00"}}, "quiet_hours"),
    ({"quiet_hours": "22:00-07:00"}, "quiet_hours"),
    ({"channels": ["fax"]}, "channels"),
    ({"escalate_to": ["nobody@example.org"]}, "escalate_to"),
    ({"recipients": ["not an address"]}, "recipients"),
    ({"name": ""}, "name"),
    ({"active": "yes"}, "active"),
]


@pytest.mark.parametrize("change, field", BAD_RULES)
def test_a_bad_new_rule_is_refused_naming_the_field_and_nothing_is_saved(client, w, change, field):
    before = counts()
    response = call(client, "POST", "/api/v1/alert-rules", w.tokens.manager, json={**RULE, **change})
    body = assert_documented(response, "/api/v1/alert-rules", "post")
    assert response.status_code == 400
    assert body["error"]["field"] == field and body["error"]["code"] == "invalid_field"
    assert counts() == before


@pytest.mark.parametrize("field", ["recipients", "escalate_to"])
@pytest.mark.parametrize("who", ["partner", "staff"])
def test_notices_go_only_to_operators_managers_and_admins(client, w, field, who):
    before = counts()
    outsider = getattr(w.people, who).email
    response = call(client, "POST", "/api/v1/alert-rules", w.tokens.manager, json={**RULE, field: [outsider]})
    body = assert_documented(response, "/api/v1/alert-rules", "post")
    assert response.status_code == 400 and body["error"]["field"] == field
    assert outsider in body["error"]["message"] and counts() == before


def test_someone_deactivated_since_does_not_block_other_changes_but_is_not_named_anew(client, w):
    rule = make_rule(w, recipients=["operator@example.org"])
    users.set_active(make.SETUP, w.people.operator, False, app_clock.now())
    db.session.commit()
    response = call(client, "PATCH", f"/api/v1/alert-rules/{rule.id}", w.tokens.manager, json={"threshold": 5})
    body = assert_documented(response, "/api/v1/alert-rules/{rule_id}", "patch")
    assert response.status_code == 200 and body["threshold"] == 5 and body["recipients"] == ["operator@example.org"]
    before = counts()
    response = call(client, "POST", "/api/v1/alert-rules", w.tokens.manager,
                    json={**RULE, "escalate_to": ["operator@example.org"]})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "escalate_to"
    assert counts() == before


@pytest.mark.parametrize("change, field", BAD_RULES)
def test_a_bad_change_is_refused_naming_the_field_and_the_rule_stays(client, w, change, field):
    rule = make_rule(w)
    saved, before = rule_row(rule.id), counts()
    response = call(client, "PATCH", f"/api/v1/alert-rules/{rule.id}", w.tokens.manager, json=change)
    body = assert_documented(response, "/api/v1/alert-rules/{rule_id}", "patch")
    assert response.status_code == 400
    assert body["error"]["field"] == field
    assert rule_row(rule.id) == saved and counts() == before


@pytest.mark.parametrize("method, path", [("POST", "/api/v1/alert-rules"), ("PATCH", "/api/v1/alert-rules/{id}")])
def test_a_body_that_is_not_a_json_object_is_refused(client, w, method, path):
    rule = make_rule(w)
    before = counts()
    for kwargs in ({"data": "threshold=3"}, {"json": [RULE]}):
        response = call(client, method, path.format(id=rule.id), w.tokens.manager, **kwargs)
        body = assert_documented(response, path.replace("{id}", "{rule_id}"), method.lower())
        assert response.status_code == 400 and body["error"]["field"] == "body"
    assert counts() == before


def test_a_change_keeps_the_fields_it_does_not_name(client, w):
    rule = make_rule(w, quiet_hours={"from": "22:00", "to": "07:00"}, repeat_minutes=30)
    saved = rule_row(rule.id)
    response = call(client, "PATCH", f"/api/v1/alert-rules/{rule.id}", w.tokens.manager,
                    json={"threshold": 5, "quiet_hours": None, "escalate_after_minutes": 45})
    body = assert_documented(response, "/api/v1/alert-rules/{rule_id}", "patch")
    assert response.status_code == 200
    assert body == {**saved, "threshold": 5, "quiet_hours": None, "escalate_after_minutes": 45}
    assert rule_row(rule.id) == body
    [audit] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "alert_rule.update"))
    # The audit names what changed, in the model's terms: quiet hours are two columns.
    assert audit.details == {"source": "api", "threshold": 5, "quiet_from": None, "quiet_to": None,
                             "escalate_after_minutes": 45}


def test_deleting_a_rule_that_never_fired_deletes_it(client, w):
    rule_id = make_rule(w).id
    response = call(client, "DELETE", f"/api/v1/alert-rules/{rule_id}", w.tokens.manager)
    assert assert_documented(response, "/api/v1/alert-rules/{rule_id}", "delete") == {
        "id": rule_id, "result": "deleted"}
    assert counts()["AlertRule"] == 0
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc()).limit(1)) == "alert_rule.delete"
    assert call(client, "GET", "/api/v1/alert-rules", w.tokens.manager).get_json() == []
    assert call(client, "DELETE", f"/api/v1/alert-rules/{rule_id}", w.tokens.manager).status_code == 404


def test_deleting_a_rule_with_an_alert_deactivates_it_and_cancels_the_alert_silently(client, w, clock):
    alert = firing_alert(w, clock)
    notices = counts()["OutboxMessage"]
    response = call(client, "DELETE", f"/api/v1/alert-rules/{alert.rule_id}", w.tokens.manager)
    assert assert_documented(response, "/api/v1/alert-rules/{rule_id}", "delete")["result"] == "deactivated"
    [rule] = call(client, "GET", "/api/v1/alert-rules", w.tokens.manager).get_json()
    assert rule["active"] is False
    detail = call(client, "GET", f"/api/v1/alerts/{alert.id}", w.tokens.manager).get_json()
    assert detail["state"] == "resolved"
    assert detail["events"][-1]["event"] == "cancelled"
    assert counts()["OutboxMessage"] == notices


# --- who may touch rules -----------------------------------------------------------


@pytest.mark.parametrize("who, method, body", [
    ("other_manager", "PATCH", {"threshold": 5}),
    ("other_manager", "DELETE", None),
    ("manager", "PATCH", {"region": "oost-vlaanderen"}),
    ("manager", "PATCH", {"region": None}),
    ("operator", "PATCH", {"threshold": 5}),
    ("operator", "DELETE", None),
    ("partner", "PATCH", {"threshold": 5}),
    ("partner", "DELETE", None),
    ("staff", "DELETE", None),
])
def test_only_the_regions_managers_and_admins_change_a_rule(client, w, who, method, body):
    rule = make_rule(w)
    saved, before = rule_row(rule.id), counts()
    response = call(client, method, f"/api/v1/alert-rules/{rule.id}", getattr(w.tokens, who), json=body)
    error = assert_documented(response, "/api/v1/alert-rules/{rule_id}", method.lower())["error"]
    assert response.status_code == 403 and error["code"] == "forbidden"
    assert rule_row(rule.id) == saved and counts() == before


@pytest.mark.parametrize("who, body", [
    ("other_manager", RULE),
    ("manager", {**RULE, "region": "oost-vlaanderen"}),
    ("manager", {**RULE, "region": None}),
    ("operator", RULE),
    ("partner", RULE),
    ("staff", RULE),
])
def test_only_the_regions_managers_and_admins_make_a_rule(client, w, who, body):
    before = counts()
    response = call(client, "POST", "/api/v1/alert-rules", getattr(w.tokens, who), json=body)
    assert_documented(response, "/api/v1/alert-rules", "post")
    assert response.status_code == 403
    assert counts() == before


@pytest.mark.parametrize("who", ["operator", "partner", "staff"])
def test_only_managers_and_admins_list_rules(client, w, who):
    make_rule(w)
    response = call(client, "GET", "/api/v1/alert-rules", getattr(w.tokens, who))
    assert_documented(response, "/api/v1/alert-rules")
    assert response.status_code == 403


# --- alerts ---------------------------------------------------------------------------


def test_an_alert_is_listed_by_state_with_its_timeline_and_masked_notices(client, w, clock):
    rule = make_rule(w)
    set_available(w, 1)
    evaluate(clock)
    [pending] = assert_documented(call(client, "GET", "/api/v1/alerts?state=pending", w.tokens.manager),
                                  "/api/v1/alerts")
    assert (pending["rule_id"], pending["region"], pending["state"], pending["free"], pending["threshold"]) == (
        rule.id, "antwerpen", "pending", 1, 3)
    assert pending["fired_at"] is None and pending["code"] != str(pending["id"])
    assert call(client, "GET", "/api/v1/alerts?state=firing", w.tokens.manager).get_json() == []

    clock.advance(minutes=10)
    evaluate(clock)
    [firing] = call(client, "GET", "/api/v1/alerts?state=firing", w.tokens.manager).get_json()
    assert firing["id"] == pending["id"] and firing["fired_at"] == iso_local(clock.now())
    response = call(client, "GET", f"/api/v1/alerts/{firing['id']}", w.tokens.manager)
    detail = assert_documented(response, "/api/v1/alerts/{alert_id}")
    assert [event["event"] for event in detail["events"]] == ["pending", "fired"]
    manager = w.people.manager
    assert detail["events"][1]["details"]["told"] == [[manager.id, "sms"], [manager.id, "email"]]
    assert [(n["user"], n["channel"], n["recipient"], n["status"], n["purpose"]) for n in detail["notices"]] == [
        ("manager@example.org", "sms", MASKED_PHONE, "pending", "alert"),
        ("manager@example.org", "email", "manager@example.org", "pending", "alert"),
    ]
    assert "470111122" not in response.get_data(as_text=True)
    assert [a["id"] for a in call(client, "GET", "/api/v1/alerts", w.tokens.admin).get_json()] == [firing["id"]]


def test_a_manager_acknowledges_a_firing_alert_once(client, w, clock):
    alert = firing_alert(w, clock)
    clock.advance(minutes=2)
    response = call(client, "POST", f"/api/v1/alerts/{alert.id}/ack", w.tokens.manager)
    body = assert_documented(response, "/api/v1/alerts/{alert_id}/ack", "post")
    assert response.status_code == 200
    assert (body["acknowledged_by"], body["acknowledged_at"]) == ("manager@example.org", iso_local(clock.now()))
    assert body["events"][-1] == {"at": iso_local(clock.now()), "event": "acknowledged", "free": 1,
                                  "actor": "manager@example.org", "details": {"source": "api"}}
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "alert.acknowledge")) is not None

    before = counts()
    again = call(client, "POST", f"/api/v1/alerts/{alert.id}/ack", w.tokens.admin)
    body = assert_documented(again, "/api/v1/alerts/{alert_id}/ack", "post")
    assert again.status_code == 409 and body["error"]["code"] == "conflict"
    assert "acknowledged already" in body["error"]["message"]
    assert body["alert"]["acknowledged_by"] == "manager@example.org"
    assert counts() == before
    # No more repeats once acknowledged.
    clock.advance(minutes=120)
    assert evaluate(clock)["repeated"] == 0


def test_a_pending_alert_cannot_be_acknowledged(client, w, clock):
    make_rule(w)
    set_available(w, 1)
    evaluate(clock)
    alert_id = db.session.scalar(select(Alert.id))
    before = counts()
    response = call(client, "POST", f"/api/v1/alerts/{alert_id}/ack", w.tokens.manager)
    body = assert_documented(response, "/api/v1/alerts/{alert_id}/ack", "post")
    assert response.status_code == 409 and "has not fired" in body["error"]["message"]
    assert body["alert"]["state"] == "pending"
    assert counts() == before


def test_a_resolved_alert_cannot_be_acknowledged(client, w, clock):
    alert = firing_alert(w, clock, keep_firing_minutes=5)
    set_available(w, 4)  # threshold 3 + margin 1
    evaluate(clock)
    clock.advance(minutes=5)
    assert evaluate(clock)["resolved"] == 1
    before = counts()
    response = call(client, "POST", f"/api/v1/alerts/{alert.id}/ack", w.tokens.manager)
    body = assert_documented(response, "/api/v1/alerts/{alert_id}/ack", "post")
    assert response.status_code == 409 and "resolved" in body["error"]["message"]
    assert body["alert"]["resolved_at"] == iso_local(clock.now())
    assert counts() == before


def test_a_user_the_rule_names_may_see_and_acknowledge_its_alert(client, w, clock):
    alert = firing_alert(w, clock, recipients=["operator@example.org"])
    detail = assert_documented(call(client, "GET", f"/api/v1/alerts/{alert.id}", w.tokens.operator),
                               "/api/v1/alerts/{alert_id}")
    assert [(n["user"], n["channel"]) for n in detail["notices"]] == [("operator@example.org", "email")]
    response = call(client, "POST", f"/api/v1/alerts/{alert.id}/ack", w.tokens.operator)
    assert response.status_code == 200
    assert response.get_json()["acknowledged_by"] == "operator@example.org"


@pytest.mark.parametrize("who, method, path", [
    ("other_manager", "GET", "/api/v1/alerts/{alert_id}"),
    ("other_manager", "POST", "/api/v1/alerts/{alert_id}/ack"),
    ("operator", "GET", "/api/v1/alerts/{alert_id}"),
    ("operator", "POST", "/api/v1/alerts/{alert_id}/ack"),
    ("partner", "GET", "/api/v1/alerts/{alert_id}"),
    ("partner", "POST", "/api/v1/alerts/{alert_id}/ack"),
    ("staff", "POST", "/api/v1/alerts/{alert_id}/ack"),
])
def test_an_alert_is_for_its_regions_managers(client, w, clock, who, method, path):
    alert = firing_alert(w, clock)
    before = counts()
    response = call(client, method, path.format(alert_id=alert.id), getattr(w.tokens, who))
    assert_documented(response, path, method.lower())
    assert response.status_code == 403
    assert counts() == before
    db.session.refresh(alert)
    assert alert.acknowledged_at is None


def test_the_alert_list_shows_managers_their_regions_and_refuses_others(client, w, clock):
    firing_alert(w, clock)
    assert call(client, "GET", "/api/v1/alerts", w.tokens.other_manager).get_json() == []
    for who in ("operator", "partner", "staff"):
        response = call(client, "GET", "/api/v1/alerts", getattr(w.tokens, who))
        assert_documented(response, "/api/v1/alerts")
        assert response.status_code == 403, who


@pytest.mark.parametrize("query, field", [
    ("state=burning", "state"),
    ("state=FIRING", "state"),
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("cursor=x", "cursor"),
])
def test_bad_alert_filters_are_refused_naming_the_field(client, w, query, field):
    response = call(client, "GET", f"/api/v1/alerts?{query}", w.tokens.manager)
    body = assert_documented(response, "/api/v1/alerts")
    assert response.status_code == 400 and body["error"]["field"] == field


def test_alerts_page_newest_first(client, w, clock):
    for threshold in (3, 4, 5):
        make_rule(w, name=f"Below {threshold}", threshold=threshold)
    set_available(w, 1)
    evaluate(clock)
    first = call(client, "GET", "/api/v1/alerts?limit=2", w.tokens.manager)
    link = first.headers["Link"]
    second = call(client, "GET", link[link.index("<") + 1 : link.index(">")], w.tokens.manager)
    assert "Link" not in second.headers
    seen = [a["id"] for a in first.get_json() + second.get_json()]
    assert len(seen) == 3 and seen == sorted(seen, reverse=True)


# --- the outbox -----------------------------------------------------------------------


def test_notifications_newest_first_with_masked_recipients(client, w, clock):
    alert = firing_alert(w, clock)
    w.twilio.answer_next(400)  # Twilio: not a valid number
    sending.deliver_due(clock.now())
    response = call(client, "GET", "/api/v1/notifications", w.tokens.operator)
    body = assert_documented(response, "/api/v1/notifications")
    email, sms = body
    assert (sms["channel"], sms["recipient"], sms["status"], sms["attempts"], sms["alert_id"]) == (
        "sms", MASKED_PHONE, "failed", 1, alert.id)
    assert "400" in sms["last_error"] and sms["sent_at"] is None and sms["next_attempt_at"] is None
    assert (email["status"], email["sent_at"], email["last_error"]) == ("sent", iso_local(clock.now()), None)
    assert "470111122" not in response.get_data(as_text=True)
    failed = call(client, "GET", "/api/v1/notifications?status=failed", w.tokens.manager).get_json()
    assert [m["id"] for m in failed] == [sms["id"]]
    first = call(client, "GET", "/api/v1/notifications?limit=1", w.tokens.admin)
    link = first.headers["Link"]
    second = call(client, "GET", link[link.index("<") + 1 : link.index(">")], w.tokens.admin)
    assert [m["id"] for m in first.get_json() + second.get_json()] == [email["id"], sms["id"]]


@pytest.mark.parametrize("query, field", [("status=lost", "status"), ("limit=0", "limit"), ("cursor=-1", "cursor")])
def test_bad_notification_filters_are_refused_naming_the_field(client, w, query, field):
    response = call(client, "GET", f"/api/v1/notifications?{query}", w.tokens.operator)
    body = assert_documented(response, "/api/v1/notifications")
    assert response.status_code == 400 and body["error"]["field"] == field


def test_a_failed_message_is_retried_and_then_delivered_once(client, w, clock):
    firing_alert(w, clock)
    w.twilio.answer_next(400)
    sending.deliver_due(clock.now())
    sms = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "sms"))
    clock.advance(minutes=3)
    response = call(client, "POST", f"/api/v1/notifications/{sms.id}/retry", w.tokens.manager)
    body = assert_documented(response, "/api/v1/notifications/{message_id}/retry", "post")
    assert (body["status"], body["next_attempt_at"], body["attempts"]) == ("pending", iso_local(clock.now()), 1)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "outbox.retry")) is not None
    assert sending.deliver_due(clock.now()) == {"sent": 1}
    # Refused once, then accepted: asked of Twilio twice, delivered once.
    assert [m.form["To"] for m in w.twilio.messages] == [MANAGER_PHONE, MANAGER_PHONE]
    db.session.refresh(sms)
    assert (sms.status, sms.attempts) == ("sent", 2)
    assert sending.deliver_due(clock.now() + timedelta(hours=1)) == {}


@pytest.mark.parametrize("status", ["sent", "delivered"])
def test_a_message_that_went_out_is_not_retried(client, w, clock, status):
    firing_alert(w, clock)
    sending.deliver_due(clock.now())
    sms = db.session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "sms"))
    if status == "delivered":
        sending.record_provider_status(sms.provider_id, "delivered", None, clock.now())
        db.session.commit()
    before = counts()
    response = call(client, "POST", f"/api/v1/notifications/{sms.id}/retry", w.tokens.operator)
    body = assert_documented(response, "/api/v1/notifications/{message_id}/retry", "post")
    assert response.status_code == 409
    assert (body["error"]["field"], body["notification"]["status"]) == ("status", status)
    assert counts() == before
    assert sending.deliver_due(clock.now() + timedelta(hours=1)) == {}


@pytest.mark.parametrize("who", ["partner", "staff"])
def test_partners_and_shelter_staff_may_not_see_or_retry_the_outbox(client, w, clock, who):
    firing_alert(w, clock)
    w.twilio.answer_next(400)
    sending.deliver_due(clock.now())
    failed = db.session.scalar(select(OutboxMessage).where(OutboxMessage.status == "failed"))
    token = getattr(w.tokens, who)
    listed = call(client, "GET", "/api/v1/notifications", token)
    assert_documented(listed, "/api/v1/notifications")
    before = counts()
    retried = call(client, "POST", f"/api/v1/notifications/{failed.id}/retry", token)
    assert_documented(retried, "/api/v1/notifications/{message_id}/retry", "post")
    assert (listed.status_code, retried.status_code) == (403, 403)
    assert counts() == before
    db.session.refresh(failed)
    assert failed.status == "failed"


# --- unknown ids and no token ----------------------------------------------------------


@pytest.mark.parametrize("method, path, template, who", [
    ("PATCH", "/api/v1/alert-rules/99999", "/api/v1/alert-rules/{rule_id}", "admin"),
    ("DELETE", "/api/v1/alert-rules/99999", "/api/v1/alert-rules/{rule_id}", "manager"),
    ("GET", "/api/v1/alerts/99999", "/api/v1/alerts/{alert_id}", "manager"),
    ("POST", "/api/v1/alerts/99999/ack", "/api/v1/alerts/{alert_id}/ack", "admin"),
    ("POST", "/api/v1/notifications/99999/retry", "/api/v1/notifications/{message_id}/retry", "operator"),
])
def test_unknown_ids_are_404(client, w, method, path, template, who):
    response = call(client, method, path, getattr(w.tokens, who), json={"threshold": 5})
    body = assert_documented(response, template, method.lower())
    assert response.status_code == 404 and body["error"]["code"] == "not_found"


ENDPOINTS = [
    ("GET", "/api/v1/alert-rules", "/api/v1/alert-rules"),
    ("POST", "/api/v1/alert-rules", "/api/v1/alert-rules"),
    ("PATCH", "/api/v1/alert-rules/{id}", "/api/v1/alert-rules/{rule_id}"),
    ("DELETE", "/api/v1/alert-rules/{id}", "/api/v1/alert-rules/{rule_id}"),
    ("GET", "/api/v1/alerts", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/{id}", "/api/v1/alerts/{alert_id}"),
    ("POST", "/api/v1/alerts/{id}/ack", "/api/v1/alerts/{alert_id}/ack"),
    ("GET", "/api/v1/notifications", "/api/v1/notifications"),
    ("POST", "/api/v1/notifications/{id}/retry", "/api/v1/notifications/{message_id}/retry"),
]


@pytest.mark.parametrize("method, path, template", ENDPOINTS)
@pytest.mark.parametrize("token", [None, "opv_not-a-token"])
def test_no_or_a_bad_token_is_401_and_writes_nothing(client, w, clock, method, path, template, token):
    alert = firing_alert(w, clock)
    message_id = db.session.scalar(select(OutboxMessage.id).limit(1))
    ids = {"/alert-rules/": alert.rule_id, "/alerts/": alert.id, "/notifications/": message_id}
    target = path.format(id=next((v for k, v in ids.items() if k in path), None))
    before = counts()
    response = call(client, method, target, token, json={**RULE, "threshold": 5})
    body = assert_documented(response, template, method.lower())
    assert response.status_code == 401 and body["error"]["code"] == "unauthenticated"
    assert counts() == before
