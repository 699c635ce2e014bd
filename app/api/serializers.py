"""The JSON shapes of API v1 (../shared/API.md): one function per shape."""

from datetime import datetime

from flask_login import current_user

from app.clock import iso_local, local_zone
from app.models import (
    Alert,
    AlertRule,
    CapacityChange,
    CapacityUnit,
    Facility,
    Hold,
    OutboxMessage,
    PlacementOffer,
    PlacementRequest,
    Referral,
    User,
)
from app.services.alerts import rules
from app.services.core import access
from app.services.registry import intake_hours
from app.services.registry.capacity import RegionTotals, UnitFigures
from app.services.registry.presenters import present
from app.services.statistics import hotline_daily


def unit_json(unit: CapacityUnit, now: datetime, figures: UnitFigures, user: User) -> dict:
    counts = figures(unit)
    # Who changed the counts, as in the unit's history: not for partners nor
    # other facilities' staff (access.sees_change_author_and_note).
    shows_author = unit.updated_by is not None and access.sees_change_author_and_note(user, unit.facility)
    return {
        "id": unit.id,
        "kind": unit.kind.code,
        "total": counts.total,
        "available": counts.available,
        "held": counts.held,
        "free": counts.free,
        "room_size": unit.room_size,
        "version": unit.version,
        "updated_at": iso_local(unit.updated_at),
        "updated_by": unit.updated_by.name if shows_author else None,
        "stale": unit.is_stale(now),
    }


def facility_json(facility: Facility, user: User, now: datetime, figures: UnitFigures) -> dict:
    shown = present(facility, user)
    data = {
        "id": shown.id,
        "slug": shown.slug,
        "name": shown.name,
        "region": shown.region_slug,
        "type": shown.type,
        "municipality": shown.municipality,
        "postcode": shown.postcode,
        "intake_phone": shown.intake_phone,
        "intake_hours": shown.intake_hours,
        "open_now": intake_hours.is_open(shown.intake_hours, now, local_zone()),
        "open_for_intake": shown.open_for_intake,
        "closed_reason": shown.closed_reason,
        "confidential": shown.confidential,
        "accepts": {
            "genders": list(shown.genders),
            "children": shown.children,
            "max_children": shown.max_children,
            "max_child_age": shown.max_child_age,
            "max_boy_age": shown.max_boy_age,
            "wheelchair": shown.wheelchair,
            "pets": shown.pets,
            "high_security": shown.high_security,
        },
        "languages": list(shown.languages),
        "stale_after_hours": shown.stale_after_hours,
        "units": [unit_json(unit, now, figures, user) for unit in shown.units],
    }
    if shown.shows_address:
        data["address"] = {
            "street": shown.street,
            "postcode": shown.postcode,
            "municipality": shown.municipality,
        }
        data["lat"] = shown.lat
        data["lon"] = shown.lon
    return data


def region_json(totals: RegionTotals) -> dict:
    return {
        "slug": totals.region.slug,
        "name": totals.region.name,
        "stale_facilities": totals.stale_facilities,
        "capacity": {
            code: {"total": f.total, "available": f.available, "held": f.held, "free": f.free}
            for code, f in totals.by_kind.items()
        },
    }


def change_json(change: CapacityChange, user: User) -> dict:
    # Who made a change and their note stay null for those who may not see
    # them: the shape (API.md) is the same for everyone.
    shows_author = access.sees_change_author_and_note(user, change.unit.facility)
    return {
        "id": change.id,
        "at": iso_local(change.at),
        "action": change.action,
        "field": change.field,
        "before": change.before,
        "after": change.after,
        "source": change.source,
        "actor": change.actor.name if shows_author and change.actor else None,
        "note": change.note if shows_author else None,
    }


def alert_json(alert: Alert) -> dict:
    return {
        "id": alert.id,
        "code": alert.code,
        "rule_id": alert.rule_id,
        "region": alert.region.slug if alert.region is not None else None,
        "state": alert.state,
        "critical": alert.critical,
        "free": alert.free,
        "threshold": alert.threshold,
        "full_facilities": alert.full_facilities,
        "stale_facilities": alert.stale_facilities,
        "started_at": iso_local(alert.started_at),
        "fired_at": iso_local(alert.fired_at),
        "acknowledged_at": iso_local(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by.email if alert.acknowledged_by else None,
        "resolved_at": iso_local(alert.resolved_at),
    }


def rule_json(rule: AlertRule) -> dict:
    # A rule goes in and comes out in one shape (API.md "Alerts"): the one
    # the service checks, and the rule's id.
    return {"id": rule.id, **rules.rule_fields(rule)}


def current_state_json(current: dict, now: datetime) -> dict:
    """The state a 409 carries beside its error, e.g. {"unit": {...}}."""
    shapes = {CapacityUnit: lambda unit: unit_json(unit, now, UnitFigures([unit], now), current_user),
              Referral: _current_referral_json,
              Alert: alert_json,
              OutboxMessage: notification_json,
              PlacementRequest: lambda request: placement_request_json(request, now),
              PlacementOffer: placement_offer_json}
    return {key: shapes[type(value)](value) for key, value in current.items()}


def hold_json(hold: Hold, user: User, now: datetime) -> dict:
    unit = hold.unit
    data = {
        "id": hold.id,
        "unit_id": hold.unit_id,
        "facility_id": unit.facility_id,
        "facility": unit.facility.name,
        "kind": unit.kind.code,
        "persons": hold.persons,
        "places": hold.places,
        "household": hold.household,
        "arrival": iso_local(hold.arrival),
        "status": hold.status_at(now),
        "created_at": iso_local(hold.created_at),
        "expires_at": iso_local(hold.expires_at),
        "outcome": hold.outcome,
        "created_by": hold.created_by.name if hold.created_by else None,
        "contact": hold.contact,
        "note": hold.note,
        "call_id": hold.call_id,
    }
    if hold.accept_by is not None:
        data["accept_by"] = iso_local(hold.accept_by)
    if hold.outcome_reason is not None:
        data["outcome_reason"] = hold.outcome_reason
    # Partners never see calls (PRODUCT.md section 2).
    if not access.sees_hold_call(user):
        del data["call_id"]
    return data


def referral_json(referral: Referral, user: User) -> dict:
    data = {
        "id": referral.id,
        "call_id": referral.call_id,
        "facility_id": referral.facility_id,
        "facility": referral.facility.name if referral.facility else None,
        "organisation_id": referral.organisation_id,
        "organisation": referral.organisation.name if referral.organisation else None,
        "kind": referral.kind,
        "note": referral.note,
        "status": referral.status,
        "created_at": iso_local(referral.created_at),
        "created_by": referral.created_by.name if referral.created_by else None,
        "updated_at": iso_local(referral.updated_at),
        "updated_by": referral.updated_by.name if referral.updated_by else None,
    }
    # Partners never see calls or notes (PRODUCT.md section 2), but for the
    # referrals they made themselves (which carry no call).
    if not access.sees_referral_call_and_note(user, referral):
        del data["call_id"], data["note"]
    return data


def _current_referral_json(referral: Referral) -> dict:
    # Only someone allowed to update the referral reaches its conflict.
    return referral_json(referral, current_user)


# --- placement search and turn-aways -----------------------------------------


def placement_result_json(result) -> dict:
    """One result of app.services.placement.search.search: never an address or
    coordinates; `distance_km` to a confidential facility is whole km."""
    return {
        "facility": {
            "id": result.facility_id,
            "name": result.facility_name,
            "region": result.region,
            "intake_phone": result.intake_phone,
            "intake_hours": result.intake_hours_text,
        },
        "unit": {"id": result.unit_id, "kind": result.kind, "free": result.free, "room_size": result.room_size},
        "distance_km": result.distance_km,
        "updated_at": iso_local(result.updated_at),
        "stale": result.stale,
        "reasons": [reason.text for reason in result.reasons],
        "unmet": [reason.text for reason in result.unmet],
        "places": result.places,
        "open_now": result.open_now,
        "opens_at": iso_local(result.opens_at),
        "beyond_region": result.beyond_region,
        "interpreter_needed": result.interpreter_needed,
    }


def search_outcome_json(outcome) -> dict:
    place = outcome.place
    return {
        "search_id": outcome.search.id,
        "results": [placement_result_json(result) for result in outcome.results],
        "turn_away": {"reason": outcome.turn_away.reason} if outcome.turn_away is not None else None,
        "beyond_region": outcome.beyond_region,
        "excluded_by_danger": outcome.excluded_by_danger,
        "place": {"postcode": place.postcode, "municipality": place.municipality, "region": place.region},
    }


def turn_away_json(turn_away, user: User) -> dict:
    data = {
        "id": turn_away.id,
        "at": iso_local(turn_away.at),
        "region": turn_away.region.slug if turn_away.region else None,
        "reason": turn_away.reason,
        "criteria": turn_away.criteria,
        "call_id": turn_away.call_id,
        "search_id": turn_away.search_id,
        "note": turn_away.note,
        "withdrawn_at": iso_local(turn_away.withdrawn_at),
    }
    # Partners never see calls or notes (they may not list turn-aways at all).
    if not access.sees_turn_away_call_and_note(user):
        del data["call_id"], data["note"]
    return data


# --- alerts and the outbox -----------------------------------------------------


def notification_json(message: OutboxMessage) -> dict:
    """An outbox row: the recipient masked, never a full number (nor the text)."""
    return {
        "id": message.id,
        "channel": message.channel,
        "purpose": message.purpose,
        "status": message.status,
        "recipient": message.recipient_masked,
        "user": message.user.email if message.user else None,
        "alert_id": message.alert_id,
        "attempts": message.attempts,
        "created_at": iso_local(message.created_at),
        "next_attempt_at": iso_local(message.next_attempt_at) if message.status == "pending" else None,
        "sent_at": iso_local(message.sent_at),
        "last_error": message.last_error,
    }


# --- the waiting list ----------------------------------------------------------


def placement_offer_json(offer) -> dict:
    """A freed place offered to a request: the unit and facility (the desk
    sees them, as in search results; never an address)."""
    unit = offer.unit
    return {
        "id": offer.id,
        "request_id": offer.request_id,
        "status": offer.status,
        "facility": {"id": unit.facility_id, "name": unit.facility.name},
        "unit": {"id": unit.id, "kind": unit.kind.code},
        "places": offer.places,
        "offered_at": iso_local(offer.offered_at),
        "expires_at": iso_local(offer.expires_at),
        "hold_id": offer.hold_id,
    }


def placement_request_json(request, now: datetime, matches=None) -> dict:
    """A waiting-list request; `matches` (requests.Match) when asked for one.
    Its criteria never hold danger places; `excluded` counts the facilities
    they left out."""
    offer = next((o for o in request.offers if o.status == "open" and o.expires_at > now), None)
    data = {
        "id": request.id,
        "status": request.status,
        "risk_level": request.risk_level,
        "opened_at": iso_local(request.opened_at),
        "expires_at": iso_local(request.expires_at),
        "closed_at": iso_local(request.closed_at),
        "close_reason": request.close_reason,
        "region": request.region.slug if request.region else None,
        "call_id": request.call_id,
        "note": request.note,
        "criteria": request.criteria,
        "excluded": len(request.excluded_facility_ids or ()),
        "offer": placement_offer_json(offer) if offer else None,
    }
    if matches is not None:
        data["matches"] = [{**placement_result_json(match.result), "danger_checked": match.danger_checked}
                           for match in matches]
    return data


# --- statistics ---------------------------------------------------------------------


def hotline_daily_json(row) -> dict:
    """A HotlineDay."""
    return {"day": row.day.isoformat(), "number": row.number or None,
            **{name: getattr(row, name) for name in hotline_daily.FIGURES}}


def region_daily_json(row) -> dict:
    """A RegionKindDay (its region and kind loaded with it)."""
    return {
        "day": row.day.isoformat(),
        "region": row.region.slug,
        "kind": row.kind.code,
        "mean_free": row.mean_free,
        "min_free": row.min_free,
        "hours_at_zero": row.hours_at_zero,
        "turn_aways": row.turn_aways,
        "requests_opened": row.requests_opened,
        "holds": row.holds,
        "referral_accept_median_h": row.referral_accept_median_h,
    }
