"""Placement search: ranking the candidate units.

Facilities outside their intake hours at this moment last, then fresh
counts before stale ones, then by distance plus `preference_km` per unmet
preference (each language asked for and not spoken; high security or pets
asked for and absent). Distances are measured from the searched place's
centre; to a confidential facility from its municipality's centre, in whole
kilometres — and the ranking uses exactly the distance shown, so neither the
figures nor the order of results can locate it (PRODUCT.md section 5, rule 1).
"""

import heapq
import json
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from app.models.facility import LANGUAGES
from app.services.placement.candidates import (
    F_BOY_AGE,
    F_CHILD_AGE,
    F_CHILDREN,
    F_CONFIDENTIAL,
    F_GENDERS,
    F_HOURS,
    F_LANGUAGES,
    F_LAT,
    F_LON,
    F_MAX_CHILDREN,
    F_PETS,
    F_SECURITY,
    F_WHEELCHAIR,
    U_AVAILABLE,
    U_FACILITY,
    U_HELD,
    U_ID,
    U_KIND,
    U_ROOM,
    U_STALE,
)
from app.services.placement.criteria import Criteria, Household
from app.services.placement.danger import DangerZones
from app.services.registry import intake_hours, places

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


def places_needed(counts: str, room_size: int | None, persons: int) -> int | None:
    """What a household of `persons` takes of a unit (app.services.placement.holds.places_for):
    a place per person, or one room or slot; None when a room is too small."""
    if counts == "persons":
        return persons
    if counts == "rooms" and (room_size or 0) < persons:
        return None
    return 1


def facility_takes(row, genders: frozenset[str], household: Household) -> bool:
    """Whether the facility's own rules take the household: the gender, a
    wheelchair, no offender at a secret address, the children (how many, the
    oldest, the oldest boy). The one place that decides them, for the
    search's ranker and the waiting list's matching (offers) alike; the
    search's SQL only narrows by them (candidates._facility_rules). `row`: a
    candidates row; `genders`: its F_GENDERS decoded."""
    if household.gender is not None and household.gender not in genders:
        return False
    if household.wheelchair and not row[F_WHEELCHAIR]:
        return False
    if row[F_CONFIDENTIAL] and household.client_type != "victim":
        return False
    if not household.children:
        return True
    return bool(row[F_CHILDREN]) and all(
        limit is None or limit >= value for value, limit in ((household.children, row[F_MAX_CHILDREN]),
                                                             (household.child_age, row[F_CHILD_AGE]),
                                                             (household.boy_age, row[F_BOY_AGE])))


class Ranker:
    """Works out what ranking needs of each facility, once: whether it takes
    the gender, its public distance, unmet preferences, whether intake is open
    now; and ranks rows. Caches per distinct JSON value and per facility."""

    def __init__(self, criteria: Criteria, now: datetime, zone: ZoneInfo, preference_km: float,
                 home_region_id: int | None, excluded: frozenset[int] = frozenset()):
        self.criteria = criteria
        self.household = criteria.household
        self.now = now
        self.zone = zone
        self.preference_km = preference_km
        self.home_region_id = home_region_id
        # Facilities never proposed: those given (a waiting-list request's), and those the
        # danger places leave out, decided row by row (app.services.placement.danger).
        self.excluded = excluded
        self.zones = DangerZones(criteria.danger_places)
        # The sort keys of the rows the danger places left out that would otherwise have
        # been ranked (they pass every other rule): see left_out_ahead_of.
        self.left_out: list[tuple] = []
        self.lat0, self.lon0 = criteria.place.lat, criteria.place.lon
        self.counts = {kind.id: kind.counts for kind in criteria.kinds}
        self._facts: dict[int, tuple | bool] = {}
        self._genders: dict[str, frozenset[str]] = {}
        self._languages: dict[int, tuple[tuple[Reason, ...], tuple[Reason, ...]]] = {}
        self._hours: dict[str, tuple[dict, bool, datetime | None]] = {}

    def genders(self, text: str) -> frozenset[str]:
        """A facility's genders, from their JSON text."""
        found = self._genders.get(text)
        if found is None:
            found = self._genders[text] = frozenset(json.loads(text))
        return found

    def takes_gender(self, text: str) -> bool:
        return self.criteria.gender in self.genders(text)

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

    def in_danger(self, row) -> bool:
        """Whether the danger places leave out the row's facility."""
        return bool(self.zones) and self.zones.leave_out(row[F_CONFIDENTIAL], row[F_LAT], row[F_LON])

    def facts(self, row):
        """(closed now, score, km, left out by the danger places) of a row's
        facility, or False when its rules do not take the household or it is excluded."""
        found = self._facts.get(row[U_FACILITY])
        if found is not None:
            return found
        criteria, needs = self.criteria, self.criteria.needs
        if (row[U_FACILITY] in self.excluded
                or not facility_takes(row, self.genders(row[F_GENDERS]), self.household)):
            found = False
        else:
            unmet = len(self.languages(row[F_LANGUAGES])[1]) if criteria.languages else 0
            if "high_security" in needs and not row[F_SECURITY]:
                unmet += 1
            if "pets" in needs and not row[F_PETS]:
                unmet += 1
            km = self.public_distance(row[F_CONFIDENTIAL], row[F_LAT], row[F_LON])
            closed_now = not self.hours(row[F_HOURS])[1]
            found = (closed_now, km + self.preference_km * unmet, km, self.in_danger(row))
        self._facts[row[U_FACILITY]] = found
        return found

    def rank(self, rows) -> list[tuple]:
        """(sort key, row) for the rows whose facility passes and that have
        enough free places for the household, once holds are counted;
        unsorted. The key: closed now, stale, score (distance + penalty),
        distance, facility id, unit id. The keys of the rows that pass but for
        the danger places go to `left_out`."""
        facts, counts, persons = self.facts, self.counts, self.criteria.persons
        ranked = []
        for row in rows:
            needed = places_needed(counts[row[U_KIND]], row[U_ROOM], persons)
            if needed is None or row[U_AVAILABLE] - row[U_HELD] < needed:
                continue
            found = facts(row)
            if found:
                closed_now, score, km, left_out = found
                key = (closed_now, bool(row[U_STALE]), score, km, row[U_FACILITY], row[U_ID])
                if left_out:
                    self.left_out.append(key)
                else:
                    ranked.append((key, row))
        return ranked

    def left_out_ahead_of(self, chosen: list[tuple]) -> int:
        """How many facilities the danger places left out of `chosen` (best_of's results):
        those with a unit read that passes every other rule and ranks ahead of the last
        result — all of those read when fewer than `limit` were chosen. The nearby search
        reads every unit that ranks ahead of its last result, and the whole scope when it
        finds fewer than `limit` (nearby.best), so this is exact."""
        if len(chosen) < self.criteria.limit:
            return len({key[4] for key in self.left_out})
        last = chosen[-1][0]
        return len({key[4] for key in self.left_out if key < last})

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


def best_of(criteria: Criteria, ranker: Ranker, ranked: list[tuple]) -> list[tuple]:
    """The best `limit` of the ranked rows, each with its free places and
    the places the household takes. Keys are unique (they end with the unit
    id), so this is exactly the head of the full order."""
    counts, persons = ranker.counts, criteria.persons
    return [(key, row, row[U_AVAILABLE] - row[U_HELD], places_needed(counts[row[U_KIND]], row[U_ROOM], persons))
            for key, row in heapq.nsmallest(criteria.limit, ranked)]
