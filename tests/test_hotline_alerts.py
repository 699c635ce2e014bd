"""Alerts on the hotline (issue 11 part 3, PRODUCT.md flow E): "fewer than N
operators on duty during the staffed hours" and "at least N missed calls
within a window", in the alert engine of flow C. Evaluated with the frozen
clock against the real database; calls made and missed through the signed
voice webhooks; acknowledged by the signed SMS webhook (`OK code`) and by the
web; notices delivered through the fake Twilio and a real SMTP server."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from types import SimpleNamespace

import pytest
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from app.api.serializers import rule_json
from app.extensions import db
from app.models import Alert, AlertEvent, AlertRule, AuditEvent, Call, OutboxMessage
from app.services.alerts import evaluation, rules
from app.services.core.access import Actor
from app.services.delivery import sending
from app.services.hotline import calls
from app.texts import alerts as alert_texts
from tests import factories as make
from tests.api import assert_documented, call
from tests.fake_twilio import FakeTwilio
from tests.test_alerts import evaluate
from tests.test_hotline_sms import HOTLINE, sms
from tests.test_jobs import GSM
from tests.twilio_signing import PUBLIC_URL, signature

PHONES = {"antwerpen": "+32470000051", "gent": "+32470000052", "roaming": "+32470000053", "admin": "+32470000054",
          "op1": "+32470000061", "op2": "+32470000062", "op3": "+32470000063"}
CALLER = "+32470123499"

# The frozen clock starts at 21:00 in Brussels (20:00 UTC, winter time): the
# staffed hours 08:00-22:00 end at 21:00 UTC and begin again at 07:00 UTC.
STAFFED = {"from": "08:00", "to": "22:00"}
HOURS_END = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
HOURS_BEGIN = datetime(2026, 11, 29, 7, 0, tzinfo=UTC)


@pytest.fixture
def app_config(twilio_server, smtp_server):
    return {**twilio_server.config(from_number=HOTLINE), **smtp_server.config()}


@pytest.fixture
def w(app, twilio, smtp):
    """Managers of Antwerpen (nl) and of Oost-Vlaanderen (fr), one of no
    region (en), an admin; three operators with phones, off duty; a partner,
    shelter staff. Tokens for the API."""
    shelter = make.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (8, 5)})
    people = SimpleNamespace(
        antwerpen=make.user("manager", regions=[make.region("antwerpen")], phone=PHONES["antwerpen"],
                            language="nl", email="antwerpen@example.org", name="Els Antwerpen"),
        gent=make.user("manager", regions=[make.region("oost-vlaanderen")], phone=PHONES["gent"], language="fr",
                       email="gent@example.org", name="Luc Gent"),
        roaming=make.user("manager", phone=PHONES["roaming"], language="en", email="roaming@example.org"),
        admin=make.user("admin", phone=PHONES["admin"], language="en", email="admin@example.org", name="Ada Admin"),
        op1=make.user("operator", phone=PHONES["op1"], email="op1@example.org"),
        op2=make.user("operator", phone=PHONES["op2"], email="op2@example.org"),
        op3=make.user("operator", phone=PHONES["op3"], email="op3@example.org"),
        partner=make.user("partner", phone="+32470000071", email="partner@example.org"),
        staff=make.user("shelter_staff", facilities_=[shelter], phone="+32470000072", email="staff@example.org"),
    )
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    return SimpleNamespace(people=people, tokens=tokens, twilio=twilio, smtp=smtp)


RECIPIENTS = ["antwerpen@example.org", "gent@example.org"]
ON_DUTY = {"name": "Operators on duty", "metric": "operators_on_duty", "region": None, "kinds": None,
           "threshold": 2, "critical_at": 0, "for_minutes": 5, "margin": 1, "keep_firing_minutes": 5,
           "repeat_minutes": None, "escalate_after_minutes": None, "active_hours": STAFFED,
           "recipients": RECIPIENTS}
MISSED = {"name": "Missed calls", "metric": "missed_calls", "threshold": 3, "window_minutes": 60,
          "for_minutes": 2, "margin": 1, "keep_firing_minutes": 5, "repeat_minutes": None,
          "escalate_after_minutes": None, "recipients": RECIPIENTS}
# Who a notice of these rules goes to: both recipients, by SMS and e-mail.
TOLD = {("antwerpen", "sms"), ("antwerpen", "email"), ("gent", "sms"), ("gent", "email")}


def make_rule(w, base: dict, **fields) -> AlertRule:
    rule = rules.save_rule(Actor(user=w.people.admin, source="web"), make.clock.now(), {**base, **fields})
    db.session.commit()
    return rule


def evaluate_until(clock, until: datetime) -> None:
    while clock.now() < until:
        evaluate(clock, 1)


def the_alert() -> Alert:
    db.session.expire_all()
    [alert] = db.session.scalars(select(Alert).order_by(Alert.id)).all()
    return alert


def alerts() -> list[Alert]:
    db.session.expire_all()
    return list(db.session.scalars(select(Alert).order_by(Alert.id)))


def sent(w, event: str | None = None) -> set[tuple[str, str]]:
    """(person, channel) of the alert notices in the outbox, of one event."""
    names = {user.id: name for name, user in vars(w.people).items()}
    told = set()
    for key in db.session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.purpose == "alert")):
        _, _, notice, _, user_id, channel = key.split(":")
        if event is None or notice == event:
            told.add((names[int(user_id)], channel))
    return told


def count(model, *where) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def written() -> dict:
    return {model.__name__: count(model) for model in (AlertRule, Alert, AlertEvent, OutboxMessage, AuditEvent)}


def events(alert: Alert) -> list[str]:
    return [row.event for row in db.session.scalars(
        select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id))]


def on_duty(w, *names: str, on: bool = True) -> None:
    for name in names:
        user = getattr(w.people, name)
        calls.set_on_duty(Actor(user=user, source="web"), user, on, make.clock.now())
    db.session.commit()


def sms_body(w, phone: str) -> str:
    return [m.form["Body"] for m in w.twilio.messages if m.form["To"] == phone][-1]


# --- calls through the signed voice webhooks -----------------------------------------

_sids = iter(range(1, 10_000))


def voice(client, path: str, params: dict):
    """A voice webhook signed as Twilio signs it (Twilio configured: its auth token)."""
    headers = {"X-Twilio-Signature": signature(path, params, token=FakeTwilio.auth_token)}
    response = client.post(path, data=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def action_of(twiml: str, tag: str) -> str:
    url = re.search(rf'<{tag}[^>]* action="([^"]+)"', twiml).group(1).replace("&amp;", "&")
    assert url.startswith(PUBLIC_URL)
    return url[len(PUBLIC_URL):]


def call_params() -> dict:
    return {"AccountSid": "AC" + "0" * 32, "CallSid": f"CA{next(_sids):032d}", "From": CALLER, "To": HOTLINE,
            "Direction": "inbound"}


def ring(client) -> tuple[str, dict, str]:
    """A caller chooses a language and is put through to the operators on
    duty: the call reaches their ring. Its sid, its parameters, the Dial."""
    params = call_params()
    menu = voice(client, "/hotline/voice", {**params, "CallStatus": "ringing"})
    dial = voice(client, action_of(menu, "Gather"), {**params, "CallStatus": "in-progress", "Digits": "1"})
    assert "<Dial" in dial
    return params["CallSid"], params, dial


def missed_call(client) -> str:
    """Rang for the operators, nobody accepted, the caller hung up."""
    sid, params, dial = ring(client)
    voice(client, action_of(dial, "Dial"), {**params, "CallStatus": "in-progress", "DialCallStatus": "no-answer"})
    voice(client, "/hotline/voice/status", {"CallSid": sid, "CallStatus": "completed"})
    return sid


def answered_call(client, operator) -> str:
    sid, _, _ = ring(client)
    accepted = calls.accept(calls.get(sid), operator, make.clock.now())
    db.session.commit()
    assert accepted
    voice(client, "/hotline/voice/status", {"CallSid": sid, "CallStatus": "completed"})
    return sid


def menu_hang_up(client) -> str:
    params = call_params()
    voice(client, "/hotline/voice", {**params, "CallStatus": "ringing"})
    voice(client, "/hotline/voice/status", {"CallSid": params["CallSid"], "CallStatus": "completed"})
    return params["CallSid"]


# --- operators on duty ---------------------------------------------------------------------


def test_too_few_operators_on_duty_fires_after_for_minutes_and_ends_with_the_staffed_hours(w, clock):
    rule = make_rule(w, ON_DUTY)
    on_duty(w, "op1")  # 1 on duty, the rule wants 2
    started = clock.now()
    assert evaluate(clock) == {"rules": 1, "scopes": 1, "open": 1, "pending": 1}
    alert = the_alert()
    assert (alert.state, alert.region_id, alert.open_key, alert.free, alert.threshold, alert.started_at,
            alert.full_facilities, alert.stale_facilities) == ("pending", None, f"{rule.id}:hotline", 1, 2, started,
                                                               0, 0)
    assert evaluate(clock, 4) == {"rules": 1, "scopes": 1, "open": 1}
    assert sent(w) == set()

    assert evaluate(clock, 1) == {"rules": 1, "scopes": 1, "open": 1, "fired": 1, "notices": len(TOLD)}
    alert = the_alert()
    assert (alert.state, alert.fired_at, alert.critical) == ("firing", started + timedelta(minutes=5), False)
    assert sent(w, "fired") == TOLD
    assert sending.deliver_due(clock.now()) == {"sent": len(TOLD)}
    assert sms_body(w, PHONES["antwerpen"]) == (
        f"Opvang alarm {alert.code}: hulplijn: 1 operator van dienst (drempel 2). Antwoord OK {alert.code}")
    assert sms_body(w, PHONES["gent"]) == (
        f"Opvang alerte {alert.code} : ligne d'aide : 1 écoutant de garde (seuil 2). Répondez OK {alert.code}")
    mail = {m["To"]: m for m in w.smtp.messages}["gent@example.org"]
    assert mail["Subject"] == f"Opvang alerte {alert.code} : ligne d'aide : 1 écoutant de garde"
    assert "Écoutants de garde maintenant : 1 (seuil 2, critique à 0)" in mail.get_content()
    assert "Permanence : 08:00-22:00" in mail.get_content()

    # Nobody on duty: the critical level, told once.
    on_duty(w, "op1", on=False)
    assert evaluate(clock, 1)["critical"] == 1
    assert evaluate(clock, 1).get("critical") is None
    assert sent(w, "critical") == TOLD

    # 22:00 in Brussels: the staffed hours are over. The episode is resolved
    # and everyone told hears why; nothing is watched until 08:00.
    evaluate_until(clock, HOURS_END - timedelta(minutes=1))
    assert the_alert().state == "firing"
    assert evaluate(clock, 1) == {"rules": 1, "resolved": 1, "notices": len(TOLD)}
    alert = the_alert()
    assert (alert.state, alert.resolved_at, alert.open_key) == ("resolved", HOURS_END, None)
    resolved = db.session.scalar(select(AlertEvent).where(AlertEvent.alert_id == alert.id,
                                                          AlertEvent.event == "resolved"))
    assert resolved.details["reason"] == "outside_active_hours"
    assert sent(w, "resolved") == TOLD
    sending.deliver_due(clock.now())
    assert sms_body(w, PHONES["antwerpen"]) == (
        f"Opvang alarm {alert.code} afgesloten: einde van de permanentie om 22:00; 0 operators van dienst.")

    # The night: nobody on duty, nothing watched, nothing written.
    before = written()
    evaluate_until(clock, HOURS_BEGIN - timedelta(minutes=1))  # 07:59
    assert written() == before
    # 08:00: a new episode.
    assert evaluate(clock, 1)["pending"] == 1
    assert [a.state for a in alerts()] == ["resolved", "pending"]
    assert alerts()[1].started_at == HOURS_BEGIN


def test_the_staffed_hours_follow_brussels_summer_time(w, clock):
    """On 1 July Brussels is UTC+2: 08:00 there is 06:00 UTC."""
    make_rule(w, ON_DUTY, for_minutes=0)
    clock.at = datetime(2026, 7, 1, 5, 59, tzinfo=UTC)
    assert evaluate(clock) == {"rules": 1}
    assert evaluate(clock, 1) == {"rules": 1, "scopes": 1, "open": 1, "pending": 1, "fired": 1, "critical": 1,
                                  "notices": len(TOLD)}
    clock.at = datetime(2026, 7, 1, 19, 59, tzinfo=UTC)  # 21:59
    assert the_alert().state == "firing" and evaluate(clock)["scopes"] == 1
    assert evaluate(clock, 1)["resolved"] == 1  # 22:00


def test_an_episode_pending_when_the_staffed_hours_end_is_cancelled_without_notice(w, clock):
    make_rule(w, ON_DUTY)
    clock.at = HOURS_END - timedelta(minutes=2)
    evaluate(clock)
    assert the_alert().state == "pending"
    assert evaluate(clock, 2) == {"rules": 1, "cancelled": 1}
    alert = the_alert()
    assert events(alert) == ["pending", "cancelled"] and alert.open_key is None
    assert alert.events[-1].details == {"reason": "outside_active_hours"}
    assert sent(w) == set()


def test_staffed_hours_across_midnight_and_all_day(w, clock):
    night = make_rule(w, ON_DUTY, name="Night", active_hours={"from": "20:00", "to": "08:00"}, for_minutes=0)
    all_day = make_rule(w, ON_DUTY, name="All day", active_hours={"from": "00:00", "to": "00:00"}, for_minutes=0)
    day = make_rule(w, ON_DUTY, name="Day", active_hours={"from": "08:00", "to": "20:00"}, for_minutes=0)
    evaluate(clock)  # 21:00
    assert {alert.rule_id for alert in alerts() if alert.state == "firing"} == {night.id, all_day.id}
    clock.at = datetime(2026, 11, 29, 11, 0, tzinfo=UTC)  # 12:00
    evaluate(clock)
    firing = {alert.rule_id for alert in alerts() if alert.state == "firing"}
    assert firing == {all_day.id, day.id}


def test_operators_on_duty_resolve_with_hysteresis_and_each_notice_once(client, w, clock):
    """Only operators on duty with a phone count; back at the threshold is
    not enough (margin 1), and back at threshold + margin must hold for
    keep_firing_minutes."""
    make_rule(w, ON_DUTY, for_minutes=0)
    on_duty(w, "op1")
    evaluate(clock)
    alert = the_alert()
    assert alert.state == "firing" and alert.free == 1

    on_duty(w, "op2")  # 2: the threshold, not past the margin
    for _ in range(10):
        evaluate(clock, 1)
    assert the_alert().state == "firing" and the_alert().free == 2

    on_duty(w, "op3")  # 3 = threshold + margin: recovering
    evaluate(clock, 1)
    assert the_alert().recovering_since == clock.now()
    on_duty(w, "op3", on=False)  # a dip starts the time again
    evaluate(clock, 3)
    assert the_alert().recovering_since is None
    on_duty(w, "op3")
    evaluate(clock, 1)
    evaluate(clock, 4)
    assert the_alert().state == "firing"
    before = written()
    assert evaluate(clock, 1)["resolved"] == 1
    # Evaluated again at the same moment, and by a scheduler started anew: nothing twice.
    assert evaluate(clock) == {"rules": 1, "scopes": 1}
    assert written() == {**before, "Alert": before["Alert"], "AlertEvent": before["AlertEvent"] + 1,
                         "OutboxMessage": before["OutboxMessage"] + len(TOLD)}
    rows = db.session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.purpose == "alert")).all()
    assert len(rows) == len(set(rows)) == 2 * len(TOLD)
    assert sending.deliver_due(clock.now()) == {"sent": 2 * len(TOLD)}
    assert sending.deliver_due(clock.now()) == {}
    assert len(w.twilio.messages) == 4 and len(w.smtp.messages) == 4


def test_an_operator_without_a_phone_or_deactivated_is_not_on_duty(w, clock):
    make_rule(w, ON_DUTY, threshold=1, for_minutes=0)
    on_duty(w, "op1")
    w.people.op1.phone = None  # as if the phone were removed since
    db.session.commit()
    evaluate(clock)
    assert the_alert().free == 0


# --- missed calls --------------------------------------------------------------------------


def test_missed_calls_fire_at_the_threshold_within_the_window_and_resolve_as_the_window_moves(client, w, clock):
    rule = make_rule(w, MISSED)
    on_duty(w, "op1")
    first = clock.now()
    missed_call(client)
    answered_call(client, w.people.op1)  # answered: not missed
    menu_hang_up(client)  # counted apart, not missed
    clock.advance(minutes=10)
    missed_call(client)
    assert evaluate(clock) == {"rules": 1, "scopes": 1}  # 2 missed: below 3
    # A call still ringing (for less than RING_SECONDS) is not missed yet.
    clock.advance(minutes=5)
    ringing, _, _ = ring(client)
    assert evaluate(clock) == {"rules": 1, "scopes": 1}
    clock.advance(seconds=calls.RING_SECONDS)
    assert count(Call, calls.missed(clock.now())) == 3 and calls.get(ringing).ended_at is None
    assert evaluate(clock) == {"rules": 1, "scopes": 1, "open": 1, "pending": 1}
    alert = the_alert()
    assert (alert.rule_id, alert.free, alert.threshold, alert.open_key) == (rule.id, 3, 3, f"{rule.id}:hotline")
    assert evaluate(clock, 2)["fired"] == 1
    sending.deliver_due(clock.now())
    assert sms_body(w, PHONES["antwerpen"]) == (
        f"Opvang alarm {alert.code}: hulplijn: 3 gemiste oproepen in 60 min (drempel 3). Antwoord OK {alert.code}")
    mail = {m["To"]: m for m in w.smtp.messages}["antwerpen@example.org"]
    assert "Gemiste oproepen in de laatste 60 minuten: 3 (drempel 3)" in mail.get_content()
    for message in [*w.twilio.messages]:
        assert CALLER[3:] not in message.form["Body"]
    assert all(CALLER[3:] not in m.get_content() for m in w.smtp.messages)

    # 60 minutes after the first: it leaves the window, 2 left (not below
    # threshold - margin = 2): still firing.
    evaluate_until(clock, first + timedelta(minutes=60, seconds=30))
    assert (the_alert().state, the_alert().free) == ("firing", 2)
    # The second leaves too: 1 < 2, recovering; resolved 5 minutes on
    # (meanwhile the third leaves: 0).
    evaluate_until(clock, first + timedelta(minutes=70, seconds=30))
    assert (the_alert().free, the_alert().recovering_since is not None) == (1, True)
    evaluate(clock, 3)
    assert the_alert().state == "firing"
    assert evaluate(clock, 1)["resolved"] == 1
    assert sent(w, "resolved") == TOLD
    sending.deliver_due(clock.now())
    assert sms_body(w, PHONES["antwerpen"]) == (
        f"Opvang alarm {alert.code} opgelost: hulplijn: 0 gemiste oproepen in 60 min (drempel 3).")


def test_missed_calls_escalate_once_repeat_and_reach_the_critical_level(client, w, clock):
    make_rule(w, MISSED, for_minutes=0, critical_at=5, repeat_minutes=30, escalate_after_minutes=10,
              escalate_to=["admin@example.org"])
    on_duty(w, "op1")
    for _ in range(3):
        missed_call(client)
    clock.advance(minutes=1)
    assert evaluate(clock)["fired"] == 1
    assert evaluate(clock, 9).get("escalated") is None
    assert evaluate(clock, 1)["escalated"] == 1
    assert sent(w, "escalated") == {("admin", "sms"), ("admin", "email")}
    for _ in range(5):
        evaluate(clock)
    assert count(AlertEvent, AlertEvent.event == "escalated") == 1
    sending.deliver_due(clock.now())
    code = the_alert().code
    assert sms_body(w, PHONES["admin"]) == (
        f"Opvang escalation {code}: 10 min unacknowledged. Hotline: 3 missed calls in 60 min (threshold 3). "
        f"Reply OK {code}")
    # Two more missed: the critical level (at least 5), to the recipients and the escalation list.
    missed_call(client)
    missed_call(client)
    clock.advance(minutes=1)
    assert evaluate(clock)["critical"] == 1
    assert sent(w, "critical") == TOLD | {("admin", "sms"), ("admin", "email")}
    # The reminder 30 minutes after the last notice, to everyone.
    evaluate(clock, 29)
    assert evaluate(clock, 1)["repeated"] == 1
    assert sent(w, "repeated") == TOLD | {("admin", "sms"), ("admin", "email")}


# --- acknowledging -----------------------------------------------------------------------


@pytest.fixture
def firing(client, w, clock):
    rule = make_rule(w, MISSED, for_minutes=0, repeat_minutes=15)
    on_duty(w, "op1")
    for _ in range(3):
        missed_call(client)
    clock.advance(minutes=1)
    assert evaluate(clock)["fired"] == 1
    return SimpleNamespace(rule=rule, alert=the_alert())


def test_ok_code_by_sms_acknowledges_a_hotline_alert_from_a_manager_of_any_region(client, w, clock, firing):
    clock.advance(minutes=3)
    code = firing.alert.code
    sms(client, PHONES["gent"], f"OK {code}")
    assert sms_body(w, PHONES["gent"]) == (
        f"Opvang : alerte {code} (ligne d'aide) confirmée. Plus de rappels ; chacun sera prévenu quand elle sera "
        "résolue.")
    alert = the_alert()
    assert (alert.acknowledged_at, alert.acknowledged_by_id) == (clock.now(), w.people.gent.id)
    assert (alert.events[-1].event, alert.events[-1].details) == ("acknowledged", {"source": "sms"})
    for _ in range(40):
        evaluate(clock, 1)
    assert count(AlertEvent, AlertEvent.event == "repeated") == 0
    # A second OK: told who did, nothing changed.
    sms(client, PHONES["roaming"], f"OK {code}")
    assert sms_body(w, PHONES["roaming"]) == (
        f"Opvang: alert {code} was already acknowledged by Luc Gent at 21:04. Nothing changed.")


@pytest.mark.parametrize("who", ["op1", "partner", "staff"])
def test_ok_code_from_someone_it_is_not_for_changes_nothing(client, w, firing, who):
    user = getattr(w.people, who)
    before = (count(AlertEvent), count(AuditEvent), count(Call))
    sms(client, user.phone, f"OK {firing.alert.code}")
    assert sms_body(w, user.phone) == f"Opvang: no alert {firing.alert.code} that you can acknowledge. Nothing changed."
    assert the_alert().acknowledged_at is None
    assert (count(AlertEvent), count(AuditEvent), count(Call)) == before


@pytest.mark.parametrize("who", ["roaming", "antwerpen", "admin"])
def test_a_manager_of_any_region_or_none_and_an_admin_acknowledge_on_the_web(app, w, clock, firing, who):
    client = app.test_client()
    make.login(client, getattr(w.people, who))
    page = client.get(f"/alerts/{firing.alert.id}").get_data(as_text=True)
    assert "Missed calls" in page and f'action="/alerts/{firing.alert.id}/ack"' in page
    if who != "antwerpen":  # the others read English
        assert "Hotline ·" in page and "3 missed calls" in page
    response = client.post(f"/alerts/{firing.alert.id}/ack", follow_redirects=True)
    assert response.status_code == 200 and firing.alert.code in response.get_data(as_text=True)
    assert the_alert().acknowledged_by_id == getattr(w.people, who).id


@pytest.mark.parametrize("who", ["op1", "partner", "staff"])
def test_the_alert_pages_are_not_for_operators_partners_or_shelter_staff(app, w, firing, who):
    client = app.test_client()
    make.login(client, getattr(w.people, who))
    before = written()
    assert client.get("/alerts/").status_code == 403
    assert client.get(f"/alerts/{firing.alert.id}").status_code == 403
    assert client.post(f"/alerts/{firing.alert.id}/ack").status_code == 403
    assert client.get("/alerts/rules").status_code == 403
    assert written() == before


def test_the_alert_list_shows_the_hotline_alert_to_every_manager(app, w, clock, firing):
    # A region's alert beside it, for Antwerpen only.
    rules.save_rule(Actor(user=w.people.admin, source="web"), clock.now(), {
        "name": "Antwerpen beds", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 9, "for_minutes": 0})
    db.session.commit()
    evaluate(clock)
    for who, expected in (("antwerpen", 2), ("gent", 1), ("roaming", 1), ("admin", 2)):
        client = app.test_client()
        make.login(client, getattr(w.people, who))
        page = client.get("/alerts/").get_data(as_text=True)
        assert page.count('data-alert="') == expected, who
        assert f'data-alert="{firing.alert.id}"' in page and "Missed calls" in page
        if who in ("roaming", "admin"):  # they read English (Antwerpen Dutch, Gent French)
            assert "3 missed calls" in page and "no facilities: the hotline" in page
        if who == "gent":
            assert "3 appels manqués" in page


# --- the API -------------------------------------------------------------------------------


def test_the_api_lists_the_hotline_alert_for_every_manager_with_no_region(client, w, clock, firing):
    for who in ("antwerpen", "gent", "roaming", "admin"):
        response = call(client, "GET", "/api/v1/alerts?state=firing", getattr(w.tokens, who))
        [alert] = assert_documented(response, "/api/v1/alerts")
        assert {key: alert[key] for key in ("id", "code", "rule_id", "region", "state", "free", "threshold")} == {
            "id": firing.alert.id, "code": firing.alert.code, "rule_id": firing.rule.id, "region": None,
            "state": "firing", "free": 3, "threshold": 3}
        detail = call(client, "GET", f"/api/v1/alerts/{firing.alert.id}", getattr(w.tokens, who))
        assert_documented(detail, "/api/v1/alerts/{alert_id}")
    for who in ("partner", "staff", "op1"):
        assert call(client, "GET", "/api/v1/alerts", getattr(w.tokens, who)).status_code == 403
        assert call(client, "GET", f"/api/v1/alerts/{firing.alert.id}", getattr(w.tokens, who)).status_code == 403
        assert call(client, "POST", f"/api/v1/alerts/{firing.alert.id}/ack", getattr(w.tokens, who)).status_code \
            == 403
    response = call(client, "POST", f"/api/v1/alerts/{firing.alert.id}/ack", w.tokens.roaming)
    assert assert_documented(response, "/api/v1/alerts/{alert_id}/ack", "post")["acknowledged_by"] == \
        "roaming@example.org"


@pytest.mark.parametrize("body", [ON_DUTY, MISSED])
def test_a_manager_of_any_region_makes_a_hotline_rule_and_the_api_gives_it_back(client, w, body):
    response = call(client, "POST", "/api/v1/alert-rules", w.tokens.roaming, json=body)
    rule = assert_documented(response, "/api/v1/alert-rules", "post")
    assert response.status_code == 201
    expected = {"metric": body["metric"], "region": None, "kinds": None, "recipients": RECIPIENTS,
                "active_hours": STAFFED if body["metric"] == "operators_on_duty" else None,
                "window_minutes": 60 if body["metric"] == "missed_calls" else None}
    assert {key: rule[key] for key in expected} == expected
    db.session.commit()
    assert rule_json(db.session.get(AlertRule, rule["id"])) == rule
    # Every manager lists it and may change it; the audit says who made it.
    for who in ("antwerpen", "gent", "admin"):
        listed = call(client, "GET", "/api/v1/alert-rules", getattr(w.tokens, who)).get_json()
        assert rule["id"] in [r["id"] for r in listed], who
    response = call(client, "PATCH", f"/api/v1/alert-rules/{rule['id']}", w.tokens.gent, json={"threshold": 4})
    assert assert_documented(response, "/api/v1/alert-rules/{rule_id}", "patch")["threshold"] == 4
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "alert_rule.create"))
    assert audit.actor_id == w.people.roaming.id
    response = call(client, "DELETE", f"/api/v1/alert-rules/{rule['id']}", w.tokens.antwerpen)
    assert response.get_json() == {"id": rule["id"], "result": "deleted"}


@pytest.mark.parametrize("who", ["partner", "staff", "op1"])
def test_others_may_not_make_change_or_delete_a_hotline_rule(client, w, who):
    rule = make_rule(w, MISSED)
    before = written()
    token = getattr(w.tokens, who)
    assert call(client, "POST", "/api/v1/alert-rules", token, json=ON_DUTY).status_code == 403
    assert call(client, "PATCH", f"/api/v1/alert-rules/{rule.id}", token, json={"threshold": 9}).status_code == 403
    assert call(client, "DELETE", f"/api/v1/alert-rules/{rule.id}", token).status_code == 403
    assert call(client, "GET", "/api/v1/alert-rules", token).status_code == 403
    assert written() == before


BAD_HOTLINE_RULES = [
    (ON_DUTY, {"region": "antwerpen"}, "region", "region must be null for operators_on_duty"),
    (MISSED, {"region": "antwerpen"}, "region", "region must be null for missed_calls"),
    (ON_DUTY, {"kinds": ["crisis_bed"]}, "kinds", "kinds must be null"),
    (MISSED, {"kinds": []}, "kinds", "kinds must be null"),
    (ON_DUTY, {"recipients": []}, "recipients", "recipients is required for operators_on_duty"),
    (MISSED, {"recipients": None}, "recipients", "recipients is required for missed_calls"),
    (MISSED, {"recipients": " , "}, "recipients", "recipients is required for missed_calls"),
    (MISSED, {"recipients": ["op1@example.org"]}, "recipients", "is not a manager or admin"),
    (ON_DUTY, {"active_hours": None}, "active_hours", "active_hours is required"),
    (ON_DUTY, {"active_hours": {"from": "08:00"}}, "active_hours", 'active_hours must be {"from"'),
    (ON_DUTY, {"active_hours": {"from": "25:00", "to": "22:00"}}, "active_hours", "is not a time like 08:00"),
    (ON_DUTY, {"active_hours": "08:00-22:00"}, "active_hours", 'active_hours must be {"from"'),
    (ON_DUTY, {"window_minutes": 60}, "window_minutes", "window_minutes is only for missed_calls rules"),
    (MISSED, {"window_minutes": None}, "window_minutes", "window_minutes is required for missed_calls"),
    (MISSED, {"window_minutes": 4}, "window_minutes", "window_minutes must be between 5 and 1440"),
    (MISSED, {"window_minutes": 1441}, "window_minutes", "window_minutes must be between 5 and 1440"),
    (MISSED, {"active_hours": STAFFED}, "active_hours", "active_hours is only for operators_on_duty rules"),
    (MISSED, {"threshold": 0}, "threshold", "at least 0 missed calls is always true"),
    (ON_DUTY, {"threshold": 0}, "threshold", "operators on duty are never below 0"),
    (MISSED, {"margin": 3}, "margin", "margin must be below the threshold (3)"),
    (MISSED, {"critical_at": 3}, "critical_at", "critical_at must be 0 (none) or above the threshold (3)"),
    (ON_DUTY, {"critical_at": 2}, "critical_at", "critical_at must be below the threshold (2)"),
    (ON_DUTY, {"metric": "callers"}, "metric", "metric must be one of free_places, operators_on_duty, missed_calls"),
    ({"name": "Beds", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 2}, {"active_hours": STAFFED},
     "active_hours", "active_hours is only for operators_on_duty rules"),
    ({"name": "Beds", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 2}, {"window_minutes": 30},
     "window_minutes", "window_minutes is only for missed_calls rules"),
]


@pytest.mark.parametrize("base, change, field, message", BAD_HOTLINE_RULES)
def test_a_bad_hotline_rule_is_refused_naming_the_field_and_nothing_is_written(client, w, base, change, field,
                                                                               message):
    before = written()
    response = call(client, "POST", "/api/v1/alert-rules", w.tokens.admin, json={**base, **change})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == field and message in error["message"], error
    assert written() == before


def test_a_rule_keeps_its_metric_and_a_bad_change_writes_nothing(client, w):
    rule = make_rule(w, ON_DUTY)
    before, fields = written(), rule_json(rule)
    for change, field in (({"metric": "missed_calls", "window_minutes": 60, "active_hours": None}, "metric"),
                          ({"region": "antwerpen"}, "region"), ({"active_hours": {"from": "8", "to": "22"}},
                                                                "active_hours"),
                          ({"recipients": []}, "recipients")):
        response = call(client, "PATCH", f"/api/v1/alert-rules/{rule.id}", w.tokens.antwerpen, json=change)
        assert response.status_code == 400 and response.get_json()["error"]["field"] == field, change
    assert written() == before
    db.session.commit()
    assert rule_json(db.session.get(AlertRule, rule.id)) == fields


# --- the rule form -----------------------------------------------------------------------


def form(**overrides) -> dict:
    return {"name": "Nobody on duty", "metric": "operators_on_duty", "region": "antwerpen", "kinds": ["crisis_bed"],
            "active_from": "08:00", "active_to": "22:00", "window_minutes": "", "threshold": "1",
            "critical_at": "0", "for_minutes": "5", "margin": "1", "keep_firing_minutes": "5", "repeat_minutes": "30",
            "escalate_after_minutes": "", "escalate_to": "", "recipients": "antwerpen@example.org, gent@example.org",
            "quiet_from": "", "quiet_to": "", "channels": ["sms", "email"], "active": "y", **overrides}


def test_a_manager_makes_and_edits_hotline_rules_with_the_form(app, w):
    """The form leaves out the fields of the other metrics (here the region
    and kinds the page shows for free places)."""
    client = app.test_client()
    make.login(client, w.people.gent)
    page = client.get("/alerts/rules/new").get_data(as_text=True)
    assert 'value="operators_on_duty"' in page and 'name="active_from"' in page and 'name="window_minutes"' in page
    response = client.post("/alerts/rules/new", data=form(region="oost-vlaanderen"))
    assert response.status_code == 303, response.get_data(as_text=True)
    rule = db.session.scalar(select(AlertRule).where(AlertRule.name == "Nobody on duty"))
    assert (rule.metric, rule.region_id, rule.kinds, rule.active_from, rule.active_to, rule.window_minutes,
            rule.recipients) == ("operators_on_duty", None, None, "08:00", "22:00", None, RECIPIENTS)
    response = client.post("/alerts/rules/new", data=form(name="Unanswered", metric="missed_calls",
                                                          window_minutes="30", threshold="3"))
    assert response.status_code == 303
    rule = db.session.scalar(select(AlertRule).where(AlertRule.name == "Unanswered"))
    assert (rule.metric, rule.window_minutes, rule.active_from) == ("missed_calls", 30, None)
    listed = unescape(client.get("/alerts/rules").get_data(as_text=True))
    with force_locale("fr"):  # Gent's manager reads French
        assert gettext("operators on duty below %(threshold)d for %(minutes)d min, from %(start)s to %(end)s",
                       threshold=1, minutes=5, start="08:00", end="22:00") in listed
        assert gettext("at least %(threshold)d missed calls in %(window)d min, for %(minutes)d min",
                       threshold=3, window=30, minutes=5) in listed
    # Another manager edits it: the form shows what it holds.
    client = app.test_client()
    make.login(client, w.people.antwerpen)
    page = client.get(f"/alerts/rules/{rule.id}").get_data(as_text=True)
    assert 'value="30"' in page and re.search(r'<option selected value="missed_calls">', page)
    assert client.post(f"/alerts/rules/{rule.id}", data=form(name="Unanswered", metric="missed_calls",
                                                             window_minutes="45", threshold="3")).status_code == 303
    db.session.commit()
    db.session.refresh(rule)
    assert rule.window_minutes == 45


@pytest.mark.parametrize("overrides, field, message", [
    ({"active_from": "", "active_to": ""}, "active_hours", "active_hours is required for operators_on_duty"),
    ({"active_from": "8 uur"}, "active_hours", "is not a time like 08:00"),
    ({"metric": "missed_calls"}, "window_minutes", "window_minutes is required for missed_calls"),
    ({"recipients": ""}, "recipients", "recipients is required for operators_on_duty"),
])
def test_the_form_shows_a_hotline_rule_error_next_to_its_field_and_saves_nothing(app, w, overrides, field, message):
    client = app.test_client()
    make.login(client, w.people.admin)
    before = written()
    response = client.post("/alerts/rules/new", data=form(**overrides))
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    found = re.search(rf'<span class="field-error" id="{field}-error">(.*?)</span>', body, re.DOTALL)
    assert found and message in found.group(1).replace("&#39;", "'")
    assert written() == before


# --- texts ----------------------------------------------------------------------------------


def test_the_hotline_notices_are_gsm_one_segment_and_name_no_caller(app):
    for metric, extra in (("operators_on_duty", {"active_hours": ("08:00", "22:00")}),
                          ("missed_calls", {"window_minutes": 1440})):
        for hours_over in (False, True):
            facts = alert_texts.NoticeFacts(code="K7RM4", rule_name="Regel", region=None, kinds=[], free=120,
                                            threshold=100, critical_at=0, full=0, stale=0, since=None, minutes=10080,
                                            metric=metric, hours_over=hours_over, **extra)
            for lang in alert_texts.LANGUAGES:
                for event in alert_texts.NOTICE_EVENTS:
                    text = alert_texts.sms(event, lang, facts)
                    assert set(text) <= GSM and len(text) <= 160, (lang, event, text)
                    subject, body = alert_texts.email(event, lang, facts)
                    assert "K7RM4" in subject and alert_texts.HOTLINE[lang].lower() in body.lower()
                    assert "{" not in text + subject + body
    assert set(alert_texts.HOTLINE_SMS) == set(alert_texts.HOTLINE_SUBJECTS) == set(alert_texts.HOTLINE_OPENINGS) \
        == set(alert_texts.HOTLINE_LINES) == set(alert_texts.LANGUAGES)


def test_the_demo_has_one_rule_of_each_hotline_metric_for_its_managers(app, clock):
    from app.services import demo

    demo.load(clock.now())
    by_metric = {rule.metric: rule for rule in db.session.scalars(select(AlertRule))}
    assert set(by_metric) == {"free_places", "operators_on_duty", "missed_calls"}
    on_duty_rule, missed_rule = by_metric["operators_on_duty"], by_metric["missed_calls"]
    assert (on_duty_rule.threshold, on_duty_rule.active_from, on_duty_rule.active_to, on_duty_rule.for_minutes) == (
        1, "08:00", "22:00", 5)
    assert (missed_rule.threshold, missed_rule.window_minutes) == (3, 60)
    assert set(on_duty_rule.recipients) == set(missed_rule.recipients) == {"manager@demo.opvang.be",
                                                                           "night@demo.opvang.be"}
    # 21:00, nobody on duty: the demo's hotline rule starts its episode.
    summary = evaluation.evaluate(clock.now())
    db.session.flush()
    assert summary["pending"] == 1
    assert db.session.scalar(select(Alert.rule_id)) == on_duty_rule.id
    db.session.rollback()


def test_the_daily_digest_of_the_regions_still_goes_out_beside_a_hotline_alert(w, clock, firing):
    """The digest is about each manager's regions; an alert of no region
    neither breaks it nor lands in a region's shortages."""
    from app.services.alerts import digest

    clock.advance(days=1)
    assert digest.daily_digest(clock.now()) == {"day": "2026-11-28", "sent": 2}  # the managers with a region
    bodies = db.session.scalars(select(OutboxMessage.body).where(OutboxMessage.purpose == "digest")).all()
    assert len(bodies) == 2 and all("Missed calls" not in body for body in bodies)
