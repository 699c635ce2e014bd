"""Placement search: from a household's needs to the places it may take, best first.

One service for the API (`POST /api/v1/placements/search`) and the operator UI:

    criteria = parse_criteria(data)        # a dict, as JSON or a form gives it
    outcome = search(actor, criteria, now, preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
    # the caller's unit of work commits it (the search row, a turn-away)

`parse_criteria(data) -> Criteria` checks everything and raises
`InvalidInput(field=...)` naming the first bad field; it reads the capacity
kinds (one query) and writes nothing. Fields of `data` (anything else is
refused, so that a misspelt criterion is never silently ignored):

    client_type       "victim" | "offender" | "couple" (required)
    adults            whole number ≥ 1, default 1 (2 for a couple, which needs at least 2)
    children          ages 0–17: a list, or text "4, 9"; a household is at most 30 persons
    gender            "female" | "male" | "x", optional
    needs             among "wheelchair", "pets", "high_security" (list or text "a, b")
    languages         ISO 639-1 codes among app.models.facility.LANGUAGES (list or text)
    postcode          a Belgian postcode, a municipality's Dutch or French name, or both (required)
    kinds             capacity kind codes, each serving the client type; default: the kinds
                      counting persons or rooms that serve it (the bed kinds), or, when it has
                      none (offenders, couples), every kind serving it
    avoid_facilities  facility ids never to propose (where the other party is)
    beyond_region     true: search everywhere; false: the postcode's region only; absent: the
                      region first, everywhere only when nothing fits there
    call_id           the call this search is part of (operators, managers, admins)
    session           the UI's search session (opaque, ≤ 64 visible characters): the contact
                      when there is no call
    limit             how many results at most, 1–200, default 25

`search(actor, criteria, now, *, preference_km, zone=None) -> SearchOutcome`:

    outcome.results        list[Result], best first (at most criteria.limit)
    outcome.search         the PlacementSearch row written (its id: `search_id` for a hold)
    outcome.beyond_region  whether it looked past the postcode's region
    outcome.turn_away      the contact's TurnAway when nothing fits (recorded once per
                           contact, reason full | ineligible | closed), else None
    outcome.place          the places.Place searched from

A `Result` carries the facility's id, name, region slug, intake phone and
intake hours; the unit's id, kind, free places, room size, and the places a
hold for this household takes; `distance_km`, `updated_at`, `stale`,
`open_now`, `opens_at` (local, when intake is closed at this moment),
`beyond_region`, and `reasons` / `unmet` (`Reason`s: a `code`, a `value` and
an English `text` as the API answers it; the UI translates from code and
value). It never carries an address or coordinates.

Eligibility is hard: a unit is proposed only if its kind is one asked for;
the facility takes the gender, the children (at all, how many, how old),
has wheelchair access when needed, is open for intake (the switch), is not
avoided, and — for offenders and couples — is not confidential; and the unit
has enough free places for the household (available − places held by active,
unexpired holds): a place per person for kinds counting persons, one room
whose `room_size` fits the household for rooms, one slot for slots.

Ranking (PRODUCT.md flow B): facilities outside their intake hours at this
moment last, then fresh counts before stale ones, then by distance plus
`preference_km` per unmet preference (each language asked for and not
spoken; high security or pets asked for and absent). Distances are measured
from the searched place's centre; to a confidential facility from its
municipality's centre, in whole kilometres — and the ranking uses exactly the
distance shown, so neither the figures nor the order of results can locate it
(PRODUCT.md section 5, rule 1).

Speed (bench/placement.py: 10,000 facilities, 30,000 units): the best
results lie near the searched place, so the search reads in steps outward
from it — a disk sized by the density of facilities there, then rings to the
radius the best `limit` should lie within — until they are certain (see
_best); the outcome is exactly that of ranking the whole scope. Every
facility stores its public point (Facility.public_lat/public_lon: where its
distance is measured from), indexed with and without its region, so a step
is a lat/lon box read by index, whatever the facilities' confidentiality.
SQL narrows by kinds, region, the units' intake switch and availability,
room size, the facility's booleans and numbers, how far the public point
and the penalty of unmet preferences may put it (languages by their bits,
Facility.language_mask: the index holds all it needs to tell), and genders
on the JSON list's text; it sums each unit's holds. The ranker decodes
genders and intake hours once per distinct value and checks them again,
counts unmet preferences alike, measures distances and ranks. Display fields are read for the results
alone. Statements are built once per number of preferences (everything else
is bound) and reused.

Turn-aways: `per_region_and_day` (the manager's view), `turn_aways_on` (the
list), `record_turn_away` (an operator's explicit record).
"""

import heapq
import json
import math
import re
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, Float, Text, and_, bindparam, case, cast, false, func, or_, select, true

from app.extensions import db
from app.models import CapacityKind, CapacityUnit, Facility, Hold, PlacementSearch, Region, TurnAway
from app.models.capacity import CLIENT_TYPES
from app.models.facility import GENDERS, LANGUAGES
from app.models.placement import TURN_AWAY_REASONS
from app.models.types import UTCDateTime
from app.services.core import validation
from app.services.core.access import Actor
from app.services.core.errors import Forbidden, InvalidInput
from app.services.core.validation import whole_number
from app.services.placement import turn_aways
from app.services.registry import intake_hours, places
from app.services.registry.capacity import held_places

NEEDS = ("wheelchair", "pets", "high_security")
SEARCHERS = ("operator", "manager", "partner", "admin")
# Those who work with calls; a searcher with none of these is a partner.
CALL_ROLES = ("operator", "manager", "admin")
# Who lists turn-aways: operators and admins all, managers their regions.
TURN_AWAY_READERS = ("operator", "manager", "admin")
TURN_AWAY_RECORDERS = ("operator", "manager")
MAX_PERSONS = 30  # as a hold (app.services.placement.holds.MAX_PERSONS)
MAX_CHILD_AGE = 17
MAX_AVOID = 100
DEFAULT_LIMIT = 25
MAX_LIMIT = 200
SESSION = re.compile(r"^[\x21-\x7e]{1,64}$")
FIELDS = ("client_type", "adults", "children", "gender", "needs", "languages", "postcode", "kinds",
          "avoid_facilities", "beyond_region", "call_id", "session", "limit")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


# --- criteria -----------------------------------------------------------------


@dataclass(frozen=True)
class KindRef:
    id: int
    code: str
    counts: str  # persons | rooms | slots


@dataclass(frozen=True)
class Criteria:
    client_type: str
    adults: int
    children: tuple[int, ...]
    gender: str | None
    needs: frozenset[str]
    languages: tuple[str, ...]
    place: places.Place
    kinds: tuple[KindRef, ...]
    avoid_facilities: tuple[int, ...] = ()
    beyond_region: bool | None = None
    call_id: int | None = None
    session: str | None = None
    limit: int = DEFAULT_LIMIT

    @property
    def persons(self) -> int:
        return self.adults + len(self.children)

    @property
    def kind_codes(self) -> tuple[str, ...]:
        return tuple(kind.code for kind in self.kinds)

    def stored(self) -> dict:
        """The criteria as a search or turn-away keeps them: the household's
        make-up and needs, the searched postcode, no personal data (no call,
        session, names or notes; the avoided facilities only as a number)."""
        return {
            "client_type": self.client_type,
            "adults": self.adults,
            "children": list(self.children),
            "gender": self.gender,
            "needs": sorted(self.needs),
            "languages": list(self.languages),
            "postcode": self.place.postcode,
            "municipality": self.place.municipality,
            "region": self.place.region,
            "kinds": list(self.kind_codes),
            "avoided": len(self.avoid_facilities),
            "beyond_region": self.beyond_region,
        }


def _beyond(value) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidInput("beyond_region must be true or false, or absent", field="beyond_region")


_KINDS = select(CapacityKind.id, CapacityKind.code, CapacityKind.counts, CapacityKind.serves).order_by(
    CapacityKind.position, CapacityKind.id)


def _kinds(value, client_type: str) -> tuple[KindRef, ...]:
    known = db.session.execute(_KINDS).all()
    serving = [KindRef(id_, code, counts) for id_, code, counts, serves in known if client_type in serves]
    if value is None or value == "" or value == []:
        beds = [kind for kind in serving if kind.counts in ("persons", "rooms")]
        return tuple(beds or serving)
    codes = tuple(validation.codes(value, "kinds", [code for _, code, _, _ in known]))
    by_code = {kind.code: kind for kind in serving}
    refused = [code for code in codes if code not in by_code]
    if refused:
        raise InvalidInput(f"kinds: {', '.join(refused)} do not serve {client_type} clients "
                           f"(use {', '.join(by_code) or 'none'})", field="kinds")
    return tuple(by_code[code] for code in codes)


def parse_criteria(data: dict) -> Criteria:
    """Check and clean a search's criteria (see the module's docstring);
    raises InvalidInput naming the first bad field. Writes nothing."""
    if not isinstance(data, dict):
        raise InvalidInput("send the criteria as an object", field="body")
    unknown = sorted(str(key) for key in data if key not in FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]} (criteria are {', '.join(FIELDS)})", field=unknown[0])

    client_type = data.get("client_type")
    if client_type in (None, ""):
        raise InvalidInput(f"client_type is required: {', '.join(CLIENT_TYPES)}", field="client_type")
    if client_type not in CLIENT_TYPES:
        raise InvalidInput(f"client_type must be one of {', '.join(CLIENT_TYPES)}", field="client_type")

    couple = client_type == "couple"
    adults = data.get("adults")
    adults = (2 if couple else 1) if adults in (None, "") else whole_number(adults, "adults", 1, MAX_PERSONS)
    if couple and adults < 2:
        raise InvalidInput("a couple is at least 2 adults", field="adults")

    children = validation.child_ages(data.get("children"), "children", MAX_CHILD_AGE)
    if adults + len(children) > MAX_PERSONS:
        raise InvalidInput(f"a household is at most {MAX_PERSONS} persons, not {adults + len(children)}",
                           field="children" if children else "adults")

    gender = data.get("gender")
    if gender in (None, ""):
        gender = None
    elif gender not in GENDERS:
        raise InvalidInput(f"gender must be one of {', '.join(GENDERS)}", field="gender")

    needs = frozenset(validation.codes(data.get("needs"), "needs", NEEDS))
    languages = tuple(validation.codes(data.get("languages"), "languages", LANGUAGES))
    place = places.lookup(data.get("postcode"), field="postcode")

    avoid = []
    for facility_id in validation.items(data.get("avoid_facilities"), "avoid_facilities"):
        avoid.append(whole_number(facility_id, "avoid_facilities", 1, 2**31 - 1))
    if len(avoid) > MAX_AVOID:
        raise InvalidInput(f"avoid_facilities: at most {MAX_AVOID}", field="avoid_facilities")

    beyond = _beyond(data.get("beyond_region"))
    call_id = data.get("call_id")
    call_id = None if call_id in (None, "") else whole_number(call_id, "call_id", 1, 2**31 - 1)
    session = data.get("session")
    if session in (None, ""):
        session = None
    elif not isinstance(session, str) or not SESSION.match(session):
        raise InvalidInput("session must be 1 to 64 visible characters without spaces", field="session")
    limit = data.get("limit")
    limit = DEFAULT_LIMIT if limit in (None, "") else whole_number(limit, "limit", 1, MAX_LIMIT)

    return Criteria(
        client_type=client_type,
        adults=adults,
        children=tuple(children),
        gender=gender,
        needs=needs,
        languages=languages,
        place=place,
        kinds=_kinds(data.get("kinds"), client_type),
        avoid_facilities=tuple(dict.fromkeys(avoid)),
        beyond_region=beyond,
        call_id=call_id,
        session=session,
        limit=limit,
    )


# --- results ------------------------------------------------------------------

_REASON_TEXT = {
    "language": "speaks {}",
    "wheelchair": "wheelchair",
    "high_security": "high security",
    "pets": "pets",
    "children": "children up to {}",
    "always_open": "24/7",
    "room": "room for {}",
}


@dataclass(frozen=True)
class Reason:
    """Why a result matched, or a preference it does not meet: `code`
    (language, wheelchair, high_security, pets, children, always_open, room)
    and `value` (the language, the oldest child age taken, the room size)."""

    code: str
    value: str | int | None = None

    @property
    def text(self) -> str:
        if self.code == "children" and self.value is None:
            return "children"
        return _REASON_TEXT[self.code].format(self.value)


@dataclass(frozen=True)
class Result:
    facility_id: int
    facility_name: str
    region: str  # slug
    intake_phone: str | None
    intake_hours: dict  # the weekly schedule; intake_hours_text is its short form
    unit_id: int
    kind: str
    free: int
    room_size: int | None
    places: int  # what a hold for this household takes: persons, or one room or slot
    distance_km: float | int  # whole km for a confidential facility
    updated_at: datetime
    stale: bool
    open_now: bool
    opens_at: datetime | None  # local; set when intake is closed at this moment
    beyond_region: bool
    reasons: tuple[Reason, ...]
    unmet: tuple[Reason, ...]

    @property
    def intake_hours_text(self) -> str:
        return intake_hours.to_text(self.intake_hours)


@dataclass
class SearchOutcome:
    results: list[Result]
    search: PlacementSearch
    beyond_region: bool
    turn_away: TurnAway | None
    place: places.Place


def places_needed(counts: str, room_size: int | None, persons: int) -> int | None:
    """What a household of `persons` takes of a unit (app.services.placement.holds.places_for):
    a place per person, or one room or slot; None when a room is too small."""
    if counts == "persons":
        return persons
    if counts == "rooms" and (room_size or 0) < persons:
        return None
    return 1


# --- reading and ranking ---------------------------------------------------------
#
# One query per step: the units that pass the rules SQL can check, joined to
# their facilities for the columns ranking needs (JSON as text, decoded once
# per distinct value) and their holds — in a disk or a ring around the
# searched place, or all of the scope's. The statements are built once per
# shape of criteria, values bound at each run (building and compiling one
# costs more than running it).

_U = CapacityUnit.__table__.c
_F = Facility.__table__.c
# The facility's public point (F_LAT, F_LON), never its own coordinates: a
# confidential facility's is its municipality's centre (Facility.public_lat).
# The languages as their bits (Facility.language_mask), in SQL and here alike.
_COLUMNS = (_U.id, _U.facility_id, _U.kind_id, _U.available, _U.room_size, _U.region_id, _U.facility_open,
            _F.confidential, _F.public_lat, _F.public_lon, _F.high_security, _F.pets, _F.max_child_age,
            cast(_F.genders, Text), _F.language_mask, cast(_F.intake_hours, Text))
(U_ID, U_FACILITY, U_KIND, U_AVAILABLE, U_ROOM, U_REGION, U_OPEN, F_CONFIDENTIAL, F_LAT, F_LON, F_SECURITY, F_PETS,
 F_CHILD_AGE, F_GENDERS, F_LANGUAGES, F_HOURS, U_STALE, U_HELD) = range(18)
_H = Hold.__table__.c
_NOW = bindparam("now", type_=UTCDateTime)
# Places taken by the unit's holds, active and unexpired (capacity.held_places),
# summed per row: a search reads few rows, each an index lookup.
_HELD = func.coalesce(select(func.sum(_H.places)).where(_H.unit_id == _U.id, _H.status == "active",
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


def _values(criteria: Criteria, now: datetime) -> dict:
    """The values the statements bind."""
    values = {
        "kinds": [kind.id for kind in criteria.kinds],
        "room_kinds": [kind.id for kind in criteria.kinds if kind.counts == "rooms"],
        "person_kinds": [kind.id for kind in criteria.kinds if kind.counts == "persons"],
        "persons": criteria.persons,
        "now": now,
        "avoid": list(criteria.avoid_facilities),
        "gender": f'%"{criteria.gender}"%' if criteria.gender else "%",
        "wheelchair": "wheelchair" in criteria.needs,
        "secret": criteria.client_type == "victim",
        "n_children": len(criteria.children),
        "child_age": max(criteria.children, default=0),
        "security": int("high_security" in criteria.needs),
        "pets": int("pets" in criteria.needs),
    }
    values.update({f"language_{i}": 1 << LANGUAGES.index(code) for i, code in enumerate(criteria.languages)})
    return values


def _facility_rules() -> list:
    """The hard rules on the facility's own columns, each off or on by a bound
    value. The gender is matched on the JSON list's text (the code in double
    quotes, or anything: "%"); the ranker checks the decoded list again."""
    return [
        or_(_F.wheelchair == true(), bindparam("wheelchair", type_=Boolean) == false()),
        or_(bindparam("n_children") == 0, and_(
            _F.children == true(),
            or_(_F.max_children.is_(None), _F.max_children >= bindparam("n_children")),
            or_(_F.max_child_age.is_(None), _F.max_child_age >= bindparam("child_age")),
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
def _candidates_sql(shape: _Shape, *, only_open: bool, region: bool, step: str | None = None):
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


def _candidates(criteria: Criteria, now: datetime, region_id: int | None, *, near: dict | None = None,
                only_open: bool = True, values: dict | None = None):
    """Rows (_COLUMNS, then stale and held) of the units passing every rule
    SQL can check: of the kinds asked for, a room that fits the household, the
    facility's own rules; `only_open` (all but the turn-away's reason, whose
    rows have no held): of open facilities, with places available for the
    household, and the places their holds take. In the region
    (None: everywhere); `near` (a step of the nearby search: _Rings.step):
    only there."""
    near = near or {}
    statement = _candidates_sql(_Shape.of(criteria), only_open=only_open, region=region_id is not None,
                                step=near.get("step"))
    values = dict(values or _values(criteria, now), region=region_id, **near.get("values", {}))
    return db.session.execute(statement, values).all()


# The nearby search (_best). These only weigh speed: the outcome is the same.
DISK_FACILITIES = 5  # per result asked for, about, in the first step's disk
PROBE_KM = 4.0  # the density of facilities is counted within this offset
MIN_DISK_KM, MAX_DISK_KM = 1.0, 30.0
RING_MARGIN = 2.0  # a ring aims at this many times the results asked for
RING_GROWTH = 1.25  # the least a ring widens the radius by
WHOLE_REGION_KM = 120.0  # a ring past this: read the rest instead
WHOLE_COUNTRY_KM = 300.0
_EARTH_KM = places.EARTH_RADIUS_KM
_KM_PER_DEGREE = math.radians(_EARTH_KM)


class _Rings:
    """The values of the nearby search's steps (_near_sql), around a searched
    place. Offsets in degrees become km by fixed scales, a little short of the
    truth (2 %, and east-west at the latitude furthest from the equator a
    ring may reach), so that a facility's offset `m` is never more than its
    distance (by haversine)."""

    def __init__(self, ranker: "_Ranker"):
        self.lat0, self.lon0 = ranker.lat0, ranker.lon0
        widest = min(89.0, abs(self.lat0) + math.degrees(WHOLE_COUNTRY_KM / _EARTH_KM))
        self.km_lat = _KM_PER_DEGREE / 1.02
        self.km_lon = _KM_PER_DEGREE * math.cos(math.radians(widest)) / 1.02
        self.penalty = ranker.preference_km
        self.values = {"lat0": self.lat0, "lon0": self.lon0, "km_lat": self.km_lat, "km_lon": self.km_lon,
                       "penalty": self.penalty}

    def box(self, km: float) -> dict:
        """The lat/lon box holding every offset up to `km`, with room for rounding."""
        dlat, dlon = km / self.km_lat * 1.0001 + 1e-6, km / self.km_lon * 1.0001 + 1e-6
        return {"south": self.lat0 - dlat, "north": self.lat0 + dlat, "west": self.lon0 - dlon,
                "east": self.lon0 + dlon}

    def step(self, step: str, *, disk: float, inner: float | None = None, outer: float | None = None,
             most_unmet: int = 0) -> dict:
        """`disk`: the first step; `ring`: from `inner` to `outer`; `rest`:
        past `inner`. `most_unmet`: how many preferences a facility may miss."""
        values = dict(self.values, disk=disk)
        if step != "disk":
            values.update(above=math.nextafter(inner, math.inf), inner_m=inner - self.penalty * most_unmet - 1e-6)
        if step != "rest":
            values.update(self.box(disk if step == "disk" else outer), outer=outer)
        return {"step": step, "values": values}


_PROBE = select(func.count()).select_from(Facility.__table__).where(
    _F.public_lat.between(bindparam("south"), bindparam("north")),
    _F.public_lon.between(bindparam("west"), bindparam("east")))
_PROBE_REGION = _PROBE.where(_F.region_id == bindparam("region"))


def _disk(criteria: Criteria, rings: _Rings, region_id: int | None) -> float:
    """The first step's radius: about DISK_FACILITIES × limit facilities of
    the scope inside it, by their density within PROBE_KM (counted in the
    index alone)."""
    statement = _PROBE if region_id is None else _PROBE_REGION
    count = db.session.scalar(statement, dict(rings.box(PROBE_KM), region=region_id))
    wanted = DISK_FACILITIES * criteria.limit
    disk = PROBE_KM * math.sqrt(wanted / max(count, 0.5))
    return min(MAX_DISK_KM, max(MIN_DISK_KM, disk))


def _next_radius(ranked: list[tuple], limit: int, penalty: float, disk: float, radius: float) -> float:
    """How far the next ring should reach for `limit` certain results, at the
    densities seen so far: per number of unmet preferences, the results open
    now and fresh among the rows read (within `disk`, or within `radius` less
    their penalty), as if they went on alike with the area. At least
    RING_GROWTH times the radius."""
    counts: dict[int, int] = {}
    for key, _ in ranked:
        if not key[0] and not key[1]:
            unmet = round((key[2] - key[3]) / penalty) if penalty else 0
            counts[unmet] = counts.get(unmet, 0) + 1
    if not counts:
        return radius * 3

    def expected(bound: float) -> float:
        total = 0.0
        for unmet, count in counts.items():
            reach = bound - 0.5 - penalty * unmet
            if reach > 0:
                total += count * (reach / max(disk, radius - penalty * unmet)) ** 2
        return total

    wanted = limit * RING_MARGIN + 2
    low = radius * RING_GROWTH
    high = low
    while expected(high) < wanted and high < 16 * radius:
        high *= 1.5
    for _ in range(12):
        middle = (low + high) / 2
        if expected(middle) >= wanted:
            high = middle
        else:
            low = middle
    # Extrapolate no further than 4x any level's reach so far.
    farthest = max(penalty * unmet + 4 * max(disk, radius - penalty * unmet) for unmet in counts)
    return max(radius * RING_GROWTH, min(high, farthest))


def _best(criteria: Criteria, ranker: "_Ranker", region_id: int | None, now: datetime) -> list[tuple]:
    """The best `limit` results of a scope (a region, or None: everywhere).

    Reads in steps, each where the one before did not: first a disk around
    the place, sized by the density of facilities there; then rings, to the
    radius within which the best `limit` results should lie; at last the rest
    of the scope. The results are certain when `limit` of them are open now,
    fresh and score less than the radius − 0.5 km: a facility not read may
    score more than the radius (its offset plus penalty does), so its
    distance is more than the radius less its penalty, and its shown
    distance (in whole km, when confidential) at most 0.5 km less. The
    outcome is always exactly the best of the whole scope."""
    limit, penalty = criteria.limit, ranker.preference_km
    values = _values(criteria, now)
    rings = _Rings(ranker)
    whole = WHOLE_COUNTRY_KM if region_id is None else WHOLE_REGION_KM
    most_unmet = len(criteria.languages) + len(criteria.needs & {"high_security", "pets"})
    disk = radius = _disk(criteria, rings, region_id)
    near = rings.step("disk", disk=disk)
    ranked: list[tuple] = []
    while True:
        ranked += ranker.rank(_candidates(criteria, now, region_id, near=near, values=values))
        chosen = _select(criteria, ranker, ranked)
        if near["step"] == "rest":
            return chosen
        bound = (False, False, radius - 0.5)
        if sum(1 for key, _, _, _ in chosen if key[:3] < bound) == limit:
            return chosen
        outer = _next_radius(ranked, limit, penalty, disk, radius)
        step = "rest" if outer >= whole else "ring"
        near = rings.step(step, disk=disk, inner=radius, outer=outer, most_unmet=most_unmet)
        radius = outer


class _Ranker:
    """Works out what ranking needs of each facility, once: whether it takes
    the gender, its public distance, unmet preferences, whether intake is open
    now; and ranks rows. Caches per distinct JSON value and per facility."""

    def __init__(self, criteria: Criteria, now: datetime, zone: ZoneInfo, preference_km: float,
                 home_region_id: int | None):
        self.criteria = criteria
        self.now = now
        self.zone = zone
        self.preference_km = preference_km
        self.home_region_id = home_region_id
        self.lat0, self.lon0 = criteria.place.lat, criteria.place.lon
        self.counts = {kind.id: kind.counts for kind in criteria.kinds}
        self._facts: dict[int, tuple | bool] = {}
        self._genders: dict[str, bool] = {}
        self._languages: dict[int, tuple[tuple[Reason, ...], tuple[Reason, ...]]] = {}
        self._hours: dict[str, tuple[dict, bool, datetime | None]] = {}

    def takes_gender(self, text: str) -> bool:
        taken = self._genders.get(text)
        if taken is None:
            taken = self._genders[text] = self.criteria.gender in json.loads(text)
        return taken

    def languages(self, mask: int):
        """The languages asked for that the facility speaks and does not, by
        its language_mask."""
        found = self._languages.get(mask)
        if found is None:
            spoken = {code for bit, code in enumerate(LANGUAGES) if mask >> bit & 1}
            found = self._languages[mask] = (
                tuple(Reason("language", code) for code in self.criteria.languages if code in spoken),
                tuple(Reason("language", code) for code in self.criteria.languages if code not in spoken),
            )
        return found

    def hours(self, text: str):
        found = self._hours.get(text)
        if found is None:
            schedule = json.loads(text)
            opens_at = intake_hours.next_opening(schedule, self.now, self.zone)
            open_now = opens_at is None and intake_hours.is_open(schedule, self.now, self.zone)
            found = self._hours[text] = (schedule, open_now, opens_at)
        return found

    def public_distance(self, confidential, public_lat: float, public_lon: float) -> float | int:
        """The distance ranking uses and results show: to the facility's
        public point — its coordinates, or, for a confidential one or one
        without any, its municipality's centre — in whole km when confidential
        (PRODUCT.md section 5, rule 1), else to 100 m."""
        km = places.haversine_km(self.lat0, self.lon0, public_lat, public_lon)
        return int(round(km)) if confidential else round(km, 1)

    def facts(self, row):
        """(closed now, score, km) of a row's facility, or
        False when it does not take the gender."""
        found = self._facts.get(row[U_FACILITY])
        if found is not None:
            return found
        criteria, needs = self.criteria, self.criteria.needs
        if criteria.gender is not None and not self.takes_gender(row[F_GENDERS]):
            found = False
        else:
            unmet = len(self.languages(row[F_LANGUAGES])[1]) if criteria.languages else 0
            if "high_security" in needs and not row[F_SECURITY]:
                unmet += 1
            if "pets" in needs and not row[F_PETS]:
                unmet += 1
            km = self.public_distance(row[F_CONFIDENTIAL], row[F_LAT], row[F_LON])
            closed_now = not self.hours(row[F_HOURS])[1]
            found = (closed_now, km + self.preference_km * unmet, km)
        self._facts[row[U_FACILITY]] = found
        return found

    def rank(self, rows) -> list[tuple]:
        """(sort key, row) for the rows whose facility passes and that have
        enough free places for the household, once holds are counted;
        unsorted. The key: closed now, stale, score (distance + penalty),
        distance, facility id, unit id."""
        facts, counts, persons = self.facts, self.counts, self.criteria.persons
        ranked = []
        for row in rows:
            needed = places_needed(counts[row[U_KIND]], row[U_ROOM], persons)
            if needed is None or row[U_AVAILABLE] - row[U_HELD] < needed:
                continue
            found = facts(row)
            if found:
                closed_now, score, km = found
                ranked.append(((closed_now, bool(row[U_STALE]), score, km, row[U_FACILITY], row[U_ID]), row))
        return ranked

    def reasons_and_unmet(self, row) -> tuple[tuple[Reason, ...], tuple[Reason, ...]]:
        criteria, needs = self.criteria, self.criteria.needs
        reasons, unmet = [], []
        if criteria.languages:
            spoken, missing = self.languages(row[F_LANGUAGES])
            reasons.extend(spoken)
            unmet.extend(missing)
        if "wheelchair" in needs:
            reasons.append(Reason("wheelchair"))
        if "high_security" in needs:
            (reasons if row[F_SECURITY] else unmet).append(Reason("high_security"))
        if "pets" in needs:
            (reasons if row[F_PETS] else unmet).append(Reason("pets"))
        if criteria.children:
            reasons.append(Reason("children", row[F_CHILD_AGE]))
        if self.counts[row[U_KIND]] == "rooms":
            reasons.append(Reason("room", row[U_ROOM]))
        if self.hours(row[F_HOURS])[0].get("always"):
            reasons.append(Reason("always_open"))
        return tuple(reasons), tuple(unmet)


def _select(criteria: Criteria, ranker: _Ranker, ranked: list[tuple]) -> list[tuple]:
    """The best `limit` of the ranked rows, each with its free places and
    the places the household takes. Keys are unique (they end with the unit
    id), so this is exactly the head of the full order."""
    counts, persons = ranker.counts, criteria.persons
    return [(key, row, row[U_AVAILABLE] - row[U_HELD], places_needed(counts[row[U_KIND]], row[U_ROOM], persons))
            for key, row in heapq.nsmallest(criteria.limit, ranked)]


_DETAILS = (select(CapacityUnit.id, CapacityUnit.updated_at, Facility.name, Facility.intake_phone, Region.slug)
            .join(Facility, Facility.id == CapacityUnit.facility_id)
            .join(Region, Region.id == CapacityUnit.region_id)
            .where(CapacityUnit.id.in_(bindparam("ids", expanding=True))))


def _results(criteria: Criteria, ranker: _Ranker, chosen: list[tuple]) -> list[Result]:
    if not chosen:
        return []
    details = {
        unit_id: (updated_at, name, phone, region)
        for unit_id, updated_at, name, phone, region in db.session.execute(
            _DETAILS, {"ids": [row[U_ID] for _, row, _, _ in chosen]})
    }
    codes = {kind.id: kind.code for kind in criteria.kinds}
    results = []
    for key, row, free, needed in chosen:
        updated_at, name, phone, region = details[row[U_ID]]
        schedule, open_now, opens_at = ranker.hours(row[F_HOURS])
        reasons, unmet = ranker.reasons_and_unmet(row)
        results.append(Result(
            facility_id=row[U_FACILITY],
            facility_name=name,
            region=region,
            intake_phone=phone,
            intake_hours=schedule,
            unit_id=row[U_ID],
            kind=codes[row[U_KIND]],
            free=free,
            room_size=row[U_ROOM],
            places=needed,
            distance_km=key[3],
            updated_at=updated_at,
            stale=key[1],
            open_now=open_now,
            opens_at=opens_at,
            beyond_region=row[U_REGION] != ranker.home_region_id,
            reasons=reasons,
            unmet=unmet,
        ))
    return results


def _turn_away_reason(criteria: Criteria, ranker: _Ranker, region_id: int | None, now: datetime) -> str:
    """Why nothing fits, in the scope last searched: `closed` when eligible
    facilities with enough free places exist but all are switched closed;
    `full` when eligible facilities exist but none has enough free places;
    else `ineligible`."""
    rows = _candidates(criteria, now, region_id, only_open=False)
    eligible = [row for row in rows if criteria.gender is None or ranker.takes_gender(row[F_GENDERS])]
    if not eligible:
        return "ineligible"
    persons = criteria.persons
    closed = []
    for row in eligible:
        needed = places_needed(ranker.counts[row[U_KIND]], row[U_ROOM], persons)
        if not row[U_OPEN] and needed is not None and row[U_AVAILABLE] >= needed:
            closed.append((row, needed))
    if closed:
        held = held_places((row[U_ID] for row, _ in closed), now)
        if any(row[U_AVAILABLE] - held.get(row[U_ID], 0) >= needed for row, needed in closed):
            return "closed"
    return "full"


_REGION_ID = select(Region.id).where(Region.slug == bindparam("slug"))


def search(actor: Actor, criteria: Criteria, now: datetime, *, preference_km: float,
           zone: ZoneInfo | None = None) -> SearchOutcome:
    """Run a placement search (see the module's docstring): rank what fits,
    write the PlacementSearch row, and record the contact's turn-away when
    nothing fits. Does not commit. `zone` defaults to the app's time zone."""
    if not actor.has_role(*SEARCHERS):
        raise Forbidden("searching places needs the role operator, manager, partner or admin")
    if criteria.call_id is not None and not actor.has_role(*CALL_ROLES):
        raise InvalidInput("partners do not work with calls: leave call_id out", field="call_id")
    if zone is None:
        from app.clock import local_zone

        zone = local_zone()
    home = db.session.scalar(_REGION_ID, {"slug": criteria.place.region})
    ranker = _Ranker(criteria, now, zone, preference_km, home)

    beyond = criteria.beyond_region is True
    scope = None if beyond else home
    chosen: list[tuple] = []
    if beyond or home is not None:
        chosen = _best(criteria, ranker, scope, now)
    if not chosen and criteria.beyond_region is None:
        beyond, scope = True, None
        chosen = _best(criteria, ranker, None, now)
    results = _results(criteria, ranker, chosen)

    # The contact: the call, else the session, else this search alone (known once written).
    contact = criteria.call_id is not None or criteria.session is not None
    key = turn_aways.contact_key(call_id=criteria.call_id, session=criteria.session) if contact else "search:"
    row = PlacementSearch(at=now, created_by_id=actor.user_id, contact_key=key, call_id=criteria.call_id,
                          region_id=home, criteria=criteria.stored(), result_count=len(results))
    db.session.add(row)
    db.session.flush()
    if not contact:
        row.contact_key = key = turn_aways.contact_key(search_id=row.id)

    turn_away = None
    if not results:
        if scope is None and not beyond:
            reason = "ineligible"  # the region has no facilities at all: it is not in the registry
        else:
            reason = _turn_away_reason(criteria, ranker, scope, now)
        turn_away = turn_aways.record(actor, now, key=key, reason=reason, criteria=criteria.stored(),
                                      region_id=home, call_id=criteria.call_id, search_id=row.id)
    return SearchOutcome(results=results, search=row, beyond_region=beyond, turn_away=turn_away,
                         place=criteria.place)


# --- turn-aways -----------------------------------------------------------------


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start, end


def turn_aways_on(region_ids: set[int] | None, day: date, zone: ZoneInfo, *, after_id: int | None = None,
                  limit: int = 100) -> list[TurnAway]:
    """The turn-aways not withdrawn of `day` (local), in `region_ids` (None:
    every region, and those without one), by id."""
    start, end = _day_bounds(day, zone)
    query = select(TurnAway).where(TurnAway.at >= start, TurnAway.at < end, TurnAway.withdrawn_at.is_(None))
    if region_ids is not None:
        query = query.where(TurnAway.region_id.in_(region_ids))
    query = query.where(TurnAway.id > (after_id or 0)).order_by(TurnAway.id).limit(limit)
    return list(db.session.scalars(query))


def turn_away_regions(user) -> set[int] | None:
    """The regions whose turn-aways `user` may list: None (all) for operators
    and admins, their own regions for managers; Forbidden for anyone else
    (partners and shelter staff never list them)."""
    if user is None or not user.has_role(*TURN_AWAY_READERS):
        raise Forbidden("turn-aways are for operators, managers and admins")
    if user.has_role("operator", "admin"):
        return None
    return {region.id for region in user.regions}


@dataclass(frozen=True)
class DayCount:
    region_id: int | None
    day: date
    count: int
    by_reason: dict[str, int] = field(default_factory=dict)


def per_region_and_day(region_ids: set[int] | None, since: date, until: date, now: datetime,
                       zone: ZoneInfo | None = None) -> list[DayCount]:
    """Turn-aways per region and local day from `since` to `until` (both
    included): the regions' unmet demand. Those withdrawn by `now` (a hold
    followed) do not count. Ordered by day, then region id (None last)."""
    if zone is None:
        from app.clock import local_zone

        zone = local_zone()
    if until < since:
        raise InvalidInput("until must not be before since", field="until")
    start, _ = _day_bounds(since, zone)
    _, end = _day_bounds(until, zone)
    query = select(TurnAway.region_id, TurnAway.at, TurnAway.reason).where(
        TurnAway.at >= start, TurnAway.at < end, TurnAway.at <= now,
        or_(TurnAway.withdrawn_at.is_(None), TurnAway.withdrawn_at > now),
    )
    if region_ids is not None:
        query = query.where(TurnAway.region_id.in_(region_ids))
    counts: dict[tuple[int | None, date], dict[str, int]] = {}
    for region_id, at, reason in db.session.execute(query):
        reasons = counts.setdefault((region_id, at.astimezone(zone).date()), {})
        reasons[reason] = reasons.get(reason, 0) + 1
    return [
        DayCount(region_id, day, sum(reasons.values()), reasons)
        for (region_id, day), reasons in sorted(counts.items(), key=lambda item: (
            item[0][1], item[0][0] is None, item[0][0] or 0))
    ]


def record_turn_away(actor: Actor, now: datetime, *, reason, call_id=None, session=None, region=None,
                     note=None) -> tuple[TurnAway, bool]:
    """An operator records that a contact ended without a place. Once per
    contact (the call, else the search session): a second record of the same
    contact returns the first, and False. Without a region, the region (and
    criteria) of the contact's last search are taken. Returns (turn-away,
    created)."""
    if not actor.has_role(*TURN_AWAY_RECORDERS):
        raise Forbidden("recording a turn-away needs the role operator or manager")
    if reason not in TURN_AWAY_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(TURN_AWAY_REASONS)}", field="reason")
    call_id = None if call_id in (None, "") else whole_number(call_id, "call_id", 1, 2**31 - 1)
    if session in (None, ""):
        session = None
    elif not isinstance(session, str) or not SESSION.match(session):
        raise InvalidInput("session must be 1 to 64 visible characters without spaces", field="session")
    region_id = None
    if region not in (None, ""):
        if not isinstance(region, str):
            raise InvalidInput("region must be a region's slug", field="region")
        region_id = db.session.scalar(select(Region.id).where(Region.slug == region))
        if region_id is None:
            raise InvalidInput(f"unknown region {region!r}", field="region")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise InvalidInput("note must be text of at most 2000 characters", field="note")
    note = note.strip() or None if note else None

    if call_id is None and session is None:
        key = f"manual:{secrets.token_hex(8)}"  # its own contact
    else:
        key = turn_aways.contact_key(call_id=call_id, session=session)
    existing = db.session.scalar(select(TurnAway).where(TurnAway.contact_key == key))
    if existing is not None:
        return existing, False
    last = db.session.scalar(
        select(PlacementSearch).where(PlacementSearch.contact_key == key).order_by(PlacementSearch.id.desc()).limit(1)
    )
    turn_away = turn_aways.record(
        actor, now, key=key, reason=reason, criteria=last.criteria if last else {},
        region_id=region_id if region_id is not None else (last.region_id if last else None),
        call_id=call_id, search_id=last.id if last else None, note=note,
    )
    # A recording racing this one may have won: then it is theirs.
    return turn_away, turn_away.recorded_by_id == actor.user_id and turn_away.at == now
