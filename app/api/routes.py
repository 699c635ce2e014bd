from flask import current_app, jsonify, request
from flask_login import current_user
from sqlalchemy import select

from app import clock
from app.api import bp
from app.api.openapi import openapi_document
from app.api.paging import next_link, page_args
from app.api.serializers import (
    change_json,
    facility_json,
    hold_json,
    placement_offer_json,
    placement_request_json,
    referral_json,
    region_json,
    search_outcome_json,
    turn_away_json,
    unit_json,
)
from app.extensions import db
from app.models import CapacityKind, Facility, Region
from app.models.placement import HOLD_STATUSES, REFERRAL_STATUSES
from app.services.core import access, validation
from app.services.core.access import may_see_region, visible_region_ids
from app.services.core.errors import Forbidden, InvalidInput
from app.services.placement import holds, offers, referrals
from app.services.placement import requests as waiting_list
from app.services.placement import search as placement
from app.services.placement import turn_aways as turn_away_records
from app.services.placement.criteria import parse_criteria
from app.services.registry import capacity, facilities
from app.web import unit_of_work
from app.web.auth import current_actor, login_required, roles_required


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object with Content-Type: application/json", field="body")
    return body


def _visible_facility(facility_id: int) -> Facility:
    facility = facilities.get_facility(facility_id)
    if not may_see_region(current_user, facility.region):
        raise Forbidden("you may not see facilities in this region")
    return facility


@bp.route("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.route("/regions")
@login_required
def regions():
    totals = capacity.region_totals(clock.now(), visible_region_ids(current_user))
    return jsonify([region_json(t) for t in totals])


@bp.route("/facilities")
@login_required
def facility_list():
    limit, cursor = page_args()
    region_ids = visible_region_ids(current_user)
    slug = request.args.get("region")
    if slug:
        region = db.session.scalar(select(Region).where(Region.slug == slug))
        if region is None:
            raise InvalidInput(f"unknown region {slug!r}", field="region")
        if not may_see_region(current_user, region):
            raise Forbidden("you may not see facilities in this region")
        region_ids = {region.id}
    kind = request.args.get("kind")
    if kind and db.session.scalar(select(CapacityKind.id).where(CapacityKind.code == kind)) is None:
        raise InvalidInput(f"unknown kind {kind!r}", field="kind")
    rows = capacity.facilities(region_ids, kind_code=kind or None, after_id=cursor, limit=limit)
    now = clock.now()
    figures = capacity.UnitFigures([unit for f in rows for unit in f.units], now)
    body = [facility_json(f, current_user, now, figures) for f in rows]
    return jsonify(body), 200, next_link(rows, limit, lambda f: f.id)


@bp.route("/facilities/<int:facility_id>")
@login_required
def facility_detail(facility_id: int):
    facility = _visible_facility(facility_id)
    now = clock.now()
    return jsonify(facility_json(facility, current_user, now, capacity.UnitFigures(facility.units, now)))


@bp.route("/units/<int:unit_id>", methods=["PATCH"])
@login_required
def update_unit(unit_id: int):
    unit = capacity.get_unit(unit_id)
    body = _json_body()
    now = clock.now()
    if "available" not in body:
        raise InvalidInput("available is required", field="available")
    with unit_of_work.change():
        capacity.set_available(current_actor(), unit, body["available"], body.get("version"), now,
                               note=body.get("note"))
    return jsonify(unit_json(unit, now, capacity.UnitFigures([unit], now), current_actor().user))


@bp.route("/units/<int:unit_id>/history")
@login_required
def unit_history(unit_id: int):
    limit, cursor = page_args()
    unit = capacity.get_unit(unit_id)
    _visible_facility(unit.facility_id)
    rows = capacity.history(unit, limit=limit, before_id=cursor)
    return jsonify([change_json(c, current_user) for c in rows]), 200, next_link(rows, limit, lambda c: c.id)


# --- holds -------------------------------------------------------------------


@bp.route("/holds", methods=["POST"])
@login_required
def create_hold():
    body = _json_body()
    now = clock.now()
    fields = ("unit_id", "persons", "minutes", "household", "arrival", "call_id", "search_id", "note", "contact",
              "request_id")
    if "unit_id" not in body:
        raise InvalidInput("unit_id is required", field="unit_id")
    if "persons" not in body:
        raise InvalidInput("persons is required", field="persons")
    with unit_of_work.change():
        hold = holds.create(current_actor(), now, **{name: body.get(name) for name in fields})
    return jsonify(hold_json(hold, current_user, now)), 201


def _hold_action(hold_id: int, action):
    hold = holds.get(hold_id)
    if not access.may_see_hold(current_user, hold):
        raise Forbidden("this hold is not yours to see")
    now = clock.now()
    with unit_of_work.change():
        action(hold, now)
    return jsonify(hold_json(hold, current_user, now))


@bp.route("/holds/<int:hold_id>/confirm", methods=["POST"])
@login_required
def confirm_hold(hold_id: int):
    return _hold_action(hold_id, lambda hold, now: holds.confirm(current_actor(), hold, now))


@bp.route("/holds/<int:hold_id>/release", methods=["POST"])
@login_required
def release_hold(hold_id: int):
    # The body is optional: without it the outcome is "cancelled", as before outcomes.
    body = _json_body() if request.content_length else {}
    return _hold_action(hold_id, lambda hold, now: holds.release(
        current_actor(), hold, now, outcome=body.get("outcome"), reason=body.get("reason"), note=body.get("note")))


@bp.route("/holds/<int:hold_id>/accept", methods=["POST"])
@login_required
def accept_hold(hold_id: int):
    return _hold_action(hold_id, lambda hold, now: holds.accept(current_actor(), hold, now))


@bp.route("/holds/<int:hold_id>/decline", methods=["POST"])
@login_required
def decline_hold(hold_id: int):
    body = _json_body()
    return _hold_action(hold_id, lambda hold, now: holds.decline(
        current_actor(), hold, body.get("reason"), body.get("note"), now))


@bp.route("/holds/<int:hold_id>/extend", methods=["POST"])
@login_required
def extend_hold(hold_id: int):
    body = _json_body()
    if "minutes" not in body:
        raise InvalidInput("minutes is required", field="minutes")
    return _hold_action(hold_id, lambda hold, now: holds.extend(current_actor(), hold, body["minutes"], now))


@bp.route("/holds")
@login_required
def hold_list():
    limit, cursor = page_args()
    status = request.args.get("status") or None
    if status is not None and status not in HOLD_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(HOLD_STATUSES)}", field="status")
    facility_id = validation.record_id(request.args.get("facility"), "facility")
    now = clock.now()
    rows = holds.visible(current_user, now, status=status, facility_id=facility_id, after_id=cursor, limit=limit)
    return jsonify([hold_json(h, current_user, now) for h in rows]), 200, next_link(rows, limit, lambda h: h.id)


# --- referrals ---------------------------------------------------------------


@bp.route("/referrals", methods=["POST"])
@login_required
def create_referral():
    body = _json_body()
    fields = ("call_id", "facility_id", "organisation_id", "kind", "note")
    with unit_of_work.change():
        referral = referrals.create(current_actor(), clock.now(), **{name: body.get(name) for name in fields})
    return jsonify(referral_json(referral, current_user)), 201


@bp.route("/referrals/<int:referral_id>", methods=["PATCH"])
@login_required
def update_referral(referral_id: int):
    referral = referrals.get(referral_id)
    if not access.may_see_referral(current_user, referral):
        raise Forbidden("this referral is not yours to see")
    body = _json_body()
    if "status" not in body:
        raise InvalidInput("status is required", field="status")
    with unit_of_work.change():
        referrals.update_status(current_actor(), referral, body["status"], clock.now(), note=body.get("note"))
    return jsonify(referral_json(referral, current_user))


@bp.route("/referrals")
@login_required
def referral_list():
    limit, cursor = page_args()
    status = request.args.get("status") or None
    if status is not None and status not in REFERRAL_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(REFERRAL_STATUSES)}", field="status")
    facility_id = validation.record_id(request.args.get("facility"), "facility")
    rows = referrals.visible(current_user, status=status, facility_id=facility_id, after_id=cursor, limit=limit)
    return jsonify([referral_json(r, current_user) for r in rows]), 200, next_link(rows, limit, lambda r: r.id)


# --- placement search and turn-aways -------------------------------------------


@bp.route("/placements/search", methods=["POST"])
@roles_required(*access.PLACEMENT_SEARCHERS)
def placement_search():
    criteria = parse_criteria(_json_body())
    outcome = placement.search(current_actor(), criteria, clock.now(),
                               preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
    body = search_outcome_json(outcome)
    return jsonify(body)


def _local_date(name: str):
    day = validation.calendar_date(request.args.get(name), name)
    return day or clock.now().astimezone(clock.local_zone()).date()


@bp.route("/turn-aways")
@login_required
def turn_away_list():
    allowed = turn_away_records.turn_away_regions(current_user)
    limit, cursor = page_args()
    day = _local_date("date")
    region_ids = allowed
    slug = request.args.get("region")
    if slug:
        region = db.session.scalar(select(Region).where(Region.slug == slug))
        if region is None:
            raise InvalidInput(f"unknown region {slug!r}", field="region")
        if allowed is not None and region.id not in allowed:
            raise Forbidden("you may see the turn-aways of your own regions only")
        region_ids = {region.id}
    rows = turn_away_records.turn_aways_on(region_ids, day, clock.local_zone(), after_id=cursor, limit=limit)
    return jsonify([turn_away_json(t, current_user) for t in rows]), 200, next_link(rows, limit, lambda t: t.id)


@bp.route("/turn-aways", methods=["POST"])
@login_required
def record_turn_away():
    body = _json_body()
    if "reason" not in body:
        raise InvalidInput("reason is required", field="reason")
    fields = ("reason", "call_id", "session", "region", "note")
    with unit_of_work.change():
        turn_away, created = turn_away_records.record_turn_away(current_actor(), clock.now(),
                                                                **{name: body.get(name) for name in fields})
    return jsonify(turn_away_json(turn_away, current_user)), 201 if created else 200


# --- the waiting list: placement requests and their offers -----------------------


def _matches(request_row, now):
    return waiting_list.live_matches(current_actor(), request_row, now,
                                     preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])


@bp.route("/placement-requests", methods=["POST"])
@roles_required(*access.REQUEST_KEEPERS)
def file_placement_request():
    body = dict(_json_body())
    note = body.pop("note", None)
    criteria = parse_criteria(body)
    now = clock.now()
    with unit_of_work.change():
        filed = waiting_list.file(current_actor(), criteria, now, note=note)
    return jsonify(placement_request_json(filed, now, _matches(filed, now))), 201


@bp.route("/placement-requests")
@roles_required(*access.REQUEST_KEEPERS)
def placement_request_list():
    limit, cursor = page_args()
    offset = cursor or 0
    now = clock.now()
    rows = waiting_list.listing(current_user, request.args.get("status") or None, request.args.get("region"),
                                offset=offset, limit=limit)
    return (jsonify([placement_request_json(r, now) for r in rows]), 200,
            next_link(rows, limit, lambda _: offset + limit))


@bp.route("/placement-requests/<int:request_id>")
@roles_required(*access.REQUEST_KEEPERS)
def placement_request_detail(request_id: int):
    found = waiting_list.get(current_user, request_id)
    now = clock.now()
    return jsonify(placement_request_json(found, now, _matches(found, now) if found.status == "open" else []))


@bp.route("/placement-requests/<int:request_id>/withdraw", methods=["POST"])
@roles_required(*access.REQUEST_KEEPERS)
def withdraw_placement_request(request_id: int):
    found = waiting_list.get(current_user, request_id)
    body = _json_body()
    now = clock.now()
    with unit_of_work.change():
        waiting_list.withdraw(current_actor(), found, body.get("reason"), now)
    return jsonify(placement_request_json(found, now))


@bp.route("/placement-offers/<int:offer_id>/take", methods=["POST"])
@roles_required(*access.REQUEST_KEEPERS)
def take_placement_offer(offer_id: int):
    offer = offers.get(offer_id)
    body = request.get_json(silent=True) or {}
    now = clock.now()
    with unit_of_work.change():
        hold = offers.take(current_actor(), offer, now, minutes=body.get("minutes"))
    return jsonify({"offer": placement_offer_json(offer), "hold": hold_json(hold, current_user, now)}), 201


@bp.route("/placement-offers/<int:offer_id>/decline", methods=["POST"])
@roles_required(*access.REQUEST_KEEPERS)
def decline_placement_offer(offer_id: int):
    offer = offers.get(offer_id)
    with unit_of_work.change():
        offers.decline(current_actor(), offer, clock.now())
    return jsonify({"offer": placement_offer_json(offer)})
