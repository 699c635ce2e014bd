"""The alert engine (issue 5, flow C): rules evaluated with the frozen clock
against the real database; each episode pending → firing → resolved, its
notices written to the outbox once, in the recipient's language; `OK code`
by the signed SMS webhook; delivery through the fake Twilio and a real SMTP
server; two evaluations at the same moment in two threads."""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from app.extensions import db, writing
from app.models import Alert, AlertEvent, AlertRule, AuditEvent, CapacityKind, CapacityUnit, OutboxMessage
from app.services.accounts import users as accounts
from app.services.alerts import episodes, evaluation, rules
from app.services.core import access
from app.services.core.access import Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.delivery import sending
from app.services.registry import capacity
from app.texts import alerts as alert_texts
from app.texts import sms as sms_texts
from tests import factories
from tests.test_hotline_sms import HOTLINE, SEEKER, sms
from tests.test_jobs import GSM

# Quiet hours 21:00-07:00 in Brussels: the frozen clock starts at 21:00 on
# Saturday 28 November 2026 (20:00 UTC); they end at 06:00 UTC on the 29th.
QUIET = {"from": "21:00", "to": "07:00"}
QUIET_END = datetime(2026, 11, 29, 6, 0, tzinfo=UTC)
PHONES = {"nl": "+32470000011", "fr": "+32470000012", "en": "+32470000013", "email_only": "+32470000014",
          "gent": "+32470000021", "admin": "+32470000031"}


@pytest.fixture
def app_config(twilio_server, smtp_server):
    return {**twilio_server.config(from_number=HOTLINE), **smtp_server.config()}


class World:
    """Antwerpen: a confidential refuge whose crisis beds the tests move (5 of
    10 free at first), a full one, one closed for intake (6 free that count
    for nothing) and a full one whose counts are stale: 5 crisis beds free,
    two facilities full, one stale. Oost-Vlaanderen: 1 crisis bed free. Managers of
    Antwerpen in three languages, one without a phone, one who takes alerts
    by e-mail only, one who takes none; a manager of Oost-Vlaanderen; admins."""

    def __init__(self):
        make = factories
        self.refuge = make.facility("vluchthuis-antwerpen", name="Vluchthuis Antwerpen", confidential=True,
                                    street="Geheime Dreef 7", postcode="2018", intake_phone="+3232999999",
                                    units={"crisis_bed": (10, 5), "emergency_bed": (4, 2)})
        self.full = make.facility("crisis-mechelen", name="Crisis Mechelen", units={"crisis_bed": (4, 0)})
        self.closed = make.facility("opvang-turnhout", name="Opvang Turnhout", units={"crisis_bed": (6, 6)},
                                    open_for_intake=False, closed_reason="Renovatie")
        self.stale = make.facility("crisis-lier", name="Crisis Lier", units={"crisis_bed": (3, 0)})
        self.gent = make.facility("crisis-gent", name="Crisis Gent", region_slug="oost-vlaanderen",
                                  units={"crisis_bed": (5, 1)})
        antwerpen, oost = make.region("antwerpen"), make.region("oost-vlaanderen")
        self.users = {
            "nl": make.user("manager", regions=[antwerpen], phone=PHONES["nl"], language="nl", name="Els Peeters"),
            "fr": make.user("manager", regions=[antwerpen], phone=PHONES["fr"], language="fr", name="Luc Dubois"),
            "en": make.user("manager", regions=[antwerpen], phone=PHONES["en"], language="en", name="Ann Smith"),
            "no_phone": make.user("manager", regions=[antwerpen], language="en", name="Bo Phoneless"),
            "email_only": make.user("manager", regions=[antwerpen], phone=PHONES["email_only"], language="nl"),
            "none": make.user("manager", regions=[antwerpen], language="nl"),
            "gent": make.user("manager", regions=[oost], phone=PHONES["gent"], language="nl", name="Jan Gent"),
            "admin": make.user("admin", phone=PHONES["admin"], language="en", email="admin@example.org",
                               name="Ada Admin"),
            "admin2": make.user("admin", language="fr", email="admin2@example.org"),
            "operator": make.user("operator", language="en"),
            "staff": make.user("shelter_staff", facilities_=[self.refuge], phone="+32470000041", language="nl"),
        }
        self.users["email_only"].alert_channels = ["email"]
        self.users["none"].alert_channels = []
        self.beds = unit(self.refuge, "crisis_bed")
        make_stale(self.stale)
        db.session.commit()

    @property
    def admin(self) -> Actor:
        return Actor(user=self.users["admin"], source="web")

    def name_of(self, user_id: int) -> str:
        return next(key for key, user in self.users.items() if user.id == user_id)

    def set_free(self, free: int, clock) -> None:
        """Antwerpen's free crisis beds: the refuge's."""
        db.session.refresh(self.beds)
        capacity.set_available(self.admin, self.beds, free, self.beds.version, clock.now())
        db.session.commit()


def unit(facility, code) -> CapacityUnit:
    return next(unit for unit in facility.units if unit.kind.code == code)


def make_stale(facility) -> None:
    for unit_ in facility.units:
        db.session.execute(update(CapacityUnit).where(CapacityUnit.id == unit_.id)
                           .values(stale_at=factories.clock.now() - timedelta(hours=1)))


@pytest.fixture
def world(app) -> World:
    return World()


RULE = {"name": "Antwerpen crisis beds", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 3,
        "critical_at": 0, "for_minutes": 10, "margin": 1, "keep_firing_minutes": 10, "repeat_minutes": None,
        "escalate_after_minutes": None}


def make_rule(world: World, clock, **fields) -> AlertRule:
    rule = rules.save_rule(world.admin, clock.now(), {**RULE, **fields})
    db.session.commit()
    return rule


def evaluate(clock, minutes: int = 0) -> dict:
    """One evaluation, as the scheduler runs it: a writer, committed after."""
    if minutes:
        clock.advance(minutes=minutes)
    with writing():
        summary = evaluation.evaluate(clock.now())
        db.session.commit()
    return {name: n for name, n in summary.items() if n}


def evaluate_until(clock, until: datetime, step: int = 1) -> None:
    """Evaluate every `step` minutes until `until`."""
    while clock.now() < until:
        evaluate(clock, min(step, int((until - clock.now()).total_seconds() // 60)))


def all_alerts() -> list[Alert]:
    return list(db.session.scalars(select(Alert).order_by(Alert.id)))


def the_alert() -> Alert:
    [alert] = all_alerts()
    return alert


def sent(world: World, event: str | None = None, n: int | None = None) -> set[tuple[str, str]]:
    """(user, channel) of the alert notices in the outbox, of one event (and repeat)."""
    told = set()
    for key in db.session.scalars(select(OutboxMessage.dedup_key).where(OutboxMessage.purpose == "alert")):
        _, _, notice, number, user_id, channel = key.split(":")
        if (event is None or notice == event) and (n is None or int(number) == n):
            told.add((world.name_of(int(user_id)), channel))
    return told


def notice_rows(event: str | None = None) -> list[OutboxMessage]:
    rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "alert")
                              .order_by(OutboxMessage.id))
    return [row for row in rows if event is None or row.dedup_key.split(":")[2] == event]


def timeline(alert: Alert) -> list[tuple]:
    """(event, minutes after the episode started, repeat number)."""
    rows = db.session.scalars(select(AlertEvent).where(AlertEvent.alert_id == alert.id).order_by(AlertEvent.id))
    return [(row.event, int((row.at - alert.started_at).total_seconds() // 60), row.details.get("n"))
            for row in rows]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


MANAGERS = {("nl", "sms"), ("nl", "email"), ("fr", "sms"), ("fr", "email"), ("en", "sms"), ("en", "email"),
            ("no_phone", "email"), ("email_only", "email")}


# --- the lifecycle --------------------------------------------------------------


def test_pending_fires_after_for_minutes_and_not_before(world, clock):
    rule = make_rule(world, clock)
    assert evaluate(clock) == {"rules": 1, "scopes": 1}  # 5 free: nothing
    assert all_alerts() == []

    world.set_free(2, clock)
    started = clock.now()
    assert evaluate(clock) == {"rules": 1, "scopes": 1, "open": 1, "pending": 1}
    alert = the_alert()
    assert (alert.state, alert.rule_id, alert.region.slug, alert.free, alert.threshold, alert.started_at,
            alert.fired_at, alert.open_key) == ("pending", rule.id, "antwerpen", 2, 3, started, None,
                                                f"{rule.id}:{alert.region_id}")
    assert (alert.full_facilities, alert.stale_facilities) == (2, 1)
    assert evaluate(clock, 9) == {"rules": 1, "scopes": 1, "open": 1}
    assert the_alert().state == "pending" and notice_rows() == []

    summary = evaluate(clock, 1)
    assert summary == {"rules": 1, "scopes": 1, "open": 1, "fired": 1, "notices": len(MANAGERS)}
    alert = the_alert()
    assert (alert.state, alert.fired_at, alert.last_notified_at, alert.critical) == (
        "firing", started + timedelta(minutes=10), started + timedelta(minutes=10), False)
    assert sent(world) == sent(world, "fired") == MANAGERS
    assert timeline(alert) == [("pending", 0, None), ("fired", 10, None)]
    fired = alert.events[-1]
    assert sorted(map(tuple, fired.details["told"])) == sorted(
        (world.users[name].id, channel) for name, channel in MANAGERS)
    assert all(row.alert_id == alert.id and row.status == "pending" and row.next_attempt_at == clock.now()
               for row in notice_rows())


def test_a_pending_alert_that_recovers_is_cancelled_without_notice(world, clock):
    make_rule(world, clock)
    world.set_free(1, clock)
    evaluate(clock)
    clock.advance(minutes=5)
    world.set_free(3, clock)  # at the threshold: no longer below
    assert evaluate(clock) == {"rules": 1, "scopes": 1, "cancelled": 1}
    alert = the_alert()
    assert (alert.state, alert.resolved_at, alert.open_key, alert.fired_at) == ("resolved", clock.now(), None, None)
    assert timeline(alert) == [("pending", 0, None), ("cancelled", 5, None)]
    assert notice_rows() == []
    # Below again: a new episode, with a new code.
    world.set_free(2, clock)
    evaluate(clock, 1)
    assert [a.state for a in all_alerts()] == ["resolved", "pending"]


def test_no_flapping_inside_the_margin(world, clock):
    """Threshold 3, margin 2: 3 and 4 free keep it firing; 5 free for 10
    minutes resolves it; a dip to 4 on the way starts those 10 minutes again."""
    make_rule(world, clock, for_minutes=0, margin=2, keep_firing_minutes=10)
    world.set_free(2, clock)
    assert evaluate(clock)["fired"] == 1
    for free in (3, 4, 3, 4):
        world.set_free(free, clock)
        for _ in range(15):
            evaluate(clock, 1)
        assert (the_alert().state, the_alert().recovering_since) == ("firing", None)
    world.set_free(5, clock)
    evaluate(clock, 1)
    recovering = clock.now()
    assert the_alert().recovering_since == recovering
    evaluate(clock, 4)
    world.set_free(4, clock)  # a dip inside the margin
    evaluate(clock, 1)
    assert the_alert().recovering_since is None
    world.set_free(6, clock)
    evaluate(clock, 1)
    again = clock.now()
    for _ in range(9):
        evaluate(clock, 1)
    assert (the_alert().state, the_alert().recovering_since) == ("firing", again)
    assert evaluate(clock, 1) == {"rules": 1, "scopes": 1, "resolved": 1, "notices": len(MANAGERS)}
    alert = the_alert()
    assert (alert.state, alert.resolved_at, alert.free, alert.open_key) == ("resolved", again + timedelta(minutes=10),
                                                                           6, None)
    assert [event for event, _, _ in timeline(alert)] == ["pending", "fired", "resolved"]
    assert sent(world, "resolved") == MANAGERS
    assert sent(world) == MANAGERS  # fired and resolved only: nothing flapped
    # Resolved, and well above: nothing more.
    assert evaluate(clock, 30) == {"rules": 1, "scopes": 1}


def test_repeats_every_repeat_minutes_while_unacknowledged(world, clock):
    make_rule(world, clock, for_minutes=0, repeat_minutes=30)
    world.set_free(2, clock)
    evaluate(clock)
    for _ in range(75):
        evaluate(clock, 1)
    alert = the_alert()
    assert [entry for entry in timeline(alert) if entry[0] != "pending"] == [
        ("fired", 0, None), ("repeated", 30, 1), ("repeated", 60, 2)]
    assert sent(world, "repeated", 1) == sent(world, "repeated", 2) == MANAGERS
    assert alert.last_notified_at == alert.fired_at + timedelta(minutes=60)
    reminder = next(row for row in notice_rows("repeated") if row.recipient == PHONES["en"])
    assert reminder.body.startswith(f"Opvang reminder {alert.code}: still 2 crisis beds free in Antwerpen")
    assert {row.dedup_key for row in notice_rows("repeated") if row.user_id == world.users["nl"].id} == {
        f"alert:{alert.id}:repeated:{n}:{world.users['nl'].id}:{channel}" for n in (1, 2)
        for channel in ("sms", "email")}


def test_escalation_once_to_the_named_users_then_repeats_to_them_too(world, clock):
    make_rule(world, clock, for_minutes=0, repeat_minutes=30, escalate_after_minutes=45,
              escalate_to=["admin@example.org"])
    world.set_free(2, clock)
    evaluate(clock)
    for _ in range(120):
        evaluate(clock, 1)
    alert = the_alert()
    assert [entry for entry in timeline(alert) if entry[0] != "pending"] == [
        ("fired", 0, None), ("repeated", 30, 1), ("escalated", 45, None), ("repeated", 75, 2),
        ("repeated", 105, 3)]
    assert alert.escalated_at == alert.fired_at + timedelta(minutes=45)
    assert sent(world, "escalated") == {("admin", "sms"), ("admin", "email")}
    assert sent(world, "repeated", 1) == MANAGERS
    assert sent(world, "repeated", 2) == MANAGERS | {("admin", "sms"), ("admin", "email")}
    [escalation] = [row for row in notice_rows("escalated") if row.channel == "sms"]
    assert escalation.body.startswith(f"Opvang escalation {alert.code}: 45 min unacknowledged. 2 crisis beds free")

    # The admin acknowledges: no more repeats; the resolution reaches everyone told.
    episodes.acknowledge(world.admin, alert, clock.now())
    db.session.commit()
    for _ in range(60):
        evaluate(clock, 1)
    assert [event for event, _, _ in timeline(alert)][-1] == "acknowledged"
    world.set_free(4, clock)
    for _ in range(11):
        evaluate(clock, 1)
    assert the_alert().state == "resolved"
    assert sent(world, "resolved") == MANAGERS | {("admin", "sms"), ("admin", "email")}


def test_escalation_goes_to_the_active_admins_when_nobody_is_named(world, clock):
    accounts.set_active(factories.SETUP, factories.user("admin", phone="+32470000099"), False,
                                  clock.now())
    make_rule(world, clock, for_minutes=5, escalate_after_minutes=20)
    world.set_free(2, clock)
    evaluate(clock)
    for _ in range(60):
        evaluate(clock, 1)
    assert [entry for entry in timeline(the_alert())] == [("pending", 0, None), ("fired", 5, None),
                                                          ("escalated", 25, None)]
    assert sent(world, "escalated") == {("admin", "sms"), ("admin", "email"), ("admin2", "email")}
    [french] = [row for row in notice_rows("escalated") if row.user_id == world.users["admin2"].id]
    assert french.subject == f"Escalade : Opvang alerte {the_alert().code} sans réponse : 2 lits de crise libres, " \
                             "région Antwerpen"


def test_acknowledging_stops_repeats_and_escalation_and_the_resolution_reaches_everyone_told(world, clock):
    make_rule(world, clock, for_minutes=0, repeat_minutes=30, escalate_after_minutes=45)
    world.set_free(2, clock)
    evaluate(clock)
    evaluate(clock, 30)
    alert = the_alert()
    acknowledged = clock.advance(minutes=2)
    nl = Actor(user=world.users["nl"], source="web")
    assert episodes.acknowledge(nl, alert, acknowledged) is alert
    db.session.commit()
    assert (alert.acknowledged_at, alert.acknowledged_by_id) == (acknowledged, world.users["nl"].id)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "alert.acknowledge"))
    assert (event.actor_id, event.object_id, event.details["source"]) == (world.users["nl"].id, alert.id, "web")
    before = len(notice_rows())
    for _ in range(180):
        evaluate(clock, 1)
    assert len(notice_rows()) == before
    assert [event for event, _, _ in timeline(alert)] == ["pending", "fired", "repeated", "acknowledged"]
    assert alert.escalated_at is None

    world.set_free(5, clock)
    for _ in range(11):
        evaluate(clock, 1)
    assert the_alert().state == "resolved"
    assert sent(world, "resolved") == MANAGERS
    assert {row.body for row in notice_rows("resolved") if row.channel == "sms"} == {
        f"Opvang alarm {alert.code} opgelost: 5 crisisbedden vrij in Antwerpen (drempel 3).",
        f"Opvang alerte {alert.code} résolue : 5 lits de crise libres, région Antwerpen (seuil 3).",
        f"Opvang alert {alert.code} resolved: 5 crisis beds free in Antwerpen (threshold 3)."}


def test_acknowledging_what_cannot_be_acknowledged(world, clock):
    make_rule(world, clock, for_minutes=5)
    world.set_free(2, clock)
    evaluate(clock)
    alert = the_alert()
    nl, fr = (Actor(user=world.users[name], source="api") for name in ("nl", "fr"))
    with pytest.raises(Conflict, match="has not fired"):
        episodes.acknowledge(nl, alert, clock.now())
    evaluate(clock, 5)
    for outsider in ("gent", "operator", "staff"):
        with pytest.raises(Forbidden):
            episodes.acknowledge(Actor(user=world.users[outsider], source="api"), alert, clock.now())
    episodes.acknowledge(nl, alert, clock.now())
    db.session.commit()
    with pytest.raises(Conflict, match="acknowledged already by Els Peeters"):
        episodes.acknowledge(fr, alert, clock.now())
    world.set_free(6, clock)
    evaluate(clock, 1)
    evaluate(clock, 10)
    with pytest.raises(Conflict, match="is resolved already"):
        episodes.acknowledge(fr, alert, clock.now())
    db.session.rollback()
    assert count(AlertEvent, AlertEvent.event == "acknowledged") == 1
    assert count(AuditEvent, AuditEvent.action == "alert.acknowledge") == 1


def test_a_rule_naming_its_recipients_may_be_acknowledged_by_them(world, clock):
    make_rule(world, clock, for_minutes=0, recipients=[world.users["operator"].email], channels=["email"])
    world.set_free(2, clock)
    evaluate(clock)
    assert sent(world) == {("operator", "email")}
    assert access.may_acknowledge_alert(world.users["operator"], the_alert())
    assert access.may_acknowledge_alert(world.users["nl"], the_alert())  # a manager of the region
    assert not access.may_acknowledge_alert(world.users["gent"], the_alert())


# --- critical level and quiet hours ---------------------------------------------


def test_the_critical_level_is_told_once_even_in_quiet_hours(world, clock):
    make_rule(world, clock, for_minutes=0, repeat_minutes=30, quiet_hours=QUIET)
    world.set_free(2, clock)
    evaluate(clock)
    assert {row.next_attempt_at for row in notice_rows("fired")} == {QUIET_END}

    clock.advance(minutes=5)
    world.set_free(0, clock)
    assert evaluate(clock) == {"rules": 1, "scopes": 1, "open": 1, "critical": 1, "notices": len(MANAGERS)}
    alert = the_alert()
    assert alert.critical and alert.free == 0 and alert.full_facilities == 3  # the refuge, Mechelen, Lier
    assert sent(world, "critical") == MANAGERS
    assert {row.next_attempt_at for row in notice_rows("critical")} == {clock.now()}  # not held back
    [nl] = [row for row in notice_rows("critical") if row.recipient == PHONES["nl"]]
    assert nl.body == (f"Opvang KRITIEK {alert.code}: 0 crisisbedden vrij in Antwerpen (drempel 3); 3 vol, "
                       f"1 verouderd. Antwoord OK {alert.code}")

    # Up and down again: critical once per episode; no repeats in quiet hours.
    world.set_free(1, clock)
    evaluate(clock, 5)
    world.set_free(0, clock)
    evaluate_until(clock, QUIET_END - timedelta(minutes=1), step=10)
    assert len(notice_rows("critical")) == len(MANAGERS)
    assert [event for event, _, _ in timeline(alert)] == ["pending", "fired", "critical"]
    # The first evaluation after the quiet hours sends one reminder, not one per missed interval.
    assert evaluate(clock, 1)["repeated"] == 1
    assert clock.now() == QUIET_END
    evaluate(clock, 29)
    assert count(AlertEvent, AlertEvent.event == "repeated") == 1
    assert evaluate(clock, 1)["repeated"] == 1


def test_firing_at_the_critical_level_sends_the_critical_notice_at_once(world, clock):
    make_rule(world, clock, for_minutes=0, quiet_hours=QUIET, critical_at=1)
    world.set_free(1, clock)
    assert evaluate(clock) == {"rules": 1, "scopes": 1, "open": 1, "pending": 1, "fired": 1, "critical": 1,
                               "notices": len(MANAGERS)}
    assert sent(world, "critical") == MANAGERS and sent(world, "fired") == set()
    assert {row.next_attempt_at for row in notice_rows()} == {clock.now()}
    assert [event for event, _, _ in timeline(the_alert())] == ["pending", "fired", "critical"]
    world.set_free(0, clock)
    evaluate(clock, 1)
    assert len(notice_rows()) == len(MANAGERS)


def test_quiet_hours_hold_back_the_fired_notice_and_escalation(world, clock, twilio, smtp):
    make_rule(world, clock, for_minutes=0, quiet_hours=QUIET, escalate_after_minutes=30)
    world.set_free(2, clock)
    evaluate(clock)
    alert = the_alert()
    assert alert.state == "firing"
    assert {row.next_attempt_at for row in notice_rows("fired")} == {QUIET_END}
    assert alert.events[-1].details["held_until"] == QUIET_END.isoformat()
    assert sending.deliver_due(clock.now()) == {}
    assert twilio.messages == [] and smtp.messages == []
    evaluate_until(clock, QUIET_END - timedelta(minutes=1), step=10)
    assert count(AlertEvent, AlertEvent.event == "escalated") == 0
    evaluate(clock, 1)
    assert count(AlertEvent, AlertEvent.event == "escalated") == 1
    assert sending.deliver_due(QUIET_END) == {"sent": len(MANAGERS) + 3}  # and the escalation to both admins
    assert sorted(m.form["To"] for m in twilio.messages) == sorted([PHONES["nl"], PHONES["fr"], PHONES["en"],
                                                                    PHONES["admin"]])


def test_a_resolution_in_quiet_hours_waits_for_their_end(world, clock):
    make_rule(world, clock, for_minutes=0, keep_firing_minutes=0, quiet_hours={"from": "21:30", "to": "07:00"})
    world.set_free(2, clock)
    evaluate(clock)  # 21:00: told at once
    assert {row.next_attempt_at for row in notice_rows("fired")} == {clock.now()}
    clock.advance(minutes=40)
    world.set_free(4, clock)
    evaluate(clock)
    assert the_alert().state == "resolved"
    assert {row.next_attempt_at for row in notice_rows("resolved")} == {QUIET_END}
    assert sent(world, "resolved") == MANAGERS


# --- what is counted -------------------------------------------------------------


def test_a_rule_for_every_region_has_an_episode_per_region(world, clock):
    factories.facility("vluchthuis-brugge", region_slug="west-vlaanderen", units={"refuge_place": (5, 0)})
    factories.region("limburg")
    db.session.commit()
    rule = make_rule(world, clock, region=None, for_minutes=0)
    world.set_free(2, clock)
    assert evaluate(clock) == {"rules": 1, "scopes": 2, "open": 2, "pending": 2, "fired": 2,
                               "notices": len(MANAGERS) + 2}
    antwerpen, oost = all_alerts()
    assert {(a.region.slug, a.free, a.state, a.open_key) for a in (antwerpen, oost)} == {
        ("antwerpen", 2, "firing", f"{rule.id}:{antwerpen.region_id}"),
        ("oost-vlaanderen", 1, "firing", f"{rule.id}:{oost.region_id}")}
    assert {(world.name_of(row.user_id), row.channel) for row in notice_rows() if row.alert_id == oost.id} == {
        ("gent", "sms"), ("gent", "email")}
    assert {(world.name_of(row.user_id), row.channel) for row in notice_rows() if row.alert_id == antwerpen.id} \
        == MANAGERS
    assert evaluate(clock, 1) == {"rules": 1, "scopes": 2, "open": 2}
    # Antwerpen recovers on its own; Oost-Vlaanderen stays short.
    world.set_free(4, clock)
    for _ in range(11):
        evaluate(clock, 1)
    assert [(a.region.slug, a.state) for a in all_alerts()] == [("antwerpen", "resolved"),
                                                                ("oost-vlaanderen", "firing")]


def test_closed_facilities_count_none_holds_are_subtracted_stale_ones_count(world, clock):
    """7 free at first: the refuge's 5 and the 2 of Boom, whose counts are
    stale; closed Turnhout's 6 count for nothing."""
    boom = factories.facility("crisis-boom", name="Crisis Boom", units={"crisis_bed": (2, 2)})
    make_stale(boom)
    db.session.commit()
    make_rule(world, clock, threshold=7, for_minutes=0)
    assert evaluate(clock) == {"rules": 1, "scopes": 1}
    operator = world.users["operator"]
    factories.hold(world.beds, operator, persons=2)
    db.session.commit()
    evaluate(clock, 1)
    alert = the_alert()
    assert (alert.state, alert.free, alert.full_facilities, alert.stale_facilities) == ("firing", 5, 2, 2)
    [sms_nl] = [row for row in notice_rows("fired") if row.recipient == PHONES["nl"]]
    assert "5 crisisbedden vrij" in sms_nl.body and "2 vol, 2 verouderd" in sms_nl.body
    # Every place of the refuge held: it counts as full too.
    factories.hold(world.beds, operator, persons=3)
    db.session.commit()
    evaluate(clock, 1)
    assert (alert.free, alert.full_facilities, alert.stale_facilities) == (2, 3, 2)
    # Boom is updated (no longer stale); Turnhout reopens: its 6 count now.
    capacity.confirm_counts(world.admin, boom, clock.now())
    capacity.set_open_for_intake(world.admin, world.closed, True, None, clock.now())
    db.session.commit()
    evaluate(clock, 1)
    assert (alert.free, alert.full_facilities, alert.stale_facilities, alert.recovering_since) == (
        8, 3, 1, clock.now())


def test_a_rule_on_several_kinds_sums_them(world, clock):
    make_rule(world, clock, kinds=["emergency_bed", "crisis_bed"], threshold=8, for_minutes=0)
    evaluate(clock)
    alert = the_alert()
    assert alert.free == 7  # 5 crisis beds and 2 emergency beds of the refuge
    assert alert.full_facilities == 2  # Mechelen and Lier; the refuge has both free
    [en] = [row for row in notice_rows() if row.recipient == PHONES["en"]]
    assert en.body == (f"Opvang alert {alert.code}: 7 free (crisis beds, emergency beds) in Antwerpen (threshold 8); "
                       f"2 full, 1 stale. Reply OK {alert.code}")


@pytest.mark.parametrize("kind_id", [40, 70])
def test_full_and_stale_are_counted_whatever_the_kinds_ids(world, clock, kind_id):
    """A kind's id is its bit in the facility masks while it fits (40: in a
    64-bit sum), else a CASE numbers the kinds (70)."""
    db.session.add(CapacityKind(id=kind_id, code="overflow_bed", labels={"en": "Overflow bed"}, counts="persons",
                                serves=["victim"], position=9))
    db.session.flush()
    factories.facility("overflow-a", units={"overflow_bed": (4, 0)})
    make_stale(factories.facility("overflow-b", units={"overflow_bed": (3, 2)}))
    db.session.commit()
    make_rule(world, clock, kinds=["overflow_bed", "crisis_bed"], threshold=8, for_minutes=0)
    make_rule(world, clock, name="Overflow beds", kinds=["overflow_bed"], threshold=3, for_minutes=0)
    evaluate(clock)
    both, overflow = all_alerts()
    # Both kinds: the refuge's 5 crisis beds and Overflow B's 2; full: Mechelen,
    # Lier, Overflow A; stale: Lier and Overflow B.
    assert (both.free, both.full_facilities, both.stale_facilities) == (7, 3, 2)
    assert (overflow.free, overflow.full_facilities, overflow.stale_facilities) == (2, 1, 1)
    [en] = [row for row in notice_rows() if row.recipient == PHONES["en"] and row.alert_id == overflow.id]
    # A kind an admin added reads as its label (app/texts/sms.py).
    assert en.body == (f"Opvang alert {overflow.code}: 2 overflow bed free in Antwerpen (threshold 3); 1 full, "
                       f"1 stale. Reply OK {overflow.code}")


def test_deactivating_or_deleting_a_rule_cancels_its_open_episode(world, clock):
    firing = make_rule(world, clock, name="Firing", for_minutes=0)
    pending = make_rule(world, clock, name="Pending", for_minutes=30)
    moved = make_rule(world, clock, name="Moved", for_minutes=0)
    never = make_rule(world, clock, name="Never", threshold=1)
    world.set_free(2, clock)
    evaluate(clock)
    notices_before = len(notice_rows())
    assert {a.rule.name: a.state for a in all_alerts()} == {"Firing": "firing", "Pending": "pending",
                                                            "Moved": "firing"}

    clock.advance(minutes=1)
    rules.save_rule(world.admin, clock.now(), {"active": False}, firing)
    assert rules.delete_rule(world.admin, clock.now(), pending) == "deactivated"
    rules.save_rule(world.admin, clock.now(), {"region": "oost-vlaanderen"}, moved)
    assert rules.delete_rule(world.admin, clock.now(), never) == "deleted"
    db.session.commit()
    assert db.session.get(AlertRule, never.id) is None
    closed = {a.rule.name: (a.state, a.resolved_at, a.events[-1].event, a.events[-1].details["reason"])
              for a in all_alerts()}
    assert closed == {"Firing": ("resolved", clock.now(), "cancelled", "rule_changed"),
                      "Pending": ("resolved", clock.now(), "cancelled", "rule_deactivated"),
                      "Moved": ("resolved", clock.now(), "cancelled", "rule_changed")}
    assert len(notice_rows()) == notices_before
    # The moved rule watches Oost-Vlaanderen now; the others nothing.
    assert evaluate(clock, 1) == {"rules": 1, "scopes": 1, "open": 1, "pending": 1, "fired": 1, "notices": 2}
    assert all_alerts()[-1].region.slug == "oost-vlaanderen"


def test_an_open_episode_of_a_rule_deactivated_behind_the_engine_is_cancelled(world, clock):
    rule = make_rule(world, clock, for_minutes=0)
    world.set_free(2, clock)
    evaluate(clock)
    db.session.execute(update(AlertRule).where(AlertRule.id == rule.id).values(active=False))
    db.session.commit()
    assert evaluate(clock, 1) == {"cancelled": 1}
    assert the_alert().events[-1].details == {"reason": "out_of_scope"}


def test_rules_are_checked_and_nothing_is_saved_when_one_is_wrong(world, clock):
    manager = Actor(user=world.users["nl"], source="web")
    for change, field in [({"threshold": -1}, "threshold"), ({"threshold": 0}, "threshold"),
                          ({"margin": -1}, "margin"), ({"region": "atlantis"}, "region"),
                          ({"kinds": ["spa_bed"]}, "kinds"), ({"critical_at": 3}, "critical_at"),
                          ({"escalate_to": ["nobody@example.org"]}, "escalate_to"),
                          ({"quiet_hours": {"from": "25:00", "to": "07:00"}}, "quiet_hours"),
                          ({"channels": ["pigeon"]}, "channels"), ({"colour": "red"}, "colour")]:
        with pytest.raises(InvalidInput) as error:
            rules.save_rule(world.admin, clock.now(), {**RULE, **change})
        assert error.value.field == field
    for actor, data in [(Actor(user=world.users["gent"], source="web"), RULE),
                        (manager, {**RULE, "region": None}),
                        (Actor(user=world.users["operator"], source="web"), RULE)]:
        with pytest.raises(Forbidden):
            rules.save_rule(actor, clock.now(), data)
    db.session.rollback()
    assert count(AlertRule) == 0 and count(AuditEvent, AuditEvent.action.like("alert_rule.%")) == 0
    assert rules.save_rule(manager, clock.now(), RULE).region.slug == "antwerpen"


# --- never twice --------------------------------------------------------------------


def test_evaluating_twice_at_the_same_moment_writes_nothing_twice(world, clock):
    make_rule(world, clock, for_minutes=5, repeat_minutes=10, escalate_after_minutes=15, keep_firing_minutes=5)

    def twice(minutes: int = 0) -> dict:
        first = evaluate(clock, minutes)
        rows = (count(Alert), count(AlertEvent), count(OutboxMessage), count(AuditEvent))
        state = [(a.state, a.free, a.last_notified_at, a.escalated_at, a.recovering_since) for a in all_alerts()]
        again = evaluate(clock)
        assert again == {name: n for name, n in first.items() if name in ("rules", "scopes", "open")}
        assert (count(Alert), count(AlertEvent), count(OutboxMessage), count(AuditEvent)) == rows
        assert [(a.state, a.free, a.last_notified_at, a.escalated_at, a.recovering_since)
                for a in all_alerts()] == state
        return first

    world.set_free(2, clock)
    assert twice()["pending"] == 1
    assert twice(5)["fired"] == 1
    assert twice(10)["repeated"] == 1
    assert twice(5)["escalated"] == 1
    world.set_free(0, clock)
    assert twice(1)["critical"] == 1
    world.set_free(4, clock)
    twice(1)
    assert twice(5)["resolved"] == 1
    assert [event for event, _, _ in timeline(the_alert())] == [
        "pending", "fired", "repeated", "escalated", "critical", "resolved"]
    keys = [row.dedup_key for row in notice_rows()]
    assert len(keys) == len(set(keys))


def test_two_evaluations_at_the_same_moment_make_one_episode_and_one_set_of_notices(app, world, clock):
    """Two threads, each with its own app context and session, evaluate and
    commit at the same moment, first when the episode starts, then when it
    fires: one of each, one set of notices. (On SQLite writers take turns; on
    PostgreSQL the second waits for the first's commit and then sees it.)"""
    make_rule(world, clock, for_minutes=5)
    world.set_free(2, clock)

    def race() -> list[dict]:
        summaries, failures = [], []
        start = threading.Barrier(2)
        now = clock.now()

        def evaluator():
            try:
                with app.app_context(), writing():
                    start.wait(10)
                    summaries.append(evaluation.evaluate(now))
                    db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(repr(error))

        db.session.commit()
        threads = [threading.Thread(target=evaluator) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not failures, failures
        db.session.commit()  # a fresh snapshot for what follows
        return summaries

    summaries = race()
    assert sorted(s["pending"] for s in summaries) == [0, 1]
    assert [(a.state, len(a.events)) for a in all_alerts()] == [("pending", 1)]
    clock.advance(minutes=5)
    summaries = race()
    assert sorted(s["fired"] for s in summaries) == [0, 1]
    assert sorted(s["notices"] for s in summaries) == [0, len(MANAGERS)]
    assert [(a.state, [e.event for e in a.events]) for a in all_alerts()] == [("firing", ["pending", "fired"])]
    assert len(notice_rows()) == len(MANAGERS) and sent(world) == MANAGERS


# --- what the notices say -----------------------------------------------------------


def test_the_notices_name_the_figures_in_each_recipients_language_and_nothing_else(client, world, clock, twilio):
    sms(client, SEEKER, "Ik zoek een bed voor mij en mijn zoon, ik ben in Antwerpen")  # a help-seeker
    make_rule(world, clock, for_minutes=0)
    world.set_free(2, clock)
    evaluate(clock)
    code = the_alert().code
    by_user = {(world.name_of(row.user_id), row.channel): row for row in notice_rows()}
    assert by_user[("nl", "sms")].body == (
        f"Opvang alarm {code}: 2 crisisbedden vrij in Antwerpen (drempel 3); 2 vol, 1 verouderd. Antwoord OK {code}")
    assert by_user[("fr", "sms")].body == (
        f"Opvang alerte {code} : 2 lits de crise libres, région Antwerpen (seuil 3) ; 2 complets, 1 pas à jour. "
        f"Répondez OK {code}")
    assert by_user[("en", "sms")].body == (
        f"Opvang alert {code}: 2 crisis beds free in Antwerpen (threshold 3); 2 full, 1 stale. Reply OK {code}")
    assert by_user[("nl", "sms")].recipient == PHONES["nl"] and by_user[("nl", "email")].recipient == \
        world.users["nl"].email
    email = by_user[("en", "email")]
    assert email.subject == f"Opvang alert {code}: 2 crisis beds free in Antwerpen"
    assert email.body.splitlines() == [
        f'Alert {code} (rule "Antwerpen crisis beds") fired at 21:00: too few free places.', "",
        "Region: Antwerpen", "Kind(s): crisis beds", "Free places now: 2 (threshold 3, critical at 0)",
        "Facilities full: 2",
        "Facilities with stale counts: 1 (their places are counted, but may be out of date)", "",
        f"To acknowledge: reply OK {code} by SMS to the hotline number, or on the alerts page. The reminders stop "
        "then; everyone is told when the alert is resolved.", "", "-- Opvang"]
    assert by_user[("fr", "email")].subject == f"Opvang alerte {code} : 2 lits de crise libres, région Antwerpen"
    assert "Lieux complets : 2" in by_user[("fr", "email")].body
    assert "Opvangplaatsen met verouderde aantallen: 1" in by_user[("nl", "email")].body
    # Never an address, a facility, a phone number or anything about a caller.
    for row in notice_rows():
        text = f"{row.subject or ''}\n{row.body}"
        for secret in ("Geheime Dreef", "2018", "+32", "3232999999", "Vluchthuis", "Mechelen", "Lier",
                       "Turnhout", SEEKER[3:], "zoon", "+32 4"):
            assert secret not in text, (secret, text)


def test_sms_only_to_users_with_a_phone_who_chose_sms(world, clock):
    make_rule(world, clock, for_minutes=0)
    world.set_free(2, clock)
    evaluate(clock)
    told = sent(world)
    assert ("no_phone", "sms") not in told and ("no_phone", "email") in told
    assert ("email_only", "sms") not in told and ("email_only", "email") in told
    assert not {(name, channel) for name, channel in told if name == "none"}
    assert {row.recipient for row in notice_rows() if row.channel == "sms"} == {PHONES[n] for n in ("nl", "fr", "en")}
    # A rule by SMS only: the e-mail-only manager hears nothing from it.
    make_rule(world, clock, name="By SMS", for_minutes=0, channels=["sms"])
    evaluate(clock, 1)
    by_sms = all_alerts()[-1]
    assert {(world.name_of(row.user_id), row.channel) for row in notice_rows() if row.alert_id == by_sms.id} == {
        ("nl", "sms"), ("fr", "sms"), ("en", "sms")}


def test_sms_texts_are_gsm_and_one_segment_for_one_kind(app):
    kinds = capacity.all_kinds()
    for kind in kinds:
        for several in ([kind], [kinds[0], kinds[-1]]):
            facts = alert_texts.NoticeFacts(code=9999, rule_name="Regel", region="Oost-Vlaanderen", kinds=several,
                                            free=12, threshold=20, critical_at=0, full=12, stale=13,
                                            since=None, minutes=120)
            for lang in alert_texts.LANGUAGES:
                for event in alert_texts.NOTICE_EVENTS:
                    text = alert_texts.sms(event, lang, facts)
                    assert set(text) <= GSM, (lang, event, set(text) - GSM)
                    limit = 160 if len(several) == 1 else 2 * 153
                    assert len(text) <= limit, (len(text), text)
                    subject, body = alert_texts.email(event, lang, facts)
                    assert "Oost-Vlaanderen" in subject and "9999" in subject and "Oost-Vlaanderen" in body
    assert set(alert_texts.SMS) == set(alert_texts.SUBJECTS) == set(alert_texts.OPENINGS) == set(
        alert_texts.LANGUAGES)
    for table in (alert_texts.SMS, alert_texts.SUBJECTS, alert_texts.OPENINGS):
        assert all(set(table[lang]) == set(alert_texts.NOTICE_EVENTS) for lang in alert_texts.LANGUAGES)


# --- OK code by SMS -----------------------------------------------------------------


def last_reply(twilio, phone: str) -> str:
    return [m.form["Body"] for m in twilio.messages if m.form["To"] == phone][-1]


@pytest.fixture
def firing(world, clock):
    make_rule(world, clock, for_minutes=5, repeat_minutes=30)
    world.set_free(2, clock)
    evaluate(clock)
    evaluate(clock, 5)
    return the_alert()


def alert_state(alert_id: int) -> tuple:
    db.session.expire_all()
    alert = db.session.get(Alert, alert_id)
    return (alert.state, alert.acknowledged_at, alert.acknowledged_by_id, len(alert.events))


def test_ok_code_by_sms_acknowledges(client, world, clock, twilio, firing):
    clock.advance(minutes=3)
    sms(client, PHONES["fr"], f"ok {firing.code}.")
    assert last_reply(twilio, PHONES["fr"]) == (
        f"Opvang : alerte {firing.code} (Antwerpen) confirmée. Plus de rappels ; chacun sera prévenu quand elle sera "
        "résolue.")
    db.session.expire_all()
    alert = db.session.get(Alert, firing.id)
    assert (alert.acknowledged_at, alert.acknowledged_by_id) == (clock.now(), world.users["fr"].id)
    event = alert.events[-1]
    assert (event.event, event.actor_id, event.details["source"]) == ("acknowledged", world.users["fr"].id, "sms")
    # No more reminders.
    for _ in range(90):
        evaluate(clock, 1)
    assert count(AlertEvent, AlertEvent.event == "repeated") == 0
    # Someone else answers later: told who did, nothing changed.
    before = alert_state(firing.id)
    sms(client, PHONES["nl"], f"OK {firing.code}")
    assert last_reply(twilio, PHONES["nl"]) == (
        f"Opvang: alarm {firing.code} was al bevestigd door Luc Dubois om 21:08. Niets gewijzigd.")
    assert alert_state(firing.id) == before


def test_the_code_is_random_and_ok_with_the_alert_id_acknowledges_nothing(client, world, twilio, firing):
    """A spoofed SMS cannot guess the code from the alerts' numbering."""
    assert firing.code != str(firing.id) and len(firing.code) == 5 and firing.code.isalnum()
    before = alert_state(firing.id)
    sms(client, PHONES["nl"], f"OK {firing.id}")
    assert last_reply(twilio, PHONES["nl"]) == (
        f"Opvang: geen alarm {firing.id} dat jij kunt bevestigen. Niets gewijzigd.")
    assert alert_state(firing.id) == before


@pytest.mark.parametrize("who, code, reply", [
    ("nl", "XXXXX", "Opvang: geen alarm XXXXX dat jij kunt bevestigen. Niets gewijzigd."),
    ("gent", "{code}", "Opvang: geen alarm {code} dat jij kunt bevestigen. Niets gewijzigd."),
    ("staff", "{code}", "Opvang: geen alarm {code} dat jij kunt bevestigen. Niets gewijzigd."),
    ("en", "", "Send OK and the alert's code, e.g. OK K7RM4. Nothing changed."),
])
def test_ok_with_an_unknown_or_foreign_code_changes_nothing(client, world, twilio, firing, who, code, reply):
    before = alert_state(firing.id)
    events = count(AuditEvent)
    sms(client, world.users[who].phone, f"OK {code.format(code=firing.code)}".strip())
    assert last_reply(twilio, world.users[who].phone) == reply.format(code=firing.code)
    assert alert_state(firing.id) == before and count(AuditEvent) == events


def test_ok_for_a_pending_or_resolved_alert_changes_nothing(client, world, clock, twilio):
    make_rule(world, clock, for_minutes=10, keep_firing_minutes=0)
    world.set_free(2, clock)
    evaluate(clock)
    pending = the_alert()
    before = alert_state(pending.id)
    sms(client, PHONES["en"], f"OK {pending.code}")
    assert last_reply(twilio, PHONES["en"]) == f"Opvang: no alert {pending.code} that you can acknowledge. " \
                                               "Nothing changed."
    assert alert_state(pending.id) == before
    evaluate(clock, 10)
    world.set_free(4, clock)
    evaluate(clock, 1)
    assert the_alert().state == "resolved"
    before = alert_state(pending.id)
    sms(client, PHONES["en"], f"OK {pending.code}")
    assert last_reply(twilio, PHONES["en"]) == f"Opvang: alert {pending.code} is resolved already. Nothing changed."
    assert alert_state(pending.id) == before


def test_the_help_text_tells_managers_about_ok(client, world, twilio):
    sms(client, PHONES["en"], "HELP")
    assert last_reply(twilio, PHONES["en"]).endswith(sms_texts.TEXTS["en"]["help_ok"])
    sms(client, world.users["staff"].phone, "HULP")
    assert last_reply(twilio, world.users["staff"].phone) == sms_texts.TEXTS["nl"]["help"]


# --- end to end ---------------------------------------------------------------------


def test_notices_go_out_by_twilio_and_smtp_and_ok_stops_the_repeats(client, world, clock, twilio, smtp):
    """Flow C: the beds drop, the managers are told by SMS and e-mail, one
    answers OK by SMS, the reminders stop, the beds come back and everyone
    told hears it is resolved."""
    make_rule(world, clock, for_minutes=10, repeat_minutes=30)
    world.set_free(2, clock)
    evaluate(clock)
    evaluate(clock, 10)
    code = the_alert().code
    assert sending.deliver_due(clock.now()) == {"sent": len(MANAGERS)}
    bodies = {m.form["To"]: m.form["Body"] for m in twilio.messages}
    assert set(bodies) == {PHONES["nl"], PHONES["fr"], PHONES["en"]}
    assert bodies[PHONES["nl"]].endswith(f"Antwoord OK {code}")
    assert all(m.form["From"] == HOTLINE for m in twilio.messages)
    mailed = {m["To"]: m for m in smtp.messages}
    assert set(mailed) == {world.users[name].email for name, channel in MANAGERS if channel == "email"}
    assert mailed[world.users["en"].email]["Subject"] == f"Opvang alert {code}: 2 crisis beds free in Antwerpen"
    assert f"reply OK {code}" in mailed[world.users["no_phone"].email].get_content()

    evaluate(clock, 30)
    assert sending.deliver_due(clock.now()) == {"sent": len(MANAGERS)}
    assert sum("herinnering" in m.form["Body"] for m in twilio.messages) == 1

    sms(client, PHONES["nl"], f"OK {code}")
    assert last_reply(twilio, PHONES["nl"]).startswith(f"Opvang: alarm {code} (Antwerpen) bevestigd.")
    for _ in range(60):
        evaluate(clock, 1)
    assert sending.deliver_due(clock.now()) == {}

    world.set_free(4, clock)
    for _ in range(11):
        evaluate(clock, 1)
    assert sending.deliver_due(clock.now()) == {"sent": len(MANAGERS)}
    resolved = [m.form["Body"] for m in twilio.messages
                if re.match(rf"Opvang (alarm|alerte|alert) {code} (opgelost|résolue|resolved)", m.form["Body"])]
    assert len(resolved) == 3
    assert sum(m["Subject"].startswith(("Resolved:", "Opgelost:", "Résolue :")) for m in smtp.messages) == 5
    assert all(row.status == "sent" for row in notice_rows())
