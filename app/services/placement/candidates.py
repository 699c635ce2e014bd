"""Placement search: reading the candidate units.

One query per step of the search (app.services.placement.nearby): the units
that pass the rules SQL can check, joined to their facilities for the
columns ranking needs (JSON as text, decoded once per distinct value) and
their holds — in a disk or a ring around the searched place, or all of the
scope's. The statements are built once per shape of criteria, values bound
at each run (building and compiling one costs more than running it).
"""

from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Boolean, Float, Text, and_, bindparam, case, cast, false, func, or_, select, true

from app.extensions import db
from app.models import CapacityUnit, Facility, Hold
from app.models.facility import LANGUAGES
from app.models.placement import HOLDING_STATUSES
from app.models.types import UTCDateTime
from app.services.placement.criteria import Criteria

_U = CapacityUnit.__table__.c
_F = Facility.__table__.c
# The facility's public point (F_LAT, F_LON), never its own coordinates: a
# confidential facility's is its municipality's centre (Facility.public_lat).
# The languages as their bits (Facility.language_mask), in SQL and here alike.
# The facility's own rules (F_CONFIDENTIAL, F_GENDERS, F_WHEELCHAIR to F_BOY_AGE) for
# ranking.facility_takes, which decides them for the ranker and the waiting list alike.
_COLUMNS = (_U.id, _U.facility_id, _U.kind_id, _U.available, _U.room_size, _U.region_id, _U.facility_open,
            _F.confidential, _F.public_lat, _F.public_lon, _F.high_security, _F.pets, _F.max_child_age,
            cast(_F.genders, Text), _F.language_mask, cast(_F.intake_hours, Text), _F.wheelchair, _F.children,
            _F.max_children, _F.max_boy_age)
(U_ID, U_FACILITY, U_KIND, U_AVAILABLE, U_ROOM, U_REGION, U_OPEN, F_CONFIDENTIAL, F_LAT, F_LON, F_SECURITY, F_PETS,
 F_CHILD_AGE, F_GENDERS, F_LANGUAGES, F_HOURS, F_WHEELCHAIR, F_CHILDREN, F_MAX_CHILDREN, F_BOY_AGE, U_STALE,
 U_HELD) = range(22)
_H = Hold.__table__.c
_NOW = bindparam("now", type_=UTCDateTime)
# Places taken by the unit's holds, active or requested and unexpired
# (capacity.held_places), summed per row: a search reads few rows, each an index lookup.
_HELD = func.coalesce(select(func.sum(_H.places)).where(_H.unit_id == _U.id, _H.status.in_(HOLDING_STATUSES),
                                                         _H.expires_at > _NOW).scalar_subquery(), 0)


class _Shape(NamedTuple):
    """What of the criteria changes the SQL: only how many preferences are
    scored (everything else is bound, so that few statements serve all
    searches: building and compiling one costs far more than running it)."""

    languages: int
    needs: bool  # high security or pets asked for

    @classmethod
    def of(cls, criteria: Criteria) -> "_Shape":
        return cls(languages=len(criteria.languages), needs=bool(criteria.needs & {"high_security", "pets"}))


def bound_values(criteria: Criteria, now: datetime) -> dict:
    """The values the statements bind."""
    household = criteria.household
    values = {
        "kinds": [kind.id for kind in criteria.kinds],
        "room_kinds": [kind.id for kind in criteria.kinds if kind.counts == "rooms"],
        "person_kinds": [kind.id for kind in criteria.kinds if kind.counts == "persons"],
        "persons": household.persons,
        "now": now,
        "avoid": list(criteria.avoid_facilities),
        "gender": f'%"{household.gender}"%' if household.gender else "%",
        "wheelchair": household.wheelchair,
        "secret": household.client_type == "victim",
        "n_children": household.children,
        "child_age": household.child_age,
        "boy_age": household.boy_age,
        "security": int("high_security" in criteria.needs),
        "pets": int("pets" in criteria.needs),
    }
    values.update({f"language_{i}": 1 << LANGUAGES.index(code) for i, code in enumerate(criteria.languages)})
    return values


def _facility_rules() -> list:
    """The hard rules on the facility's own columns, each off or on by a bound
    value (bound_values: the criteria's Household). They narrow what is read
    by the rules ranking.facility_takes decides on each row. The gender is
    matched on the JSON list's text (the code in double quotes, or anything:
    "%")."""
    return [
        or_(_F.wheelchair == true(), bindparam("wheelchair", type_=Boolean) == false()),
        or_(bindparam("n_children") == 0, and_(
            _F.children == true(),
            or_(_F.max_children.is_(None), _F.max_children >= bindparam("n_children")),
            or_(_F.max_child_age.is_(None), _F.max_child_age >= bindparam("child_age")),
            # Boys only up to max_boy_age, where the facility sets one (refuges: 12).
            or_(_F.max_boy_age.is_(None), _F.max_boy_age >= bindparam("boy_age")),
        )),
        # An offender (alone or in a couple) is never sent to a secret address.
        or_(_F.confidential == false(), bindparam("secret", type_=Boolean) == true()),
        _F.id.not_in(bindparam("avoid", expanding=True)),
        cast(_F.genders, Text).like(bindparam("gender")),
    ]


def _unmet_sql(shape: _Shape):
    """The number of unmet preferences (languages by their bits), or None
    when none are asked: from columns the public point's indexes hold. Only
    narrows what is read: the ranker counts again, alike."""
    unmet = [case((_F.language_mask.op("&")(bindparam(f"language_{i}")) == 0, 1), else_=0)
             for i in range(shape.languages)]
    if shape.needs:
        unmet += [case((_F.high_security == true(), 0), else_=bindparam("security")),
                  case((_F.pets == true(), 0), else_=bindparam("pets"))]
    return sum(unmet[1:], unmet[0]) if unmet else None


def _near_sql(shape: _Shape, step: str):
    """Where a step of the nearby search reads, by the facility's public
    point: `disk`, every facility whose offset `m` is at most :disk; `ring`,
    those that may score more than :inner and at most :outer and lie beyond
    :disk (the steps before read the rest); `rest`, all those. `m` is the
    larger of the facility's offsets from the centre in km, north-south and
    east-west (never more than its distance); a score that "may be" is `m`
    plus the penalty of its unmet preferences. The terms the index alone can
    answer come first (the box, and bounds on `m`), so that SQLite reads a
    facility's row only when they hold; the score is worked out once
    (BETWEEN). Every step compares the same `m`, so steps neither overlap nor
    leave a gap. The public point alone decides, so which confidential
    facilities a step reads says nothing of where they are."""
    off_lat = func.abs(_F.public_lat - bindparam("lat0", type_=Float)) * bindparam("km_lat", type_=Float)
    off_lon = func.abs(_F.public_lon - bindparam("lon0", type_=Float)) * bindparam("km_lon", type_=Float)
    m = case((off_lat > off_lon, off_lat), else_=off_lon)
    box = [_F.public_lat.between(bindparam("south"), bindparam("north")),
           _F.public_lon.between(bindparam("west"), bindparam("east"))]
    if step == "disk":
        return and_(*box, m <= bindparam("disk", type_=Float))
    # Beyond the disk, and beyond where the most penalised facility was read.
    beyond = [or_(off_lat > bindparam("disk", type_=Float), off_lon > bindparam("disk", type_=Float)),
              or_(off_lat > bindparam("inner_m", type_=Float), off_lon > bindparam("inner_m", type_=Float))]
    unmet = _unmet_sql(shape)
    score = m if unmet is None else m + bindparam("penalty", type_=Float) * unmet
    # score > inner, as score >= the next float up: BETWEEN works the score out once.
    if step == "ring":
        return and_(*box, *beyond, score.between(bindparam("above", type_=Float), bindparam("outer", type_=Float)))
    return and_(*beyond, score >= bindparam("above", type_=Float))


@lru_cache(maxsize=512)
def _candidates_sql(shape: _Shape, *, only_open: bool, region: bool, step: str | None = None, unit: bool = False):
    # Near the place, read from the facilities (by the index on their public
    # point, or their region's) to their units: `kind_id + 0` keeps SQLite
    # from reading all units of the kinds by an index on kind_id first.
    near = step is not None
    kind = _U.kind_id + 0 if near else _U.kind_id
    # The turn-away's reason reads the scope whole, and sums holds for few of its units only.
    held = [_HELD.label("held")] if only_open else []
    query = (
        select(*_COLUMNS, (_U.stale_at <= _NOW).label("stale"), *held)
        .select_from(Facility.__table__.join(CapacityUnit.__table__, _U.facility_id == _F.id))
    )
    if near:
        query = query.where(_near_sql(shape, step), *([_F.region_id == bindparam("region")] if region else []))
    elif region:
        query = query.where(_U.region_id == bindparam("region"))
    if unit:
        query = query.where(_U.id == bindparam("unit"))
    query = query.where(
        kind.in_(bindparam("kinds", expanding=True)),
        # A room must hold the household.
        or_(_U.kind_id.not_in(bindparam("room_kinds", expanding=True)), _U.room_size >= bindparam("persons")),
        *_facility_rules(),
    )
    if only_open:
        query = query.where(_U.facility_open == true(), _U.available >= 1,
                            or_(_U.kind_id.not_in(bindparam("person_kinds", expanding=True)),
                                _U.available >= bindparam("persons")))
    return query


# A unit's row as `read` gives it (_COLUMNS, then stale and held), by no criteria
# (bound: unit, now): read once, so that the waiting list's matching may judge it
# for many requests (app.services.placement.offers).
UNIT_ROW = (select(*_COLUMNS, (_U.stale_at <= _NOW).label("stale"), _HELD.label("held"))
            .select_from(Facility.__table__.join(CapacityUnit.__table__, _U.facility_id == _F.id))
            .where(_U.id == bindparam("unit")))


def read(criteria: Criteria, now: datetime, region_id: int | None, *, near: dict | None = None,
                only_open: bool = True, values: dict | None = None, unit_id: int | None = None):
    """Rows (_COLUMNS, then stale and held) of the units passing every rule
    SQL can check: of the kinds asked for, a room that fits the household, the
    facility's own rules; `only_open` (all but the turn-away's reason, whose
    rows have no held): of open facilities, with places available for the
    household, and the places their holds take. In the region
    (None: everywhere); `near` (a step of the nearby search: nearby._Rings.step):
    only there; `unit_id`: that unit alone (whether it fits a waiting request)."""
    near = near or {}
    statement = _candidates_sql(_Shape.of(criteria), only_open=only_open, region=region_id is not None,
                                step=near.get("step"), unit=unit_id is not None)
    values = dict(values or bound_values(criteria, now), region=region_id, unit=unit_id, **near.get("values", {}))
    return db.session.execute(statement, values).all()
