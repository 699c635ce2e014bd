"""Placement search: reading outward from the searched place in steps.

The best results lie near the searched place, so the search reads in steps
outward from it — a disk sized by the density of facilities there, then
rings to the radius the best `limit` should lie within — until they are
certain (see `best`); the outcome is exactly that of ranking the whole
scope. Every facility stores its public point (Facility.public_lat/public_lon:
where its distance is measured from), indexed with and without its region, so
a step is a lat/lon box read by index, whatever the facilities'
confidentiality.
"""

import math
from collections.abc import Iterable
from datetime import datetime
from itertools import chain

from sqlalchemy import bindparam, func, select

from app.extensions import db
from app.models import Facility
from app.services.placement import candidates
from app.services.placement.criteria import Criteria
from app.services.placement.danger import share_outside
from app.services.placement.ranking import Ranker, best_of
from app.services.registry import places

# The nearby search (best). These only weigh speed: the outcome is the same.
DISK_FACILITIES = 5  # per result asked for, about, in the first step's disk
PROBE_KM = 4.0  # the density of facilities is counted within this offset
MIN_DISK_KM, MAX_DISK_KM = 1.0, 30.0
RING_MARGIN = 2.0  # a ring aims at this many times the results asked for
RING_GROWTH = 1.25  # the least a ring widens the radius by
WHOLE_REGION_KM = 120.0  # a ring past this: read the rest instead
WHOLE_COUNTRY_KM = 300.0
_F = Facility.__table__.c
_EARTH_KM = places.EARTH_RADIUS_KM
_KM_PER_DEGREE = math.radians(_EARTH_KM)


class _Rings:
    """The values of the nearby search's steps (candidates._near_sql), around a searched
    place. Offsets in degrees become km by fixed scales, a little short of the
    truth (2 %, and east-west at the latitude furthest from the equator a
    ring may reach), so that a facility's offset `m` is never more than its
    distance (by haversine)."""

    def __init__(self, ranker: Ranker):
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


def _next_radius(keys: Iterable[tuple], limit: int, penalty: float, disk: float, radius: float,
                 circles: tuple[tuple[float, float], ...] = ()) -> float:
    """How far the next ring should reach for `limit` certain results, at the
    densities seen so far: per number of unmet preferences, the results open
    now and fresh among the rows read (within `disk`, or within `radius` less
    their penalty), as if they went on alike with the area. With danger places
    (`circles`: danger.share_outside), `keys` hold the rows they left out too:
    the density is of both, and only the area outside their circles yields
    results. At least RING_GROWTH times the radius."""
    counts: dict[int, int] = {}
    for key in keys:
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
                share = share_outside(circles, reach) if circles else 1.0
                total += count * (reach / max(disk, radius - penalty * unmet)) ** 2 * share
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


def best(criteria: Criteria, ranker: Ranker, region_id: int | None, now: datetime) -> list[tuple]:
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
    values = candidates.bound_values(criteria, now)
    rings = _Rings(ranker)
    whole = WHOLE_COUNTRY_KM if region_id is None else WHOLE_REGION_KM
    most_unmet = len(criteria.languages) + len(criteria.needs & {"high_security", "pets"})
    disk = radius = _disk(criteria, rings, region_id)
    near = rings.step("disk", disk=disk)
    circles = ranker.zones.circles(ranker.lat0, ranker.lon0) if ranker.zones else ()
    ranked: list[tuple] = []
    while True:
        ranked += ranker.rank(candidates.read(criteria, now, region_id, near=near, values=values))
        chosen = best_of(criteria, ranker, ranked)
        if near["step"] == "rest":
            return chosen
        bound = (False, False, radius - 0.5)
        if sum(1 for key, _, _, _ in chosen if key[:3] < bound) == limit:
            return chosen
        keys = chain((key for key, _ in ranked), ranker.left_out)
        outer = _next_radius(keys, limit, penalty, disk, radius, circles)
        step = "rest" if outer >= whole else "ring"
        near = rings.step(step, disk=disk, inner=radius, outer=outer, most_unmet=most_unmet)
        radius = outer
