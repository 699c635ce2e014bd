"""The scheduler's other jobs (issue 5, item 6), each a service function
taking `now`, run here with the frozen clock: hold expiry with a notice,
stale-data reminders and their escalation, the retention purge, and the
managers' daily digest."""

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select

from app.extensions import db
from app.models import (
    Alert,
    AlertEvent,
    AlertRule,
    AuditEvent,
    Call,
    CapacityChange,
    Hold,
    OutboxMessage,
    PlacementSearch,
    RateCounter,
    Referral,
    Region,
    RegionKindDay,
    SmsMessage,
    TurnAway,
)
from app.models.scheduling import StaleReminder
from app.services.accounts import users
from app.services.alerts import digest, evaluation
from app.services.core.access import Actor
from app.services.delivery import outbox
from app.services.placement import hold_expiry, holds, turn_aways
from app.services.registry import capacity, stale_reminders
from app.services.scheduling import retention
from app.services.statistics import region_daily
from app.texts import jobs
from tests import factories
from tests.conftest import START

PAGE = "https://hotline.opvang.test"


def messages(purpose: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if purpose is not None:
        query = query.where(OutboxMessage.purpose == purpose)
    return list(db.session.scalars(query))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def web(user) -> Actor:
    return Actor(user=user, source="web")


# The GSM 03.38 alphabet (basic set and extension): an SMS within it is sent
# as 160-character segments, not as Unicode ones of 70.
GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
          "abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def test_every_text_exists_in_every_language_and_sms_texts_are_gsm():
    keys = set(jobs.TEXTS["en"])
    for lang in jobs.LANGUAGES:
        assert set(jobs.TEXTS[lang]) == keys, lang
        assert set(jobs.TEXTS[lang]["reasons"]) == {"full", "ineligible", "closed"}
        values = dict(hold=17, count=2, kind="x", facility="Crisis Antwerpen", time="22:30", ago="14 h", code="",
                      page="https://opvang.example/shelter/3", region="Antwerpen", reminded="6 h")
        for key in ("hold_expired", "hold_lapsed", "hold_declined", "hold_no_show", "stale_sms", "stale_escalation"):
            sms = jobs.text(lang, key, **values)
            assert set(sms) <= GSM, (lang, key, set(sms) - GSM)
            assert len(sms) <= 2 * 153, (lang, key)


# --- hold expiry ------------------------------------------------------------------


@pytest.fixture
def hold_world(app):
    facility = factories.facility("crisis-antwerpen", name="Crisis Antwerpen",
                                  units={"crisis_bed": (8, 8), "family_room": (3, 3, 4)})
    beds, rooms = sorted(facility.units, key=lambda unit: unit.kind.position)
    operator = factories.user("operator", phone="+32470000001", language="nl")
    partner = factories.user("partner", language="fr")  # no phone: e-mail
    return facility, beds, rooms, operator, partner


def test_overdue_holds_are_marked_expired_and_their_makers_told_once(app, clock, hold_world):
    facility, beds, rooms, operator, partner = hold_world
    by_operator = factories.hold(beds, operator, persons=2, minutes=30, household="Mother Jansen and son",
                                 note="husband looks for her", arrival="2026-11-28T21:20:00+01:00")
    by_partner = factories.hold(rooms, partner, persons=3, minutes=45)
    still_active = factories.hold(beds, operator, minutes=120)
    confirmed = factories.hold(beds, operator, minutes=30)
    released = factories.hold(beds, partner, minutes=30)
    holds.confirm(web(operator), confirmed, clock.now())
    holds.release(web(partner), released, clock.now())

    clock.advance(minutes=29)
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 0, "notified": 0}
    assert messages() == []

    clock.advance(minutes=17)  # 46 minutes: both overdue
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 2, "notified": 2}
    db.session.expire_all()
    assert [h.status for h in (by_operator, by_partner, still_active, confirmed, released)] == [
        "expired", "expired", "active", "confirmed", "released"]
    assert by_operator.closed_at == START + timedelta(minutes=46)

    sms, mail = messages("hold_expired")
    assert (sms.channel, sms.recipient, sms.user_id) == ("sms", "+32470000001", operator.id)
    assert sms.dedup_key == f"hold-expired:{by_operator.id}:sms"
    assert sms.body == (f"Opvang: je reservering {by_operator.id} van 2 crisisbedden bij Crisis Antwerpen is "
                        "verlopen om 21:30. De plaats is weer vrij. Nog nodig? Maak een nieuwe reservering.")
    assert sms.subject is None
    assert (mail.channel, mail.recipient, mail.user_id) == ("email", partner.email, partner.id)
    assert mail.dedup_key == f"hold-expired:{by_partner.id}:email"
    assert mail.subject == f"Opvang : réservation {by_partner.id} expirée"
    assert "1 chambre familiale à Crisis Antwerpen a expiré à 21:45" in mail.body
    for message in (sms, mail):  # nothing about the household or the call
        assert not re.search(r"Jansen|husband|\+32470|Teststraat", message.body)
    assert [e.object_id for e in db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "hold.expire").order_by(AuditEvent.object_id))] == [
        by_operator.id, by_partner.id]

    # Running again (or later) marks and sends nothing more.
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 0, "notified": 0}
    clock.advance(hours=3)  # the active one expires now: only it
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 1, "notified": 1}
    assert [m.dedup_key for m in messages("hold_expired")] == [
        f"hold-expired:{by_operator.id}:sms", f"hold-expired:{by_partner.id}:email",
        f"hold-expired:{still_active.id}:sms"]
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 0, "notified": 0}
    assert len(messages()) == 3


def test_an_expired_hold_of_a_deactivated_maker_is_marked_without_a_notice(app, clock, hold_world):
    facility, beds, rooms, operator, partner = hold_world
    hold = factories.hold(beds, partner, minutes=10)
    users.set_active(factories.SETUP, partner, False, clock.now())
    clock.advance(minutes=11)
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 1, "notified": 0}
    assert db.session.get(Hold, hold.id).status == "expired"
    assert messages() == []


def test_a_notice_already_in_the_outbox_is_not_written_again(app, clock, hold_world):
    """The dedup key guards even when the hold was marked and announced by
    another run whose marking was lost (e.g. reset by hand)."""
    facility, beds, rooms, operator, partner = hold_world
    hold = factories.hold(beds, operator, minutes=10)
    clock.advance(minutes=11)
    hold_expiry.expire_and_notify(clock.now())
    db.session.get(Hold, hold.id).status = "active"
    db.session.flush()
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 1, "notified": 0}
    assert len(messages()) == 1


# --- stale reminders ----------------------------------------------------------------


@pytest.fixture
def stale_world(app):
    """Crisis Antwerpen (stale after 12 h, two units) with its staff; a Gent
    facility; managers of both regions."""
    antwerpen = factories.facility("crisis-antwerpen", name="Crisis Antwerpen",
                                   units={"crisis_bed": (8, 2), "family_room": (3, 1, 4)})
    gent = factories.facility("refuge-gent", name="Refuge Gent", region_slug="oost-vlaanderen",
                              units={"refuge_place": (6, 1)}, stale_after_hours=24)
    people = {
        "staff_sms": factories.user("shelter_staff", facilities_=[antwerpen], phone="+32470000001", language="nl"),
        "staff_mail": factories.user("shelter_staff", facilities_=[antwerpen], language="en"),
        "staff_both": factories.user("shelter_staff", facilities_=[antwerpen, gent], phone="+32470000002",
                                     language="en"),
        "staff_gent": factories.user("shelter_staff", facilities_=[gent], phone="+32470000003"),
        "staff_gone": factories.user("shelter_staff", facilities_=[antwerpen], phone="+32470000004"),
        "manager": factories.user("manager", regions=[antwerpen.region], phone="+32470000005", language="fr"),
        "manager_mail": factories.user("manager", regions=[antwerpen.region], language="nl"),
        "manager_gent": factories.user("manager", regions=[gent.region], phone="+32470000006"),
        "operator": factories.user("operator", phone="+32470000007"),
    }
    users.set_active(factories.SETUP, people["staff_gone"], False, factories.clock.now())
    return antwerpen, gent, people


def by_user(purpose: str) -> dict[int, OutboxMessage]:
    return {m.user_id: m for m in messages(purpose)}


def test_stale_facility_staff_are_reminded_once_and_managers_told_after_the_second_interval(app, clock,
                                                                                           stale_world):
    antwerpen, gent, people = stale_world
    clock.advance(hours=11, minutes=59)
    assert stale_reminders.remind_stale(clock.now())["stale"] == 0
    assert messages() == [] and count(StaleReminder) == 0

    clock.advance(hours=2, minutes=1)  # 14 h after the last update; stale since 12 h
    result = stale_reminders.remind_stale(clock.now())
    assert result == {"stale": 1, "ended": 0, "reminded": 1, "escalated": 0, "messages": 3}
    sent = by_user("stale_reminder")
    assert set(sent) == {people["staff_sms"].id, people["staff_mail"].id, people["staff_both"].id}
    spell = "2026-11-29T08:00:00+00:00"
    sms = sent[people["staff_sms"].id]
    assert sms.channel == "sms" and sms.recipient == "+32470000001"
    assert sms.body == ("Crisis Antwerpen: werk je aantallen bij, laatste update 14 u geleden. "
                        f"Antwoord VRIJ n of open {PAGE}/shelter/{antwerpen.id}")
    assert sms.dedup_key == f"stale:{antwerpen.id}:{spell}:reminded:{people['staff_sms'].id}:sms"
    mail = sent[people["staff_mail"].id]
    assert mail.channel == "email" and mail.subject == "Opvang: please update the counts of Crisis Antwerpen"
    assert mail.body.startswith("Crisis Antwerpen: please update your counts, last update 14 h ago.")
    # Someone working for two facilities is told which code to add.
    assert "Reply FREE n crisis-antwerpen or open" in sent[people["staff_both"].id].body

    clock.advance(minutes=5)
    assert stale_reminders.remind_stale(clock.now())["messages"] == 0
    clock.advance(hours=5, minutes=54)  # 5 h 59 min after the reminder
    assert stale_reminders.remind_stale(clock.now())["escalated"] == 0
    assert messages("stale_escalation") == []

    clock.advance(minutes=1)  # 6 h after the reminder, still stale
    result = stale_reminders.remind_stale(clock.now())
    assert result["escalated"] == 1 and result["messages"] == 2
    told = by_user("stale_escalation")
    assert set(told) == {people["manager"].id, people["manager_mail"].id}
    assert told[people["manager"].id].channel == "sms"
    assert told[people["manager"].id].body == (
        "Opvang : Crisis Antwerpen (Antwerpen) n'a pas mis ses chiffres à jour depuis 20 h, "
        "malgré un rappel il y a 6 h.")
    assert told[people["manager_mail"].id].channel == "email"
    assert told[people["manager_mail"].id].subject == "Opvang: Crisis Antwerpen werkt zijn aantallen niet bij"

    clock.advance(hours=10)  # Gent goes stale too (24 h): its own staff only
    result = stale_reminders.remind_stale(clock.now())
    assert result == {"stale": 2, "ended": 0, "reminded": 1, "escalated": 0, "messages": 2}
    assert len(messages("stale_escalation")) == 2
    gent_told = [m.user_id for m in messages("stale_reminder") if f"/shelter/{gent.id}" in m.body]
    assert sorted(gent_told) == sorted([people["staff_gent"].id, people["staff_both"].id])
    for message in messages():
        assert "Teststraat" not in message.body


def test_a_fresh_update_ends_the_spell_and_the_next_spell_reminds_again(app, clock, stale_world):
    antwerpen, gent, people = stale_world
    staff = people["staff_sms"]
    clock.advance(hours=13)
    stale_reminders.remind_stale(clock.now())
    assert len(messages("stale_reminder")) == 3

    # One unit updated: the other is still stale, the spell goes on, no new reminder.
    beds = next(unit for unit in antwerpen.units if unit.kind.code == "crisis_bed")
    capacity.set_available(web(staff), beds, 3, beds.version, clock.now())
    clock.advance(minutes=10)
    result = stale_reminders.remind_stale(clock.now())
    assert result["stale"] == 1 and result["messages"] == 0 and result["ended"] == 0
    assert db.session.get(StaleReminder, antwerpen.id).stale_since == START + timedelta(hours=12)

    # All counts confirmed: fresh, the spell ends.
    capacity.confirm_counts(web(staff), antwerpen, clock.now())
    # Gent confirmed too, so that it is not stale in the second spell below.
    capacity.confirm_counts(web(people["staff_gent"]), gent, clock.now())
    fresh_at = clock.now()
    clock.advance(minutes=10)
    assert stale_reminders.remind_stale(clock.now()) == {
        "stale": 0, "ended": 1, "reminded": 0, "escalated": 0, "messages": 0}
    assert count(StaleReminder) == 0

    # Six hours after the first reminder nobody is escalated: that spell is over.
    clock.advance(hours=5)
    assert stale_reminders.remind_stale(clock.now())["escalated"] == 0
    assert messages("stale_escalation") == []

    # Stale again 12 h after the confirmation: a new spell, reminded anew.
    clock.at = fresh_at + timedelta(hours=12, minutes=30)
    result = stale_reminders.remind_stale(clock.now())
    assert result["reminded"] == 1 and result["messages"] == 3
    second = [m for m in messages("stale_reminder") if m.user_id == staff.id]
    assert len(second) == 2 and second[0].dedup_key != second[1].dedup_key
    assert "laatste update 12 u geleden" in second[1].body
    clock.advance(hours=6)
    assert stale_reminders.remind_stale(clock.now())["messages"] == 2  # escalated in this spell too


def test_the_escalation_interval_is_configured(app, clock, stale_world):
    from flask import current_app

    current_app.config["STALE_ESCALATION_HOURS"] = 2  # the config the test's services read
    clock.advance(hours=13)
    stale_reminders.remind_stale(clock.now())
    clock.advance(hours=2)
    assert stale_reminders.remind_stale(clock.now())["escalated"] == 1


# --- retention purge ------------------------------------------------------------


def at_age(days: int, *, seconds: int = 0) -> datetime:
    """A time `days` (and `seconds`) before the test's now."""
    return START - timedelta(days=days, seconds=seconds)


def make_call(sid: str, started_at: datetime, **fields) -> Call:
    call = Call(sid=sid, channel=fields.pop("channel", "voice"), caller_hash="h" + sid,
                caller_masked="+32 4•• •• •• 56",
                status="completed", started_at=started_at, updated_at=started_at, ended_at=started_at,
                duration_s=300, language="nl", outcome="placed", safe_to_call_back=True,
                needs={"client_type": "victim", "adults": 1, "children": [4, 9], "postcode": "2000"},
                notes="Mrs Peeters, partner violent", recording_sid=f"RE{sid}", recording_duration_s=42, **fields)
    db.session.add(call)
    db.session.flush()
    return call


def sms_out(call: Call | None, created_at: datetime, status: str, body: str, user=None) -> OutboxMessage:
    message = outbox.enqueue(created_at, channel="sms", purpose="sms_reply", body=body, call=call, user=user)
    message.status = status
    db.session.flush()
    return message


@pytest.fixture
def purge_world(app, clock):
    """Records of every kind, some just past their window, some just inside."""
    facility = factories.facility("crisis-antwerpen", units={"crisis_bed": (8, 8)})
    beds = facility.units[0]
    operator = factories.user("operator", phone="+32470000001")
    w = {}
    # Calls: 90 days for notes and needs (recordings: delete_expired_recordings, tests/test_voicemails.py).
    w["call_old"] = make_call("CAold", at_age(90, seconds=1))
    w["call_edge"] = make_call("CAedge", at_age(90))
    w["call_kept_number"] = make_call("CAnum", at_age(1), number_sealed="sealed", number_kept_for="callback",
                                      number_erase_at=START - timedelta(minutes=1))
    # SMS conversations: 30 days for the texts.
    w["conversation"] = make_call("SMconv", at_age(40), channel="sms")
    w["out_old"] = sms_out(w["conversation"], at_age(30, seconds=1), "delivered", "Je kunt terecht in ...")
    w["out_pending_old"] = sms_out(w["conversation"], at_age(30, seconds=1), "pending", "Nog te sturen")
    w["text_in_old"] = SmsMessage(call=w["conversation"], direction="in", body="Ik ben bang, help",
                                  at=at_age(30, seconds=1), sid="SMin1")
    w["text_out_old"] = SmsMessage(call=w["conversation"], direction="out", body="Je kunt terecht in ...",
                                   at=at_age(30, seconds=1), outbox_id=w["out_old"].id)
    w["text_in_edge"] = SmsMessage(call=w["conversation"], direction="in", body="Dank je", at=at_age(30), sid="SMin2")
    db.session.add_all([w["text_in_old"], w["text_out_old"], w["text_in_edge"]])
    # The outbox: 90 days for rows that are done with; never a row to send.
    w["outbox_sent_old"] = sms_out(None, at_age(90, seconds=1), "sent", "STATUS reply", user=operator)
    w["outbox_failed_old"] = sms_out(None, at_age(91), "failed", "alert", user=operator)
    w["outbox_undeliverable_old"] = sms_out(None, at_age(91), "undeliverable", "alert", user=operator)
    w["outbox_pending_old"] = sms_out(None, at_age(200), "pending", "still to send", user=operator)
    w["outbox_sending_old"] = sms_out(None, at_age(200), "sending", "being sent", user=operator)
    w["outbox_edge"] = sms_out(None, at_age(90), "delivered", "edge", user=operator)
    w["seeker_out_very_old"] = sms_out(w["conversation"], at_age(95), "delivered", "oud antwoord")
    w["text_out_very_old"] = SmsMessage(call=w["conversation"], direction="out", body="oud antwoord",
                                        at=at_age(95), outbox_id=w["seeker_out_very_old"].id)
    db.session.add(w["text_out_very_old"])
    # Searches and turn-aways: 90 days for criteria; turn-aways' notes go with call notes.
    criteria = {"client_type": "victim", "adults": 1, "children": [4], "postcode": "2000"}
    w["search_old"] = PlacementSearch(at=at_age(90, seconds=1), contact_key="call:1", criteria=criteria,
                                      result_count=3, region_id=facility.region_id)
    w["search_edge"] = PlacementSearch(at=at_age(90), contact_key="call:2", criteria=criteria, result_count=0)
    db.session.add_all([w["search_old"], w["search_edge"]])
    w["turn_away_old"] = TurnAway(at=at_age(90, seconds=1), contact_key="call:1", reason="full", criteria=criteria,
                                  note="Mrs Peeters slept in her car", region_id=facility.region_id)
    w["turn_away_edge"] = TurnAway(at=at_age(90), contact_key="call:2", reason="full", criteria=criteria,
                                   note="edge note")
    db.session.add_all([w["turn_away_old"], w["turn_away_edge"]])
    # Holds and referrals: what was written about the household.
    w["hold_old"] = factories.hold(beds, operator, household="mother, 2 children", note="arrives by taxi")
    w["hold_edge"] = factories.hold(beds, operator, household="edge household", note="edge")
    w["hold_active_old"] = factories.hold(beds, operator, household="still coming", minutes=60)
    w["hold_old"].created_at, w["hold_old"].status = at_age(90, seconds=1), "expired"
    w["hold_edge"].created_at, w["hold_edge"].status = at_age(90), "confirmed"
    w["hold_active_old"].created_at = at_age(100)  # extended all this time: still active
    w["referral_old"] = Referral(created_at=at_age(90, seconds=1), updated_at=at_age(90, seconds=1),
                                 facility_id=facility.id, kind="relief_point", note="knows the address")
    w["referral_edge"] = Referral(created_at=at_age(90), updated_at=at_age(90), facility_id=facility.id,
                                  kind="relief_point", note="edge referral")
    db.session.add_all([w["referral_old"], w["referral_edge"]])
    # Rate counters: 2 days.
    db.session.add_all([RateCounter(key="webhook-signature:10.0.0.1", window_start=at_age(2, seconds=1), count=3),
                        RateCounter(key="webhook-signature:10.0.0.2", window_start=at_age(2), count=1)])
    # History that stays whatever its age.
    capacity.set_available(web(factories.user("shelter_staff", facilities_=[facility])), beds, 5, beds.version,
                           clock.now())
    db.session.add(AuditEvent(at=at_age(2000), action="login", details={"source": "web"}))
    db.session.flush()
    return w


def test_the_purge_removes_what_is_past_its_retention_and_nothing_else(app, clock, purge_world):
    w = purge_world
    audit_before = [(e.id, e.action, e.details) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    history_before = [(c.id, c.before, c.after) for c in db.session.scalars(select(CapacityChange))]
    assert history_before
    outbox_ids = {name: row.id for name, row in w.items() if isinstance(row, OutboxMessage)}

    counts = retention.purge(clock.now())
    assert counts == {"kept_numbers": 1, "call_notes": 1, "hold_notes": 1, "referral_notes": 1,
                      "turn_away_notes": 1, "sms_bodies": 3, "sms_outbox_bodies": 2, "search_criteria": 1,
                      "turn_away_criteria": 1, "outbox": 4, "rate_counters": 1}
    db.session.expire_all()

    old, edge = w["call_old"], w["call_edge"]
    assert (old.notes, old.needs) == (None, {})
    # Its recording is deleted at Twilio by another job, which alone clears the sid.
    assert old.recording_sid == "RECAold"
    # The call's facts stay, for statistics.
    assert (old.sid, old.channel, old.status, old.outcome, old.language, old.duration_s, old.started_at,
            old.safe_to_call_back, old.recording_duration_s) == (
        "CAold", "voice", "completed", "placed", "nl", 300, at_age(90, seconds=1), True, 42)
    assert edge.notes and edge.needs["adults"] == 1 and edge.recording_sid
    assert w["call_kept_number"].number_sealed is None and w["call_kept_number"].notes  # its notes are young

    assert w["text_in_old"].body == "" and w["text_out_old"].body == ""
    assert w["text_in_edge"].body == "Dank je"
    assert w["text_out_very_old"].body == "" and w["text_out_very_old"].outbox_id is None
    assert w["out_old"].body == ""  # the outbox's copy of a help-seeker's text
    assert w["out_pending_old"].body == "Nog te sturen"  # still to send: kept whole

    gone = {"outbox_sent_old", "outbox_failed_old", "outbox_undeliverable_old", "seeker_out_very_old"}
    remaining = set(db.session.scalars(select(OutboxMessage.id)))
    for name in ("outbox_sent_old", "outbox_failed_old", "outbox_undeliverable_old", "outbox_pending_old",
                 "outbox_sending_old", "outbox_edge", "out_old", "out_pending_old", "seeker_out_very_old"):
        assert (outbox_ids[name] in remaining) == (name not in gone), name
    assert w["text_out_old"].outbox_id == w["out_old"].id  # its outbox row is only 30 days old

    assert w["search_old"].criteria == {} and w["search_old"].result_count == 3
    assert w["search_old"].region_id is not None and w["search_old"].contact_key == "call:1"
    assert w["search_edge"].criteria["adults"] == 1
    assert (w["turn_away_old"].criteria, w["turn_away_old"].note, w["turn_away_old"].reason) == ({}, None, "full")
    assert w["turn_away_edge"].criteria["adults"] == 1 and w["turn_away_edge"].note == "edge note"
    assert (w["hold_old"].household, w["hold_old"].note, w["hold_old"].persons) == (None, None, 1)
    assert w["hold_edge"].household == "edge household" and w["hold_edge"].note == "edge"
    assert w["hold_active_old"].household == "still coming"
    assert w["referral_old"].note is None and w["referral_old"].kind == "relief_point"
    assert w["referral_edge"].note == "edge referral"
    assert list(db.session.scalars(select(RateCounter.key))) == ["webhook-signature:10.0.0.2"]

    # Audit events and the capacity history are untouched; the purge itself is audited.
    audit_after = [(e.id, e.action, e.details) for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert audit_after[:-1] == audit_before
    assert audit_after[-1][1] == "retention.purge" and audit_after[-1][2]["outbox"] == 4
    assert [(c.id, c.before, c.after) for c in db.session.scalars(select(CapacityChange))] == history_before

    # A second run finds nothing left to purge, and records nothing.
    assert set(retention.purge(clock.now()).values()) == {0}
    assert count(AuditEvent) == len(audit_after)


def test_a_second_later_the_edge_records_go_too(app, clock, purge_world):
    w = purge_world
    retention.purge(clock.now())
    clock.advance(seconds=1)
    counts = retention.purge(clock.now())
    assert counts["call_notes"] == 1 and counts["sms_bodies"] == 1 and counts["search_criteria"] == 1
    assert counts["outbox"] == 1 and counts["rate_counters"] == 1 and counts["hold_notes"] == 1
    db.session.expire_all()
    assert w["call_edge"].notes is None and w["text_in_edge"].body == ""
    # Never a message still to send, however old.
    remaining = set(db.session.scalars(select(OutboxMessage.id)))
    assert {w["outbox_pending_old"].id, w["outbox_sending_old"].id, w["out_pending_old"].id} <= remaining


def test_retention_is_configured_per_kind(app, clock, purge_world):
    from flask import current_app

    current_app.config["RETENTION_DAYS_SEARCHES"] = 365
    current_app.config["RETENTION_DAYS_RATE_COUNTERS"] = 1
    counts = retention.purge(clock.now())
    assert counts["search_criteria"] == 0 and counts["turn_away_criteria"] == 0
    assert counts["rate_counters"] == 2
    current_app.config["RETENTION_DAYS_OUTBOX"] = 0
    with pytest.raises(ValueError, match="RETENTION_DAYS_OUTBOX"):
        retention.purge(clock.now())


# --- daily digest ----------------------------------------------------------------


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A time of November 2026 in Brussels (UTC+1), as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo("Europe/Brussels")).astimezone(UTC)


@pytest.fixture
def digest_world(app, clock):
    clock.at = local(28, 6)  # Saturday morning: the digest of Friday the 27th
    antwerpen = factories.facility("crisis-antwerpen", name="Crisis Antwerpen", street="Geheimstraat 7",
                                   confidential=True, units={"crisis_bed": (8, 0)})
    factories.facility("noodopvang-mechelen", name="Noodopvang Mechelen", units={"emergency_bed": (4, 1)})
    gent = factories.facility("refuge-gent", name="Refuge Gent", region_slug="oost-vlaanderen",
                              units={"refuge_place": (6, 1)})
    ant, oost = antwerpen.region, gent.region
    people = {
        "manager_nl": factories.user("manager", regions=[ant], language="nl", phone="+32470000001"),
        "manager_both": factories.user("manager", regions=[ant, oost], language="en"),
        "manager_gent": factories.user("manager", regions=[oost], language="fr"),
        "manager_gone": factories.user("manager", regions=[ant]),
        "manager_nowhere": factories.user("manager"),
        "operator": factories.user("operator"),
    }
    users.set_active(factories.SETUP, people["manager_gone"], False, clock.now())

    rule = AlertRule(name="Crisisbedden Antwerpen", region_id=ant.id, kinds=["crisis_bed"], threshold=3,
                     channels=["email"], created_at=local(1, 9), updated_at=local(1, 9))
    everywhere = AlertRule(name="Refuge places", region_id=None, kinds=["refuge_place"], threshold=2,
                           channels=["email"], created_at=local(1, 9), updated_at=local(1, 9))
    db.session.add_all([rule, everywhere])
    db.session.flush()

    def alert(rule_, region, fired, resolved, free, events=()):
        row = Alert(rule_id=rule_.id, region_id=region.id, state="resolved" if resolved else "firing",
                    open_key=None if resolved else f"{rule_.id}:{region.id}", code=evaluation.new_code(), free=free,
                    threshold=rule_.threshold,
                    started_at=(fired or local(27, 1)) - timedelta(minutes=10), fired_at=fired, resolved_at=resolved)
        db.session.add(row)
        db.session.flush()
        for at, value in events:
            db.session.add(AlertEvent(alert_id=row.id, at=at, event="fired", free=value, details={}))
        return row

    # Yesterday (27 Nov) in Antwerpen: 1 h 30 min, down to 1; then from 20:00 on, still firing, down to 0.
    alert(rule, ant, local(27, 10), local(27, 11, 30), 2, [(local(27, 10), 2), (local(27, 11), 1)])
    alert(rule, ant, local(27, 20), None, 0, [(local(27, 20), 2), (local(27, 23), 0)])
    # The day before, and a pending one that never fired: not yesterday's shortages.
    alert(rule, ant, local(26, 10), local(26, 23), 1, [(local(26, 10), 1)])
    row = alert(rule, ant, None, local(27, 15), 2)
    row.state = "resolved"
    # Oost-Vlaanderen, from the day before until yesterday 02:00.
    alert(everywhere, oost, local(26, 22), local(27, 2), 1, [(local(26, 22), 1)])

    operator = Actor(user=people["operator"], source="web")
    for key, at, region, reason in (("call:1", local(27, 9), ant, "full"), ("call:2", local(27, 14), ant, "full"),
                                    ("call:3", local(27, 23, 59), ant, "ineligible"),
                                    ("call:4", local(27, 12), ant, "full"),  # withdrawn: a hold followed
                                    ("call:5", local(28, 0, 1), ant, "full"),  # today
                                    ("call:6", local(27, 12), oost, "closed")):
        turn_aways.record(operator, at, key=key, reason=reason, region_id=region.id,
                          note="Mevrouw Peeters, 0470 11 22 33",
                          criteria={"client_type": "victim", "adults": 1, "postcode": "2000", "kinds": ["crisis_bed"]})
    turn_aways.withdraw("call:4", local(27, 13))
    # Antwerpen's counts were updated 14 h ago (stale after 12 h); Gent's and Mechelen's just now.
    for facility in (antwerpen,):
        for unit in facility.units:
            unit.updated_at, unit.stale_at = clock.now() - timedelta(hours=14), clock.now() - timedelta(hours=2)
    db.session.flush()
    return people


def test_the_digest_tells_each_manager_about_their_regions_yesterday_once(app, clock, digest_world):
    people = digest_world
    # Yesterday's statistics, as the statistics job finalises them; none for Oost-Vlaanderen's refuge.
    region_daily.compute_day(date(2026, 11, 27), clock.now())
    oost = db.session.scalar(select(Region.id).where(Region.slug == "oost-vlaanderen"))
    db.session.execute(delete(RegionKindDay).where(RegionKindDay.region_id == oost))
    result = digest.daily_digest(clock.now())
    assert result == {"day": "2026-11-27", "sent": 3}
    sent = by_user("digest")
    assert set(sent) == {people["manager_nl"].id, people["manager_both"].id, people["manager_gent"].id}
    for message in sent.values():
        assert message.channel == "email" and message.recipient.endswith("@example.org")

    nl = sent[people["manager_nl"].id]
    assert nl.dedup_key == f"digest:2026-11-27:{people['manager_nl'].id}:email"
    assert nl.subject == "Opvang: overzicht van 27-11-2026"
    assert nl.body == "\n".join([
        "Overzicht van 27-11-2026 voor Antwerpen.",
        "",
        "Cijfers van de dag:",
        # The facilities were made this morning: no places yet on the 27th; the withdrawn turn-away does not count.
        f"- Antwerpen: geen plaatsen; 3 niet geplaatst; wachtlijst: 0 nieuw. "
        f"Rapport: {PAGE}/reports/antwerpen?month=2026-11",
        "",
        "Tekorten (alarmen die afgingen):",
        # The longest: the evening's, 20:00 until now (06:00), still firing.
        "- Antwerpen, Crisisbedden Antwerpen: 2x, langste 10 u, laagste aantal vrij 0 (nog actief)",
        "",
        "Niet geplaatst (geen plaats gevonden):",
        "- Antwerpen: 3 (vol 2, geen passende plaats 1)",
        "",
        "Nu verouderde aantallen:",
        "- Antwerpen, Crisis Antwerpen: laatste update 14 u geleden",
        "",
        f"Details op {PAGE}/dashboard/",
    ])
    both = sent[people["manager_both"].id].body
    assert "Summary of 27/11/2026 for Antwerpen, Oost Vlaanderen." in both
    assert "- Oost Vlaanderen, Refuge places: 1x, longest 4 h, lowest free 1" in both
    assert "- Oost Vlaanderen: 1 (closed 1)" in both
    assert f"- Oost Vlaanderen: no figures for that day yet. Report: {PAGE}/reports/oost-vlaanderen?month=2026-11" \
        in both
    assert "- Antwerpen, Crisisbedden Antwerpen: 2x, longest 10 h, lowest free 0 (still firing)" in both
    gent = sent[people["manager_gent"].id].body
    assert "Antwerpen" not in gent and "Toutes les structures sont à jour." in gent
    for message in sent.values():  # no address, nothing about a caller
        assert not re.search(r"Geheimstraat|Teststraat|Peeters|0470|2000|victim", message.body)

    # Hourly runs the same day send nothing more.
    clock.advance(hours=1)
    assert digest.daily_digest(clock.now()) == {"day": "2026-11-27", "sent": 0}
    clock.at = local(29, 0, 59)  # Sunday just after midnight: Saturday's digest
    assert digest.daily_digest(clock.now()) == {"day": "2026-11-28", "sent": 3}
    assert digest.daily_digest(clock.now())["sent"] == 0
    today = by_user("digest")[people["manager_nl"].id]
    assert today.dedup_key == f"digest:2026-11-28:{people['manager_nl'].id}:email"
    # The evening's alert was still firing on the 28th; one turn-away, at 00:01.
    assert "- Antwerpen, Crisisbedden Antwerpen: 1x, langste 28 u 59 min, laagste aantal vrij 0 (nog actief)" \
        in today.body
    assert "- Antwerpen: 1 (vol 1)" in today.body
    assert len(messages("digest")) == 6
