"""The managers' alert pages: current and past alerts, an alert's timeline,
the acknowledge button, the rules editor, and each user's alert channels.

Alerts are made by the real engine (alerts.evaluate) on the frozen clock."""

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.api.serializers import rule_json
from app.extensions import db
from app.models import Alert, AlertEvent, AlertRule, AuditEvent, OutboxMessage, User
from app.services.alerts import episodes, evaluation
from app.services.alerts import rules as alert_rules
from app.services.core.access import Actor
from app.services.delivery import sending
from app.services.registry import capacity
from tests import factories as make
from tests.conftest import make_app

ANTWERPEN_PHONE = "+32470111122"


def text(response) -> str:
    return response.get_data(as_text=True)


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def written() -> dict:
    return {model.__name__: count(model) for model in (AlertRule, Alert, AlertEvent, OutboxMessage, AuditEvent)}


def error_next_to(body: str, field: str) -> str:
    match = re.search(rf'<span class="field-error" id="{re.escape(field)}-error">(.*?)</span>', body, re.DOTALL)
    assert match, f"no error next to {field}"
    return match.group(1)


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


@pytest.fixture
def world(app, clock):
    """Antwerpen has 1 free crisis bed (rule: below 3), Oost-Vlaanderen none
    (rule: below 2); each region has its manager."""
    antwerpen = make.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (8, 1)})
    gent = make.facility("crisis-gent", name="Crisis Gent", region_slug="oost-vlaanderen", municipality="Gent",
                         postcode="9000", units={"crisis_bed": (5, 0)})
    admin = make.user("admin", email="admin@example.org", name="Ada Admin")
    manager = make.user("manager", email="manager@example.org", name="Mia Manager", regions=[antwerpen.region],
                        phone=ANTWERPEN_PHONE)
    manager_gent = make.user("manager", email="gent@example.org", name="Gert Gent", regions=[gent.region],
                             phone="+32470333344")
    by_admin = Actor(user=admin, source="web")
    rule = alert_rules.save_rule(by_admin, clock.now(), {
        "name": "Antwerpen crisis beds", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 3,
        "for_minutes": 10, "repeat_minutes": 60})
    rule_gent = alert_rules.save_rule(by_admin, clock.now(), {
        "name": "Gent crisis beds", "region": "oost-vlaanderen", "kinds": ["crisis_bed"], "threshold": 2,
        "for_minutes": 10})
    db.session.commit()
    return SimpleNamespace(antwerpen=antwerpen, gent=gent, admin=admin, manager=manager, manager_gent=manager_gent,
                           rule=rule, rule_gent=rule_gent, by_admin=by_admin)


def evaluate(clock, minutes: int = 0) -> None:
    clock.advance(minutes=minutes)
    evaluation.evaluate(clock.now())
    db.session.commit()


def alert_of(rule) -> Alert:
    db.session.rollback()
    return db.session.scalar(select(Alert).where(Alert.rule_id == rule.id).order_by(Alert.id.desc()))


@pytest.fixture
def firing(world, clock):
    """Both rules pending, then firing 10 minutes later: the managers are told."""
    evaluate(clock)
    evaluate(clock, minutes=10)
    world.alert, world.alert_gent = alert_of(world.rule), alert_of(world.rule_gent)
    assert world.alert.state == world.alert_gent.state == "firing"
    return world


def signed_in(app, user):
    client = app.test_client()
    make.login(client, user)
    return client


# --- who ----------------------------------------------------------------------------


def page_urls(world) -> dict[str, str]:
    return {
        "/alerts/": "Current alerts",
        f"/alerts/{world.alert.id}": "Timeline",
        "/alerts/rules": "Antwerpen crisis beds",
        "/alerts/rules/new": "New alert rule",
        f"/alerts/rules/{world.rule.id}": 'value="Antwerpen crisis beds"',
    }


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_every_alert_page_renders_for_a_manager_and_an_admin(app, firing, who):
    client = signed_in(app, getattr(firing, who))
    for path, expected in page_urls(firing).items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert expected in text(response), path
    assert 'href="/alerts/">Alerts</a>' in text(client.get("/dashboard/"))


@pytest.mark.parametrize("role", ["operator", "partner", "shelter_staff"])
def test_others_get_403_everywhere_and_write_nothing(app, firing, role):
    user = make.user(role, facilities_=[firing.antwerpen] if role == "shelter_staff" else ())
    db.session.commit()
    client = signed_in(app, user)
    assert 'href="/alerts/"' not in text(client.get("/dashboard/"))
    before = written()
    for path in page_urls(firing):
        assert client.get(path).status_code == 403, path
    form = {"name": "Mine", "region": "antwerpen", "kinds": "crisis_bed", "threshold": "5", "channels": "sms"}
    for path in (f"/alerts/{firing.alert.id}/ack", "/alerts/rules/new", f"/alerts/rules/{firing.rule.id}",
                 f"/alerts/rules/{firing.rule.id}/delete"):
        assert client.post(path, data=form).status_code == 403, path
    assert written() == before
    assert alert_of(firing.rule).acknowledged_at is None


def test_an_operator_the_rule_names_opens_and_acknowledges_its_alert_only(app, world, clock):
    operator = make.user("operator", email="night@example.org", name="Nina Night", phone="+32470555566")
    alert_rules.save_rule(world.by_admin, clock.now(), {"recipients": ["night@example.org"]}, rule=world.rule)
    db.session.commit()
    evaluate(clock)
    evaluate(clock, minutes=10)
    alert, other = alert_of(world.rule), alert_of(world.rule_gent)
    client = signed_in(app, operator)
    assert "Nina Night" in text(client.get(f"/alerts/{alert.id}"))
    assert client.get(f"/alerts/{other.id}").status_code == 403
    assert client.get("/alerts/").status_code == 403 and client.get("/alerts/rules").status_code == 403
    assert client.post(f"/alerts/{other.id}/ack").status_code == 403
    assert client.post(f"/alerts/{alert.id}/ack").status_code == 303
    assert alert_of(world.rule).acknowledged_by_id == operator.id
    assert alert_of(world.rule_gent).acknowledged_at is None


def test_anonymous_visitors_are_sent_to_sign_in(app, firing):
    client = app.test_client()
    for path in page_urls(firing):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path
    assert client.post(f"/alerts/{firing.alert.id}/ack").status_code == 302
    assert alert_of(firing.rule).acknowledged_at is None


def test_a_manager_sees_and_edits_only_their_regions_alerts_and_rules(app, firing):
    client = signed_in(app, firing.manager)
    page = text(client.get("/alerts/"))
    assert f'data-alert="{firing.alert.id}"' in page and "Antwerpen crisis beds" in page
    assert f'data-alert="{firing.alert_gent.id}"' not in page and "Gent crisis beds" not in page
    assert client.get(f"/alerts/{firing.alert_gent.id}").status_code == 403
    rules = text(client.get("/alerts/rules"))
    assert "Antwerpen crisis beds" in rules and "Gent crisis beds" not in rules
    # Only their own regions to choose from, and no "every region".
    form = text(client.get("/alerts/rules/new"))
    assert 'value="antwerpen"' in form and 'value="oost-vlaanderen"' not in form and "Every region" not in form
    before = written()
    assert client.post(f"/alerts/{firing.alert_gent.id}/ack").status_code == 403
    assert client.get(f"/alerts/rules/{firing.rule_gent.id}").status_code == 403
    valid = {"name": "Gent", "region": "oost-vlaanderen", "kinds": "crisis_bed", "threshold": "4", "channels": "sms"}
    assert client.post(f"/alerts/rules/{firing.rule_gent.id}", data=valid).status_code == 403
    assert client.post(f"/alerts/rules/{firing.rule_gent.id}/delete").status_code == 403
    # Nor a new rule for another region, or for every region.
    assert client.post("/alerts/rules/new", data=rule_form(region="oost-vlaanderen")).status_code == 403
    assert client.post("/alerts/rules/new", data=rule_form(region="")).status_code == 403
    assert written() == before
    assert alert_of(firing.rule_gent).acknowledged_at is None
    # The admin sees both regions.
    page = text(signed_in(app, firing.admin).get("/alerts/"))
    assert f'data-alert="{firing.alert.id}"' in page and f'data-alert="{firing.alert_gent.id}"' in page


# --- the list -------------------------------------------------------------------------


def test_the_list_shows_current_and_past_alerts_and_polls_itself(app, firing, clock):
    client = signed_in(app, firing.admin)
    page = text(client.get("/alerts/"))
    current = page.split("Past alerts")[0]
    row = re.search(rf'<tr data-alert="{firing.alert.id}">(.*?)</tr>', current, re.DOTALL).group(1)
    assert "Antwerpen crisis beds" in row and "firing" in row
    assert "1 free" in row and "alert below 3" in row
    assert "0 full" in row and "none stale" in row
    assert re.search(r"9:10\W+PM", row) and "just now" in row  # fired 21:10 in Brussels (20:10 UTC)
    assert "Acknowledge" in row
    # Gent has none free: critical, shown first.
    gent = re.search(rf'<tr data-alert="{firing.alert_gent.id}">(.*?)</tr>', current, re.DOTALL).group(1)
    assert "critical" in gent and "0 free" in gent
    assert current.index(f'data-alert="{firing.alert_gent.id}"') < current.index(f'data-alert="{firing.alert.id}"')
    assert "No past alerts." in page
    assert 'hx-trigger="every 15s"' in page and 'hx-get="/alerts/"' in page

    # Antwerpen's beds come back: after the keep-firing time the alert is past.
    unit = firing.antwerpen.units[0]
    capacity.set_available(firing.by_admin, unit, 6, unit.version, clock.now())
    db.session.commit()
    evaluate(clock, minutes=1)
    evaluate(clock, minutes=10)
    fragment = client.get("/alerts/", headers={"HX-Request": "true"})
    body = text(fragment)
    assert fragment.status_code == 200 and "<html" not in body and body.lstrip().startswith('<div id="alerts"')
    past = body.split("Past alerts")[1]
    assert f'data-alert="{firing.alert.id}"' in past and "resolved" in past
    assert f'data-alert="{firing.alert.id}"' not in body.split("Past alerts")[0]


def test_past_alerts_are_paged(app, firing, clock):
    app.config["ALERTS_PAGE_SIZE"] = 1
    # Two rules deactivated: both episodes end ("cancelled") and are past.
    for rule in (firing.rule, firing.rule_gent):
        alert_rules.delete_rule(firing.by_admin, clock.now(), rule)
    db.session.commit()
    client = signed_in(app, firing.admin)
    first = text(client.get("/alerts/"))
    assert f'data-alert="{firing.alert_gent.id}"' in first and f'data-alert="{firing.alert.id}"' not in first
    assert f'href="/alerts/?before={firing.alert_gent.id}"' in first
    second = text(client.get(f"/alerts/?before={firing.alert_gent.id}"))
    assert f'data-alert="{firing.alert.id}"' in second and "Older alerts" not in second and "Newest alerts" in second


# --- acknowledging ----------------------------------------------------------------------


def test_the_acknowledge_button_and_a_second_acknowledgement(app, firing):
    client = signed_in(app, firing.manager)
    response = client.post(f"/alerts/{firing.alert.id}/ack")
    assert response.status_code == 303 and response.headers["Location"] == "/alerts/"
    page = text(client.get("/alerts/"))
    assert f"Alert {firing.alert.code} acknowledged" in page
    row = re.search(rf'<tr data-alert="{firing.alert.id}">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "acknowledged by Mia Manager at" in row and "Acknowledge</button>" not in row
    alert = alert_of(firing.rule)
    assert alert.acknowledged_by_id == firing.manager.id
    assert count(AuditEvent, AuditEvent.action == "alert.acknowledge") == 1

    # The admin, a moment later, from the alert's page: a clear message, nothing changed.
    admin = signed_in(app, firing.admin)
    before = written()
    response = admin.post(f"/alerts/{firing.alert.id}/ack", data={"back": "show"})
    assert response.status_code == 303 and response.headers["Location"] == f"/alerts/{firing.alert.id}"
    page = text(admin.get(response.headers["Location"]))
    assert f"Alert {firing.alert.code} was acknowledged already by Mia Manager at" in page
    assert 'class="flash error"' in page
    assert written() == before
    assert alert_of(firing.rule).acknowledged_by_id == firing.manager.id


def test_acknowledging_a_pending_alert_or_none_at_all(app, world, clock):
    evaluate(clock)
    pending = alert_of(world.rule)
    client = signed_in(app, world.manager)
    page = text(client.get("/alerts/"))
    row = re.search(rf'<tr data-alert="{pending.id}">(.*?)</tr>', page, re.DOTALL).group(1)
    assert "pending" in row and "not fired yet" in row and "Acknowledge</button>" not in row
    before = written()
    response = client.post(f"/alerts/{pending.id}/ack", follow_redirects=True)
    assert f"Alert {pending.code} has not fired yet: there is nothing to acknowledge." in text(response)
    assert client.post("/alerts/999999/ack").status_code == 404
    assert client.get("/alerts/999999").status_code == 404
    assert client.get(f"/alerts/{pending.id}/ack").status_code == 405
    assert written() == before
    # Beds come back before it fires: the episode ends, and is past.
    unit = world.antwerpen.units[0]
    capacity.set_available(world.by_admin, unit, 6, unit.version, clock.now())
    db.session.commit()
    evaluate(clock, minutes=1)
    assert alert_of(world.rule).state == "resolved"
    before = written()
    response = client.post(f"/alerts/{pending.id}/ack", follow_redirects=True)
    assert f"Alert {pending.code} is resolved already: there is nothing to acknowledge." in text(response)
    assert written() == before
    page = text(client.get(f"/alerts/{pending.id}"))
    assert "Cancelled" in page and "free places were back at the threshold before it fired" in page


# --- the timeline ---------------------------------------------------------------------------


def test_the_timeline_says_who_was_told_by_what_and_who_acknowledged(app, firing, clock):
    # An hour without acknowledgement: a reminder; then an OK by SMS; then the beds come back.
    evaluate(clock, minutes=60)
    episodes.acknowledge(Actor(user=firing.manager, source="sms"), alert_of(firing.rule), clock.now())
    db.session.commit()
    unit = firing.antwerpen.units[0]
    capacity.set_available(firing.by_admin, unit, 6, unit.version, clock.now())
    db.session.commit()
    evaluate(clock, minutes=1)
    evaluate(clock, minutes=10)
    alert = alert_of(firing.rule)
    assert alert.state == "resolved"
    sms = db.session.scalar(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id,
                                                        OutboxMessage.channel == "sms",
                                                        OutboxMessage.dedup_key.contains(":fired:")))
    sms.status, sms.last_error = "failed", "Twilio: undelivered"
    db.session.commit()

    page = text(signed_in(app, firing.manager).get(f"/alerts/{alert.id}"))
    events = re.findall(r'<li data-event="(\w+)">', page)
    assert events == ["pending", "fired", "repeated", "acknowledged", "resolved"]
    entries = dict(zip(events, re.split(r'<li data-event="\w+">', page)[1:], strict=True))
    # Local times (Brussels), in the user's language (English: 12-hour clock).
    assert re.search(r"9:00:00\W+PM", entries["pending"]) and "1 free" in entries["pending"]
    fired = entries["fired"]
    assert re.search(r"9:10:00\W+PM", fired)
    assert fired.count("<tr data-outbox=") == 2
    assert "Mia Manager" in fired and "SMS" in fired and "E-mail" in fired
    assert "+32 4•• •• •• 22" in fired and "manager@example.org" in fired
    assert "not sent" in fired and "Twilio: undelivered" in fired and 'href="/outbox/?status=failed"' in fired
    assert "waiting to be sent" in fired and 'href="/outbox/?status=pending"' in fired
    assert "reminder 1" in entries["repeated"] and entries["repeated"].count("<tr data-outbox=") == 2
    assert "by Mia Manager by SMS (OK code)" in entries["acknowledged"]
    assert "<tr data-outbox=" not in entries["acknowledged"]
    assert entries["resolved"].count("<tr data-outbox=") == 2
    # Never a full phone number.
    assert ANTWERPEN_PHONE not in page and ANTWERPEN_PHONE[1:] not in page and "470111122" not in page


def test_the_timeline_shows_a_notice_sent_by_the_other_channel_after_one_failed(app, world, clock):
    db.session.get(User, world.manager.id).alert_channels = ["sms"]
    db.session.commit()
    evaluate(clock)
    evaluate(clock, minutes=10)
    alert = alert_of(world.rule)
    [sms] = episodes.notices(alert)
    sms.status, sms.last_error = "failed", "Twilio: undelivered"
    instead = sending.fall_back(sms, clock.now())
    db.session.commit()
    page = text(signed_in(app, world.manager).get(f"/alerts/{alert.id}"))
    fired = page.split('<li data-event="fired">')[1]
    assert f'<tr data-outbox="{sms.id}">' in fired and f'<tr data-outbox="{instead.id}">' in fired
    assert fired.index(f'data-outbox="{sms.id}"') < fired.index(f'data-outbox="{instead.id}"')
    assert "instead of the other channel, which failed" in fired and "manager@example.org" in fired


def test_the_timeline_shows_when_nobody_could_be_told(app, world, clock):
    db.session.get(User, world.manager.id).alert_channels = []
    db.session.commit()
    evaluate(clock)
    evaluate(clock, minutes=10)
    page = text(signed_in(app, world.admin).get(f"/alerts/{alert_of(world.rule).id}"))
    assert "Nobody was told" in page


# --- the rules editor ---------------------------------------------------------------------------


def rule_form(**overrides) -> dict:
    return {"name": "Antwerpen refuges", "region": "antwerpen", "kinds": ["refuge_place", "crisis_bed"],
            "threshold": "4", "critical_at": "1", "for_minutes": "15", "margin": "2", "keep_firing_minutes": "20",
            "repeat_minutes": "", "escalate_after_minutes": "30", "escalate_to": "admin@example.org",
            "recipients": "manager@example.org, gent@example.org", "quiet_from": "22:00", "quiet_to": "07:00",
            "channels": ["email"], "active": "y", **overrides}


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_create_edit_and_delete_a_rule_through_the_forms(app, world, who):
    client = signed_in(app, getattr(world, who))
    response = client.post("/alerts/rules/new", data=rule_form())
    assert response.status_code == 303 and response.headers["Location"] == "/alerts/rules"
    rule = db.session.scalar(select(AlertRule).where(AlertRule.name == "Antwerpen refuges"))
    assert rule_json(rule) == {
        "id": rule.id, "name": "Antwerpen refuges", "region": "antwerpen", "kinds": ["crisis_bed", "refuge_place"],
        "threshold": 4, "critical_at": 1, "for_minutes": 15, "margin": 2, "keep_firing_minutes": 20,
        "repeat_minutes": None, "escalate_after_minutes": 30, "escalate_to": ["admin@example.org"],
        "quiet_hours": {"from": "22:00", "to": "07:00"}, "channels": ["email"],
        "recipients": ["manager@example.org", "gent@example.org"], "active": True, "metric": "free_places",
        "active_hours": None, "window_minutes": None}
    assert count(AuditEvent, AuditEvent.action == "alert_rule.create", AuditEvent.object_id == rule.id) == 1
    assert "Alert rule Antwerpen refuges saved." in text(client.get("/alerts/rules"))

    form = text(client.get(f"/alerts/rules/{rule.id}"))
    assert 'value="22:00"' in form and "manager@example.org, gent@example.org</textarea>" in form
    assert re.search(r'<input checked id="kinds-\d" name="kinds" type="checkbox" value="refuge_place">', form)
    assert re.search(r'<input checked id="channels-\d" name="channels" type="checkbox" value="email">', form)
    assert not re.search(r'<input checked [^>]*value="sms"', form)

    edited = rule_form(threshold="6", repeat_minutes="45", escalate_after_minutes="", escalate_to="", quiet_from="",
                       quiet_to="", channels=["sms", "email"], recipients="")
    del edited["active"]
    assert client.post(f"/alerts/rules/{rule.id}", data=edited).status_code == 303
    db.session.rollback()
    data = rule_json(db.session.get(AlertRule, rule.id))
    assert (data["threshold"], data["repeat_minutes"], data["escalate_after_minutes"], data["escalate_to"],
            data["quiet_hours"], data["channels"], data["recipients"], data["active"]) == (
        6, 45, None, [], None, ["sms", "email"], [], False)

    rule_id = rule.id
    response = client.post(f"/alerts/rules/{rule_id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/alerts/rules"
    assert "Alert rule Antwerpen refuges deleted." in text(client.get("/alerts/rules"))
    assert count(AlertRule, AlertRule.id == rule_id) == 0


def test_deleting_a_rule_with_alerts_deactivates_it_and_ends_its_alert(app, firing):
    client = signed_in(app, firing.manager)
    response = client.post(f"/alerts/rules/{firing.rule.id}/delete", follow_redirects=True)
    assert "Alert rule Antwerpen crisis beds had alerts: it is deactivated" in text(response)
    db.session.rollback()
    assert db.session.get(AlertRule, firing.rule.id).active is False
    alert = alert_of(firing.rule)
    assert alert.state == "resolved" and alert.events[-1].event == "cancelled"
    page = text(client.get(f"/alerts/{alert.id}"))
    assert "Cancelled" in page and "the rule was deleted or deactivated" in page
    assert "inactive" in text(client.get("/alerts/rules"))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("threshold", "-1", "threshold must be between 1 and 100000"),
    ("margin", "-2", "margin must be between 0 and 100000"),
    ("region", "atlantis", "unknown region atlantis"),
    ("kinds", ["crisis_bed", "castle"], "unknown kind castle"),
    ("kinds", [], "kinds is required"),
    ("escalate_to", "nobody@example.org", "escalate_to: no user with the e-mail nobody@example.org"),
    ("quiet_hours", None, "quiet_hours: &#39;25:00&#39; is not a time like 08:00"),
    ("channels", [], "channels must be among sms, email, at least one"),
])
def test_an_invalid_rule_shows_the_error_next_to_its_field_and_saves_nothing(app, world, field, value, message):
    client = signed_in(app, world.admin)
    data = rule_form(quiet_from="25:00") if field == "quiet_hours" else rule_form(**{field: value})
    before = written()
    response = client.post("/alerts/rules/new", data=data)
    assert response.status_code == 400
    body = text(response)
    assert error_next_to(body, field) == message
    assert "Nothing was saved." in body and 'value="Antwerpen refuges"' in body
    assert written() == before
    # Editing: the same, and the rule stays as it was.
    rule_before = rule_json(world.rule)
    response = client.post(f"/alerts/rules/{world.rule.id}", data=data)
    assert response.status_code == 400 and error_next_to(text(response), field) == message
    assert written() == before
    db.session.rollback()
    assert rule_json(db.session.get(AlertRule, world.rule.id)) == rule_before


def test_an_unknown_rule(app, world):
    client = signed_in(app, world.admin)
    assert client.get("/alerts/rules/999999").status_code == 404
    assert client.post("/alerts/rules/999999/delete").status_code == 404


# --- CSRF ---------------------------------------------------------------------------------


def test_the_forms_need_the_csrf_token(database_url, baseline_rows, app, firing):
    client = make_app(database_url, WTF_CSRF_ENABLED=True, CLOCK=app.extensions["clock"]).test_client()
    token = csrf_token(text(client.get("/login")))
    client.post("/login", data={"email": firing.manager.email, "password": make.PASSWORD, "csrf_token": token})
    before = written()
    assert client.post(f"/alerts/{firing.alert.id}/ack").status_code == 400
    assert client.post("/alerts/rules/new", data=rule_form()).status_code == 400
    assert client.post(f"/alerts/rules/{firing.rule.id}/delete").status_code == 400
    assert written() == before

    token = csrf_token(text(client.get("/alerts/")))
    assert client.post(f"/alerts/{firing.alert.id}/ack", data={"csrf_token": token}).status_code == 303
    assert alert_of(firing.rule).acknowledged_by_id == firing.manager.id
    token = csrf_token(text(client.get("/alerts/rules/new")))
    assert client.post("/alerts/rules/new", data={**rule_form(), "csrf_token": token}).status_code == 303
    assert count(AlertRule, AlertRule.name == "Antwerpen refuges") == 1


# --- each user's alert channels --------------------------------------------------------------


def test_an_admin_sets_a_users_alert_channels_and_notices_follow_them(app, world, clock):
    client = signed_in(app, world.admin)
    form = text(client.get(f"/admin/users/{world.manager.id}"))
    assert re.search(r'<input checked id="alert_channels-\d" name="alert_channels" type="checkbox" value="sms">', form)
    data = {"email": world.manager.email, "name": "Mia Manager", "roles": ["manager"], "regions": ["antwerpen"],
            "phone": ANTWERPEN_PHONE, "language": "en", "password": "", "alert_channels": ["email"]}
    assert client.post(f"/admin/users/{world.manager.id}", data=data).status_code == 303
    db.session.rollback()
    assert db.session.get(User, world.manager.id).alert_channels == ["email"]
    form = text(client.get(f"/admin/users/{world.manager.id}"))
    assert not re.search(r'<input checked [^>]*name="alert_channels" type="checkbox" value="sms">', form)

    before = written()
    response = client.post(f"/admin/users/{world.manager.id}", data={**data, "alert_channels": ["email", "fax"]})
    assert response.status_code == 400
    assert "unknown: fax" in error_next_to(text(response), "alert_channels")
    assert written() == before
    assert db.session.get(User, world.manager.id).alert_channels == ["email"]

    evaluate(clock)
    evaluate(clock, minutes=10)
    told = db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == world.manager.id)).all()
    assert [message.channel for message in told] == ["email"]
    # A new user's form offers both.
    assert re.search(r'<input checked id="alert_channels-\d" name="alert_channels" type="checkbox" value="email">',
                     text(client.get("/admin/users/new")))
