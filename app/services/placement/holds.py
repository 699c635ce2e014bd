"""Holds: a place reserved for a household on its way, race-safe.

Creating, confirming and extending a hold lock the unit's row first (SELECT …
FOR UPDATE on PostgreSQL; on SQLite the writing transaction already holds the
database's write lock, taken by BEGIN IMMEDIATE), then sum the unexpired
holds in a new statement, then write. Two operators racing for the last place
get one hold and one conflict.

On a kind that requires the facility's acceptance a new hold is `requested`:
it takes its places until `accept_by` (its expires_at meanwhile), when the
facility accepts it (`active`, for its minutes from then), declines it, or it
lapses. Every hold ends with an outcome (PRODUCT.md, "Hold outcome"); one that
ends without the household placed puts its contact back among the unmet demand
and tells whoever made it (`after_end`).
"""

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Call, CapacityChange, CapacityUnit, Hold, OutboxMessage, PlacementRequest, PlacementSearch
from app.models.placement import DECLINE_REASONS, HOLDING_STATUSES, RELEASE_OUTCOMES, REOPENING_OUTCOMES
from app.services.core import audit
from app.services.core.access import (
    PLACE_HOLDERS,
    REQUEST_KEEPERS,
    Actor,
    is_partner,
    may_answer_hold_request,
    may_close_hold,
    may_use_search,
    may_withdraw_turn_aways_of_others,
    visible_placement_facility_ids,
)
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.core.validation import MAX_ID, aware_time, one_of, text, whole_number
from app.services.placement import hold_notices, offers, requests, turn_aways
from app.services.placement.criteria import linked_call_id
from app.services.registry.capacity import held_places, holding

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
    default_minutes: int | None = None,
) -> Hold:
    """Hold `persons` places (or a room or slot) of a unit for `minutes`;
    without them `default_minutes`, else as `default_minutes_for` the call.
    On a kind that requires the facility's acceptance the hold is `requested`
    until accept_by, its minutes counted from the acceptance.
    `request_id`: the open waiting-list request it is for."""
    if not actor.has_role(*PLACE_HOLDERS):
        raise Forbidden("holding a place needs the role operator, manager or partner")
    unit_id = whole_number(unit_id, "unit_id", 1, MAX_ID)
    persons = whole_number(persons, "persons", 1, MAX_PERSONS)
    household = text(household, "household", 500)
    note = text(note, "note", 2000)
    contact = text(contact, "contact", 200) or _how_to_reach(actor)
    arrival = aware_time(arrival, "arrival")
    call_id = linked_call_id(actor, call_id)
    if minutes is not None:
        minutes = whole_number(minutes, "minutes", 1, MAX_MINUTES)
    elif default_minutes is not None:
        minutes = default_minutes
    else:
        minutes = default_minutes_for(db.session.get(Call, call_id) if call_id else None)
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
        created_at=now,
        created_by_id=actor.user_id,
        minutes=minutes,
    )
    if unit.kind.requires_acceptance:
        hold.status = "requested"
        hold.accept_by = hold.expires_at = now + timedelta(minutes=current_app.config["HOLD_ACCEPT_MINUTES"])
    else:
        hold.status = "active"
        hold.expires_at = now + timedelta(minutes=minutes)
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


def default_minutes_for(call: Call | None) -> int:
    """How long a hold runs unless told otherwise: the longest hold for a call
    screened high risk (PRODUCT.md flow D), else the default. The hold form
    pre-selects it."""
    if call is not None and call.risk_level == "high":
        return current_app.config["HOLD_LONGEST_MINUTES"]
    return current_app.config["HOLD_DEFAULT_MINUTES"]


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
    if status == "requested":
        raise _conflict("this hold waits for the facility's acceptance: accept it first", unit)
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
    hold.outcome = "admitted"
    hold.closed_at = now
    hold.closed_by_id = actor.user_id
    db.session.add(
        CapacityChange(unit_id=unit.id, at=now, action="set", field="available", before=before,
                       after=unit.available, source="hold", actor_id=actor.user_id,
                       note=f"hold {hold.id} confirmed")
    )
    db.session.flush()
    audit.record(actor, "hold.confirm", now, hold, unit=unit.id, places=hold.places)
    after_end(actor, hold, now)
    return hold


def release(actor: Actor, hold: Hold, now: datetime, *, outcome="cancelled", reason=None, note=None) -> Hold:
    """End a hold before the household arrived, with its outcome
    (RELEASE_OUTCOMES): `declined` only by the facility's staff and with a
    reason (DECLINE_REASONS); a requested hold its maker may only cancel or
    release as found elsewhere. `note` is added to the hold's note."""
    outcome = one_of(outcome, "outcome", RELEASE_OUTCOMES) or "cancelled"
    reason = one_of(reason, "reason", DECLINE_REASONS)
    note = text(note, "note", 2000)
    if outcome == "declined":
        if not may_answer_hold_request(actor, hold):
            raise Forbidden("only the facility's staff may decline a hold")
        if reason is None:
            raise InvalidInput("a declined hold needs a reason", field="reason")
    elif reason is not None:
        raise InvalidInput("a reason is given only when declining", field="reason")
    if not may_close_hold(actor, hold, confirming=False):
        raise Forbidden("you may release only holds you made, or holds of your facility")
    unit = lock_unit(hold.unit_id)
    db.session.refresh(hold)
    status = hold.status_at(now)
    if status not in HOLDING_STATUSES:
        raise _conflict(f"this hold is already {status}", unit)
    if status == "requested" and outcome == "no_show":
        raise InvalidInput("a hold the facility has not accepted yet has no arrival to miss", field="outcome")
    return _end(actor, hold, now, "released", outcome, reason, note)


def accept(actor: Actor, hold: Hold, now: datetime) -> Hold:
    """The facility takes the household in: the requested hold becomes active,
    for its minutes from now."""
    if not may_answer_hold_request(actor, hold):
        raise Forbidden("only the facility's staff may accept a hold")
    unit = lock_unit(hold.unit_id)
    db.session.refresh(hold)
    status = hold.status_at(now)
    if status != "requested":
        raise _conflict(f"this hold is {status}, not waiting for an answer", unit)
    hold.status = "active"
    hold.expires_at = now + timedelta(minutes=hold.minutes)
    db.session.flush()
    audit.record(actor, "hold.accept", now, hold, minutes=hold.minutes)
    return hold


def decline(actor: Actor, hold: Hold, reason, note, now: datetime) -> Hold:
    """The facility cannot take the household in: the hold (requested, or
    accepted already) ends declined, with a reason."""
    return release(actor, hold, now, outcome="declined", reason=reason, note=note)


def _end(actor: Actor, hold: Hold, now: datetime, status: str, outcome: str, reason: str | None,
         note: str | None) -> Hold:
    hold.status = status
    hold.outcome = outcome
    hold.outcome_reason = reason
    if note:
        hold.note = f"{hold.note}\n{note}" if hold.note else note
    hold.closed_at = now
    hold.closed_by_id = actor.user_id
    db.session.flush()
    audit.record(actor, "hold.decline" if outcome == "declined" else "hold.release", now, hold,
                 outcome=outcome, reason=reason)
    after_end(actor, hold, now)
    return hold


def after_end(actor: Actor, hold: Hold, now: datetime) -> OutboxMessage | None:
    """What follows a hold's end (hold.outcome set): its places are free for
    the waiting list (unless the household took them), its request hears of
    it, and an outcome without the household placed reopens the contact's
    turn-away and tells whoever made the hold. Returns that notice, if written."""
    if hold.outcome != "admitted":
        offers.places_freed([hold.unit_id], now)
    if hold.request_id is not None:
        requests.hold_ended(hold, now)
    if hold.outcome not in REOPENING_OUTCOMES:
        return None
    _reopen_turn_away(actor, hold, now)
    return hold_notices.tell_maker(actor, hold, now)


def _reopen_turn_away(actor: Actor, hold: Hold, now: datetime) -> None:
    """The contact of the hold (its search's, else its call's) is turned away
    again: "ineligible" when the facility found it not eligible, else "full".
    A hold of neither (a partner's, made without a search) has no contact."""
    search = db.session.get(PlacementSearch, hold.search_id) if hold.search_id else None
    if search is None and hold.call_id is None:
        return
    turn_aways.reopen(
        actor, now,
        key=search.contact_key if search else turn_aways.contact_key(call_id=hold.call_id),
        reason="ineligible" if hold.outcome_reason == "not_eligible" else "full",
        criteria=search.criteria if search else {},
        region_id=search.region_id if search else hold.unit.region_id,
        call_id=hold.call_id,
        search_id=hold.search_id,
    )


def extend(actor: Actor, hold: Hold, minutes, now: datetime) -> Hold:
    if not may_close_hold(actor, hold, confirming=False):
        raise Forbidden("you may extend only holds you made, or holds of your facility")
    minutes = whole_number(minutes, "minutes", 1, MAX_MINUTES)
    unit = lock_unit(hold.unit_id)
    db.session.refresh(hold)
    status = hold.status_at(now)
    if status == "requested":
        raise _conflict("this hold waits for the facility's acceptance: it runs its minutes from then", unit)
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
    if status in HOLDING_STATUSES:
        query = query.where(Hold.status == status, Hold.expires_at > now)
    elif status == "expired":
        query = query.where(or_(Hold.status == "expired", Hold.status.in_(HOLDING_STATUSES) & ~holding(now)))
    elif status is not None:
        query = query.where(Hold.status == status)
    query = query.where(Hold.id > (after_id or 0)).order_by(Hold.id).limit(limit)
    return list(db.session.scalars(query).unique())


def expire_overdue(now: datetime) -> list[Hold]:
    """Mark holds past their expiry as expired: an active one with the
    outcome `expired`, a requested one the facility left unanswered `lapsed`
    (the scheduler's job, hold_expiry; reads already treat them as expired).
    Returns the holds it marked; `after_end` follows for each."""
    overdue = list(db.session.scalars(
        select(Hold).where(Hold.status.in_(HOLDING_STATUSES), Hold.expires_at <= now)
        .with_for_update(skip_locked=True)
    ))
    if overdue:
        db.session.execute(
            update(Hold).where(Hold.id.in_([h.id for h in overdue]))
            .values(status="expired", closed_at=now,
                    outcome=case((Hold.status == "requested", "lapsed"), else_="expired"))
            .execution_options(synchronize_session="fetch")
        )
    return overdue
