"""The demo's past: a few weeks of plausible, made-up history before today,
so that the reports and the daily statistics say something on a fresh
`make run` (PRODUCT.md flow F).

`write` draws it from a seeded random generator (the same days give the same
history) and writes it in bulk, dated from `start` up to each facility's last
save before now: the facilities' counts through the day (crisis centres
update morning and evening and run short at night, refuges change slowly,
relief points fill their slots by the afternoon on weekdays, one crisis
centre closes for intake a few days before today), holds with their
outcomes, turn-aways with their reasons and households, the requests some of
them filed, referrals to relief points accepted hours later, and the calls to
the demo hotline number (answered, missed, hung up in the menu, voicemails,
some called back). Everything is over before today's state: no hold is
still held, no request still open, no voicemail unheard. Nobody in it is
real: no names, no notes, and callers only as the hash and mask of made-up
numbers. Nothing here commits.
"""

import random
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import insert, select, update

from app.clock import local_zone
from app.extensions import db
from app.models import (
    AuditEvent,
    Call,
    CallbackAttempt,
    CapacityChange,
    CapacityKind,
    CapacityUnit,
    Facility,
    Hold,
    PlacementRequest,
    Referral,
    Region,
    TurnAway,
)
from app.models.placement import DECLINE_REASONS
from app.services.core.access import Actor
from app.services.hotline import phones
from app.services.registry import capacity

HISTORY_DAYS = 35
SEED = 12
# The hotline number the demo's calls dialled: the simulator's (app/web/simulator.py).
HOTLINE_NUMBER = "+3220000000"
# Made-up callers (the demo users' range): about one in four calls again.
CALLERS = [f"+3247000{n:04d}" for n in range(100, 400)]
# The facility that closes for intake a few days before today (closed in the demo file).
CLOSING = ("crisiscentrum-leuven", 4)

# How full each kind runs: the share of its places free, on average.
FREE_SHARE = {"crisis_bed": 0.3, "emergency_bed": 0.45, "refuge_place": 0.24, "family_room": 0.35,
              "intake_slot": 0.4, "offender_slot": 0.3}
# Regions where the crisis beds run shortest (their nights often end at zero).
SHORT = {"limburg": 0.6, "west-vlaanderen": 0.5}
# What a turned-away household searched for, and how often.
SEARCHED = (("crisis_bed", 40), ("refuge_place", 28), ("family_room", 12), ("emergency_bed", 8),
            ("offender_slot", 6), ("intake_slot", 6))
# Calls and turn-aways by hour of the day: few at night, most in the evening.
HOURLY = (2, 1, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 5, 5, 5, 6, 6, 7, 8, 9, 9, 8, 6, 4)
LANGUAGES = (("nl", 60), ("fr", 20), ("en", 8), ("ar", 7), ("tr", 5))


@dataclass
class History:
    """How many rows of each the history wrote."""

    changes: int = 0
    holds: int = 0
    turn_aways: int = 0
    requests: int = 0
    referrals: int = 0
    calls: int = 0
    days: list[date] = field(default_factory=list)


@dataclass
class _Unit:
    id: int
    facility_id: int
    slug: str
    region: str
    region_id: int
    kind: str
    total: int
    available: int
    stale_after_hours: int
    # Its history stops here: the facility's last save (before now).
    until: datetime
    times: list[datetime] = field(default_factory=list)
    values: list[int] = field(default_factory=list)
    # When a hold admitted there took its places (a change written as "hold").
    admitted: set[datetime] = field(default_factory=set)

    def at(self, moment: datetime) -> int:
        index = bisect_right(self.times, moment)
        return self.values[index - 1] if index else self.available


def history_start(now: datetime, days: int) -> datetime:
    """Local midnight `days` days before today: when the demo's past begins."""
    today = now.astimezone(local_zone()).date()
    return datetime.combine(today - timedelta(days=days), time(0), local_zone())


def write(now: datetime, days: int, saved_at: dict[str, datetime], users: dict[str, int], admin: Actor) -> History:
    """The `days` days before today: from history_start to today's midnight
    (or a facility's save in `saved_at`, by slug, if earlier), written in
    bulk after the facilities were imported at its start and before today's
    state is saved over it. `users` gives the demo users' ids by e-mail."""
    rng = random.Random(SEED)
    zone = local_zone()
    start = history_start(now, days)
    end = datetime.combine(now.astimezone(zone).date(), time(0), zone)
    result = History(days=[(start + timedelta(days=n)).date() for n in range((end.date() - start.date()).days)])
    units = _units(saved_at, end, now)
    _close_for_intake(units, admin, start, end)
    hold_rows, admissions = _holds(rng, units, result.days, users)
    _walk(rng, units, result.days, admissions)
    result.changes = _write_changes(units, users)
    hold_rows = [{name: value for name, value in row.items() if name != "unit"} for row in hold_rows
                 if _had_room(row)]
    db.session.execute(insert(Hold), hold_rows)
    result.holds = len(hold_rows)
    turn_aways, requests = _turn_aways(rng, units, result.days, end, users)
    db.session.execute(insert(TurnAway), turn_aways)
    if requests:
        db.session.execute(insert(PlacementRequest), requests)
    result.turn_aways, result.requests = len(turn_aways), len(requests)
    result.referrals = _referrals(rng, units, result.days, end, users)
    result.calls = _calls(rng, result.days, end, users)
    return result


# --- the facilities' counts --------------------------------------------------------------


def _units(saved_at: dict[str, datetime], end: datetime, now: datetime) -> list[_Unit]:
    rows = db.session.execute(
        select(CapacityUnit.id, Facility.id, Facility.slug, Region.slug, Region.id, CapacityKind.code,
               CapacityUnit.total, CapacityUnit.available, Facility.stale_after_hours)
        .join(Facility, CapacityUnit.facility_id == Facility.id)
        .join(Region, Facility.region_id == Region.id)
        .join(CapacityKind, CapacityUnit.kind_id == CapacityKind.id)
        .order_by(CapacityUnit.id))
    return [_Unit(unit_id, facility_id, slug, region, region_id, kind, total, available, stale_after_hours,
                  until=min(end, saved_at.get(slug, now)))
            for unit_id, facility_id, slug, region, region_id, kind, total, available, stale_after_hours in rows]


def _close_for_intake(units: list[_Unit], admin: Actor, start: datetime, end: datetime) -> None:
    """The facility closed in the demo file (imported closed at the start)
    opened right after, and closed again a few days before today."""
    slug, days_ago = CLOSING
    facility = db.session.scalar(select(Facility).where(Facility.slug == slug))
    if facility is None or facility.open_for_intake:
        return
    reason = facility.closed_reason
    capacity.set_open_for_intake(admin, facility, True, None, start + timedelta(minutes=1))
    closed_at = end - timedelta(days=days_ago) + timedelta(hours=10, minutes=12)
    capacity.set_open_for_intake(admin, facility, False, reason, closed_at)
    db.session.flush()
    for unit in units:
        if unit.slug == slug:
            unit.until = min(unit.until, closed_at)


def _at(day: date, hour: float) -> datetime:
    return datetime.combine(day, time(0), local_zone()) + timedelta(hours=hour)


def _updates(rng: random.Random, unit: _Unit, day: date) -> list[tuple[datetime, str]]:
    """When the unit's staff update it that day, and how: "level" (a new
    count around the kind's usual), "night" (fewer: arrivals at night),
    "open"/"fill" (a relief point's slots in the morning, taken by afternoon)."""
    kind, weekday = unit.kind, day.weekday() < 5
    if kind in ("crisis_bed", "emergency_bed"):
        moments = [(rng.uniform(7.25, 9.5), "level"), (rng.uniform(18, 20.5), "level")]
        if rng.random() < SHORT.get(unit.region, 0.35):
            moments.append((rng.uniform(22.3, 23.9), "night"))
    elif kind in ("refuge_place", "family_room"):
        moments = [(rng.uniform(8.5, 11), "level")] if rng.random() < 0.6 else []
        if rng.random() < 0.25:
            moments.append((rng.uniform(19, 21.5), "level"))
    elif kind == "intake_slot":
        moments = [(rng.uniform(8.7, 9.2), "open"), (rng.uniform(12.5, 16), "fill")] if weekday else []
    else:
        moments = [(rng.uniform(10, 16), "level")] if weekday and rng.random() < 0.35 else []
    return [(_at(day, hour), what) for hour, what in moments]


def _next_value(rng: random.Random, unit: _Unit, value: int, what: str) -> int:
    total = unit.total
    if what == "night":
        return max(0, value - rng.randint(1, 3))
    if what == "open":
        return max(0, total - rng.randint(0, 1))
    if what == "fill":
        return min(value, rng.randint(0, 2))
    share = FREE_SHARE[unit.kind] * (1 - SHORT.get(unit.region, 0) / 2 if unit.kind == "crisis_bed" else 1)
    return max(0, min(total, round(total * share + rng.gauss(0, max(0.6, total * 0.1)))))


def _walk(rng: random.Random, units: list[_Unit], days: list[date], admissions) -> None:
    """Each unit's counts through the days, in time order: its updates and
    the holds admitted (which take their places; one finding too few places
    left was never made: _had_room). The last count differs from today's, so
    that today's save is a change."""
    for unit in units:
        events = [(at, what, None) for day in days for at, what in _updates(rng, unit, day) if at < unit.until]
        events += [(hold["closed_at"], "admit", hold) for hold in admissions.get(unit.id, ())]
        events.sort(key=lambda event: event[0])
        value = unit.available
        for at, what, hold in events:
            if what == "admit":
                if value < hold["places"]:
                    continue
                value -= hold["places"]
                unit.admitted.add(at)
            else:
                value = _next_value(rng, unit, value, what)
            unit.times.append(at)
            unit.values.append(value)
        if unit.values and unit.values[-1] == unit.available:
            unit.values[-1] = unit.available - 1 if unit.available else 1


def _write_changes(units: list[_Unit], users: dict[str, int]) -> int:
    """The units' counts as the capacity history (in time order: the
    history's ids are its order), and each unit left at its last count."""
    staff = {"crisiscentrum-antwerpen": "shelter@demo.opvang.be", "vluchthuis-antwerpen": "shelter@demo.opvang.be",
             "vluchthuis-gent": "refuge@demo.opvang.be"}
    # These two send their counts from their own system.
    by_api = ("crisiscentrum-gent", "crisiscentrum-brussel")
    rows = []
    for unit in units:
        before = unit.available
        for at, value in zip(unit.times, unit.values, strict=True):
            if value == before:
                continue
            if at in unit.admitted:
                source, actor = "hold", users["operator@demo.opvang.be"]
            else:
                source = "api" if unit.slug in by_api else (
                    "sms" if at.astimezone(local_zone()).hour >= 22 else "web")
                actor = users.get(staff.get(unit.slug, ""))
            rows.append({"unit_id": unit.id, "at": at, "action": "set", "field": "available", "before": before,
                         "after": value, "source": source, "actor_id": actor})
            before = value
    rows.sort(key=lambda row: row["at"])
    if rows:
        db.session.execute(insert(CapacityChange), rows)
    for unit in units:
        if unit.times:
            last = unit.times[-1]
            db.session.execute(
                update(CapacityUnit).where(CapacityUnit.id == unit.id)
                .values(available=unit.values[-1], version=CapacityUnit.version + 1, updated_at=last,
                        stale_at=last + timedelta(hours=unit.stale_after_hours))
                .execution_options(synchronize_session=False))
    db.session.expire_all()
    return len(rows)


# --- holds, turn-aways, requests, referrals --------------------------------------------------------


def _weighted(rng: random.Random, choices) -> str:
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def _moment(rng: random.Random, day: date) -> datetime:
    hour = rng.choices(range(24), HOURLY)[0]
    return _at(day, hour + rng.random())


def _holds(rng: random.Random, units: list[_Unit], days: list[date], users: dict[str, int]):
    """About one hold a day per region on its beds and refuge places; the
    admitted ones by unit, to take their places in the walk."""
    operator = users["operator@demo.opvang.be"]
    held = [unit for unit in units if unit.kind in ("crisis_bed", "emergency_bed", "refuge_place", "family_room")]
    by_region = defaultdict(list)
    for unit in held:
        by_region[unit.region].append(unit)
    rows, admissions = [], defaultdict(list)
    for day in days:
        for region in sorted(by_region):
            for _ in range(rng.choice((0, 1, 1, 1, 2))):
                unit = rng.choice(by_region[region])
                created = _moment(rng, day)
                refuge = unit.kind == "refuge_place"
                outcome = _weighted(rng, (("admitted", 58), ("no_show", 9), ("elsewhere", 8), ("cancelled", 7),
                                          ("expired", 8), *((("declined", 6), ("lapsed", 4)) if refuge else ())))
                persons = rng.choice((1, 1, 2, 3))
                minutes = rng.choice((60, 90, 120))
                accept_by = created + timedelta(minutes=30) if refuge else None
                expires = created + timedelta(minutes=minutes) + (timedelta(minutes=rng.randint(5, 25)) if refuge
                                                                   else timedelta())
                if outcome == "lapsed":
                    expires = accept_by
                closed = (expires if outcome in ("expired", "lapsed")
                          else created + timedelta(minutes=rng.randint(10, minutes - 5)))
                if closed >= unit.until:
                    continue
                row = {"unit": unit, "unit_id": unit.id, "persons": persons,
                       "places": persons if unit.kind != "family_room" else 1, "status": _status_of(outcome),
                       "created_at": created, "created_by_id": operator, "expires_at": expires, "minutes": minutes,
                       "accept_by": accept_by, "closed_at": closed, "outcome": outcome,
                       "outcome_reason": rng.choice(DECLINE_REASONS) if outcome == "declined" else None,
                       "closed_by_id": operator if outcome not in ("expired", "lapsed") else None}
                rows.append(row)
                if outcome == "admitted":
                    admissions[unit.id].append(row)
    return rows, admissions


def _had_room(hold: dict) -> bool:
    """Whether the hold found its places: admitted (the walk took them), or
    free when it was made."""
    unit = hold["unit"]
    if hold["outcome"] == "admitted":
        return hold["closed_at"] in unit.admitted
    return unit.at(hold["created_at"]) >= hold["places"]


def _status_of(outcome: str) -> str:
    return {"admitted": "confirmed", "expired": "expired", "lapsed": "expired"}.get(outcome, "released")


def criteria(rng: random.Random, kind: str, region: str, place: tuple[str, str]) -> dict:
    """A made-up household's search for `kind` from `place` (postcode,
    municipality), as Criteria.stored() keeps it (bench/reports.py uses it too)."""
    offender = kind == "offender_slot"
    children = [rng.randint(0, 17) for _ in range(rng.choice((0, 1, 1, 2, 3)))] if kind == "family_room" else (
        [rng.randint(0, 17) for _ in range(rng.choice((0, 0, 0, 1, 2)))] if not offender else [])
    needs = [need for need, share in (("wheelchair", 0.05), ("pets", 0.06), ("high_security", 0.12))
             if rng.random() < share]
    return {
        "client_type": "offender" if offender else ("couple" if rng.random() < 0.04 else "victim"),
        "adults": 1 if offender or rng.random() < 0.85 else 2,
        "children": children,
        "child_genders": [rng.choice(("female", "male", None)) for _ in children],
        "gender": "male" if offender else rng.choice(("female", "female", "female", "male", "x")),
        "needs": sorted(needs),
        "languages": [_weighted(rng, LANGUAGES)],
        "postcode": place[0],
        "municipality": place[1],
        "region": region,
        "kinds": [kind],
        "avoided": 0,
        "beyond_region": rng.random() < 0.3,
    }


def _turn_aways(rng: random.Random, units: list[_Unit], days: list[date], end: datetime, users: dict[str, int]):
    """A turn-away or two a day per region, most when its places of the kind
    searched ran out ("full"), else not eligible or closed; a third of the
    full ones filed a request, placed, withdrawn or expired within days."""
    operator = users["operator@demo.opvang.be"]
    groups = defaultdict(list)
    for unit in units:
        groups[(unit.region, unit.kind)].append(unit)
    # Where the households searched from: a municipality of the region.
    places = {region: (postcode, municipality) for region, postcode, municipality in db.session.execute(
        select(Region.slug, Facility.postcode, Facility.municipality)
        .join(Facility, Facility.region_id == Region.id).where(~Facility.confidential))}
    region_ids = {unit.region: unit.region_id for unit in units}
    turn_aways, requests = [], []
    for day in days:
        for region in sorted(region_ids):
            pressure = SHORT.get(region, 0.2)
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3)) + (rng.random() < pressure)):
                at = _moment(rng, day)
                kind = _weighted(rng, [(code, weight) for code, weight in SEARCHED if (region, code) in groups])
                free = sum(unit.at(at) for unit in groups[(region, kind)])
                reason = "full" if free == 0 else _weighted(rng, (("full", 30), ("ineligible", 55), ("closed", 15)))
                searched = criteria(rng, kind, region, places[region])
                turn_aways.append({"at": at, "contact_key": f"session:demo-history-{len(turn_aways) + 1}",
                                   "region_id": region_ids[region], "reason": reason, "criteria": searched,
                                   "recorded_by_id": operator})
                if reason == "full" and rng.random() < 0.35:
                    requests.append(_request(rng, at, end, region_ids[region], searched, operator))
    return turn_aways, requests


def _request(rng: random.Random, at: datetime, end: datetime, region_id: int, criteria: dict, operator: int) -> dict:
    opened = at + timedelta(minutes=rng.randint(2, 15))
    hours = current_app.config["PLACEMENT_REQUEST_HOURS"]
    status = _weighted(rng, (("placed", 60), ("withdrawn", 20), ("expired", 20)))
    closed = opened + (timedelta(hours=hours) if status == "expired" else timedelta(hours=rng.uniform(1, 60)))
    if closed >= end:
        status, closed = "withdrawn", end - timedelta(minutes=rng.randint(5, 120))
    return {"status": status, "opened_at": opened, "expires_at": closed if status == "expired" else
            opened + timedelta(hours=hours), "closed_at": closed, "closed_by_id": None if status == "expired"
            else operator, "created_by_id": operator, "region_id": region_id, "criteria": criteria,
            "risk_level": _weighted(rng, (("standard", 60), ("elevated", 28), ("high", 12))),
            "excluded_facility_ids": [], "danger_checked_at": opened}


def _referrals(rng: random.Random, units: list[_Unit], days: list[date], end: datetime,
               users: dict[str, int]) -> int:
    """Weekday referrals to the relief points and offender programmes,
    accepted after some hours and then arrived, or declined; each step an
    audit event, as app.services.placement.referrals writes them."""
    operator = users["operator@demo.opvang.be"]
    slots = [unit for unit in units if unit.kind in ("intake_slot", "offender_slot")]
    made = 0
    for day in days:
        if day.weekday() >= 5:
            continue
        for unit in rng.sample(slots, rng.randint(2, 5)):
            created = _at(day, rng.uniform(8.5, 17))
            steps = ([("proposed", "declined", rng.uniform(0.5, 20))] if rng.random() < 0.15 else
                     [("proposed", "accepted", rng.uniform(0.5, 30)), ("accepted", "arrived", rng.uniform(2, 48))])
            moments, at = [], created
            for before, after, hours in steps:
                at += timedelta(hours=hours)
                moments.append((before, after, at))
            if moments[-1][2] >= min(end, unit.until):
                continue
            referral = Referral(created_at=created, created_by_id=operator, facility_id=unit.facility_id,
                                kind=unit.kind, status=moments[-1][1], updated_at=moments[-1][2])
            db.session.add(referral)
            db.session.flush()
            events = [{"at": created, "actor_id": operator, "action": "referral.create", "details": {
                "source": "web", "facility": unit.facility_id, "organisation": None, "kind": unit.kind,
                "call": None, "by_partner": False}}]
            events += [{"at": at, "actor_id": None, "action": "referral.status",
                        "details": {"source": "web", "before": before, "after": after, "note": None}}
                       for before, after, at in moments]
            db.session.execute(insert(AuditEvent), [{**event, "object_type": Referral.__tablename__,
                                                      "object_id": referral.id} for event in events])
            made += 1
    return made


# --- the hotline -----------------------------------------------------------------------------


# Every column a demo call sets (one statement inserts them all: the same keys).
CALL = {"channel": "voice", "called_number": HOTLINE_NUMBER, "needs": {}, "risk_answers": {},
        "callback_requested": False, **dict.fromkeys((
            "rang_at", "answered_at", "operator_id", "outcome", "voicemail_at", "voicemail_status",
            "voicemail_handled_at", "voicemail_handled_by_id", "recording_duration_s"))}


def _calls(rng: random.Random, days: list[date], end: datetime, users: dict[str, int]) -> int:
    """Ten to twenty calls a day to the demo hotline number: most answered
    within a minute by the operator on duty, some missed (a few of those
    leave a voicemail, called back the next day), some hung up in the menu."""
    key = current_app.config["CALLER_HASH_KEY"]
    callers = {number: (phones.caller_hash(number, key), phones.mask(number)) for number in CALLERS}
    operators = [users["operator@demo.opvang.be"], users["night@demo.opvang.be"]]
    rows, callbacks = [], []
    for day in days:
        for _ in range(rng.randint(10, 20)):
            started = _moment(rng, day)
            number = rng.choice(CALLERS[:60]) if rng.random() < 0.25 else rng.choice(CALLERS)
            caller_hash, masked = callers[number] if rng.random() > 0.08 else (None, phones.mask(None))
            fate = _weighted(rng, (("answered", 70), ("missed", 9), ("voicemail", 9), ("menu", 12)))
            language = _weighted(rng, LANGUAGES[:3])
            row = {**CALL, "sid": "CA" + rng.randbytes(16).hex(), "caller_hash": caller_hash,
                   "caller_masked": masked, "language": language, "started_at": started,
                   "menu_choices": [] if fate == "menu" else ["1"]}
            if fate == "menu":
                ended = started + timedelta(seconds=rng.randint(5, 40))
                row.update(status="completed")
            else:
                rang = started + timedelta(seconds=rng.randint(8, 25))
                row["rang_at"] = rang
                if fate == "answered":
                    answered = rang + timedelta(seconds=min(19, rng.expovariate(1 / 6)) + 1)
                    ended = answered + timedelta(minutes=rng.uniform(3, 35))
                    operator = operators[1] if started.astimezone(local_zone()).hour in range(0, 8) else operators[0]
                    row.update(status="completed", answered_at=answered, operator_id=operator,
                               outcome=_weighted(rng, (("advice", 40), ("held", 18), ("referred", 20),
                                                       ("placed", 10), ("callback", 5), ("emergency", 3),
                                                       ("dropped", 4))))
                elif fate == "missed":
                    ended = rang + timedelta(seconds=rng.randint(5, 20))
                    row.update(status="no-answer")
                else:
                    left = rang + timedelta(seconds=20)
                    ended = left + timedelta(seconds=rng.randint(15, 90))
                    row.update(status="completed", voicemail_at=left, voicemail_status="handled",
                               voicemail_handled_at=left + timedelta(hours=rng.uniform(0.2, 6)),
                               voicemail_handled_by_id=operators[0], recording_duration_s=(ended - left).seconds)
                    if caller_hash and rng.random() < 0.6:
                        row["callback_requested"] = True
                        callbacks.append(row)
            if ended >= end:
                continue
            row.update(ended_at=ended, duration_s=int((ended - started).total_seconds()), updated_at=ended)
            rows.append(row)
    db.session.execute(insert(Call), rows)
    sids = dict(db.session.execute(
        select(Call.sid, Call.id).where(Call.sid.in_([row["sid"] for row in callbacks]))).all())
    attempts = []
    for row in callbacks:
        if row["sid"] not in sids:
            continue
        attempt = row["voicemail_handled_at"] + timedelta(minutes=rng.randint(1, 20))
        answered = rng.random() < 0.75
        attempts.append({"call_id": sids[row["sid"]], "operator_id": operators[0], "status": "ended",
                         "result": "answered" if answered else "no_answer", "started_at": attempt,
                         "answered_at": attempt + timedelta(seconds=25) if answered else None,
                         "ended_at": attempt + timedelta(minutes=rng.uniform(2, 20) if answered else 0.5)})
    if attempts:
        db.session.execute(insert(CallbackAttempt), attempts)
    return len(rows)
