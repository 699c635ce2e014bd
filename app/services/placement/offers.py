"""Offers of freed places to the waiting list (PRODUCT.md flow D).

`places_freed(unit_ids, now)` is called wherever a unit's free places may
have risen: a count set higher (capacity.set_available, facilities.save_unit),
a facility reopened (capacity.set_open_for_intake), a hold ended (the holds
code), an offer declined or expired, a facility entering its intake hours
(`intake_opened`, a scheduler job). For each unit, in the same transaction:

- the unit's row is locked (FOR UPDATE on PostgreSQL; SQLite serialises
  writers), then read with its kind and its offerable places: free
  (available − places of active, unexpired holds) − places of its open
  offers; none while the facility is closed for intake, or outside its intake
  hours right now (the desk could not send anyone there: the scheduler's
  `intake_opened` offers them once intake opens);
- the waiting requests (open, not expired, without an open offer or a live
  hold of their own, never offered this unit before) are read in
  waiting-list order (WAITING_ORDER), a few at a time, and judged as read
  from a compact form of their stored criteria (`_wants`, parsed once per
  distinct text): a kind asked for that serves their client type, the
  region when they must stay in it, not a facility they left out, the
  facility's rules as the search's ranker has them (ranking.facility_takes),
  a room that holds the household, places left for it;
- on PostgreSQL, a request that fits is locked and read again
  (`_still_waiting`), in the one waiting-list order, so that what another
  transaction committed meanwhile is seen and no two wait for each other in
  a circle; on SQLite nothing can come between (one writer at a time);
- the first that fit, while places are left, are offered the places a hold
  for their household would take: one insert for the offers, one for their
  audit events. The partial unique index (one open offer per request) is
  the last guard; the lock keeps it from being hit.

Every operator on duty is told of each offer by their channel: "request 12:
a place may fit" — never the facility, the household or the risk.

`take` makes the hold for the request (and so places nothing yet: confirming
or ending the hold does, requests.hold_ended); `decline` and `expire_offers`
pass the place on to the next request.
"""

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import bindparam, case, cast, func, insert, select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.types import Text

from app.clock import local_zone
from app.extensions import db
from app.models import CapacityKind, CapacityUnit, Facility, Hold, PlacementOffer, PlacementRequest
from app.models.types import UTCDateTime
from app.services.core import audit
from app.services.core.access import REQUEST_KEEPERS, SYSTEM, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.delivery import notices
from app.services.hotline.calls import on_duty_operators
from app.services.placement import candidates, holds
from app.services.placement.candidates import (
    F_GENDERS,
    F_HOURS,
    U_AVAILABLE,
    U_FACILITY,
    U_HELD,
    U_ID,
    U_OPEN,
    U_REGION,
    U_ROOM,
)
from app.services.placement.criteria import Criteria, Household, parse_criteria
from app.services.placement.ranking import Ranker, facility_takes, places_needed
from app.services.registry import intake_hours
from app.texts import jobs

PURPOSE = "placement_offer"

_R = PlacementRequest
_RT = PlacementRequest.__table__.c
_O = PlacementOffer

# The waiting list's order: risk level high, elevated, not screened, standard;
# then the longest waiting first.
WAITING_ORDER = (
    case((_R.risk_level == "high", 0), (_R.risk_level == "elevated", 1), (_R.risk_level.is_(None), 2), else_=3),
    _R.opened_at,
    _R.id,
)


def criteria_of(request: PlacementRequest) -> Criteria:
    """The request's criteria as the search takes them, again: its stored
    criteria, its call, and the facilities it must never be proposed
    (excluded_facility_ids: those the danger places and the avoided ones left
    out when it was filed). Raises InvalidInput when they no longer parse (a
    kind removed since)."""
    stored = request.criteria
    criteria = parse_criteria({
        "client_type": stored["client_type"], "adults": stored["adults"], "children": _children(stored),
        "gender": stored["gender"], "needs": stored["needs"], "languages": stored["languages"],
        "postcode": f'{stored["postcode"]} {stored["municipality"]}', "kinds": stored["kinds"],
        "beyond_region": stored["beyond_region"], "call_id": request.call_id,
    })
    return replace(criteria, avoid_facilities=tuple(request.excluded_facility_ids or ()))


def _children(stored: dict) -> list:
    """The stored children as the search takes them, with the genders given
    (a boy's age decides max_boy_age)."""
    genders = stored.get("child_genders") or [None] * len(stored["children"])
    return [age if gender is None else {"age": age, "gender": gender}
            for age, gender in zip(stored["children"], genders, strict=True)]


def _waiting(now, unit_id) -> list:
    """Requests that may be offered a place of the unit now: open, not
    expired, without an open offer or a live hold of their own, and never
    offered this unit before (an offer declined or expired passes on). Each
    subquery is read once, not once per request."""
    return [
        _R.status == "open", _R.expires_at > now,
        _R.id.not_in(select(_O.request_id).where(_O.status == "open")),
        # request_id > 0 rather than IS NOT NULL (ids are positive): SQLite reads that from its index.
        _R.id.not_in(select(Hold.request_id).where(Hold.request_id > 0,
                                                   Hold.status.in_(("active", "requested")), Hold.expires_at > now)),
        _R.id.not_in(select(_O.request_id).where(_O.unit_id == unit_id, _O.status.in_(("declined", "expired")))),
    ]


class _Wants(NamedTuple):
    """What the matching judges of a request's stored criteria."""

    kinds: tuple[str, ...]
    household: Household
    beyond_region: bool | None


@lru_cache(maxsize=4096)
def _wants(stored_text: str) -> _Wants:
    """A request's criteria, as their stored JSON text, judged: parsed once
    per distinct text (alike requests share it), not once per update."""
    stored = json.loads(stored_text)
    return _Wants(tuple(stored["kinds"]), Household.of_stored(stored), stored["beyond_region"])


@lru_cache(maxsize=1024)
def _decoded(json_text: str | None):
    """A JSON value read as text (facility ids, genders, client types, intake
    hours), decoded once per distinct text. The value is shared: no caller
    changes it."""
    return json.loads(json_text or "null")


class _Unit:
    """A unit whose free places are offered, as the matching judges requests
    against it: its row as the search reads one (candidates.UNIT_ROW), its
    kind's code, counting and client types served, and the places of its open
    offers; read once, with the unit's row locked."""

    def __init__(self, row):
        self.row = row
        self.id, self.facility_id, self.region_id = row[U_ID], row[U_FACILITY], row[U_REGION]
        self.genders = frozenset(_decoded(row[F_GENDERS]))
        # Free places (available less the places holds take) not offered yet: never offered twice while open.
        self.left = max(row[U_AVAILABLE] - row[U_HELD], 0) - row.offered

    def open_now(self, now: datetime, zone: ZoneInfo) -> bool:
        """Whether the desk could send someone there now: open for intake, and
        inside its intake hours."""
        return self.row[U_OPEN] and intake_hours.is_open(_decoded(self.row[F_HOURS]), now, zone)

    def places(self, stored_text: str, region_id: int | None, excluded_text: str | None) -> int | None:
        """What a hold for the request would take of the unit, or None when it
        does not fit: of a kind asked for that serves its client type, in the
        region when it must be, not a facility left out, taken by the
        facility's rules (ranking.facility_takes), a room that holds the
        household."""
        wants, row = _wants(stored_text), self.row
        household = wants.household
        if (row.code not in wants.kinds or household.client_type not in _decoded(row.serves)
                or (wants.beyond_region is False and region_id != self.region_id)
                or self.facility_id in (_decoded(excluded_text) or ())
                or not facility_takes(row, self.genders, household)):
            return None
        return places_needed(row.counts, row[U_ROOM], household.persons)


# Built once, values bound at each run: building and compiling costs more than running.
_NOW = bindparam("now", type_=UTCDateTime)
_K = CapacityKind.__table__.c
# The unit's row, its kind, and the places of its open offers.
_UNIT = (candidates.UNIT_ROW.add_columns(
    _K.code, _K.counts, cast(_K.serves, Text).label("serves"),
    select(func.coalesce(func.sum(_O.places), 0)).where(_O.unit_id == bindparam("unit"), _O.status == "open")
    .scalar_subquery().label("offered"))
    .where(_K.id == CapacityUnit.__table__.c.kind_id))
_LOCK_UNIT = select(CapacityUnit.id).where(CapacityUnit.id == bindparam("unit")).with_for_update()
# The requests waiting for the unit in waiting-list order, their criteria as
# text: _Unit.places judges them (SQL narrowing them by the kind's code in the
# text costs more than it saves: most ask for the common kinds). Read as they
# are judged, a few rows at a time (yield_per): most updates judge only the first.
_WAITING_ROWS = (select(_RT.id, cast(_RT.criteria, Text), _RT.region_id, cast(_RT.excluded_facility_ids, Text))
                 .where(*_waiting(_NOW, bindparam("unit"))).order_by(*WAITING_ORDER)
                 .execution_options(yield_per=32))
_LOCK_REQUEST = select(_R.id).where(_R.id == bindparam("request")).with_for_update()
_STILL_WAITING = select(_R.id).where(_R.id == bindparam("request"), *_waiting(_NOW, bindparam("unit")))


def _still_waiting(connection, request_id: int, unit_id: int, now: datetime) -> bool:
    """On PostgreSQL: lock the request's row (FOR UPDATE), then read again,
    by a new statement, whether it still waits, so that an offer, hold or
    closing another transaction committed meanwhile is seen. Once it is
    locked nobody else offers it before this transaction ends."""
    connection.execute(_LOCK_REQUEST, {"request": request_id})
    return connection.scalar(_STILL_WAITING, {"request": request_id, "unit": unit_id, "now": now}) is not None


def _one_writer(connection) -> bool:
    """Whether the database lets one transaction write at a time (SQLite):
    then none can change the unit or the list between this transaction's
    reading and its offers' insert (it writes: it holds the write lock, or
    its insert fails), and nothing needs locking or reading again."""
    return connection.dialect.name == "sqlite"


def _chosen(connection, unit: _Unit, now: datetime) -> list[tuple[int, int]]:
    """(request id, places) of the first waiting requests, in waiting-list
    order, that the unit's places left fit. Unless one writer writes at a
    time, each request chosen is locked and read again (`_still_waiting`),
    in waiting-list order, the one order every transaction locks in: none
    waits for another in a circle."""
    chosen, left = [], unit.left
    recheck = not _one_writer(connection)
    rows = connection.execute(_WAITING_ROWS, {"unit": unit.id, "now": now})
    try:
        for request_id, stored_text, region_id, excluded_text in rows:
            places = unit.places(stored_text, region_id, excluded_text)
            if (places is not None and places <= left
                    and (not recheck or _still_waiting(connection, request_id, unit.id, now))):
                chosen.append((request_id, places))
                left -= places
                if left < 1:
                    break
    finally:
        rows.close()
    return chosen


class Offered(NamedTuple):
    """An offer just made, as the desk is told of it."""

    id: int
    request_id: int
    unit_id: int
    places: int


_MADE = insert(_O.__table__).returning(*(_O.__table__.c[name] for name in Offered._fields))


def _offer_unit(unit_id: int, now: datetime, zone: ZoneInfo, minutes: int) -> list[Offered]:
    db.session.flush()  # what the caller changed, for the statements below (not the session's) to read
    connection = db.session.connection()
    if not _one_writer(connection):
        # Locked first, then read by a new statement: one that waited for the
        # lock would read the unit's holds and offers as they were before.
        connection.execute(_LOCK_UNIT, {"unit": unit_id})
    row = connection.execute(_UNIT, {"unit": unit_id, "now": now}).one_or_none()
    if row is None:
        raise NotFound(f"no capacity unit {unit_id}")
    unit = _Unit(row)
    if unit.left < 1 or not unit.open_now(now, zone):
        return []
    chosen = _chosen(connection, unit, now)
    if not chosen:
        return []
    # One insert for the offers, one for their audit events.
    expires_at = now + timedelta(minutes=minutes)
    made = sorted(Offered(*offered) for offered in connection.execute(_MADE, [
        {"request_id": request_id, "unit_id": unit.id, "places": places, "status": "open", "offered_at": now,
         "expires_at": expires_at} for request_id, places in chosen]))
    audit.record_each(SYSTEM, "placement_offer.make", now, PlacementOffer,
                      ((offer.id, {"request": offer.request_id, "unit": unit.id, "places": offer.places})
                       for offer in made))
    return made


def _notify(offers: list[Offered], now: datetime) -> None:
    if not offers:
        return
    for operator in on_duty_operators():
        channel = notices.channel_for(operator)
        lang = jobs.language(operator.language)
        for offer in offers:
            notices.send_once(now, key=f"placement-offer:{offer.id}:{operator.id}", user=operator,
                              channel=channel, purpose=PURPOSE,
                              body=jobs.text(lang, "placement_offer", request=offer.request_id),
                              subject=jobs.text(lang, "placement_offer_subject", request=offer.request_id))


def any_waiting(now: datetime) -> bool:
    return db.session.scalar(select(_R.id).where(_R.status == "open", _R.expires_at > now).limit(1)) is not None


def places_freed(unit_ids: Iterable[int], now: datetime) -> list[Offered]:
    """Places of these units may have freed up (a count rose, a hold ended, a
    facility reopened or entered its intake hours): offer them, in the same
    transaction, to the open requests they fit (see the module's docstring).
    Returns the offers made."""
    ids = sorted(set(unit_ids))
    if not ids or not any_waiting(now):
        return []
    zone = local_zone()
    minutes = current_app.config["PLACEMENT_OFFER_MINUTES"]
    made = []
    for unit_id in ids:
        made += _offer_unit(unit_id, now, zone, minutes)
    _notify(made, now)
    return made


def offer_to(request: PlacementRequest, now: datetime, *, preference_km: float) -> Offered | None:
    """A request just filed: offer it the best place that fits and is free
    now (a place may already be free), as the search ranks them."""
    from app.services.placement.nearby import best  # the search's reading outward, as for a search

    try:
        criteria = criteria_of(request)
    except InvalidInput:
        return None
    zone = local_zone()
    ranker = Ranker(criteria, now, zone, preference_km, request.region_id)
    scope = request.region_id if criteria.beyond_region is False else None
    for key, row, _free, _needed in best(criteria, ranker, scope, now):
        closed_now = key[0]
        if closed_now:
            break  # the rest are closed too: they rank last
        made = [offer for offer in _offer_unit(row[U_ID], now, zone,
                                               current_app.config["PLACEMENT_OFFER_MINUTES"])
                if offer.request_id == request.id]
        if made:
            _notify(made, now)
            return made[0]
    return None


# --- the desk's answers ---------------------------------------------------------------


def get(offer_id: int) -> PlacementOffer:
    offer = db.session.get(PlacementOffer, offer_id, options=[joinedload(PlacementOffer.request)])
    if offer is None:
        raise NotFound(f"no offer {offer_id}")
    return offer


def open_offers(now: datetime, region_ids: set[int] | None = None) -> list[PlacementOffer]:
    """The open offers not yet expired, oldest first (the console shows them)."""
    query = (select(PlacementOffer).join(_R, _R.id == _O.request_id)
             .where(_O.status == "open", _O.expires_at > now).order_by(_O.id)
             .options(joinedload(PlacementOffer.request)))
    if region_ids is not None:
        query = query.where(_R.region_id.in_(region_ids))
    return list(db.session.scalars(query))


def _answerable(actor: Actor, offer: PlacementOffer, now: datetime) -> None:
    if not actor.has_role(*REQUEST_KEEPERS):
        raise Forbidden("answering an offer needs the role operator or manager")
    holds.lock_unit(offer.unit_id)
    db.session.refresh(offer)
    if offer.status != "open" or offer.expires_at <= now:
        status = "expired" if offer.status == "open" else offer.status
        raise Conflict(f"this offer is already {status}", current={"offer": offer})


def take(actor: Actor, offer: PlacementOffer, now: datetime, *, minutes=None) -> Hold:
    """Hold the offered place for the request (a hold linked to it, for the
    request's household and call): the offer is taken."""
    _answerable(actor, offer, now)
    request = offer.request
    stored = request.criteria
    offer.status = "taken"
    offer.closed_at = now
    offer.closed_by_id = actor.user_id
    db.session.flush()
    hold = holds.create(actor, now, unit_id=offer.unit_id, persons=stored["adults"] + len(stored["children"]),
                        minutes=minutes, call_id=request.call_id, request_id=request.id)
    offer.hold_id = hold.id
    audit.record(actor, "placement_offer.take", now, offer, request=request.id, hold=hold.id)
    return hold


def decline(actor: Actor, offer: PlacementOffer, now: datetime) -> list[Offered]:
    """The desk passes: the place goes to the next request. Returns the offers that made."""
    _answerable(actor, offer, now)
    offer.status = "declined"
    offer.closed_at = now
    offer.closed_by_id = actor.user_id
    db.session.flush()
    audit.record(actor, "placement_offer.decline", now, offer, request=offer.request_id)
    return places_freed([offer.unit_id], now)


def close_open_offers(request_id: int, now: datetime) -> list[int]:
    """A request closed: its open offer is withdrawn. Returns the units whose places it frees."""
    units = list(db.session.scalars(select(_O.unit_id).where(_O.request_id == request_id, _O.status == "open")))
    if units:
        db.session.execute(update(PlacementOffer).where(_O.request_id == request_id, _O.status == "open")
                           .values(status="withdrawn", closed_at=now)
                           .execution_options(synchronize_session="fetch"))
    return units


def expire_offers(now: datetime) -> dict:
    """The scheduler's job: offers not taken in time expire, and their places
    pass to the next requests."""
    overdue = list(db.session.scalars(
        select(PlacementOffer).where(_O.status == "open", _O.expires_at <= now).order_by(_O.id)
        .with_for_update(skip_locked=True)))
    for offer in overdue:
        offer.status = "expired"
        offer.closed_at = now
        audit.record(SYSTEM, "placement_offer.expire", now, offer, request=offer.request_id)
    db.session.flush()
    made = places_freed([offer.unit_id for offer in overdue], now)
    return {"expired": len(overdue), "offered": len(made)}


def intake_opened(now: datetime) -> dict:
    """The scheduler's job: facilities that entered their intake hours since
    the job's last run (its interval ago) offer their free places. Cheap: only
    while requests wait, and only units of open facilities with places available."""
    if not any_waiting(now):
        return {"offered": 0}
    zone = local_zone()
    since = now - timedelta(seconds=current_app.config["PLACEMENT_INTAKE_OPENING_SECONDS"])
    rows = db.session.execute(
        select(CapacityUnit.id, Facility.intake_hours).join(Facility, Facility.id == CapacityUnit.facility_id)
        .where(CapacityUnit.facility_open.is_(True), CapacityUnit.available > 0)
    ).all()
    opened = [unit_id for unit_id, hours in rows
              if intake_hours.is_open(hours, now, zone) and not intake_hours.is_open(hours, since, zone)]
    return {"offered": len(places_freed(opened, now))}

