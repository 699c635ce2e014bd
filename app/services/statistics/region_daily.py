"""Per region, capacity kind and local day (RegionKindDay): free and total
places over the day, turn-aways by reason and household, requests opened and
closed (with their waiting times), hold outcomes and referral acceptance times.

Free places are exact: each unit's step function over the day is rebuilt
from the append-only capacity history (its value at the day's start is its
last change before it, or its first change's `before`), its holds' intervals
(created → closed or expired) and its facility's intake switch (its audit
events), and summed per region and kind; a unit counts from the day's start
unless its history begins after the day (it did not exist yet). Everything is
read in a few queries per day, for all regions at once. Total places are
rebuilt the same way from the history's changes of the total.

A turn-away or a request counts under the first kind its household searched
for (the criteria's kinds are in the kinds' order), so that a region's totals
over its kinds count each contact once; one recorded without a search names
no kind and is not counted here.
"""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.models import (
    AuditEvent,
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
from app.models.placement import HOLD_OUTCOMES, HOLDING_STATUSES, REQUEST_STATUSES, TURN_AWAY_REASONS
from app.models.statistics import RegionKindDay
from app.services.core.access import STATISTICS_READERS, statistics_region_ids
from app.services.core.errors import Forbidden, InvalidInput
from app.services.core.validation import calendar_date
from app.services.placement.criteria import NEEDS
from app.services.statistics import days

NAME = "region_daily"
# The detail read here that the purge blanks: the turn-aways' criteria (their
# kind and household), after RETENTION_DAYS_SEARCHES.
RETENTION_KEYS = ("RETENTION_DAYS_SEARCHES",)
KEY = ("region_id", "kind_id")
# How a request leaves the waiting list (app.models.placement.REQUEST_STATUSES but "open").
CLOSED_REQUEST_STATUSES = tuple(status for status in REQUEST_STATUSES if status != "open")

CHILD_AGE_BANDS = (("0-2", 0, 2), ("3-5", 3, 5), ("6-11", 6, 11), ("12-17", 12, 17))
# The intake switch's audit events (capacity.set_open_for_intake; the
# facility's creation and edits record the switch as saved).
SWITCH_ACTIONS = ("facility.open", "facility.close", "facility.create", "facility.update")


def compute_day(day: date, now: datetime) -> int:
    """Replace the day's rows by what the detail says now (the day so far for
    today, final=False); how many rows. A day not begun has none."""
    start, day_end = days.bounds(day)
    end = min(day_end, now)
    if end <= start:
        return 0
    kinds = dict(db.session.execute(select(CapacityKind.code, CapacityKind.id)).all())
    units, available, total = _units_at_start(start, end)
    free = _free_places(start, end, units, available)
    totals = _total_places(start, end, units, total)
    turned_away = _turn_aways(start, end, now, kinds)
    opened = _requests_opened(start, end, kinds)
    closed = _requests_closed(start, end, kinds)
    outcomes = _hold_outcomes(start, end, now)
    accepted = _referral_acceptances(start, end, kinds)
    empty_day = _FreeFigures(integral=0.0, lowest=0, at_zero=(end - start).total_seconds())
    rows = []
    for key in sorted(set(free) | set(turned_away) | set(opened) | set(closed) | set(outcomes)
                      | set(accepted)):
        figures = free.get(key, empty_day)
        reasons, households = turned_away.get(key, (Counter(), _households([])))
        hours = accepted.get(key, [])
        closed_by_status, waited = closed.get(key, (Counter(), []))
        rows.append({
            "region_id": key[0],
            "kind_id": key[1],
            "mean_free": round(figures.integral / (end - start).total_seconds(), 2),
            "min_free": figures.lowest,
            "hours_at_zero": round(figures.at_zero / 3600, 2),
            "mean_total": round(totals.get(key, 0.0) / (end - start).total_seconds(), 2),
            "facilities": len(figures.facilities),
            "turn_aways": {reason: reasons[reason] for reason in TURN_AWAY_REASONS},
            "turn_away_households": households,
            "requests_opened": opened.get(key, 0),
            "requests_closed": {status: closed_by_status[status] for status in CLOSED_REQUEST_STATUSES},
            "request_wait_median_h": round(statistics.median(waited), 2) if waited else None,
            "holds": {outcome: outcomes.get(key, Counter())[outcome] for outcome in HOLD_OUTCOMES},
            "referrals_accepted": len(hours),
            "referral_accept_median_h": round(statistics.median(hours), 2) if hours else None,
            "computed_at": now,
            "final": day_end <= now,
        })
    days.replace_day(RegionKindDay, day, rows, KEY)
    days.mark_computed(NAME, day, now, final=day_end <= now)
    return len(rows)


# --- free places -------------------------------------------------------------------


@dataclass
class _FreeFigures:
    """One region and kind's free places so far: their integral over time
    (place-seconds), the lowest (set by the first span: every region and
    kind has one, the day not being empty), the seconds at zero, the facilities."""

    integral: float = 0.0
    lowest: int | None = None
    at_zero: float = 0.0
    facilities: set = field(default_factory=set)

    def add(self, free: int, seconds: float) -> None:
        if seconds <= 0:
            return
        self.integral += free * seconds
        self.lowest = free if self.lowest is None else min(self.lowest, free)
        if free == 0:
            self.at_zero += seconds


def _free_places(start: datetime, end: datetime, units: dict, available: dict[int, int]
                 ) -> dict[tuple[int, int], _FreeFigures]:
    available = dict(available)
    held: Counter = Counter()
    switch_history = _switch_history()
    open_ = _switch_at_start(switch_history, start)
    events: list[tuple[datetime, str, int, object]] = []

    for unit_id, at, after in db.session.execute(
        select(CapacityChange.unit_id, CapacityChange.at, CapacityChange.after)
        .where(CapacityChange.field == "available", CapacityChange.at >= start, CapacityChange.at < end)
        .order_by(CapacityChange.at, CapacityChange.id)
    ):
        events.append((at, "available", unit_id, after))

    for unit_id, places, created_at, ended_at in _hold_intervals(start, end):
        if created_at <= start:
            held[unit_id] += places
        else:
            events.append((created_at, "held", unit_id, places))
        if ended_at < end:
            events.append((ended_at, "held", unit_id, -places))

    for at, facility_id, switched_open in _switches(switch_history, start, end):
        events.append((at, "open", facility_id, switched_open))

    def free_of(unit_id: int) -> int:
        facility_id = units[unit_id][0]
        return max(available[unit_id] - held[unit_id], 0) if open_[facility_id] else 0

    by_facility = defaultdict(list)
    figures: dict[tuple[int, int], _FreeFigures] = defaultdict(_FreeFigures)
    sums: Counter = Counter()
    since: dict[tuple[int, int], datetime] = {}
    for unit_id in available:
        facility_id, region_id, kind_id = units[unit_id]
        by_facility[facility_id].append(unit_id)
        figures[(region_id, kind_id)].facilities.add(facility_id)
        sums[(region_id, kind_id)] += free_of(unit_id)
        since[(region_id, kind_id)] = start

    # The units' free places change only at these instants: each region and
    # kind's sum is carried forward to the next change of it.
    events.sort(key=lambda event: event[0])
    for at, at_once in groupby(events, key=lambda event: event[0]):
        touched = set()
        for _, what, target, value in at_once:
            if what == "open":
                changed = [unit_id for unit_id in by_facility.get(target, ()) if unit_id in available]
                before = {unit_id: free_of(unit_id) for unit_id in changed}
                open_[target] = value
            elif target in available:
                changed = [target]
                before = {target: free_of(target)}
                if what == "available":
                    available[target] = value
                else:
                    held[target] += value
            else:
                continue
            for unit_id in changed:
                group = units[unit_id][1:3]
                if group not in touched:
                    figures[group].add(sums[group], (at - since[group]).total_seconds())
                    since[group] = at
                    touched.add(group)
                sums[group] += free_of(unit_id) - before[unit_id]
    for group, figure in figures.items():
        figure.add(sums[group], (end - since[group]).total_seconds())
    return dict(figures)


def _total_places(start: datetime, end: datetime, units: dict, total: dict[int, int]
                  ) -> dict[tuple[int, int], float]:
    """Per region and kind: the integral of its total places over the day
    (place-seconds), from the units' totals at its start and the history's
    changes of the total during it."""
    total = dict(total)
    sums: Counter = Counter()
    for unit_id, places in total.items():
        sums[units[unit_id][1:3]] += places
    integral: Counter = Counter()
    since = dict.fromkeys(sums, start)
    for unit_id, at, after in db.session.execute(
        select(CapacityChange.unit_id, CapacityChange.at, CapacityChange.after)
        .where(CapacityChange.field == "total", CapacityChange.at >= start, CapacityChange.at < end)
        .order_by(CapacityChange.at, CapacityChange.id)
    ):
        if unit_id not in total:
            continue
        group = units[unit_id][1:3]
        integral[group] += sums[group] * (at - since[group]).total_seconds()
        since[group] = at
        sums[group] += after - total[unit_id]
        total[unit_id] = after
    for group, places in sums.items():
        integral[group] += places * (end - since[group]).total_seconds()
    return dict(integral)


def _history_of_unit(column, *where, field: str = "available", newest_first: bool = False):
    """One value of the unit's first (or newest) change of its `field`
    meeting `where`: one step along the index on (unit, field, at, id)."""
    order = (CapacityChange.at, CapacityChange.id)
    return (select(column)
            .where(CapacityChange.unit_id == CapacityUnit.id, CapacityChange.field == field, *where)
            .order_by(*(column.desc() for column in order) if newest_first else order)
            .limit(1)
            .scalar_subquery())


def _units_at_start(start: datetime, end: datetime) -> tuple[dict, dict[int, int], dict[int, int]]:
    """Every unit's (facility, region, kind), and what each unit that existed
    during the day had available, and in total, at its start: its last change
    of the field before the day, or else its first change's `before`; without
    any, what it has now. A unit whose history of its available places begins
    after the day did not exist yet and is left out of the second and third."""
    units, available, total = {}, {}, {}
    for (unit_id, facility_id, region_id, kind_id, available_now, after_last, first_at, first_before, total_now,
         total_after_last, total_first_before) in db.session.execute(select(
            CapacityUnit.id, CapacityUnit.facility_id, CapacityUnit.region_id, CapacityUnit.kind_id,
            CapacityUnit.available,
            _history_of_unit(CapacityChange.after, CapacityChange.at < start, newest_first=True),
            _history_of_unit(CapacityChange.at),
            _history_of_unit(CapacityChange.before),
            CapacityUnit.total,
            _history_of_unit(CapacityChange.after, CapacityChange.at < start, field="total", newest_first=True),
            _history_of_unit(CapacityChange.before, field="total"),
    )):
        units[unit_id] = (facility_id, region_id, kind_id)
        if after_last is not None:
            available[unit_id] = after_last
        elif first_at is None:
            available[unit_id] = available_now
        elif first_at < end:
            available[unit_id] = first_before
        else:
            continue
        total[unit_id] = next(places for places in (total_after_last, total_first_before, total_now)
                              if places is not None)
    return units, available, total


def _hold_intervals(start: datetime, end: datetime):
    """(unit, places, from, to) of every hold that took places during the
    day: from its creation until it was closed or expired, whichever first
    (a requested hold's expiry is its accept_by until accepted)."""
    rows = db.session.execute(
        select(Hold.unit_id, Hold.places, Hold.created_at, Hold.expires_at, Hold.closed_at)
        .where(Hold.created_at < end, Hold.expires_at > start,
               or_(Hold.closed_at.is_(None), Hold.closed_at > start))
    )
    for unit_id, places, created_at, expires_at, closed_at in rows:
        ended_at = min(expires_at, closed_at) if closed_at else expires_at
        if created_at < ended_at:
            yield unit_id, places, created_at, ended_at


def _switched_to(action: str, details: dict) -> bool | None:
    if action in ("facility.open", "facility.close"):
        return action == "facility.open"
    # Saved before the switch was recorded with the facility: unknown.
    return details.get("open_for_intake")


def _switch_history() -> dict[int, list[tuple[datetime, str, bool]]]:
    """Per facility, its intake switch's known states in time order."""
    rows = db.session.execute(
        select(AuditEvent.object_id, AuditEvent.at, AuditEvent.action, AuditEvent.details)
        .where(AuditEvent.object_type == Facility.__tablename__, AuditEvent.action.in_(SWITCH_ACTIONS))
        .order_by(AuditEvent.object_id, AuditEvent.at, AuditEvent.id)
    )
    history = defaultdict(list)
    for facility_id, at, action, details in rows:
        state = _switched_to(action, details or {})
        if state is not None:
            history[facility_id].append((at, action, state))
    return history


def _switch_at_start(history, start: datetime) -> dict[int, bool]:
    """Each facility's intake switch at `start`: its last known state before,
    or else the state before its first switch (a switch changes it; a save
    records it as it was); a facility with no history, its switch now."""
    current = dict(db.session.execute(select(Facility.id, Facility.open_for_intake)).all())
    for facility_id, states in history.items():
        before = [state for at, _, state in states if at < start]
        if before:
            current[facility_id] = before[-1]
        else:
            _, action, state = states[0]
            current[facility_id] = (not state) if action in ("facility.open", "facility.close") else state
    return current


def _switches(history, start: datetime, end: datetime):
    for facility_id, states in history.items():
        for at, _, state in states:
            if start <= at < end:
                yield at, facility_id, state


# --- demand: turn-aways, requests, holds, referrals -----------------------------------


def _kind_of(criteria: dict | None, kinds: dict[str, int]) -> int | None:
    searched = (criteria or {}).get("kinds") or []
    return kinds.get(searched[0]) if searched else None


def _households(all_criteria: list[dict]) -> dict:
    """The households' make-up as counts: client types, persons, children by
    age band, needs and languages asked for. No one household can be told
    from another in it."""
    ages = Counter()
    needs = Counter()
    languages = Counter()
    client_types = Counter()
    adults = children = with_children = 0
    for criteria in all_criteria:
        client_types[criteria.get("client_type")] += 1
        adults += int(criteria.get("adults") or 0)
        kids = criteria.get("children") or []
        children += len(kids)
        with_children += bool(kids)
        for age in kids:
            ages.update(band for band, low, high in CHILD_AGE_BANDS if low <= age <= high)
        needs.update(need for need in criteria.get("needs") or [] if need in NEEDS)
        languages.update(criteria.get("languages") or [])
    return {
        "households": len(all_criteria),
        "client_types": dict(sorted(client_types.items())),
        "adults": adults,
        "children": children,
        "with_children": with_children,
        "child_ages": {band: ages[band] for band, _, _ in CHILD_AGE_BANDS},
        "needs": {need: needs[need] for need in NEEDS},
        "languages": dict(sorted(languages.items())),
    }


def _turn_aways(start: datetime, end: datetime, now: datetime, kinds: dict[str, int]):
    """Per region and kind: the turn-aways by reason, and their households.
    One withdrawn (a hold followed for the contact) by `now` does not count."""
    reasons: dict[tuple[int, int], Counter] = defaultdict(Counter)
    criteria_of: dict[tuple[int, int], list] = defaultdict(list)
    for region_id, reason, criteria in db.session.execute(
        select(TurnAway.region_id, TurnAway.reason, TurnAway.criteria)
        .where(TurnAway.at >= start, TurnAway.at < end, TurnAway.region_id.is_not(None),
               or_(TurnAway.withdrawn_at.is_(None), TurnAway.withdrawn_at > now))
    ):
        kind_id = _kind_of(criteria, kinds)
        if kind_id is not None:
            reasons[(region_id, kind_id)][reason] += 1
            criteria_of[(region_id, kind_id)].append(criteria)
    return {key: (reasons[key], _households(criteria_of[key])) for key in reasons}


def _requests_opened(start: datetime, end: datetime, kinds: dict[str, int]) -> Counter:
    opened = Counter()
    for region_id, criteria in db.session.execute(
        select(PlacementRequest.region_id, PlacementRequest.criteria)
        .where(PlacementRequest.opened_at >= start, PlacementRequest.opened_at < end,
               PlacementRequest.region_id.is_not(None))
    ):
        kind_id = _kind_of(criteria, kinds)
        if kind_id is not None:
            opened[(region_id, kind_id)] += 1
    return opened


def _requests_closed(start: datetime, end: datetime, kinds: dict[str, int]) -> dict[tuple[int, int], tuple]:
    """Per region and kind: the requests closed during the day by status,
    and the hours each had waited (opened → closed)."""
    closed: dict[tuple[int, int], tuple[Counter, list]] = defaultdict(lambda: (Counter(), []))
    for region_id, criteria, status, opened_at, closed_at in db.session.execute(
        select(PlacementRequest.region_id, PlacementRequest.criteria, PlacementRequest.status,
               PlacementRequest.opened_at, PlacementRequest.closed_at)
        .where(PlacementRequest.closed_at >= start, PlacementRequest.closed_at < end,
               PlacementRequest.region_id.is_not(None))
    ):
        kind_id = _kind_of(criteria, kinds)
        if kind_id is not None and status in CLOSED_REQUEST_STATUSES:
            by_status, waited = closed[(region_id, kind_id)]
            by_status[status] += 1
            waited.append((closed_at - opened_at).total_seconds() / 3600)
    return dict(closed)


def _hold_outcomes(start: datetime, end: datetime, now: datetime) -> dict[tuple[int, int], Counter]:
    """Per region and kind: the holds that ended during the day, by outcome.
    An expired or lapsed hold ended at its expiry (the job closes it a little
    later); one past its expiry that no job has closed yet has ended too."""
    outcomes: dict[tuple[int, int], Counter] = defaultdict(Counter)
    for region_id, kind_id, status, outcome, expires_at, closed_at in db.session.execute(
        select(CapacityUnit.region_id, CapacityUnit.kind_id, Hold.status, Hold.outcome, Hold.expires_at,
               Hold.closed_at)
        .join(CapacityUnit, Hold.unit_id == CapacityUnit.id)
        .where(or_(and_(Hold.closed_at >= start, Hold.closed_at < end),
                   and_(Hold.expires_at >= start, Hold.expires_at < end)))
    ):
        if status in HOLDING_STATUSES:
            if expires_at > now:
                continue
            outcome = "lapsed" if status == "requested" else "expired"
        if outcome not in HOLD_OUTCOMES:
            continue
        ended_at = expires_at if outcome in ("expired", "lapsed") or closed_at is None else closed_at
        if start <= ended_at < end:
            outcomes[(region_id, kind_id)][outcome] += 1
    return outcomes


def _referral_acceptances(start: datetime, end: datetime, kinds: dict[str, int]) -> dict[tuple[int, int], list]:
    """Per region and kind: the hours from referral to acceptance of the
    referrals to facilities accepted during the day (by their audit events)."""
    accepted_at = {
        referral_id: at
        for referral_id, at, details in db.session.execute(
            select(AuditEvent.object_id, AuditEvent.at, AuditEvent.details)
            .where(AuditEvent.action == "referral.status", AuditEvent.object_type == Referral.__tablename__,
                   AuditEvent.at >= start, AuditEvent.at < end)
        )
        if (details or {}).get("after") == "accepted"
    }
    hours: dict[tuple[int, int], list] = defaultdict(list)
    if not accepted_at:
        return hours
    for referral_id, created_at, kind, region_id in db.session.execute(
        select(Referral.id, Referral.created_at, Referral.kind, Facility.region_id)
        .join(Facility, Referral.facility_id == Facility.id)
        .where(Referral.id.in_(accepted_at))
    ):
        if kind in kinds:
            hours[(region_id, kinds[kind])].append((accepted_at[referral_id] - created_at).total_seconds() / 3600)
    return hours


# --- reading ---------------------------------------------------------------------------

def read(user, now: datetime, *, region: str | None = None, kind: str | None = None, since=None,
         until=None) -> list[RegionKindDay]:
    """The rows from `since` to `until` (local days, both included; default
    the 30 days up to today) of the regions `user` reads (managers: theirs;
    admins: all), or of one `region` (slug) and one `kind` (code), by day,
    region and kind. Forbidden for another region than a manager's own;
    InvalidInput for an unknown region or kind, a bad date, a period reversed
    or longer than days.MAX_PERIOD_DAYS."""
    if user is None or not user.has_role(*STATISTICS_READERS):
        raise Forbidden("the statistics are for managers and admins")
    allowed = statistics_region_ids(user)
    until = calendar_date(until, "until") or days.local_day(now)
    since = calendar_date(since, "since") or until - timedelta(days=days.DEFAULT_PERIOD_DAYS - 1)
    days.check_period(since, until)
    query = (select(RegionKindDay)
             .join(Region, RegionKindDay.region_id == Region.id)
             .join(CapacityKind, RegionKindDay.kind_id == CapacityKind.id)
             .options(contains_eager(RegionKindDay.region), contains_eager(RegionKindDay.kind))
             .where(RegionKindDay.day >= since, RegionKindDay.day <= until)
             .order_by(RegionKindDay.day, Region.slug, CapacityKind.position, CapacityKind.id))
    if region:
        region_id = db.session.scalar(select(Region.id).where(Region.slug == region))
        if region_id is None:
            raise InvalidInput(f"unknown region {region!r}", field="region")
        if allowed is not None and region_id not in allowed:
            raise Forbidden("you may read the statistics of your own regions only")
        query = query.where(RegionKindDay.region_id == region_id)
    elif allowed is not None:
        query = query.where(RegionKindDay.region_id.in_(allowed))
    if kind:
        kind_id = db.session.scalar(select(CapacityKind.id).where(CapacityKind.code == kind))
        if kind_id is None:
            raise InvalidInput(f"unknown kind {kind!r}", field="kind")
        query = query.where(RegionKindDay.kind_id == kind_id)
    return list(db.session.scalars(query))
