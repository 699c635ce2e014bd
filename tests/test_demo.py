"""`flask seed-demo [--if-empty]`: the demo regions, organisations, facilities and users."""

import csv
from collections import Counter
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import (
    AlertRule,
    AuditEvent,
    CapacityChange,
    CapacityUnit,
    Facility,
    Organisation,
    OutboxMessage,
    Region,
    User,
)
from app.models.user import ROLES
from app.services import demo
from app.services.accounts import users as accounts
from tests import factories


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def counts() -> dict:
    db.session.expire_all()
    return {model.__name__: count(model)
            for model in (Region, Organisation, Facility, CapacityUnit, CapacityChange, User, AuditEvent,
                          AlertRule)}


def facilities() -> list[Facility]:
    db.session.expire_all()
    return list(db.session.scalars(select(Facility).order_by(Facility.slug)))


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    return result


def test_seed_demo_loads_the_regions(seeded):
    assert sorted(db.session.scalars(select(Region.slug))) == [
        "antwerpen", "brussel", "limburg", "oost-vlaanderen", "vlaams-brabant", "west-vlaanderen"]


def test_seed_demo_loads_organisations_and_the_houses_of_justice_of_flanders_and_brussels(seeded):
    kinds = Counter(db.session.scalars(select(Organisation.kind)))
    assert kinds["caw"] >= 3 and kinds["crisis_centre"] >= 2 and kinds["police_zone"] >= 3
    assert kinds["child_protection"] == 6  # where the screening's "child at risk" is referred
    houses = {o.slug: o for o in db.session.scalars(select(Organisation).where(Organisation.kind == "justice_house"))}
    # The 14 Flemish houses (Brussel among them) and the francophone one in Brussels.
    assert len(houses) == 15
    assert houses["justitiehuis-gent"].phone == "+3292696220"
    assert houses["justitiehuis-gent"].region.slug == "oost-vlaanderen"
    assert houses["justitiehuis-tongeren"].region.slug == "limburg"
    assert houses["maison-justice-bruxelles"].region.slug == "brussel"
    assert houses["justitiehuis-brussel"].name == "Justitiehuis Brussel"
    assert "maison-justice-namur" not in houses and "maison-justice-liege" not in houses
    assert all(house.phone and house.phone.startswith("+32") for house in houses.values())


def test_seed_demo_loads_facilities_of_every_type(seeded):
    loaded = facilities()
    types = Counter(facility.type for facility in loaded)
    assert 28 <= len(loaded) <= 40
    assert set(types) == {"crisis_centre", "refuge", "relief_point", "offender_programme"}
    assert min(types.values()) >= 4
    assert {facility.region.slug for facility in loaded} == {slug for slug, _ in demo.REGIONS}
    for facility in loaded:
        kinds = {unit.kind.code for unit in facility.units}
        assert kinds, facility.slug
        if facility.type == "refuge":
            assert facility.confidential and facility.intake_hours["always"], facility.slug
            assert kinds == {"refuge_place", "family_room"}, facility.slug
            assert all(unit.room_size for unit in facility.units if unit.kind.code == "family_room")
        elif facility.type == "crisis_centre":
            assert not facility.confidential and facility.intake_hours["always"], facility.slug
            assert kinds <= {"crisis_bed", "emergency_bed"} and "crisis_bed" in kinds, facility.slug
        elif facility.type == "relief_point":
            assert not facility.intake_hours["always"] and any(facility.intake_hours["weekly"].values())
            assert kinds == {"intake_slot"}, facility.slug
        else:
            assert kinds == {"offender_slot"}, facility.slug
        assert facility.intake_phone and facility.lat and facility.lon and len(facility.postcode) == 4


def test_seed_demo_eligibility_varies(seeded):
    loaded = facilities()
    assert {gender for facility in loaded for gender in facility.genders} == {"female", "male", "x"}
    assert {"nl", "fr", "en", "ar", "tr"} <= {language for facility in loaded for language in facility.languages}
    for flag in ("children", "wheelchair", "pets", "high_security"):
        values = {getattr(facility, flag) for facility in loaded}
        assert values == {True, False}, flag
    assert any(facility.max_children and facility.max_child_age for facility in loaded)


def test_seed_demo_has_stale_full_and_closed_facilities(seeded):
    now = clock.now()
    loaded = facilities()
    stale = {facility.slug for facility in loaded if any(unit.is_stale(now) for unit in facility.units)}
    assert stale == set(demo.STALE)
    for facility in loaded:
        if facility.slug in demo.STALE:
            unit = facility.units[0]
            assert unit.updated_at == now - timedelta(hours=2 * facility.stale_after_hours)
    full = [facility.slug for facility in loaded if all(unit.available == 0 for unit in facility.units)]
    assert len(full) >= 2
    assert any(unit.available == 0 for facility in loaded if facility.slug not in full for unit in facility.units)
    closed = [facility for facility in loaded if not facility.open_for_intake]
    assert len(closed) == 1 and closed[0].closed_reason
    # Today's counts written as an import: every unit's last change says so
    # (the changes before it are the demo's made-up past).
    last = dict(db.session.execute(
        select(CapacityChange.unit_id, CapacityChange.source).order_by(CapacityChange.id)).all())
    assert len(last) == count(CapacityUnit) and set(last.values()) == {"import"}


def test_seed_demo_facilities_are_the_demo_file(seeded):
    with open(demo.DATA_FILE, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert [row["slug"] for row in sorted(rows, key=lambda row: row["slug"])] == [f.slug for f in facilities()]


def test_seed_demo_makes_one_user_per_role_who_can_log_in(seeded):
    users = {user.email: user for user in db.session.scalars(select(User))}
    assert set(users) == {user.email for user in demo.USERS}
    assert set().union(*(user.roles for user in users.values())) == set(ROLES)
    for role in ROLES:
        assert any(user.roles == {role} for user in users.values()), role
    assert users["night@demo.opvang.be"].roles == {"operator", "manager"}
    shelter = users["shelter@demo.opvang.be"]
    assert shelter.facilities and {f.region.slug for f in shelter.facilities} == {"antwerpen"}
    manager = users["manager@demo.opvang.be"]
    assert [region.slug for region in manager.regions] == ["antwerpen"] and manager.phone
    for email in users:
        user = accounts.authenticate(email, demo.PASSWORD, clock.now(), ip=None)
        assert user.email == email


def test_seed_demo_prints_the_logins(seeded):
    for user in demo.USERS:
        line = next(line for line in seeded.output.splitlines() if line.startswith(user.email + " "))
        assert demo.PASSWORD in line
    assert "Loaded 6 regions" in seeded.output


def test_demo_users_log_in_on_the_web(client, seeded):
    response = client.post("/login", data={"email": "shelter@demo.opvang.be", "password": demo.PASSWORD})
    assert response.status_code == 302


def test_if_empty_loads_into_an_empty_database_and_then_does_nothing(runner):
    first = runner.invoke(args=["seed-demo", "--if-empty"])
    assert first.exit_code == 0, first.output
    assert count(Facility) > 0
    before = counts()

    second = runner.invoke(args=["seed-demo", "--if-empty"])

    assert second.exit_code == 0, second.output
    assert "already has regions" in second.output
    assert counts() == before


def test_if_empty_does_nothing_when_the_database_has_a_region(runner):
    factories.region("gent")
    db.session.commit()

    result = runner.invoke(args=["seed-demo", "--if-empty"])

    assert result.exit_code == 0
    assert "demo data not loaded" in result.output
    assert count(Region) == 1 and count(Facility) == 0 and count(User) == 0


def test_seeding_again_resets_the_demo_without_duplicates(runner, seeded):
    before = {key: value for key, value in counts().items() if key not in ("AuditEvent", "CapacityChange")}
    unit = db.session.scalars(
        select(CapacityUnit).join(Facility).where(Facility.slug == "crisiscentrum-antwerpen")).first()
    unit.available = 7
    db.session.commit()

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert {key: value for key, value in counts().items() if key not in ("AuditEvent", "CapacityChange")} == before
    db.session.refresh(unit)
    assert unit.available == 2


def test_demo_service_loads_without_committing(app):
    result = demo.load(clock.now())
    assert result.regions == 6 and result.justice_houses == 15
    assert result.facilities.count == count(Facility) and not result.facilities.updated
    db.session.rollback()
    assert count(Region) == 0 and count(Facility) == 0


def test_the_demo_alert_rule_warns_the_antwerpen_managers_when_crisis_beds_run_short(app, clock, seeded):
    """The README's walk-through: Crisiscentrum Antwerpen to 0 crisis beds takes
    the region below its rule; five minutes later the managers get an SMS.
    (The hotline's rules have episodes of their own: not these.)"""
    from app.models import Alert, OutboxMessage
    from app.services.alerts import evaluation
    from app.services.core.access import Actor
    from app.services.registry import capacity

    rule = db.session.scalar(select(AlertRule).where(AlertRule.metric == "free_places"))
    assert (rule.region.slug, rule.kinds, rule.threshold) == ("antwerpen", ["crisis_bed"], 2)

    def episode():
        return db.session.scalar(select(Alert).where(Alert.rule_id == rule.id))

    evaluation.evaluate(clock.now())
    assert episode() is None  # 3 free at the start

    beds = db.session.scalar(select(CapacityUnit).join(Facility).where(
        Facility.slug == "crisiscentrum-antwerpen", CapacityUnit.kind.has(code="crisis_bed")))
    staff = accounts.get_user_by_email("shelter@demo.opvang.be")
    capacity.set_available(Actor(user=staff, source="web"), beds, 0, beds.version, clock.now())
    evaluation.evaluate(clock.now())
    assert episode().state == "pending"
    clock.advance(minutes=rule.for_minutes)
    evaluation.evaluate(clock.now())
    assert episode().state == "firing"
    sms_to = {message.user.email for message in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.alert_id == episode().id, OutboxMessage.channel == "sms"))}
    assert sms_to == {"manager@demo.opvang.be", "night@demo.opvang.be"}


@pytest.mark.parametrize("setting", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMTP_HOST"])
@pytest.mark.parametrize("if_empty", [[], ["--if-empty"]])
def test_seed_demo_refuses_where_texts_or_mails_go_out_for_real(runner, monkeypatch, setting, if_empty):
    monkeypatch.setitem(current_app.config, setting, "configured")  # the app the command runs in
    before = counts()

    result = runner.invoke(args=["seed-demo", *if_empty])

    assert result.exit_code != 0
    assert f"demo data not loaded: {setting} is configured" in result.output
    assert counts() == before


@pytest.mark.parametrize("if_empty", [[], ["--if-empty"]])
def test_seed_demo_refuses_where_the_database_has_users_of_its_own(runner, if_empty):
    # No regions yet, but a user made with `flask users create`: the database is in use.
    factories.user("admin", email="director@refuge.example")
    db.session.commit()
    before = counts()

    result = runner.invoke(args=["seed-demo", *if_empty])

    assert result.exit_code != 0
    assert "demo data not loaded: the database has 1 user of its own" in result.output
    assert counts() == before


def test_the_readme_walk_of_flow_d_holds_on_the_demo_data(seeded, clock):
    """README, "A caller in danger (flow D)": Vluchthuis Gent full, a high-risk
    mother from Gent with a boy of 11 and a girl of 4 whose abuser lives in
    Sint-Niklaas finds no refuge place in her region; her request is offered
    the places Vluchthuis Gent frees, held, and accepted by the refuge."""
    from app.models import PlacementOffer
    from app.services.core.access import Actor
    from app.services.hotline import calls
    from app.services.placement import holds, offers, requests, search
    from app.services.placement.criteria import parse_criteria
    from app.services.registry import capacity

    now = clock.now()
    operator = db.session.scalar(select(User).where(User.email == "operator@demo.opvang.be"))
    staff = db.session.scalar(select(User).where(User.email == "refuge@demo.opvang.be"))
    calls.set_on_duty(Actor(operator, "web"), operator, True, now)
    refuge = db.session.scalar(select(Facility).where(Facility.slug == "vluchthuis-gent"))
    unit = next(unit for unit in refuge.units if unit.kind.code == "refuge_place")
    capacity.set_available(Actor(staff, "sms"), unit, 0, unit.version, now)
    contact = factories.call()
    contact.risk_level = "high"
    db.session.commit()

    criteria = parse_criteria({"client_type": "victim", "children": "11m, 4", "postcode": "9000",
                               "kinds": ["refuge_place"], "beyond_region": "false", "call_id": contact.id,
                               "danger_places": [{"postcode": "9100"}]})
    found = search.search(Actor(operator, "web"), criteria, now, preference_km=25)
    assert found.results == [] and found.turn_away is not None
    assert refuge.id not in found.excluded_facility_ids
    aalst = db.session.scalar(select(Facility.id).where(Facility.slug == "vluchthuis-aalst"))
    assert aalst in found.excluded_facility_ids
    filed = requests.file(Actor(operator, "web"), criteria, now)
    db.session.commit()
    assert filed.risk_level == "high" and filed.offers == []

    capacity.set_available(Actor(staff, "sms"), unit, 3, unit.version, now)
    db.session.commit()
    offer = db.session.scalars(select(PlacementOffer)).one()
    assert (offer.request_id, offer.unit_id, offer.places) == (filed.id, unit.id, 3)
    notice = db.session.scalars(select(OutboxMessage).where(OutboxMessage.user_id == operator.id)).one()
    assert notice.body == f"Opvang: aanvraag {filed.id}: er is misschien een plaats."
    hold = offers.take(Actor(operator, "web"), offer, now)
    db.session.commit()
    assert hold.status == "requested" and hold.request_id == filed.id
    assert hold.minutes == current_app.config["HOLD_LONGEST_MINUTES"]  # high risk: the longest hold
    holds.accept(Actor(staff, "web"), hold, now)
    holds.confirm(Actor(staff, "web"), hold, now)
    db.session.commit()
    assert filed.status == "placed"


# --- the made-up past: a few weeks of history and their daily statistics ------------------------


def midnight_today():
    from app.services.statistics import days

    return days.bounds(days.local_day(clock.now()))[0]


def test_seed_demo_makes_up_weeks_of_history_all_before_today(seeded):
    from app.models import Call, CallbackAttempt, Hold, PlacementRequest, Referral, TurnAway
    from app.services import demo_history

    assert "Made up 35 days of history before today" in seeded.output
    today = midnight_today()
    start = demo_history.history_start(clock.now(), demo_history.HISTORY_DAYS)
    past = [change for change in db.session.scalars(select(CapacityChange)) if change.source != "import"]
    assert len(past) > 1000 and {change.source for change in past} == {"web", "sms", "api", "hold"}
    assert all(start < change.at < today for change in past)
    holds = list(db.session.scalars(select(Hold)))
    assert len(holds) > 50 and all(hold.closed_at and start < hold.created_at < hold.closed_at < today
                                   for hold in holds)
    assert {hold.outcome for hold in holds} >= {"admitted", "no_show", "elsewhere", "cancelled", "expired", "declined"}
    requests = list(db.session.scalars(select(PlacementRequest)))
    assert requests and all(request.status != "open" and request.closed_at < today for request in requests)
    turn_aways = list(db.session.scalars(select(TurnAway)))
    assert len(turn_aways) > 100 and all(start < turn_away.at < today for turn_away in turn_aways)
    assert {turn_away.reason for turn_away in turn_aways} == {"full", "ineligible", "closed"}
    referrals = list(db.session.scalars(select(Referral)))
    assert referrals and {referral.status for referral in referrals} == {"arrived", "declined"}
    calls = list(db.session.scalars(select(Call)))
    assert len(calls) > 300 and all(call.ended_at < today for call in calls)
    assert {call.called_number for call in calls} == {demo_history.HOTLINE_NUMBER}
    assert db.session.scalar(select(func.count()).select_from(CallbackAttempt)) > 0
    # Nothing is left waiting: no voicemail unheard, no hold holding, no call-back due.
    assert all(call.voicemail_status in (None, "handled") and call.status != "voicemail" for call in calls)


def test_the_demo_history_names_nobody(seeded):
    from app.models import Call, Hold, PlacementRequest, Referral, TurnAway

    calls = list(db.session.scalars(select(Call)))
    assert all(call.number_sealed is None and call.notes is None and not call.risk_answers for call in calls)
    assert all(call.caller_masked == "withheld" or call.caller_masked.startswith("+32 4") for call in calls)
    assert all((hold.household, hold.note, hold.contact) == (None, None, None)
               for hold in db.session.scalars(select(Hold)))
    for model in (TurnAway, PlacementRequest, Referral):
        assert all(row.note is None for row in db.session.scalars(select(model))), model


def test_the_demo_history_is_each_units_counts_in_order(seeded):
    """Each change starts where the one before it ended, within the unit's
    total, and the last one is today's count."""
    by_unit = {}
    for change in db.session.scalars(select(CapacityChange).where(CapacityChange.field == "available")
                                     .order_by(CapacityChange.id)):
        by_unit.setdefault(change.unit_id, []).append(change)
    for unit in db.session.scalars(select(CapacityUnit)):
        changes = by_unit[unit.id]
        assert [change.at for change in changes] == sorted(change.at for change in changes), unit.id
        for before, after in zip(changes, changes[1:], strict=False):
            assert after.before == before.after, unit.id
        assert all(0 <= change.after <= unit.total for change in changes), unit.id
        assert changes[-1].after == unit.available


def test_the_demo_closes_a_crisis_centre_for_intake_days_before_today(seeded):
    leuven = db.session.scalar(select(Facility).where(Facility.slug == "crisiscentrum-leuven"))
    switches = list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "facilities", AuditEvent.object_id == leuven.id,
                                 AuditEvent.action.in_(("facility.open", "facility.close")))
        .order_by(AuditEvent.at)))
    assert [event.action for event in switches] == ["facility.open", "facility.close"]
    assert midnight_today() - timedelta(days=5) < switches[1].at < midnight_today()
    assert not leuven.open_for_intake and leuven.closed_reason


def test_the_demo_history_has_its_daily_statistics(seeded):
    from app.models.statistics import HotlineDay, RegionKindDay, StatisticDay
    from app.services import demo_history
    from app.services.statistics import days

    today = days.local_day(clock.now())
    history = {today - timedelta(days=back) for back in range(demo_history.HISTORY_DAYS + 1)}
    for statistic in ("region_daily", "hotline_daily"):
        computed = set(db.session.scalars(select(StatisticDay.day).where(StatisticDay.statistic == statistic)))
        assert computed == history, statistic
    rows = list(db.session.scalars(select(RegionKindDay).where(RegionKindDay.day < today)))
    assert {row.day for row in rows} == history - {today}
    # Shortages: hours at zero, turn-aways of every reason, held places with several outcomes, acceptances.
    assert sum(row.hours_at_zero for row in rows if row.kind.code == "crisis_bed") > 24
    limburg = [row for row in rows if (row.region.slug, row.kind.code) == ("limburg", "crisis_bed")]
    assert max(row.hours_at_zero for row in limburg) >= 2 and min(row.mean_free for row in limburg) < 1
    assert all(sum(row.turn_aways[reason] for row in rows) > 0 for reason in ("full", "ineligible", "closed"))
    assert sum(row.turn_away_households["children"] for row in rows) > 0
    assert sum(row.requests_opened for row in rows) > 0
    outcomes = {outcome for row in rows for outcome, n in row.holds.items() if n}
    assert {"admitted", "no_show", "expired"} <= outcomes
    accepted = [row for row in rows if row.referrals_accepted]
    assert accepted and all(row.referral_accept_median_h > 0 for row in accepted)
    hotline = list(db.session.scalars(select(HotlineDay).where(HotlineDay.day < today)))
    assert {row.day for row in hotline} == history - {today}
    for figure in ("answered", "missed", "menu_hangups", "voicemails", "callbacks"):
        assert sum(getattr(row, figure) for row in hotline) > 0, figure
    assert all(row.final for row in hotline)


def test_the_demo_history_is_the_same_every_time(app, clock):
    """Seeded random: the same clock gives the same past (and statistics)."""
    from app.models import Call, Hold, TurnAway
    from app.models.statistics import RegionKindDay

    def fingerprint():
        db.session.expire_all()
        return (
            [(change.at, change.before, change.after, change.source) for change in db.session.scalars(
                select(CapacityChange).order_by(CapacityChange.id))],
            [(row.at, row.reason, row.criteria) for row in db.session.scalars(select(TurnAway).order_by(TurnAway.at))],
            [(row.created_at, row.outcome) for row in db.session.scalars(select(Hold).order_by(Hold.created_at))],
            [(row.sid, row.started_at, row.answered_at) for row in db.session.scalars(select(Call).order_by(Call.sid))],
            [(row.day, row.region.slug, row.kind.code, row.mean_free, row.hours_at_zero, row.turn_aways)
             for row in db.session.scalars(select(RegionKindDay).order_by(RegionKindDay.day, RegionKindDay.kind_id))
             if row.region.slug == "limburg"],
        )

    demo.load(clock.now(), history_days=7)
    first = fingerprint()
    db.session.rollback()
    demo.load(clock.now(), history_days=7)
    assert fingerprint() == first and len(first[0]) > 100


def test_seeding_again_keeps_the_history_as_it_was(runner, seeded, clock):
    from app.models import Call, Hold, TurnAway

    def history():
        return [count(model) for model in (Call, Hold, TurnAway)], set(db.session.scalars(
            select(CapacityChange.at).where(CapacityChange.source != "import")))

    before = history()
    clock.advance(days=2)

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 0, result.output
    assert "Made up" not in result.output
    assert history() == before
