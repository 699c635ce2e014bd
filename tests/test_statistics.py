"""Daily statistics per region, kind and day (issue 12, part 1): exact
figures for a scripted day, computed again to the same rows, rebuilt except
where the purge has removed the detail, kept across the purge, kept current
by the scheduler's job, and read through GET /api/v1/stats/daily."""

from datetime import date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import CapacityKind, PurgeHorizon, RegionKindDay, StatisticDay, TurnAway
from app.services.core.access import Actor
from app.services.placement import holds, referrals, requests, turn_aways
from app.services.placement.criteria import parse_criteria
from app.services.registry import capacity, facilities
from app.services.scheduling import jobs, retention
from app.services.statistics import daily, region_daily
from tests import factories as make
from tests.api import assert_documented, call

BRUSSELS = ZoneInfo("Europe/Brussels")
# The scripted day: Sunday 29 November 2026, the day after the suite's START.
DAY = date(2026, 11, 29)
STATS = "/api/v1/stats/daily"


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BRUSSELS)


def household(*, kinds=("crisis_bed",), adults=1, children=(), needs=(), languages=(), client_type="victim"):
    """Criteria as a turn-away keeps them (Criteria.stored())."""
    return {"client_type": client_type, "adults": adults, "children": list(children),
            "child_genders": [None] * len(children), "gender": "female", "needs": list(needs),
            "languages": list(languages), "postcode": "2000", "municipality": "Antwerpen",
            "region": "antwerpen", "kinds": list(kinds), "avoided": 0, "beyond_region": None}


@pytest.fixture
def w(app, clock):
    """At START (the evening before DAY): in Antwerpen crisis beds at A (2 of
    8 available), B (0 of 4) and C (3 of 3), and a relief point; in Limburg
    10 of 10 crisis beds at L."""
    antwerpen, limburg = make.region("antwerpen"), make.region("limburg")
    a = make.facility("a", units={"crisis_bed": (8, 2)})
    b = make.facility("b", units={"crisis_bed": (4, 0)})
    c = make.facility("c", units={"crisis_bed": (3, 3)})
    point = make.facility("point", type="relief_point", units={"intake_slot": (5, 5)})
    lim = make.facility("l", region_slug="limburg", municipality="Hasselt", postcode="3500",
                        units={"crisis_bed": (10, 10)})
    people = SimpleNamespace(
        operator=make.user("operator"),
        manager=make.user("manager", regions=[antwerpen]),
        other_manager=make.user("manager", regions=[limburg]),
        admin=make.user("admin"),
        partner=make.user("partner"),
        staff=make.user("shelter_staff", facilities_=[a]),
        limburg_staff=make.user("shelter_staff", facilities_=[lim]),
    )
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    kinds = dict(db.session.execute(select(CapacityKind.code, CapacityKind.id)).all())
    return SimpleNamespace(antwerpen=antwerpen, limburg=limburg, a=a, b=b, c=c, point=point, lim=lim,
                           people=people, tokens=tokens, kinds=kinds,
                           admin=Actor(user=people.admin, source="web"),
                           operator=Actor(user=people.operator, source="web"))


def script_the_day(w, clock):
    """Counts, a hold, a closed facility, turn-aways, a request, hold
    outcomes and referrals at known times of DAY; committed."""
    def at(hour, minute=0):
        clock.at = local(hour, minute)
        return clock.at

    referred_early = referrals.create(w.operator, clock.now(), facility_id=w.point.id, kind="intake_slot")
    a_bed, l_bed = w.a.units[0], w.lim.units[0]

    # Antwerpen's crisis beds: 5 free at midnight (A 2, C 3).
    capacity.set_available(w.admin, a_bed, 0, a_bed.version, at(6))  # 3 free
    capacity.set_open_for_intake(w.admin, w.c, False, "water damage", at(9))  # 0 free
    capacity.set_available(w.admin, a_bed, 4, a_bed.version, at(12))  # 4 free
    at(13)
    admitted = make.hold(a_bed, w.people.operator, persons=2, minutes=240)  # 2 free
    holds.confirm(w.operator, admitted, at(15))  # A 4 → 2 available, no hold: 2 free
    capacity.set_open_for_intake(w.admin, w.c, True, None, at(18))  # 5 free until midnight

    # Limburg: holds with every ending, taking places while they last.
    at(10)
    make.hold(l_bed, w.people.operator, persons=1, minutes=30)  # expires at 10:30; no job closes it
    at(11)
    cancelled = make.hold(l_bed, w.people.operator, persons=1, minutes=60)
    no_show = make.hold(l_bed, w.people.operator, persons=1, minutes=120)
    holds.release(w.operator, cancelled, at(11, 30), outcome="cancelled")
    holds.release(w.operator, no_show, at(12), outcome="no_show")
    at(14)
    declined = make.hold(l_bed, w.people.operator, persons=2, minutes=60)
    holds.release(Actor(user=w.people.limburg_staff, source="web"), declined, at(14, 30), outcome="declined",
                  reason="no_room")

    # Turn-aways in Antwerpen: one of each reason, one for two kinds (counted
    # under the first), one without a search, one withdrawn, one the day after.
    def turn_away(key, reason, criteria, hour):
        return turn_aways.record(w.operator, at(hour), key=key, reason=reason, criteria=criteria,
                                 region_id=w.antwerpen.id)

    turn_away("session:full", "full", household(children=(2, 7), needs=("wheelchair",), languages=("fr",)), 10)
    turn_away("session:ineligible", "ineligible", household(children=(14,), languages=("nl",)), 11)
    turn_away("session:closed", "closed", household(adults=2, client_type="couple"), 16)
    turn_away("session:two-kinds", "full", household(kinds=("family_room", "crisis_bed"), children=(4,)), 17)
    turn_away("session:no-search", "full", {}, 19)
    turn_away("session:withdrawn", "full", household(), 20)
    turn_aways.withdraw("session:withdrawn", at(20, 30))

    # Requests for crisis beds: two filed, closed after 1 and 2.5 hours (median 1.75), one left open.
    def file_request():
        return requests.file(w.operator, parse_criteria({"client_type": "victim", "postcode": "2000",
                                                          "kinds": ["crisis_bed"]}), clock.now())

    at(2)
    early = file_request()
    requests.withdraw(w.operator, early, "placed with family", at(3))
    at(21)
    late = file_request()
    requests.withdraw(w.operator, late, "no longer needed", at(23, 30))

    # C's crisis beds grow from 3 to 5 at 20:00 (the new ones not free yet).
    c_bed = w.c.units[0]
    facilities.save_unit(w.admin, w.c, c_bed.kind, {"total": 5, "available": 3}, at(20), unit=c_bed)

    # Referrals to the relief point accepted after 11.5 and 2.5 hours: median 7.
    referred_late = referrals.create(w.operator, at(7), facility_id=w.point.id, kind="intake_slot")
    referrals.update_status(w.admin, referred_early, "accepted", at(8, 30))
    referrals.update_status(w.admin, referred_late, "accepted", at(9, 30))

    turn_aways.record(w.operator, local(1, day=DAY + timedelta(days=1)), key="session:next-day", reason="full",
                      criteria=household(), region_id=w.antwerpen.id)
    clock.at = local(12, day=DAY + timedelta(days=1))
    db.session.commit()


def rows() -> dict[tuple[str, str, date], dict]:
    db.session.expire_all()
    found = {}
    for row in db.session.scalars(select(RegionKindDay).order_by(RegionKindDay.id)):
        found[(row.region.slug, row.kind.code, row.day)] = {
            column: getattr(row, column) for column in (
                "mean_free", "min_free", "hours_at_zero", "mean_total", "facilities", "turn_aways",
                "turn_away_households", "requests_opened", "requests_closed", "request_wait_median_h", "holds",
                "referrals_accepted", "referral_accept_median_h", "computed_at", "final")}
    return found


NO_TURN_AWAYS = {"full": 0, "ineligible": 0, "closed": 0}
NO_HOLDS = {"admitted": 0, "declined": 0, "no_show": 0, "elsewhere": 0, "cancelled": 0, "expired": 0, "lapsed": 0}


def test_a_scripted_day_gives_exact_figures(w, clock):
    script_the_day(w, clock)
    assert region_daily.compute_day(DAY, clock.now()) == 4
    db.session.commit()
    found = rows()
    assert set(found) == {("antwerpen", "crisis_bed", DAY), ("antwerpen", "family_room", DAY),
                          ("antwerpen", "intake_slot", DAY), ("limburg", "crisis_bed", DAY)}

    beds = found[("antwerpen", "crisis_bed", DAY)]
    # 5 free for 6 h, 3 for 3 h, 0 for 3 h (C closed, A at 0), 4 for 1 h,
    # 2 for 2 h (2 held), 2 for 3 h (confirmed), 5 for 6 h: 83 place-hours.
    assert (beds["mean_free"], beds["min_free"], beds["hours_at_zero"], beds["facilities"]) == (
        round(83 / 24, 2), 0, 3.0, 3)
    assert beds["turn_aways"] == {"full": 1, "ineligible": 1, "closed": 1}
    assert beds["turn_away_households"] == {
        "households": 3, "client_types": {"couple": 1, "victim": 2}, "adults": 4, "children": 3,
        "with_children": 2, "child_ages": {"0-2": 1, "3-5": 0, "6-11": 1, "12-17": 1},
        "needs": {"wheelchair": 1, "pets": 0, "high_security": 0}, "languages": {"fr": 1, "nl": 1}}
    # 15 places for 20 h, 17 for the last 4.
    assert beds["mean_total"] == round((15 * 20 + 17 * 4) / 24, 2)
    assert beds["requests_opened"] == 2
    assert beds["requests_closed"] == {"placed": 0, "withdrawn": 2, "expired": 0}
    assert beds["request_wait_median_h"] == 1.75
    assert beds["holds"] == {**NO_HOLDS, "admitted": 1}
    assert (beds["referrals_accepted"], beds["referral_accept_median_h"]) == (0, None)
    assert beds["final"] is True and beds["computed_at"] == clock.now()

    # No family rooms in Antwerpen: nothing free all day, one household turned away.
    rooms = found[("antwerpen", "family_room", DAY)]
    assert (rooms["mean_free"], rooms["min_free"], rooms["hours_at_zero"], rooms["facilities"]) == (0, 0, 24.0, 0)
    assert rooms["turn_aways"] == {**NO_TURN_AWAYS, "full": 1}
    assert (rooms["mean_total"], rooms["request_wait_median_h"]) == (0, None)
    assert rooms["turn_away_households"]["child_ages"]["3-5"] == 1

    slots = found[("antwerpen", "intake_slot", DAY)]
    assert (slots["mean_free"], slots["min_free"], slots["facilities"], slots["mean_total"]) == (5.0, 5, 1, 5.0)
    assert (slots["referrals_accepted"], slots["referral_accept_median_h"]) == (2, 7.0)

    # Limburg: 10 free but while holds took them: 1 for ½ h, 2 for ½ h, 1 for ½ h, 2 for ½ h.
    limburg = found[("limburg", "crisis_bed", DAY)]
    assert (limburg["mean_free"], limburg["min_free"], limburg["hours_at_zero"]) == (round(237 / 24, 2), 8, 0.0)
    assert limburg["holds"] == {**NO_HOLDS, "expired": 1, "cancelled": 1, "no_show": 1, "declined": 1}
    assert limburg["turn_aways"] == NO_TURN_AWAYS and limburg["requests_opened"] == 0
    assert limburg["mean_total"] == 10.0
    assert limburg["requests_closed"] == {"placed": 0, "withdrawn": 0, "expired": 0}


def test_today_is_the_day_so_far_and_not_final(w, clock):
    clock.at = local(6, day=DAY)  # C's 3 and A's 2 free since midnight
    capacity.set_available(w.admin, w.a.units[0], 0, w.a.units[0].version, clock.now())
    clock.at = local(9, day=DAY)  # 3 free for the last 3 hours
    region_daily.compute_day(DAY, clock.now())
    beds = rows()[("antwerpen", "crisis_bed", DAY)]
    assert (beds["mean_free"], beds["min_free"], beds["final"]) == (round((5 * 6 + 3 * 3) / 9, 2), 3, False)
    assert region_daily.compute_day(DAY + timedelta(days=1), clock.now()) == 0  # not begun


def test_a_facility_closed_by_editing_it_counts_no_places_from_then(w, clock):
    clock.at = local(12)  # A's 2 and C's 3 free since midnight; C closed by an admin's edit
    make.facility("c", units={"crisis_bed": (3, 3)}, open_for_intake=False, closed_reason="renovation")
    clock.at = local(12, day=DAY + timedelta(days=1))
    region_daily.compute_day(DAY, clock.now())
    beds = rows()[("antwerpen", "crisis_bed", DAY)]
    assert (beds["mean_free"], beds["min_free"]) == ((5 * 12 + 2 * 12) / 24, 2)


def test_computing_a_day_twice_gives_the_same_rows_and_no_duplicates(w, clock):
    script_the_day(w, clock)
    region_daily.compute_day(DAY, clock.now())
    db.session.commit()
    first = rows()
    region_daily.compute_day(DAY, clock.now())
    db.session.commit()
    assert rows() == first
    assert db.session.scalar(select(func.count()).select_from(RegionKindDay)) == 4


def test_a_row_no_longer_computed_is_removed(w, clock):
    turn_aways.record(w.operator, local(10), key="session:x", reason="full",
                      criteria=household(kinds=("emergency_bed",)), region_id=w.antwerpen.id)
    clock.at = local(12, day=DAY + timedelta(days=1))
    region_daily.compute_day(DAY, clock.now())
    assert ("antwerpen", "emergency_bed", DAY) in rows()
    turn_aways.withdraw("session:x", clock.now())
    region_daily.compute_day(DAY, clock.now())
    assert ("antwerpen", "emergency_bed", DAY) not in rows()


def test_a_rebuild_gives_the_same_rows(w, clock):
    script_the_day(w, clock)
    region_daily.compute_day(DAY, clock.now())
    db.session.commit()
    before = {key: {**row, "computed_at": None} for key, row in rows().items()}
    clock.advance(hours=1)
    result = daily.rebuild(DAY - timedelta(days=1), clock.now())["region_daily"]
    db.session.commit()
    assert result.rebuilt == [DAY - timedelta(days=1), DAY, DAY + timedelta(days=1)] and result.skipped == []
    after = {key: {**row, "computed_at": None} for key, row in rows().items() if key[2] == DAY}
    assert after == before
    assert {row["computed_at"] for key, row in rows().items()} == {clock.now()}


def test_a_rebuild_skips_purged_days_and_the_purge_keeps_the_figures(w, clock):
    script_the_day(w, clock)
    daily.run(clock.now())  # finalises DAY (the job's catch-up), and today so far
    db.session.commit()
    kept = {key: row for key, row in rows().items() if key[2] == DAY}
    assert kept[("antwerpen", "crisis_bed", DAY)]["turn_aways"] == {"full": 1, "ineligible": 1, "closed": 1}

    # 91 days on, the purge blanks the turn-aways' criteria of DAY.
    clock.at = local(12, day=DAY + timedelta(days=91))
    counts = retention.purge(clock.now())
    db.session.commit()
    assert counts["turn_away_criteria"] == 6
    assert all(turn_away.criteria == {} for turn_away in db.session.scalars(select(TurnAway)))
    assert {key: row for key, row in rows().items() if key[2] == DAY} == kept

    result = daily.rebuild(DAY, clock.now())["region_daily"]
    db.session.commit()
    # Purged before 30 November 12:00: that day and DAY are skipped.
    assert result.skipped == [DAY, DAY + timedelta(days=1)]
    assert result.rebuilt[0] == DAY + timedelta(days=2) and result.rebuilt[-1] == DAY + timedelta(days=91)
    assert {key: row for key, row in rows().items() if key[2] == DAY} == kept

    # A longer window afterwards brings nothing back: the horizon recorded stays.
    current_app.config["RETENTION_DAYS_SEARCHES"] = 3650
    assert db.session.get(PurgeHorizon, "RETENTION_DAYS_SEARCHES").purged_before == clock.now() - timedelta(days=90)
    assert DAY in daily.rebuild(DAY, clock.now())["region_daily"].skipped
    assert {key: row for key, row in rows().items() if key[2] == DAY} == kept


def test_the_cli_rebuilds_and_names_the_days_skipped(w, clock, runner):
    clock.at = local(12, day=DAY + timedelta(days=92))
    retention.purge(clock.now())
    db.session.commit()
    result = runner.invoke(args=["stats", "rebuild", "--since", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "region_daily: rebuilt 90 days (2026-12-02 to 2027-03-01)",
        "region_daily: skipped 3 days, their detail purged (2026-11-29 to 2026-12-01)",
        # A call's facts are never purged: the hotline's days can all be rebuilt.
        "hotline_daily: rebuilt 93 days (2026-11-29 to 2027-03-01)",
    ]
    for bad in ("2026-11-31", "yesterday", "2027-03-02"):
        result = runner.invoke(args=["stats", "rebuild", "--since", bad])
        assert result.exit_code != 0 and "since" in result.output


def test_the_job_keeps_today_current_and_finalises_the_days_past(w, clock):
    assert any(job.target == "app.services.statistics.daily:run" for job in jobs.JOBS)
    clock.at = local(9, day=DAY)
    daily.run(clock.now())
    db.session.commit()
    assert rows()[("antwerpen", "crisis_bed", DAY)]["final"] is False
    computed = dict(db.session.execute(select(StatisticDay.day, StatisticDay.final)).all())
    # The week before, computed final once (nothing of it needs it again).
    assert computed == {**{DAY - timedelta(days=back): True for back in range(1, 8)}, DAY: False}
    # The units were made at START (21:00 the day before): none before that
    # day; on it, 0 free (their history's first `before`) until 21:00, then 5.
    found = rows()
    assert {key[2] for key in found} == {DAY - timedelta(days=1), DAY}
    eve = found[("antwerpen", "crisis_bed", DAY - timedelta(days=1))]
    assert (eve["mean_free"], eve["min_free"], eve["hours_at_zero"], eve["facilities"], eve["final"]) == (
        round(5 * 3 / 24, 2), 0, 21.0, 3, True)

    clock.at = local(0, 5, day=DAY + timedelta(days=1))
    capacity.set_available(w.admin, w.a.units[0], 0, w.a.units[0].version, clock.now())
    daily.run(clock.now())
    db.session.commit()
    found = rows()
    assert found[("antwerpen", "crisis_bed", DAY)]["final"] is True
    assert found[("antwerpen", "crisis_bed", DAY)]["mean_free"] == 5.0
    assert found[("antwerpen", "crisis_bed", DAY + timedelta(days=1))]["final"] is False
    first = found
    daily.run(clock.now())  # DAY is final: only today again
    db.session.commit()
    assert rows() == first


# --- the API --------------------------------------------------------------------------


@pytest.fixture
def computed(w, clock):
    script_the_day(w, clock)
    daily.rebuild(DAY, clock.now())
    db.session.commit()
    return w


def stats(client, token, query=""):
    return call(client, "GET", f"{STATS}{query}", token)


def test_the_api_gives_the_rows_as_api_md(client, computed):
    w = computed
    response = stats(client, w.tokens.manager, "?region=antwerpen&kind=crisis_bed&since=2026-11-29&until=2026-11-29")
    body = assert_documented(response, STATS)
    assert body == [{
        "day": "2026-11-29", "region": "antwerpen", "kind": "crisis_bed", "mean_free": round(83 / 24, 2),
        "min_free": 0, "hours_at_zero": 3.0, "turn_aways": {"full": 1, "ineligible": 1, "closed": 1},
        "requests_opened": 2, "holds": {**NO_HOLDS, "admitted": 1}, "referral_accept_median_h": None,
    }]


def test_managers_read_their_regions_admins_all(client, computed):
    w = computed
    by_manager = assert_documented(stats(client, w.tokens.manager, "?since=2026-11-29"), STATS)
    assert {row["region"] for row in by_manager} == {"antwerpen"}
    assert [(row["day"], row["kind"]) for row in by_manager][:3] == [
        ("2026-11-29", "crisis_bed"), ("2026-11-29", "family_room"), ("2026-11-29", "intake_slot")]
    by_admin = assert_documented(stats(client, w.tokens.admin, "?since=2026-11-29&until=2026-11-29"), STATS)
    assert {(row["region"], row["kind"]) for row in by_admin} == {
        ("antwerpen", "crisis_bed"), ("antwerpen", "family_room"), ("antwerpen", "intake_slot"),
        ("limburg", "crisis_bed")}
    # The default period: the 30 days up to today (the day after DAY).
    assert {row["day"] for row in assert_documented(stats(client, w.tokens.admin), STATS)} == {
        "2026-11-29", "2026-11-30"}


@pytest.mark.parametrize("role", ["operator", "partner", "staff"])
def test_operators_partners_and_staff_are_refused(client, computed, role):
    response = stats(client, getattr(computed.tokens, role))
    assert_documented(response, STATS)
    assert response.status_code == 403


def test_a_manager_asking_for_another_region_is_refused(client, computed):
    response = stats(client, computed.tokens.other_manager, "?region=antwerpen")
    assert_documented(response, STATS)
    assert response.status_code == 403
    assert client.get(STATS).status_code == 401


@pytest.mark.parametrize(("query", "field"), [
    ("?region=atlantis", "region"),
    ("?kind=castle", "kind"),
    ("?since=2026-11-31", "since"),
    ("?until=29-11-2026", "until"),
    ("?since=2026-11-30&until=2026-11-29", "since"),
    ("?since=2025-11-29&until=2026-11-30", "since"),
])
def test_bad_queries_are_400(client, computed, query, field):
    response = stats(client, computed.tokens.admin, query)
    assert_documented(response, STATS)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


def test_a_year_is_the_longest_period(client, computed):
    response = stats(client, computed.tokens.admin, "?since=2025-11-30&until=2026-11-30")
    assert response.status_code == 200
