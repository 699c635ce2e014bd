"""Placement requests: the waiting list (PRODUCT.md flow D).

`file` keeps a household's criteria when nothing fits (one open request per
call), and tries it at once against what is free (offers.offer_to); freed
places reach it later through offers.places_freed. `listing` orders the list
by risk level (high, elevated, not screened, standard), then the longest
waiting first; `live_matches` runs the search again for the request, writing
nothing. A request ends placed (its hold admitted: `hold_ended`), withdrawn
(by the desk, or its hold ended elsewhere or cancelled) or expired (the
scheduler's `expire_overdue`, PLACEMENT_REQUEST_HOURS after filing). Open
requests are unmet demand: `open_per_region`.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from app.extensions import db
from app.models import Call, Facility, Hold, PlacementRequest, PlacementSearch, Region
from app.models.placement import REQUEST_STATUSES
from app.services.core import audit, validation
from app.services.core.access import REQUEST_KEEPERS, SYSTEM, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.placement import danger, offers
from app.services.placement.criteria import Criteria, linked_call_id
from app.services.placement.search import Result, search

MAX_NOTE = 2000
MAX_REASON = 500


def _keeper(actor: Actor, doing: str) -> None:
    if not actor.has_role(*REQUEST_KEEPERS):
        raise Forbidden(f"{doing} needs the role operator or manager")


def open_for_call(call_id: int) -> PlacementRequest | None:
    return db.session.scalar(select(PlacementRequest).where(PlacementRequest.call_id == call_id,
                                                            PlacementRequest.status == "open"))


def file(actor: Actor, criteria: Criteria, now: datetime, *, note=None, excluded_facility_ids=(),
         danger_checked: bool = False, search: PlacementSearch | None = None) -> PlacementRequest:
    """Put a household on the waiting list: its criteria as stored (never
    danger places), the facilities they and the avoided ones left out (ids),
    the call and its risk level, the searched place's region. One open request
    per call: a second raises Conflict carrying the open one. Tries the new
    request at once against the places free now. Does not commit."""
    _keeper(actor, "filing a placement request")
    call_id = linked_call_id(actor, criteria.call_id)
    note = validation.text(note, "note", MAX_NOTE)
    risk_level = None
    if call_id is not None:
        # The call's row, locked: two filings for one call queue here, the second sees the first.
        call = db.session.scalar(select(Call).where(Call.id == call_id).with_for_update())
        risk_level = call.risk_level
        existing = open_for_call(call_id)
        if existing is not None:
            raise Conflict(f"call {call_id} already has open request {existing.id}", current={"request": existing})
    # The danger places are never kept: only the facilities they leave out now.
    excluded = sorted({int(i) for i in excluded_facility_ids} | set(criteria.avoid_facilities)
                      | danger.excluded_facilities(criteria.danger_places))
    danger_checked = danger_checked or bool(criteria.danger_places)
    request = PlacementRequest(
        status="open", opened_at=now,
        expires_at=now + timedelta(hours=current_app.config["PLACEMENT_REQUEST_HOURS"]),
        created_by_id=actor.user_id, call_id=call_id, search_id=search.id if search else None,
        region_id=db.session.scalar(select(Region.id).where(Region.slug == criteria.place.region)),
        criteria=criteria.stored(), risk_level=risk_level, note=note, excluded_facility_ids=excluded,
        danger_checked_at=now if danger_checked else None,
    )
    db.session.add(request)
    db.session.flush()
    audit.record(actor, "placement_request.file", now, request, call=call_id, region=request.region_id)
    offers.offer_to(request, now, preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
    return request


def get(user, request_id: int) -> PlacementRequest:
    if user is None or not user.has_role(*REQUEST_KEEPERS):
        raise Forbidden("the waiting list is for operators and managers")
    request = db.session.get(PlacementRequest, request_id)
    if request is None:
        raise NotFound(f"no placement request {request_id}")
    return request


def listing(user, status: str | None = "open", region: str | None = None, *, offset: int = 0,
            limit: int = 100) -> list[PlacementRequest]:
    """The requests of `status` (None: all) and `region` (a slug), in
    waiting-list order: one national list, for operators and managers."""
    if user is None or not user.has_role(*REQUEST_KEEPERS):
        raise Forbidden("the waiting list is for operators and managers")
    query = select(PlacementRequest)
    if status is not None:
        if status not in REQUEST_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(REQUEST_STATUSES)}", field="status")
        query = query.where(PlacementRequest.status == status)
    if region not in (None, ""):
        region_id = db.session.scalar(select(Region.id).where(Region.slug == region))
        if region_id is None:
            raise InvalidInput(f"unknown region {region!r}", field="region")
        query = query.where(PlacementRequest.region_id == region_id)
    return list(db.session.scalars(query.order_by(*offers.WAITING_ORDER).offset(offset).limit(limit)))


def _close(request: PlacementRequest, status: str, now: datetime, *, by_id: int | None, reason: str | None) -> None:
    request.status = status
    request.closed_at = now
    request.closed_by_id = by_id
    request.close_reason = reason
    freed = offers.close_open_offers(request.id, now)
    db.session.flush()
    offers.places_freed(freed, now)


def withdraw(actor: Actor, request: PlacementRequest, reason, now: datetime) -> PlacementRequest:
    """The desk takes the request off the list (found a place elsewhere, no
    longer needed): its open offer passes on."""
    _keeper(actor, "withdrawing a placement request")
    reason = validation.text(reason, "reason", MAX_REASON)
    if not reason:
        raise InvalidInput("say why the request is withdrawn", field="reason")
    db.session.refresh(request, with_for_update=True)
    if request.status != "open":
        raise Conflict(f"this request is already {request.status}", current={"request": request})
    _close(request, "withdrawn", now, by_id=actor.user_id, reason=reason)
    audit.record(actor, "placement_request.withdraw", now, request)
    return request


def expire_overdue(now: datetime) -> dict:
    """The scheduler's job: open requests past their time expire."""
    overdue = list(db.session.scalars(
        select(PlacementRequest).where(PlacementRequest.status == "open", PlacementRequest.expires_at <= now)
        .order_by(PlacementRequest.id).with_for_update(skip_locked=True)))
    for request in overdue:
        _close(request, "expired", now, by_id=None, reason=None)
        audit.record(SYSTEM, "placement_request.expire", now, request)
    return {"expired": len(overdue)}


def hold_ended(hold: Hold, now: datetime) -> None:
    """A hold made for a request (hold.request_id) ended with hold.outcome:
    admitted places the request; declined, no_show, expired and lapsed leave
    it open for new offers; elsewhere and cancelled withdraw it."""
    if hold.request_id is None:
        return
    request = db.session.get(PlacementRequest, hold.request_id)
    if request is None or request.status != "open":
        return
    if hold.outcome == "admitted":
        _close(request, "placed", now, by_id=hold.closed_by_id, reason=None)
    elif hold.outcome in ("elsewhere", "cancelled"):
        _close(request, "withdrawn", now, by_id=hold.closed_by_id, reason=f"hold {hold.id}: {hold.outcome}")
    else:
        return
    audit.record(SYSTEM, f"placement_request.{request.status}", now, request, hold=hold.id)


@dataclass(frozen=True)
class Match:
    result: Result
    # False: the facility was added or moved after the request's danger
    # places were checked: it is "not checked against the danger place".
    danger_checked: bool


def live_matches(actor: Actor, request: PlacementRequest, now: datetime, *, preference_km: float) -> list[Match]:
    """What fits the request now: the search run again for its criteria,
    recording nothing, never proposing its excluded facilities."""
    try:
        criteria = offers.criteria_of(request)
    except InvalidInput:
        return []
    results = search(actor, criteria, now, preference_km=preference_km, record=False).results
    moved = set()
    if request.danger_checked_at is not None and results:
        moved = set(db.session.scalars(select(Facility.id).where(
            Facility.id.in_({result.facility_id for result in results}),
            Facility.located_at > request.danger_checked_at)))
    return [Match(result, result.facility_id not in moved) for result in results]


def open_per_region(region_ids: set[int] | None, now: datetime) -> dict[int | None, int]:
    """Open requests not expired per region: unmet demand still waiting."""
    query = (select(PlacementRequest.region_id, func.count())
             .where(PlacementRequest.status == "open", PlacementRequest.expires_at > now)
             .group_by(PlacementRequest.region_id))
    if region_ids is not None:
        query = query.where(PlacementRequest.region_id.in_(region_ids))
    return dict(db.session.execute(query).all())
