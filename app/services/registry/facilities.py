"""Facilities and their units: one validation for the admin form, the file
import and the demo data."""

import json
import re
from datetime import datetime, timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.models import CapacityChange, CapacityKind, CapacityUnit, Facility, Organisation, Region
from app.models.facility import FACILITY_TYPES, GENDERS, LANGUAGES
from app.services.core import audit, validation
from app.services.core.access import Actor
from app.services.core.errors import Conflict, InvalidInput, NotFound
from app.services.registry import intake_hours, places, presenters
from app.services.registry.capacity import all_kinds

POSTCODE = re.compile(r"[1-9][0-9]{3}")
# Belgium, with a margin: coordinates outside are a typo.
LAT_RANGE = (49.4, 51.6)
LON_RANGE = (2.4, 6.5)

# Columns of a facility file (import and export), in order. Units follow as
# `<kind>_total`, `<kind>_available` and `<kind>_room_size` per capacity kind.
COLUMNS = (
    "slug", "name", "type", "region", "organisation", "municipality", "postcode",
    "street", "lat", "lon", "confidential", "intake_phone", "intake_hours",
    "open_for_intake", "closed_reason", "stale_after_hours", "genders", "children",
    "max_children", "max_child_age", "max_boy_age", "wheelchair", "pets", "high_security", "languages",
)

TRUE_WORDS = {"1", "true", "yes", "y", "ja", "oui", "x"}
FALSE_WORDS = {"0", "false", "no", "n", "nee", "non", ""}


def _given(data, field):
    """The field's value, with numbers as text: a JSON file may give a
    postcode or a phone number as a number."""
    value = data.get(field)
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _text(data, field, *, required=False, max_length=200):
    return validation.text(_given(data, field), field, max_length, required=required)


def _whole(data, field, lowest, highest):
    return validation.optional_whole_number(data.get(field), field, lowest, highest)


def _bool(data, field, default=False):
    value = data.get(field)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidInput(f"{field} must be yes or no, not {value!r}", field=field)


def _float(data, field, bounds):
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a number, not {value!r}", field=field) from None
    if not bounds[0] <= number <= bounds[1]:
        raise InvalidInput(f"{field} {number} is outside Belgium", field=field)
    return number


def _list(data, field, allowed, *, required=False):
    value = data.get(field)
    if value is None:
        items = []
    elif isinstance(value, list):
        items = value
    else:
        text = str(value).strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except ValueError:
                raise InvalidInput(f"{field}: not a list", field=field) from None
        else:
            items = re.split(r"[,;\s]+", text) if text else []
    items = [str(item).strip().lower() for item in items if str(item).strip()]
    unknown = sorted(set(items) - set(allowed))
    if unknown:
        raise InvalidInput(f"{field}: unknown {', '.join(unknown)} (use {', '.join(allowed)})", field=field)
    if required and not items:
        raise InvalidInput(f"{field}: give at least one of {', '.join(allowed)}", field=field)
    return list(dict.fromkeys(items))


def validate(data: dict, kinds: list[CapacityKind]) -> dict:
    """Check a facility's fields and units; return them cleaned, or raise
    InvalidInput naming the first bad field."""
    clean = {
        "slug": validation.slug(_given(data, "slug"), "slug", 120),
        "name": _text(data, "name", required=True),
        "type": _text(data, "type", required=True, max_length=32),
        "region": _text(data, "region", required=True, max_length=64),
        "organisation": _text(data, "organisation", max_length=120),
        "municipality": _text(data, "municipality", required=True, max_length=120),
        "postcode": _text(data, "postcode", required=True, max_length=4),
        "street": _text(data, "street"),
        "lat": _float(data, "lat", LAT_RANGE),
        "lon": _float(data, "lon", LON_RANGE),
        "confidential": _bool(data, "confidential"),
        "intake_phone": validation.phone(_given(data, "intake_phone"), "intake_phone"),
        "open_for_intake": _bool(data, "open_for_intake", default=True),
        "closed_reason": _text(data, "closed_reason", max_length=500),
        "stale_after_hours": _whole(data, "stale_after_hours", 1, 24 * 14) or 12,
        "genders": _list(data, "genders", GENDERS, required=True),
        "children": _bool(data, "children"),
        "max_children": _whole(data, "max_children", 0, 20),
        "max_child_age": _whole(data, "max_child_age", 0, 25),
        "max_boy_age": _whole(data, "max_boy_age", 0, 25),
        "wheelchair": _bool(data, "wheelchair"),
        "pets": _bool(data, "pets"),
        "high_security": _bool(data, "high_security"),
        "languages": _list(data, "languages", LANGUAGES, required=True),
    }
    if clean["type"] not in FACILITY_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(FACILITY_TYPES)}", field="type")
    if not POSTCODE.fullmatch(clean["postcode"]):
        raise InvalidInput("postcode must be a Belgian postcode of 4 digits", field="postcode")
    if (clean["lat"] is None) != (clean["lon"] is None):
        raise InvalidInput("give both lat and lon, or neither", field="lat" if clean["lat"] is None else "lon")
    try:
        places.centre_of(clean["municipality"], clean["postcode"])
    except InvalidInput:
        raise InvalidInput(f"unknown postcode {clean['postcode']} and municipality {clean['municipality']!r}: "
                           "give a Belgian postcode or a municipality's Dutch or French name",
                           field="postcode") from None
    if not clean["open_for_intake"] and not clean["closed_reason"]:
        raise InvalidInput("say why the facility is closed for intake", field="closed_reason")
    if not clean["children"] and (clean["max_children"] or clean["max_child_age"] or clean["max_boy_age"]):
        raise InvalidInput("max_children, max_child_age and max_boy_age need children: yes", field="children")
    hours = data.get("intake_hours")
    clean["intake_hours"] = (
        intake_hours.normalise(hours) if isinstance(hours, dict) or hours is None
        else intake_hours.parse_text(str(hours))
    )

    units = {}
    for kind in kinds:
        total = _whole(data, f"{kind.code}_total", 0, 10_000)
        available = _whole(data, f"{kind.code}_available", 0, 10_000)
        room_size = _whole(data, f"{kind.code}_room_size", 1, 20)
        if total is None:
            if available is not None or room_size is not None:
                raise InvalidInput(f"{kind.code}_total is required with its other columns",
                                   field=f"{kind.code}_total")
            continue
        if available is None:
            available = total
        if available > total:
            raise InvalidInput(f"{kind.code}_available must be between 0 and {total}",
                               field=f"{kind.code}_available")
        if kind.counts == "rooms" and room_size is None:
            raise InvalidInput(f"{kind.code}_room_size is required: persons per room",
                               field=f"{kind.code}_room_size")
        if kind.counts != "rooms" and room_size is not None:
            raise InvalidInput(f"{kind.code} is not counted in rooms: leave {kind.code}_room_size empty",
                               field=f"{kind.code}_room_size")
        units[kind.code] = {"total": total, "available": available, "room_size": room_size}
    clean["units"] = units
    return clean


def public_point(confidential: bool, lat: float | None, lon: float | None, municipality: str | None,
                 postcode: str | None) -> tuple[float, float]:
    """Where distances to a facility are measured from (Facility.public_lat and
    public_lon): its own coordinates, unless it is confidential or has none;
    then its municipality's centre (PRODUCT.md section 5, rule 1). Raises
    InvalidInput when neither the municipality nor the postcode is known."""
    if not confidential and lat is not None and lon is not None:
        return lat, lon
    return places.centre_of(municipality, postcode)


def language_mask(codes) -> int:
    """Facility.language_mask of these language codes: bit i for LANGUAGES[i]."""
    return sum(1 << LANGUAGES.index(code) for code in set(codes))


def get_facility(facility_id: int) -> Facility:
    facility = db.session.get(Facility, facility_id)
    if facility is None:
        raise NotFound(f"no facility {facility_id}")
    return facility


def save(actor: Actor, clean: dict, now: datetime, *, facility: Facility | None = None,
         versions: dict[str, str] | None = None) -> Facility:
    """Create or update a facility from `validate`'s output. Units named in
    `clean["units"]` are created or set; units not named are left alone.
    `versions` (kind code -> the unit version the form showed) refuses to
    overwrite counts someone else changed since (Conflict)."""
    region = db.session.scalar(select(Region).where(Region.slug == clean["region"]))
    if region is None:
        raise InvalidInput(f"unknown region {clean['region']!r}", field="region")
    organisation = None
    if clean["organisation"]:
        organisation = db.session.scalar(select(Organisation).where(Organisation.slug == clean["organisation"]))
        if organisation is None:
            raise InvalidInput(f"unknown organisation {clean['organisation']!r}", field="organisation")
    clash = db.session.scalar(select(Facility).where(Facility.slug == clean["slug"]))
    if facility is None:
        facility = clash
    elif clash is not None and clash is not facility:
        raise Conflict(f"another facility has the slug {clean['slug']}", field="slug")
    if facility is not None and versions:
        _check_versions(facility, clean["units"], versions)
    point = public_point(clean["confidential"], clean["lat"], clean["lon"], clean["municipality"], clean["postcode"])

    creating = facility is None
    if creating:
        facility = Facility(created_at=now)
        db.session.add(facility)
    old_stale_after = facility.stale_after_hours
    # A new point (or a new facility) has not been checked against the danger
    # places of requests filed before now (PlacementRequest.danger_checked_at).
    if creating or (facility.public_lat, facility.public_lon) != point:
        facility.located_at = now
    for field in COLUMNS:
        if field not in ("region", "organisation"):
            setattr(facility, field, clean[field])
    facility.public_lat, facility.public_lon = point
    facility.language_mask = language_mask(clean["languages"])
    facility.region = region
    facility.organisation = organisation
    db.session.flush()
    if not creating and old_stale_after != facility.stale_after_hours:
        _reset_stale_at(facility)

    kinds = {kind.code: kind for kind in all_kinds()}
    existing = {unit.kind.code: unit for unit in facility.units}
    for code, counts in clean["units"].items():
        save_unit(actor, facility, kinds[code], counts, now, unit=existing.get(code))
    # The intake switch as saved: with facility.open and facility.close, its
    # history (the daily statistics count a closed facility's places as none).
    audit.record(actor, "facility.create" if creating else "facility.update", now, facility,
                 open_for_intake=facility.open_for_intake)
    return facility


def create(actor: Actor, clean: dict, now: datetime) -> Facility:
    """Create a facility; a slug in use is a conflict (`save` would update that facility)."""
    if db.session.scalar(select(Facility.id).where(Facility.slug == clean["slug"])) is not None:
        raise Conflict(f"another facility has the slug {clean['slug']}", field="slug")
    return save(actor, clean, now)


def _check_versions(facility: Facility, units: dict, versions: dict[str, str]) -> None:
    for unit in facility.units:
        code = unit.kind.code
        counts = units.get(code)
        if counts is None or code not in versions or str(unit.version) == str(versions[code]):
            continue
        if (unit.total, unit.available, unit.room_size) != (counts["total"], counts["available"], counts["room_size"]):
            raise Conflict(
                f"{code}: someone else changed these counts first: available is now {unit.available} "
                f"of {unit.total}",
                field=f"{code}_available",
                current={"unit": unit},
            )


def save_unit(actor: Actor, facility: Facility, kind: CapacityKind, counts: dict, now: datetime,
              *, unit: CapacityUnit | None = None) -> CapacityUnit:
    """Create a unit or set its total, available and room size; every change of
    a count is written to the history with the actor's source."""
    if unit is None:
        unit = CapacityUnit(
            facility=facility,
            region_id=facility.region_id,
            facility_open=facility.open_for_intake,
            kind=kind,
            total=counts["total"],
            available=counts["available"],
            room_size=counts.get("room_size"),
            updated_at=now,
            updated_by_id=actor.user_id,
            stale_at=now + timedelta(hours=facility.stale_after_hours),
        )
        db.session.add(unit)
        db.session.flush()
        changes = [("total", 0, unit.total), ("available", 0, unit.available)]
    else:
        changes = [
            (field, getattr(unit, field), counts[field])
            for field in ("total", "available")
            if getattr(unit, field) != counts[field]
        ]
        unit.room_size = counts.get("room_size")
        if changes:
            unit.total = counts["total"]
            unit.available = counts["available"]
            unit.updated_at = now
            unit.updated_by_id = actor.user_id
            unit.stale_at = now + timedelta(hours=facility.stale_after_hours)
        db.session.flush()
    for field, before, after in changes:
        db.session.add(
            CapacityChange(unit_id=unit.id, at=now, action="set", field=field, before=before,
                           after=after, source=actor.source, actor_id=actor.user_id)
        )
    if any(field == "available" and after > before for field, before, after in changes):
        # Imported here: the placement services import the registry's at module level.
        from app.services.placement.offers import places_freed

        db.session.flush()
        places_freed([unit.id], now)
    return unit


def _reset_stale_at(facility: Facility) -> None:
    for unit in facility.units:
        db.session.execute(
            update(CapacityUnit)
            .where(CapacityUnit.id == unit.id)
            .values(stale_at=unit.updated_at + timedelta(hours=facility.stale_after_hours))
            .execution_options(synchronize_session=False)
        )
        db.session.expire(unit)


def as_row(facility: Facility, kinds: list[CapacityKind], *, include_address: bool) -> dict:
    """A facility as one row of a facility file: what `validate` reads back.
    A confidential address is left blank unless `include_address`."""
    shown = presenters.present_for_export(facility, include_confidential=include_address)
    row = {}
    for field in COLUMNS:
        value = getattr(shown, field, None)
        if field == "region":
            value = shown.region_slug
        elif field == "organisation":
            value = shown.organisation_slug
        elif field == "intake_hours":
            value = intake_hours.to_text(shown.intake_hours)
        elif field in ("genders", "languages"):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        row[field] = "" if value is None else value
    units = {unit.kind.code: unit for unit in shown.units}
    for kind in kinds:
        unit = units.get(kind.code)
        row[f"{kind.code}_total"] = unit.total if unit else ""
        row[f"{kind.code}_available"] = unit.available if unit else ""
        row[f"{kind.code}_room_size"] = (unit.room_size or "") if unit else ""
    return row
