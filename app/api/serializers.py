"""The JSON shapes of API v1 (../shared/API.md): one function per shape."""

from datetime import datetime

from app.clock import iso_local, local_zone
from app.models import CapacityChange, CapacityUnit, Facility, Hold, User
from app.services import intake_hours
from app.services.access import can_see_address
from app.services.capacity import RegionTotals, UnitFigures


def unit_json(unit: CapacityUnit, now: datetime, figures: UnitFigures) -> dict:
    counts = figures(unit)
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
        "updated_by": unit.updated_by.name if unit.updated_by else None,
        "stale": unit.is_stale(now),
    }


def facility_json(facility: Facility, user: User, now: datetime, figures: UnitFigures) -> dict:
    data = {
        "id": facility.id,
        "slug": facility.slug,
        "name": facility.name,
        "region": facility.region.slug,
        "type": facility.type,
        "municipality": facility.municipality,
        "postcode": facility.postcode,
        "intake_phone": facility.intake_phone,
        "intake_hours": facility.intake_hours,
        "open_now": intake_hours.is_open(facility.intake_hours, now, local_zone()),
        "open_for_intake": facility.open_for_intake,
        "closed_reason": facility.closed_reason,
        "confidential": facility.confidential,
        "accepts": {
            "genders": facility.genders,
            "children": facility.children,
            "max_children": facility.max_children,
            "max_child_age": facility.max_child_age,
            "wheelchair": facility.wheelchair,
            "pets": facility.pets,
            "high_security": facility.high_security,
        },
        "languages": facility.languages,
        "stale_after_hours": facility.stale_after_hours,
        "units": [unit_json(unit, now, figures) for unit in facility.units],
    }
    # PRODUCT.md section 5, rule 1: no address or coordinates unless allowed.
    if can_see_address(user, facility):
        data["address"] = {
            "street": facility.street,
            "postcode": facility.postcode,
            "municipality": facility.municipality,
        }
        data["lat"] = facility.lat
        data["lon"] = facility.lon
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


def change_json(change: CapacityChange) -> dict:
    return {
        "id": change.id,
        "at": iso_local(change.at),
        "action": change.action,
        "field": change.field,
        "before": change.before,
        "after": change.after,
        "source": change.source,
        "actor": change.actor.name if change.actor else None,
        "note": change.note,
    }


def current_state_json(current: dict, now: datetime) -> dict:
    """The state a 409 carries beside its error, e.g. {"unit": {...}}."""
    shapes = {CapacityUnit: lambda unit: unit_json(unit, now, UnitFigures([unit], now))}
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
        "created_by": hold.created_by.name if hold.created_by else None,
        "contact": hold.contact,
        "note": hold.note,
        "call_id": hold.call_id,
    }
    # Partners never see calls (PRODUCT.md section 2).
    if not user.has_role("operator", "manager", "admin", "shelter_staff"):
        del data["call_id"]
    return data
