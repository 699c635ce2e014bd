"""The placement search reads outward from the searched place in steps (a
disk, rings, the rest), by each facility's stored public point; whatever the
steps, the outcome is exactly the full ranking, and a confidential facility
is found and ranked by its municipality's centre alone."""

import math
import random

import pytest
from sqlalchemy import update

from app import clock
from app.extensions import db
from app.models import CapacityUnit
from app.services.core.access import Actor
from app.services.placement import danger, nearby
from app.services.placement import search as placement
from app.services.placement.criteria import parse_criteria
from app.services.registry import places
from tests import factories as make

KM_PER_DEGREE = math.radians(places.EARTH_RADIUS_KM)
POSTCODES = ("9000", "9000", "9000", "9300", "9800", "9200", "2000", "2800", "1000", "8000")


def spot(place, rng, spread):
    km_north, km_east = rng.uniform(-spread, spread), rng.uniform(-spread, spread)
    return (place.lat + km_north / KM_PER_DEGREE,
            place.lon + km_east / (KM_PER_DEGREE * math.cos(math.radians(place.lat))))


@pytest.fixture
def registry(app):
    """150 facilities, most of them within a few km of Gent's centre; a third
    confidential, each truly beside Gent's centre but registered elsewhere."""
    rng = random.Random(11)
    gent = places.lookup("9000")
    for n in range(150):
        place = places.lookup(rng.choice(POSTCODES))
        confidential = rng.random() < 0.33
        lat, lon = spot(gent if confidential else place, rng, rng.choice((0.5, 2, 6, 20)))
        facility = make.facility(
            f"f{n}", region_slug=place.region, municipality=place.municipality, postcode=place.postcode,
            type="refuge" if confidential else "crisis_centre", confidential="yes" if confidential else "no",
            lat=lat, lon=lon, languages=",".join(rng.sample(["nl", "fr", "en", "ar", "tr"], rng.randint(1, 2))),
            high_security=rng.choice(("yes", "no")), pets=rng.choice(("yes", "no", "no")),
            genders=rng.choice(("female", "female,male,x")),
            intake_hours=rng.choice(("24/7", "24/7", "24/7", "mon 08:00-17:00")),
            units={"crisis_bed": (10, rng.randint(0, 3))})
        if rng.random() < 0.15:
            db.session.execute(update(CapacityUnit).where(CapacityUnit.facility_id == facility.id)
                               .values(stale_at=clock.now()).execution_options(synchronize_session=False))
    operator = make.user("operator")
    db.session.commit()
    return Actor(user=operator, source="web")


def search(actor, preference_km, *, facility=False, outcome=False, **data):
    """(unit id, km) of each result, with its facility id first when `facility`;
    and the outcome beside them when `outcome`."""
    criteria = parse_criteria({"client_type": "victim", **data})
    found = placement.search(actor, criteria, clock.now(), preference_km=preference_km)
    results = [((result.facility_id,) if facility else ()) + (result.unit_id, result.distance_km)
               for result in found.results]
    return (results, found) if outcome else results


# How the steps are sized weighs on speed alone: the defaults, and steps so
# small that the certainty at each step's edge decides again and again.
TUNINGS = {"default": {}, "small steps": {"DISK_FACILITIES": 0.2, "MIN_DISK_KM": 0.2, "RING_MARGIN": 0.3,
                                          "RING_GROWTH": 1.05}}


@pytest.mark.parametrize("tuning", TUNINGS)
@pytest.mark.parametrize("preference_km", [0, 4, 25])
def test_every_limit_gives_the_head_of_the_full_ranking(registry, preference_km, tuning, monkeypatch):
    for name, value in TUNINGS[tuning].items():
        monkeypatch.setattr(nearby, name, value)
    for extra in ({"postcode": "9000"}, {"postcode": "9000", "languages": ["ar", "tr"]},
                  {"postcode": "9000", "needs": ["high_security", "pets"], "languages": ["fr"]},
                  {"postcode": "9300", "beyond_region": True, "languages": ["en"]},
                  {"postcode": "2000", "beyond_region": False}, {"postcode": "8000", "gender": "male"}):
        everything = search(registry, preference_km, limit=200, **extra)
        assert len(everything) < 200, extra  # so that it read the whole scope
        for limit in (1, 3, 7, 25, 60):
            assert search(registry, preference_km, limit=limit, **extra) == everything[:limit], (extra, limit)


@pytest.mark.parametrize("tuning", TUNINGS)
def test_with_danger_places_every_limit_gives_the_full_ranking_without_those_left_out(registry, tuning, monkeypatch):
    """However the steps go (danger places aim the rings), the results are the
    full ranking less the facilities left out, and `excluded_by_danger` counts
    those left out that rank ahead of the last result (all, when fewer)."""
    for name, value in TUNINGS[tuning].items():
        monkeypatch.setattr(nearby, name, value)
    for extra in ({"postcode": "9000", "danger_places": [{"postcode": "9000", "radius_km": 3}]},
                  {"postcode": "9000", "languages": ["ar"], "danger_places": [{"postcode": "9000", "radius_km": 25}]},
                  {"postcode": "9300", "beyond_region": True,
                   "danger_places": [{"municipality": "Gent", "radius_km": 8}, {"postcode": "9300", "radius_km": 2}]},
                  {"postcode": "2000", "danger_places": [{"postcode": "2800", "radius_km": 10}]}):
        criteria = parse_criteria({"client_type": "victim", **extra})
        left_out = danger.excluded_facilities(criteria.danger_places)
        plain = {key: value for key, value in extra.items() if key != "danger_places"}
        everything = [(facility, (unit, km)) for facility, unit, km in
                      search(registry, 25, limit=200, facility=True, **plain)]
        assert len(everything) < 200 and any(f in left_out for f, _ in everything), extra
        for limit in (1, 3, 7, 25, 60):
            found, outcome = search(registry, 25, limit=limit, outcome=True, **extra)
            kept = [unit_km for facility, unit_km in everything if facility not in left_out]
            assert found == kept[:limit], (extra, limit)
            last = [unit_km for _, unit_km in everything].index(found[-1]) if len(found) == limit else None
            ahead = everything[:last]
            assert outcome.excluded_by_danger == len({f for f, _ in ahead if f in left_out}), (extra, limit)


def test_a_confidential_facility_is_read_and_ranked_by_its_public_point_alone(registry):
    """Every confidential facility lies within 20 km of Gent's centre; those
    registered in Antwerpen, Mechelen, Brussel or Brugge are found and ranked
    from there, in whole km: far from Gent, where they truly are."""
    gent = places.lookup("9000")
    found = search(registry, 25, postcode="9000", beyond_region=True, limit=200)
    facilities = {unit.id: unit.facility for unit in db.session.query(CapacityUnit)}
    far = 0
    for unit_id, km in found:
        facility = facilities[unit_id]
        if facility.confidential:
            centre = places.centre_of(facility.municipality, facility.postcode)
            assert km == round(places.haversine_km(gent.lat, gent.lon, *centre)) and isinstance(km, int)
            if facility.postcode in ("2000", "2800", "1000", "8000"):
                assert km > 25
                far += 1
        else:
            assert km == round(places.haversine_km(gent.lat, gent.lon, facility.lat, facility.lon), 1)
    assert far >= 5
