"""Placement search: the facilities a search's danger places leave out (PRODUCT.md section 5, rule 8).

A danger place is a municipality's centre (the place's, from the postcode table) and a radius.
A facility is left out when its public point lies within the radius of that centre; a
confidential one — whose public point is its municipality's centre — also when its
municipality's centre lies within the radius plus its municipality's extent
(places.Place.extent_km, an upper bound). So whether a confidential facility is left out
depends on its municipality alone, never on its own coordinates: moving a danger place about
and watching which refuges disappear teaches no more than their municipalities. It over-excludes,
which is the safe side.

`DangerZones.leave_out` decides it from a facility's public point and confidentiality alone,
which every row the search reads carries: the search asks it of the rows it reads
(ranking.Ranker), and pays nothing for the facilities it never reads. `excluded_facilities`
finds them all (a waiting-list request keeps their ids): two reads per danger place, both by
the index on the public point — the facilities in the radius's lat/lon box, and the
confidential ones whose public point is the centre of a municipality within reach — then the
same `leave_out`. Nothing here is written or logged.
"""

import math
from collections.abc import Iterable
from functools import cache

from sqlalchemy import bindparam, select, true

from app.extensions import db
from app.models import Facility
from app.services.placement.criteria import DangerPlace
from app.services.registry import places

_F = Facility.__table__.c
_KM_PER_DEGREE = math.radians(places.EARTH_RADIUS_KM)

_IN_BOX = select(_F.id, _F.confidential, _F.public_lat, _F.public_lon).where(
    _F.public_lat.between(bindparam("south"), bindparam("north")),
    _F.public_lon.between(bindparam("west"), bindparam("east")))
_CONFIDENTIAL_AT = select(_F.id, _F.confidential, _F.public_lat, _F.public_lon).where(
    _F.public_lat.in_(bindparam("lats", expanding=True)), _F.confidential == true())


@cache
def _extents() -> dict[tuple[float, float], float]:
    """Each municipality's centre (lat, lon) to its extent in km (the largest, should two
    municipalities share a centre): the postcode table's, static, kept once per process."""
    extents: dict[tuple[float, float], float] = {}
    for place in places.municipalities():
        centre = (place.lat, place.lon)
        extents[centre] = max(place.extent_km, extents.get(centre, 0.0))
    return extents


class _Zone:
    """One danger place, ready to measure from: its centre, its radius, and the half sides
    (degrees) of a square certainly within its circle (offsets by a scale a little short of
    the truth), inside which nothing need be measured."""

    __slots__ = ("lat", "lon", "radius_km", "sure_lat", "sure_lon", "box_lat", "box_lon")

    def __init__(self, danger: DangerPlace):
        self.lat, self.lon, self.radius_km = danger.place.lat, danger.place.lon, danger.radius_km
        self.sure_lat = self.radius_km / math.sqrt(2) / (_KM_PER_DEGREE * 1.02)
        self.sure_lon = self.sure_lat / math.cos(math.radians(max(0.0, abs(self.lat) - 2 * self.sure_lat)))
        # Half sides (degrees) of a box holding the whole circle, with room to spare.
        self.box_lat = self.radius_km / _KM_PER_DEGREE * 1.01 + 1e-6
        self.box_lon = self.radius_km / (_KM_PER_DEGREE * math.cos(math.radians(min(89.0, abs(self.lat)
                                                                                    + self.box_lat)))) * 1.01 + 1e-6

    def __repr__(self) -> str:  # never in a log or a traceback's locals
        return "_Zone(…)"

    def within(self, lat: float, lon: float, km: float) -> bool:
        """Whether (lat, lon) lies within `km` of the centre. A difference of latitude alone
        is never more than the distance: most points are ruled out by it."""
        return (abs(lat - self.lat) * _KM_PER_DEGREE <= km + 1e-6
                and places.haversine_km(self.lat, self.lon, lat, lon) <= km)

    def leaves_out(self, confidential: bool, lat: float, lon: float) -> bool:
        off_lat, off_lon = abs(lat - self.lat), abs(lon - self.lon)
        if off_lat <= self.sure_lat and off_lon <= self.sure_lon:
            return True
        if off_lat <= self.box_lat and off_lon <= self.box_lon and self.within(lat, lon, self.radius_km):
            return True
        if not confidential:
            return False
        # A confidential facility's public point is its municipality's centre.
        extent = _extents().get((lat, lon))
        return extent is not None and self.within(lat, lon, self.radius_km + extent)

    def box(self) -> dict:
        """The box holding the circle, as the index on the public point reads it."""
        return {"south": self.lat - self.box_lat, "north": self.lat + self.box_lat,
                "west": self.lon - self.box_lon, "east": self.lon + self.box_lon}

    def centres_within_reach(self) -> set[tuple[float, float]]:
        return {centre for centre, extent in _extents().items()
                if self.within(*centre, self.radius_km + extent)}


class DangerZones:
    """A search's danger places, ready to tell of a facility whether they leave it out. Kept
    for the search alone, never stored; its repr says nothing of them."""

    __slots__ = ("_zones",)

    def __init__(self, danger_places: Iterable[DangerPlace]):
        self._zones = tuple(_Zone(danger) for danger in danger_places)

    def __bool__(self) -> bool:
        return bool(self._zones)

    def __iter__(self):
        return iter(self._zones)

    def __repr__(self) -> str:
        return "DangerZones(…)"

    def circles(self, lat: float, lon: float) -> tuple[tuple[float, float], ...]:
        """Each danger place as (its distance from (lat, lon), its radius), in km: for share_outside."""
        return tuple((places.haversine_km(lat, lon, zone.lat, zone.lon), zone.radius_km) for zone in self._zones)

    def leave_out(self, confidential: bool, lat: float, lon: float) -> bool:
        """Whether the danger places leave out a facility with this public point (see the
        module's docstring)."""
        for zone in self._zones:
            if zone.leaves_out(confidential, lat, lon):
                return True
        return False


def _acos(x: float) -> float:
    return math.acos(max(-1.0, min(1.0, x)))


def share_outside(circles: tuple[tuple[float, float], ...], km: float) -> float:
    """The share of a disk of radius `km` that lies outside the danger places' circles, each
    given as (distance of its centre from the disk's, its radius): an estimate (circles that
    overlap are counted twice), for the nearby search to aim its rings (speed only)."""
    if km <= 0:
        return 0.0
    covered = 0.0
    for distance, radius in circles:
        if distance >= km + radius:
            continue
        if distance <= abs(km - radius):
            covered += math.pi * min(km, radius) ** 2
            continue
        # The lens where two circles overlap.
        covered += (radius ** 2 * _acos((distance ** 2 + radius ** 2 - km ** 2) / (2 * distance * radius))
                    + km ** 2 * _acos((distance ** 2 + km ** 2 - radius ** 2) / (2 * distance * km))
                    - 0.5 * math.sqrt(max(0.0, (-distance + radius + km) * (distance + radius - km)
                                          * (distance - radius + km) * (distance + radius + km))))
    return max(0.0, 1.0 - covered / (math.pi * km ** 2))


def centres_within_reach(danger: DangerPlace) -> set[tuple[float, float]]:
    """The centres of the municipalities whose land may come within the
    danger place's radius: centre within radius + the municipality's extent."""
    return _Zone(danger).centres_within_reach()


def excluded_facilities(danger_places: Iterable[DangerPlace]) -> frozenset[int]:
    """The ids of all the facilities the danger places leave out (see the module's docstring)."""
    zones = DangerZones(danger_places)
    excluded: set[int] = set()
    for zone in zones:
        rows = list(db.session.execute(_IN_BOX, zone.box()))
        lats = sorted({lat for lat, _ in zone.centres_within_reach()})
        rows += db.session.execute(_CONFIDENTIAL_AT, {"lats": lats})
        excluded.update(facility_id for facility_id, confidential, lat, lon in rows
                        if zones.leave_out(confidential, lat, lon))
    return frozenset(excluded)
