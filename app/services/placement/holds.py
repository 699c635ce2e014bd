"""Holds: a place reserved for a household on its way, race-safe.

Creating, confirming and extending a hold lock the unit's row first (SELECT …
FOR UPDATE on PostgreSQL; on SQLite the writing transaction already holds the
database's write lock, taken by BEGIN IMMEDIATE), then sum the unexpired
holds in a new statement, then write. Two operators racing for the last place
get one hold and one conflict.
"""

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import CapacityChange, CapacityUnit, Hold, PlacementRequest, PlacementSearch
from app.services.core import audit
from app.services.core.access import (
    PLACE_HOLDERS,
    REQUEST_KEEPERS,
    Actor,
    is_partner,
    may_close_hold,
    may_use_search,
    may_withdraw_turn_aways_of_others,
    visible_placement_facility_ids,
)
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.core.validation import MAX_ID, aware_time, text, whole_number
from app.services.placement import turn_aways
from app.services.placement.criteria import linked_call_id
from app.services.registry.capacity import held_places

MAX_MINUTES = 24 * 60
MAX_PERSONS = 30


def lock_unit(unit_id: int) -> CapacityUnit:
    """The unit, its row locked until the transaction ends, its values fresh."""
    unit = db.session.scalar(
        select(CapacityUnit)
        .where(CapacityUnit.id == unit_id)
        .with_for_update(of=CapacityUnit)
        .execution_options(populate_existing=True)
    )
    if unit is None:
        raise NotFound(f"no capacity unit {unit_id}")
    return unit


def places_for(unit: CapacityUnit, persons: int) -> int:
    """What a household of `persons` takes of a unit: a place per person, or
    one room or slot. A room too small for the household is no place at all."""
    if unit.kind.counts == "persons":
        return persons
    if unit.kind.counts == "rooms" and (unit.room_size or 0) < persons:
        raise InvalidInput(
            f"a family room here takes at most {unit.room_size} persons, not {persons}", field="persons"
        )
    return 1


def free_places(unit: CapacityUnit, now: datetime) -> int:
    return max(unit.available - held_places([unit.id], now).get(unit.id, 0), 0)


def _conflict(message: str, unit: CapacityUnit) -> Conflict:
    return Conflict(message, current={"unit": unit})


def create(
    actor: Actor,
    now: datetime,
    *,
    unit_id,
    persons,
    minutes=None,
    household=None,
    arrival=None,
    call_id=None,
    search_id=None,
    note=None,
    contact=None,
    request_id=None,
    default_minutes: int,
) -> Hold:
    """Hold `persons` places (or a room or slot) of a unit for `minutes`;
    `request_id`: the open waiting-list request it is for."""
    if not actor.has_role(*PLACE_HOLDERS):
        raise Forbidden("holding a place needs the role operator, manager or partner")
    unit_id = whole_number(unit_id, "unit_id", 1, MAX_ID)
    persons = whole_number(persons, "persons", 1, MAX_PERSONS)
    minutes = default_minutes if minutes is None else whole_number(minutes, "minutes", 1, MAX_MINUTES)
    household = text(household, "household", 500)
    note = text(note, "note", 2000)
    contact = text(contact, "contact", 200) or _how_to_reach(actor)
    arrival = aware_time(arrival, "arrival")
    call_id = linked_call_id(actor, call_id)
    search = None
    if search_id is not None:
        search = db.session.get(PlacementSearch, whole_number(search_id, "search_id", 1, MAX_ID))
        # Someone else's search is answered as one that does not exist.
        if search is None or not may_use_search(actor.user, search):
            raise InvalidInput(f"no search {search_id}", field="search_id")
    if request_id is not None:
        request_id = whole_number(request_id, "request_id", 1, MAX_ID)
        request = db.session.get(PlacementRequest, request_id)
        if request is None or request.status != "open" or not actor.has_role(*REQUEST_KEEPERS):
            raise InvalidInput(f"no open request {request_id}", field="request_id")

    unit = lock_unit(unit_id)
    facility = unit.facility
    if not facility.open_for_intake:
        reason = f": {facility.closed_reason}" if facility.closed_reason else ""
        raise _conflict(f"{facility.name} is closed for intake{reason}", unit)
    places = places_for(unit, persons)
    # A new statement after the lock: it sees every hold committed before it.
    free = free_places(unit, now)
    if free < places:
        raise _conflict(f"not enough free places: {free} free, this hold needs {places}", unit)

    hold = Hold(
        unit_id=unit.id,
        persons=persons,
        places=places,
        household=household,
        arrival=arrival,
        call_id=call_id,
        search_id=search.id if search else None,
        request_id=request_id,
        note=note,
        contact=contact,
        status="active",
        created_at=now,
        created_by_id=actor.user_id,
        expires_at=now + timedelta(minutes=minutes),
    )
    db.session.add(hold)
    db.session.flush()
    audit.record(actor, "hold.create", now, hold, unit=unit.id, places=places,
                 by_partner=is_partner(actor.user))
    contact_key = search.contact_key if search else (f"call:{call_id}" if call_id else None)
    if contact_key:
        # The contact found a place after all: it was no turn-away.
        recorded_by = None if may_withdraw_turn_aways_of_others(actor.user) else actor.user_id
        turn_aways.withdraw(contact_key, now, recorded_by_id=recorded_by)
    return hold


def _how_to_reach(actor: Actor) -> str | None:
    if actor.user is None:
        return None
    return f"{actor.user.name}, {actor.user.phone or actor.user.email}"


def get(hold_id: int) -> Hold:
    hold = db.session.get(Hold, hold_id, options=[joinedload(Hold.unit).joinedload(CapacityUnit.facility)])
    if hold is None:
        raise NotFound(f"no hold {hold_id}")
    return hold


def confirm(actor: Actor, hold: Hold, now: datetime) -> Hold:
    """The household arrived: the hold takes its places for good. The unit's
    available count drops, written to the history with source `hold`. An
    expired hold is confirmed only if a place is still free."""
    if not may_close_hold(actor, hold, confirming=True):
        raise Forbidden("confirming a hold needs the facility's staff, an operator or a manager")
    unit = lock_unit(hold.unit_id)
    db.session.refresh(hold)
    status = hold.status_at(now)
    if status in ("confirmed", "released"):
        raise _conflict(f"this hold is already {status}", unit)
    if status == "expired":
        free = free_places(unit, now)
        if free < hold.places:
            raise _conflict(f"this hold expired and no place is free now ({free} free)", unit)
    elif unit.available < hold.places:
        raise _conflict(
            f"the unit reports {unit.available} available, fewer than this hold's {hold.places}: correct the count",
            unit,
        )
    before = unit.available
    unit.available = before - hold.places
    unit.updated_at = now
    unit.updated_by_id = actor.user_id
    unit.stale_at = now + timedelta(hours=unit.facility.stale_after_hours)
    hold.status = "confirmed"
    hold.closed_at = now
    hold.closed_by_id = actor.user_id
    db.session.add(
        CapacityChange(unit_id=unit.id, at=now, action="set", field="available", before=before,
                       after=unit.available, source="hold", actor_id=actor.user_id,
                       note=f"hold {hold.id} confirmed")
    )
    db.session.flush()
    audit.record(actor, "hold.confirm", now, hold, unit=unit.id, places=hold.places)
    return hold


def release(actor: Actor, hold: Hold, now: datetime) -> Hold:
    if not may_close_hold(actor, hold, confirming=False):
        raise Forbidden("you may release only holds you made, or holds of your facility")
    unit = lock_unit(hold.unit_id)
    db.session.refresh(hold)
    status = hold.status_at(now)
    if status != "active":
        raise _conflict(f"this hold is already {status}", unit)
    hold.status = "released"
    hold.closed_at = now
    hold.closed_by_id = actor.user_id
    db.session.flush()
    audit.record(actor, "hold.release", now, hold)
    return hold


def extend(actor: Actor, hold: Hold, minutes, now: datetime) -> Hold:
    if not may_close_hold(actor, hold, confirming=False):
        raise Forbidden("you may extend only holds you made, or holds of your facility")
    minutes = whole_number(minutes, "minutes", 1, MAX_MINUTES)
    unit = lock_unit(hold.unit_id)
    db.session.refresh(hold)
    status = hold.status_at(now)
    if status != "active":
        raise _conflict(f"this hold is {status}: make a new one", unit)
    hold.expires_at = hold.expires_at + timedelta(minutes=minutes)
    db.session.flush()
    audit.record(actor, "hold.extend", now, hold, minutes=minutes)
    return hold


def visible(user, now: datetime, *, status: str | None = None, facility_id: int | None = None,
            after_id: int | None = None, limit: int = 100) -> list[Hold]:
    """The holds `user` may see, by id; `status` as of `now`."""
    query = select(Hold).join(CapacityUnit, CapacityUnit.id == Hold.unit_id).options(
        joinedload(Hold.unit).joinedload(CapacityUnit.facility), joinedload(Hold.created_by)
    )
    facility_ids = visible_placement_facility_ids(user)
    if facility_ids is not None:
        query = query.where(or_(Hold.created_by_id == user.id, CapacityUnit.facility_id.in_(facility_ids)))
    if facility_id is not None:
        query = query.where(CapacityUnit.facility_id == facility_id)
    if status == "active":
        query = query.where(Hold.status == "active", Hold.expires_at > now)
    elif status == "expired":
        query = query.where(or_(Hold.status == "expired", (Hold.status == "active") & (Hold.expires_at <= now)))
    elif status is not None:
        query = query.where(Hold.status == status)
    query = query.where(Hold.id > (after_id or 0)).order_by(Hold.id).limit(limit)
    return list(db.session.scalars(query).unique())


def expire_overdue(now: datetime) -> list[Hold]:
    """Mark active holds past their expiry as expired (the scheduler's job;
    reads already treat them as expired). Returns the holds it marked."""
    overdue = list(db.session.scalars(
        select(Hold).where(Hold.status == "active", Hold.expires_at <= now).with_for_update(skip_locked=True)
    ))
    if overdue:
        db.session.execute(
            update(Hold).where(Hold.id.in_([h.id for h in overdue])).values(status="expired", closed_at=now)
            .execution_options(synchronize_session="fetch")
        )
    return overdue
