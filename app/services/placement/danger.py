"""Placement search: the facilities a search's danger places leave out (PRODUCT.md section 5, rule 8).

A danger place is a municipality's centre (the place's, from the postcode table) and a radius.
A facility is left out when its public point lies within the radius of that centre; a
confidential one — whose public point is its municipality's centre — also when its
municipality's centre lies within the radius plus its municipality's extent
(places.Place.extent_km, an upper bound). So whether a confidential facility is left out
depends on its municipality alone, never on its own coordinates: moving a danger place about
and watching which refuges disappear teaches no more than their municipalities. It over-excludes,
which is the safe side.

Two reads per danger place, both by the index on the public point: the facilities in the
radius's lat/lon box (then measured exactly), and the confidential ones whose public point is
the centre of a municipality within reach (found in the postcode table, in memory). The ranker
leaves out the facilities found (ranking.Ranker.excluded). Nothing here is written or logged.
"""

import math
from collections.abc import Iterable

from sqlalchemy import bindparam, select, true

from app.extensions import db
from app.models import Facility
from app.services.placement.criteria import DangerPlace
from app.services.registry import places

_F = Facility.__table__.c
_KM_PER_DEGREE = math.radians(places.EARTH_RADIUS_KM)

_IN_BOX = select(_F.id, _F.public_lat, _F.public_lon).where(
    _F.public_lat.between(bindparam("south"), bindparam("north")),
    _F.public_lon.between(bindparam("west"), bindparam("east")))
_CONFIDENTIAL_AT = select(_F.id, _F.public_lat, _F.public_lon).where(
    _F.public_lat.in_(bindparam("lats", expanding=True)), _F.confidential == true())


def _box(lat: float, lon: float, km: float) -> dict:
    """A lat/lon box holding every point within `km` of (lat, lon), with room to spare."""
    dlat = km / _KM_PER_DEGREE * 1.01 + 1e-6
    dlon = km / (_KM_PER_DEGREE * math.cos(math.radians(min(89.0, abs(lat) + dlat)))) * 1.01 + 1e-6
    return {"south": lat - dlat, "north": lat + dlat, "west": lon - dlon, "east": lon + dlon}


def centres_within_reach(danger: DangerPlace) -> set[tuple[float, float]]:
    """The centres of the municipalities whose land may come within the
    danger place's radius: centre within radius + the municipality's extent."""
    lat0, lon0 = danger.place.lat, danger.place.lon
    # A difference of latitude alone is never more than the distance: most are ruled out by it.
    return {(place.lat, place.lon) for place in places.municipalities()
            if abs(place.lat - lat0) * _KM_PER_DEGREE <= danger.radius_km + place.extent_km + 1e-6
            and places.haversine_km(lat0, lon0, place.lat, place.lon) <= danger.radius_km + place.extent_km}


def excluded_facilities(danger_places: Iterable[DangerPlace]) -> frozenset[int]:
    """The ids of the facilities the danger places leave out (see the module's docstring)."""
    excluded: set[int] = set()
    for danger in danger_places:
        lat0, lon0, radius = danger.place.lat, danger.place.lon, danger.radius_km
        # Within the square inscribed in the circle (offsets by a scale a little short of the
        # truth), a facility is certainly inside: only the rest are measured.
        sure_lat = radius / math.sqrt(2) / (_KM_PER_DEGREE * 1.02)
        sure_lon = sure_lat / math.cos(math.radians(max(0.0, abs(lat0) - 2 * sure_lat)))
        for facility_id, lat, lon in db.session.execute(_IN_BOX, _box(lat0, lon0, radius)):
            if (abs(lat - lat0) <= sure_lat and abs(lon - lon0) <= sure_lon) or \
                    places.haversine_km(lat0, lon0, lat, lon) <= radius:
                excluded.add(facility_id)
        reach = centres_within_reach(danger)
        rows = db.session.execute(_CONFIDENTIAL_AT, {"lats": sorted({lat for lat, _ in reach})})
        excluded.update(facility_id for facility_id, lat, lon in rows if (lat, lon) in reach)
    return frozenset(excluded)
