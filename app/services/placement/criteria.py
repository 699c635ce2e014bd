"""Placement search criteria: a household's needs as the search takes them.

`parse_criteria(data) -> Criteria` checks everything and raises
`InvalidInput(field=...)` naming the first bad field; it reads the capacity
kinds (one query) and writes nothing. Fields of `data` (anything else is
refused, so that a misspelt criterion is never silently ignored):

    client_type       "victim" | "offender" | "couple" (required)
    adults            whole number ≥ 1, default 1 (2 for a couple, which needs at least 2)
    children          ages 0–17: a list, or text "4, 9"; a household is at most 30 persons. A
                      child may carry a gender: {"age": 13, "gender": "male"}, or text "13m, 4f"
                      (m, f or v, x): a boy counts against a facility's max_boy_age
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
    danger_places     at most 5 places to stay away from: {"postcode": "9000"} or
                      {"municipality": "Gent"}, with "radius_km" 1–100 (default: the config's
                      DANGER_RADIUS_KM, 15). Never stored, logged or echoed: `stored()` leaves
                      them out, and an error about one never repeats it.
"""

import re
from dataclasses import dataclass

from flask import current_app, has_app_context
from sqlalchemy import select

from app.extensions import db
from app.models import Call, CapacityKind
from app.models.capacity import CLIENT_TYPES
from app.models.facility import GENDERS, LANGUAGES
from app.services.core import validation
from app.services.core.access import Actor, may_tie_to_call
from app.services.core.errors import InvalidInput
from app.services.core.validation import whole_number
from app.services.registry import places

NEEDS = ("wheelchair", "pets", "high_security")
MAX_PERSONS = 30  # as a hold (app.services.placement.holds.MAX_PERSONS)
MAX_CHILD_AGE = 17
MAX_AVOID = 100
DEFAULT_LIMIT = 25
MAX_LIMIT = 200
SESSION = re.compile(r"[\x21-\x7e]{1,64}")
FIELDS = ("client_type", "adults", "children", "gender", "needs", "languages", "postcode", "kinds",
          "avoid_facilities", "beyond_region", "call_id", "session", "limit", "danger_places")
MAX_DANGER_PLACES = 5
DANGER_RADIUS_KM = (1, 100)
DEFAULT_DANGER_RADIUS_KM = 15.0  # without an app (the config's DANGER_RADIUS_KM)
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def linked_call_id(actor: Actor, value) -> int | None:
    """A `call_id` sent with a search, hold, referral or turn-away: a call
    that exists, tied to it by someone who sees calls. Partners never see a
    call (PRODUCT.md section 2): theirs is refused whether or not it exists."""
    call_id = validation.record_id(value, "call_id")
    if call_id is None:
        return None
    if not may_tie_to_call(actor.user):
        raise InvalidInput("partners do not work with calls: leave call_id out", field="call_id")
    if db.session.get(Call, call_id) is None:
        raise InvalidInput(f"no call {call_id}", field="call_id")
    return call_id


@dataclass(frozen=True)
class KindRef:
    id: int
    code: str
    counts: str  # persons | rooms | slots


@dataclass(frozen=True)
class DangerPlace:
    """Where the person must stay away from: every facility within `radius_km`
    of the place's municipality centre is left out (app.services.placement.danger)."""

    place: places.Place
    radius_km: float

    def __repr__(self) -> str:  # never in a log or a traceback's locals
        return "DangerPlace(…)"


@dataclass(frozen=True)
class Household:
    """What a facility's own rules look at of a household: the one input of
    ranking.facility_takes, which decides them for the search's ranker and the
    waiting list's matching alike (the search's SQL narrows by the same values)."""

    client_type: str
    persons: int
    children: int  # how many
    child_age: int  # the oldest child's age; 0 without children
    boy_age: int  # the oldest boy's age (children given as male); 0 without
    gender: str | None
    wheelchair: bool

    @classmethod
    def of(cls, client_type: str, adults: int, children, child_genders, gender: str | None,
           needs) -> "Household":
        """From the criteria's fields: `children` their ages, `child_genders`
        each child's gender as given (None: not given; may be shorter)."""
        boys = [age for age, given in zip(children, child_genders, strict=False) if given == "male"]
        return cls(client_type=client_type, persons=adults + len(children), children=len(children),
                   child_age=max(children, default=0), boy_age=max(boys, default=0), gender=gender,
                   wheelchair="wheelchair" in needs)

    @classmethod
    def of_stored(cls, stored: dict) -> "Household":
        """The household of criteria as `Criteria.stored` keeps them."""
        return cls.of(stored["client_type"], stored["adults"], stored["children"],
                      stored.get("child_genders") or (), stored["gender"], stored["needs"])


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
    # Each child's gender as given (None: not given), in the order of `children`.
    child_genders: tuple[str | None, ...] = ()
    danger_places: tuple[DangerPlace, ...] = ()

    @property
    def boys(self) -> tuple[int, ...]:
        """The ages of the children given as male."""
        return tuple(age for age, gender in zip(self.children, self.child_genders, strict=False) if gender == "male")

    @property
    def persons(self) -> int:
        return self.adults + len(self.children)

    @property
    def household(self) -> Household:
        return Household.of(self.client_type, self.adults, self.children, self.child_genders, self.gender,
                            self.needs)

    @property
    def kind_codes(self) -> tuple[str, ...]:
        return tuple(kind.code for kind in self.kinds)

    def stored(self) -> dict:
        """The criteria as a search or turn-away keeps them: the household's
        make-up and needs, the searched postcode, no personal data (no call,
        session, names or notes, never a danger place; the avoided facilities
        only as a number). Children's genders as given, in `child_genders`."""
        return {
            "client_type": self.client_type,
            "adults": self.adults,
            "children": list(self.children),
            "child_genders": list(self.child_genders),
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


def _radius(value, default: float) -> float:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = float(value.strip().replace(",", "."))
        except ValueError:
            value = None
    low, high = DANGER_RADIUS_KM
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidInput(f"danger_places: a radius is {low} to {high} km", field="danger_places")
    return float(value)


def danger_places(value) -> tuple[DangerPlace, ...]:
    """The danger places of a search (see the module's docstring). Errors name
    the field and the item's position, never the place given."""
    if value is None or value == "" or value == []:
        return ()
    if not isinstance(value, list | tuple):
        raise InvalidInput("danger_places must be a list", field="danger_places")
    if len(value) > MAX_DANGER_PLACES:
        raise InvalidInput(f"danger_places: at most {MAX_DANGER_PLACES}", field="danger_places")
    default = float(current_app.config["DANGER_RADIUS_KM"]) if has_app_context() else DEFAULT_DANGER_RADIUS_KM
    found = []
    for number, item in enumerate(value, 1):
        keys = set(item) if isinstance(item, dict) else set()
        named = keys & {"postcode", "municipality"}
        if len(named) != 1 or keys - {"postcode", "municipality", "radius_km"}:
            raise InvalidInput('danger_places: give each as {"postcode": …} or {"municipality": …}, '
                               'with an optional "radius_km"', field="danger_places")
        try:
            place = places.lookup(item[named.pop()], field="danger_places")
        except InvalidInput:
            raise InvalidInput(f"danger_places: place {number} is no Belgian postcode or municipality",
                               field="danger_places") from None
        found.append(DangerPlace(place, _radius(item.get("radius_km"), default)))
    return tuple(found)


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

    given = validation.children(data.get("children"), "children", MAX_CHILD_AGE, GENDERS)
    children = [age for age, _ in given]
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
        avoid.append(whole_number(facility_id, "avoid_facilities", 1, validation.MAX_ID))
    if len(avoid) > MAX_AVOID:
        raise InvalidInput(f"avoid_facilities: at most {MAX_AVOID}", field="avoid_facilities")

    beyond = _beyond(data.get("beyond_region"))
    call_id = data.get("call_id")
    call_id = validation.record_id(call_id, "call_id")
    session = data.get("session")
    if session in (None, ""):
        session = None
    elif not isinstance(session, str) or not SESSION.fullmatch(session):
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
        child_genders=tuple(gender for _, gender in given),
        danger_places=danger_places(data.get("danger_places")),
    )
