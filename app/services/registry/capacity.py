"""The live registry: what each unit has free, changing it, and its history."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, case, distinct, func, select, update
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.extensions import db
from app.models import CapacityChange, CapacityKind, CapacityUnit, Facility, Hold, Region
from app.models.placement import HOLDING_STATUSES
from app.services.core import audit, validation
from app.services.core.access import Actor, can_update_facility
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound


@dataclass(frozen=True)
class Figures:
    total: int
    available: int
    held: int
    free: int


def figures(unit: CapacityUnit, held: int) -> Figures:
    """A unit's counts, given the places its holds take. Free = available −
    held, and nothing at all while the facility is closed for intake,
    whatever its counts say."""
    free = max(unit.available - held, 0) if unit.facility.open_for_intake else 0
    return Figures(unit.total, unit.available, held, free)


def holding(now: datetime):
    """The SQL condition of a hold that takes its places at `now`: active or
    requested (waiting for the facility's acceptance), and not expired."""
    return and_(Hold.status.in_(HOLDING_STATUSES), Hold.expires_at > now)


def held_places(unit_ids, now: datetime) -> dict[int, int]:
    """Places taken by holds that are active or requested and not expired at
    `now`, per unit. An expired hold frees its place here, before any job marks it."""
    ids = list(unit_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(Hold.unit_id, func.sum(Hold.places))
        .where(Hold.unit_id.in_(ids), holding(now))
        .group_by(Hold.unit_id)
    )
    return {unit_id: int(places) for unit_id, places in rows}


class UnitFigures:
    """`figures` for many units, their holds summed in one query: what pages
    and API answers call per unit."""

    def __init__(self, units, now: datetime):
        self.held = held_places((unit.id for unit in units), now)

    def __call__(self, unit: CapacityUnit) -> Figures:
        return figures(unit, self.held.get(unit.id, 0))


def all_kinds() -> list[CapacityKind]:
    return list(db.session.scalars(select(CapacityKind).order_by(CapacityKind.position)))


def get_unit(unit_id: int) -> CapacityUnit:
    unit = db.session.get(CapacityUnit, unit_id, options=[joinedload(CapacityUnit.facility)])
    if unit is None:
        raise NotFound(f"no capacity unit {unit_id}")
    return unit


def set_available(
    actor: Actor,
    unit: CapacityUnit,
    available,
    version,
    now: datetime,
    *,
    note: str | None = None,
) -> CapacityUnit:
    """Set what a unit reports free, if `version` is still its version.

    Raises Forbidden for someone who may not change this facility,
    InvalidInput for a count outside 0..total or a missing version, and
    Conflict (carrying the current unit) when someone else changed it first.
    """
    if not can_update_facility(actor.user, unit.facility):
        raise Forbidden("you may not change the capacity of this facility")
    if version is None:
        raise InvalidInput("version is required: send the version you last saw", field="version")
    version = validation.whole_number(version, "version", 0, validation.MAX_ID)
    available = validation.whole_number(available, "available", 0, unit.total)
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise InvalidInput("note must be text of at most 500 characters", field="note")
    if version != unit.version:
        raise _conflict(unit)

    before = unit.available
    try:
        # The mapper's version counter makes the UPDATE say "WHERE version = v":
        # if another writer got there first, no row matches and nothing changes.
        with db.session.begin_nested():
            unit.available = available
            _touch(unit, actor, now)
            db.session.flush()
    except StaleDataError:
        db.session.refresh(unit)
        raise _conflict(unit) from None

    db.session.add(
        CapacityChange(
            unit_id=unit.id,
            at=now,
            action="set",
            field="available",
            before=before,
            after=available,
            source=actor.source,
            actor_id=actor.user_id,
            note=note,
        )
    )
    audit.record(actor, "capacity.set", now, unit, before=before, after=available)
    if available > before:
        _offer_freed([unit.id], now)
    return unit


def _offer_freed(unit_ids: list[int], now: datetime) -> None:
    """Freed places go to the waiting list at once (PRODUCT.md flow D)."""
    # Imported here: the placement services import the registry's at module level.
    from app.services.placement.offers import places_freed

    places_freed(unit_ids, now)


def _conflict(unit: CapacityUnit) -> Conflict:
    return Conflict(
        f"someone else changed this count first: it is now {unit.available} (version {unit.version})",
        current={"unit": unit},
    )


def _touch(unit: CapacityUnit, actor: Actor, now: datetime) -> None:
    unit.updated_at = now
    unit.updated_by_id = actor.user_id
    unit.stale_at = now + timedelta(hours=unit.facility.stale_after_hours)


def confirm_counts(actor: Actor, facility: Facility, now: datetime) -> None:
    """'Counts still correct': refresh every unit's freshness without a change.

    The versions stay as they are, so that nobody editing at the same time
    gets a conflict for a change that did not happen.
    """
    if not can_update_facility(actor.user, facility):
        raise Forbidden("you may not change the capacity of this facility")
    stale_at = now + timedelta(hours=facility.stale_after_hours)
    for unit in facility.units:
        db.session.execute(
            update(CapacityUnit)
            .where(CapacityUnit.id == unit.id)
            .values(updated_at=now, updated_by_id=actor.user_id, stale_at=stale_at)
            .execution_options(synchronize_session=False)
        )
        db.session.add(
            CapacityChange(
                unit_id=unit.id,
                at=now,
                action="confirm",
                field="available",
                before=unit.available,
                after=unit.available,
                source=actor.source,
                actor_id=actor.user_id,
            )
        )
    for unit in facility.units:
        db.session.expire(unit)
    audit.record(actor, "capacity.confirm", now, facility)


def set_open_for_intake(actor: Actor, facility: Facility, open_: bool, reason: str | None, now: datetime) -> None:
    if not can_update_facility(actor.user, facility):
        raise Forbidden("you may not change this facility")
    reason = (reason or "").strip() or None
    if not open_ and not reason:
        raise InvalidInput("say why the facility is closed for intake", field="closed_reason")
    if reason and len(reason) > 500:
        raise InvalidInput("reason is too long (at most 500 characters)", field="closed_reason")
    reopened = open_ and not facility.open_for_intake
    facility.open_for_intake = open_
    facility.closed_reason = None if open_ else reason
    audit.record(actor, "facility.open" if open_ else "facility.close", now, facility, reason=reason)
    if reopened:
        db.session.flush()
        _offer_freed([unit.id for unit in facility.units], now)


def history(unit: CapacityUnit, *, limit: int, before_id: int | None = None) -> list[CapacityChange]:
    """The unit's changes, newest first; `before_id` pages on."""
    query = (
        select(CapacityChange)
        .options(joinedload(CapacityChange.actor))
        .where(CapacityChange.unit_id == unit.id)
        .order_by(CapacityChange.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(CapacityChange.id < before_id)
    return list(db.session.scalars(query))


@dataclass
class RegionTotals:
    region: Region
    stale_facilities: int
    by_kind: dict[str, Figures]


def region_totals(now: datetime, region_ids: set[int] | None = None) -> list[RegionTotals]:
    """Per region and kind: total, available, held and free places, and the
    number of stale facilities. Aggregate queries over the units alone (each
    carries its facility's region and intake switch), whatever the size."""
    open_available = case((CapacityUnit.facility_open, CapacityUnit.available), else_=0)
    sums = select(
        CapacityUnit.region_id,
        CapacityUnit.kind_id,
        func.sum(CapacityUnit.total),
        func.sum(CapacityUnit.available),
        func.sum(open_available),
    ).group_by(CapacityUnit.region_id, CapacityUnit.kind_id)
    stale = (
        select(CapacityUnit.region_id, func.count(distinct(CapacityUnit.facility_id)))
        .where(CapacityUnit.stale_at <= now)
        .group_by(CapacityUnit.region_id)
    )
    # Held places, and what they take off the free ones: never more than a
    # unit has available, and nothing of a closed facility (it has none free).
    per_unit = (
        select(Hold.unit_id, func.sum(Hold.places).label("held"))
        .where(holding(now))
        .group_by(Hold.unit_id)
        .subquery()
    )
    taken = case(
        (~CapacityUnit.facility_open, 0),
        (per_unit.c.held < CapacityUnit.available, per_unit.c.held),
        else_=CapacityUnit.available,
    )
    holds = (
        select(CapacityUnit.region_id, CapacityUnit.kind_id, func.sum(per_unit.c.held), func.sum(taken))
        .join(per_unit, per_unit.c.unit_id == CapacityUnit.id)
        .group_by(CapacityUnit.region_id, CapacityUnit.kind_id)
    )
    regions = select(Region).order_by(Region.name)
    if region_ids is not None:
        sums = sums.where(CapacityUnit.region_id.in_(region_ids))
        stale = stale.where(CapacityUnit.region_id.in_(region_ids))
        holds = holds.where(CapacityUnit.region_id.in_(region_ids))
        regions = regions.where(Region.id.in_(region_ids))

    kinds = dict(db.session.execute(select(CapacityKind.id, CapacityKind.code).order_by(CapacityKind.position)).all())
    held = {(region_id, kind_id): (int(h), int(t)) for region_id, kind_id, h, t in db.session.execute(holds)}
    zero = Figures(0, 0, 0, 0)
    result = {
        region.id: RegionTotals(region, 0, {code: zero for code in kinds.values()})
        for region in db.session.scalars(regions)
    }
    for region_id, kind_id, total, available, free in db.session.execute(sums):
        held_places_, taken_places = held.get((region_id, kind_id), (0, 0))
        result[region_id].by_kind[kinds[kind_id]] = Figures(
            int(total), int(available), held_places_, int(free) - taken_places
        )
    for region_id, count in db.session.execute(stale):
        result[region_id].stale_facilities = count
    return list(result.values())


def facilities_query(region_ids: set[int] | None = None, *, kind_code: str | None = None) -> Select:
    """Facilities with their units, kinds and region loaded, unordered: the
    caller orders and pages (`db.paginate` for pages, `facilities` for the API)."""
    query = select(Facility).options(
        selectinload(Facility.units).joinedload(CapacityUnit.updated_by), joinedload(Facility.region)
    )
    if region_ids is not None:
        query = query.where(Facility.region_id.in_(region_ids))
    if kind_code is not None:
        query = query.where(Facility.units.any(CapacityUnit.kind.has(CapacityKind.code == kind_code)))
    return query


def facilities(
    region_ids: set[int] | None = None, *, kind_code: str | None = None, after_id: int | None, limit: int
) -> list[Facility]:
    """One page of facilities by id, after `after_id` (keyset paging)."""
    query = facilities_query(region_ids, kind_code=kind_code)
    query = query.where(Facility.id > (after_id or 0)).order_by(Facility.id).limit(limit)
    return list(db.session.scalars(query).unique())
