"""Placement search: hard eligibility, ranking, confidential distances, the
region first, turn-aways once per contact, bad input and permissions."""

import json
import math
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import CapacityKind, CapacityUnit, Hold, PlacementSearch, TurnAway
from app.services.core.access import Actor
from app.services.core.errors import Forbidden, InvalidInput
from app.services.placement import holds
from app.services.placement import search as placement
from app.services.placement.criteria import parse_criteria
from app.services.placement.ranking import places_needed
from app.services.registry import places
from tests import factories as make
from tests.api import assert_documented, call

GENT = places.lookup("9000")
SEARCH = "/api/v1/placements/search"
KM_PER_DEGREE = 111.195


def near(km_north=0.0, km_east=0.0, base=GENT) -> dict:
    return {"lat": base.lat + km_north / KM_PER_DEGREE,
            "lon": base.lon + km_east / (KM_PER_DEGREE * math.cos(math.radians(base.lat)))}


def in_gent(slug, km=1.0, **fields):
    """A facility in Gent (region oost-vlaanderen), `km` north of its centre."""
    location = near(km)
    fields.setdefault("units", {"crisis_bed": (8, 4)})
    return make.facility(slug, region_slug="oost-vlaanderen", municipality="Gent", postcode="9000",
                         lat=location["lat"], lon=location["lon"], **fields)


def actor(user) -> Actor:
    return Actor(user=user, source="web")


def run(user, **data):
    criteria = parse_criteria({"client_type": "victim", "postcode": "9000", **data})
    from app import clock

    return placement.search(actor(user), criteria, clock.now(), preference_km=25)


def ids(outcome) -> list[int]:
    return [result.facility_id for result in outcome.results]


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def make_stale(facility):
    from app import clock

    db.session.execute(update(CapacityUnit).where(CapacityUnit.facility_id == facility.id)
                       .values(stale_at=clock.now()).execution_options(synchronize_session=False))


@pytest.fixture
def people(app):
    make.region("oost-vlaanderen")
    make.region("antwerpen")
    users = SimpleNamespace(
        operator=make.user("operator"),
        manager=make.user("manager"),
        partner=make.user("partner"),
        admin=make.user("admin"),
        staff=make.user("shelter_staff"),
    )
    db.session.commit()
    return users


@pytest.fixture
def tokens(people):
    found = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    return found


# --- eligibility: each rule by a case that fails if the rule breaks -----------

# (criteria, the facility that fits, one that differs only in what the rule refuses)
RULES = {
    "gender": ({"gender": "male"}, {"genders": "female,male"}, {"genders": "female"}),
    "children at all": ({"children": [4]}, {"children": "yes"}, {"children": "no"}),
    "number of children": ({"children": [4, 6]}, {"children": "yes", "max_children": 2},
                           {"children": "yes", "max_children": 1}),
    "a child's age": ({"children": [3, 14]}, {"children": "yes", "max_child_age": 14},
                      {"children": "yes", "max_child_age": 12}),
    "a boy's age": ({"children": [{"age": 13, "gender": "male"}, 4]},
                    {"children": "yes", "max_child_age": 17, "max_boy_age": 13},
                    {"children": "yes", "max_child_age": 17, "max_boy_age": 12}),
    "wheelchair": ({"needs": ["wheelchair"]}, {"wheelchair": "yes"}, {"wheelchair": "no"}),
    "closed for intake": ({}, {}, {"open_for_intake": "no", "closed_reason": "Flooding"}),
    "a place per person": ({"children": [3, 5]}, {"children": "yes", "units": {"crisis_bed": (8, 3)}},
                           {"children": "yes", "units": {"crisis_bed": (8, 2)}}),
    "a family room fits the household": (
        {"children": [3, 5, 7], "kinds": ["family_room"]},
        {"children": "yes", "units": {"family_room": (2, 1, 4)}},
        {"children": "yes", "units": {"family_room": (2, 1, 3)}}),
    "one slot per household": (
        {"children": [3, 5], "kinds": ["intake_slot"]},
        {"children": "yes", "type": "relief_point", "units": {"intake_slot": (1, 1)}},
        {"children": "yes", "type": "relief_point", "units": {"intake_slot": (1, 0)}}),
    "victims never offenders' kinds": ({}, {"units": {"crisis_bed": (2, 1)}}, {"units": {"offender_slot": (4, 4)}}),
    "offenders never victims' kinds": ({"client_type": "offender"}, {"units": {"intake_slot": (2, 1)}},
                                       {"units": {"crisis_bed": (8, 8), "family_room": (2, 2, 4)}}),
    "offenders never a confidential facility": (
        {"client_type": "offender"}, {"type": "relief_point", "units": {"intake_slot": (2, 1)}},
        {"type": "relief_point", "confidential": "yes", "units": {"intake_slot": (2, 1)}}),
    "couples never a confidential facility": (
        {"client_type": "couple"}, {"type": "relief_point", "units": {"intake_slot": (2, 1)}},
        {"type": "relief_point", "confidential": "yes", "units": {"intake_slot": (2, 1)}}),
}


@pytest.mark.parametrize("rule", RULES)
def test_eligibility_is_hard(people, rule):
    criteria, fits, refused = RULES[rule]
    good = in_gent("good", km=5, **fits)
    bad = in_gent("bad", km=1, **refused)  # nearer: it would come first if proposed
    db.session.commit()
    outcome = run(people.operator, **criteria)
    assert good.id in ids(outcome)
    assert bad.id not in ids(outcome)


def test_the_rule_cases_are_fair(people):
    """Without the criterion that matters, the refused facility of each
    single-facility rule is proposed: the cases above test the rule, nothing else."""
    bad = in_gent("bad", km=1, children="no", wheelchair="no", genders="female")
    db.session.commit()
    assert ids(run(people.operator)) == [bad.id]


def test_max_boy_age_refuses_boys_only(people):
    """A refuge taking boys up to 12 takes a girl of 13, and a child of 13 of
    no given gender (max_child_age decides); a boy of 13 it refuses, in SQL."""
    refuge = in_gent("refuge", km=1, type="refuge", children="yes", max_child_age=17, max_boy_age=12)
    db.session.commit()
    assert ids(run(people.operator, children=[{"age": 13, "gender": "female"}])) == [refuge.id]
    assert ids(run(people.operator, children=[13])) == [refuge.id]
    assert ids(run(people.operator, children="12m")) == [refuge.id]
    assert ids(run(people.operator, children="13m, 4")) == []


def test_interpreter_needed_when_the_facility_speaks_none_of_the_languages(people):
    speaks = in_gent("speaks", km=1, languages="nl,ar")
    silent = in_gent("silent", km=2, languages="nl")
    db.session.commit()
    outcome = run(people.operator, languages=["ar", "tr"])
    assert [(r.facility_id, r.interpreter_needed) for r in outcome.results] == [(speaks.id, False), (silent.id, True)]
    assert not any(result.interpreter_needed for result in run(people.operator).results)


def test_avoided_facilities_are_never_proposed(people):
    first = in_gent("first", km=1)
    second = in_gent("second", km=2)
    db.session.commit()
    assert ids(run(people.operator)) == [first.id, second.id]
    assert ids(run(people.operator, avoid_facilities=[first.id])) == [second.id]


def test_held_places_are_not_free_until_their_hold_expires(people, clock):
    shelter = in_gent("shelter", units={"crisis_bed": (4, 2)})
    db.session.commit()
    unit = shelter.units[0]
    holds.create(actor(people.operator), clock.now(), unit_id=unit.id, persons=1, minutes=60, default_minutes=120)
    db.session.commit()
    assert [r.free for r in run(people.operator).results] == [1]
    assert run(people.operator, adults=2).results == []  # two persons, one place free

    clock.advance(minutes=61)  # no job marked the hold expired: it counts as free at once
    assert [r.free for r in run(people.operator).results] == [2]
    assert ids(run(people.operator, adults=2)) == [shelter.id]


def test_a_hold_on_a_family_room_takes_the_room(people, clock):
    shelter = in_gent("rooms", children="yes", units={"family_room": (2, 1, 4)})
    db.session.commit()
    (result,) = run(people.operator, children=[4, 9]).results
    assert (result.kind, result.free, result.room_size, result.places) == ("family_room", 1, 4, 1)
    holds.create(actor(people.operator), clock.now(), unit_id=shelter.units[0].id, persons=3, default_minutes=120)
    db.session.commit()
    assert run(people.operator, children=[4, 9]).results == []


def test_places_needed_agrees_with_holds(people):
    shelter = in_gent("all", units={"crisis_bed": (4, 4), "family_room": (2, 2, 3), "intake_slot": (2, 2)})
    db.session.commit()
    for unit in shelter.units:
        for persons in (1, 3, 4):
            try:
                expected = holds.places_for(unit, persons)
            except InvalidInput:
                expected = None
            assert places_needed(unit.kind.counts, unit.room_size, persons) == expected


def test_pets_is_a_preference_not_a_rule(people):
    no_pets = in_gent("no-pets", km=1, pets="no")
    pets = in_gent("pets", km=20, pets="yes")
    db.session.commit()
    outcome = run(people.operator, needs=["pets"])
    assert ids(outcome) == [pets.id, no_pets.id]  # 20 km before 1 + 25 km
    assert [r.text for r in outcome.results[0].reasons] == ["pets", "24/7"]
    assert [r.text for r in outcome.results[1].unmet] == ["pets"]


# --- ranking ------------------------------------------------------------------


def test_ranking_fresh_first_then_distance_with_preference_penalty_and_closed_now_last(people):
    fr_mid = in_gent("fr-mid", km=20, languages="nl,fr")
    nl_near = in_gent("nl-near", km=3, languages="nl")
    fr_far = in_gent("fr-far", km=30, languages="fr")
    nl_six = in_gent("nl-six", km=6, languages="nl,en")
    stale_near = in_gent("stale-near", km=1, languages="fr")
    # Saturday 21:00 now: intake opens again on Monday at 08:00.
    closed_now = in_gent("closed-now", km=0.5, languages="fr", intake_hours="mon 08:00-17:00; tue 08:00-17:00")
    make_stale(stale_near)
    db.session.commit()

    outcome = run(people.operator, languages=["fr"])
    # 20; 3 + 25 = 28; 30; 6 + 25 = 31; then the stale one; then the one closed now.
    assert ids(outcome) == [fr_mid.id, nl_near.id, fr_far.id, nl_six.id, stale_near.id, closed_now.id]
    by_id = {r.facility_id: r for r in outcome.results}
    assert [r.text for r in by_id[fr_mid.id].reasons] == ["speaks fr", "24/7"] and by_id[fr_mid.id].unmet == ()
    assert [r.text for r in by_id[nl_near.id].unmet] == ["speaks fr"]
    assert by_id[stale_near.id].stale and not by_id[fr_mid.id].stale
    last = by_id[closed_now.id]
    assert not last.open_now and last.opens_at.isoformat() == "2026-11-30T08:00:00+01:00"
    assert by_id[fr_mid.id].open_now and by_id[fr_mid.id].opens_at is None
    assert by_id[fr_mid.id].distance_km == 20.0 and by_id[nl_near.id].distance_km == 3.0

    # Each unmet language counts: asked fr and en, nl-six 6 + 25, fr-mid 20 + 25,
    # nl-near meets neither (3 + 50), fr-far 30 + 25.
    outcome = run(people.operator, languages=["fr", "en"])
    assert ids(outcome)[:4] == [nl_six.id, fr_mid.id, nl_near.id, fr_far.id]


def test_the_preference_penalty_is_configurable(people):
    high = in_gent("high", km=10, high_security="yes")
    plain = in_gent("plain", km=2, high_security="no")
    db.session.commit()
    from app import clock

    criteria = parse_criteria({"client_type": "victim", "postcode": "9000", "needs": ["high_security"]})
    default = placement.search(actor(people.operator), criteria, clock.now(), preference_km=25)
    assert ids(default) == [high.id, plain.id]
    assert [r.text for r in default.results[0].reasons] == ["high security", "24/7"]
    assert [r.text for r in default.results[1].unmet] == ["high security"]
    light = placement.search(actor(people.operator), criteria, clock.now(), preference_km=5)
    assert ids(light) == [plain.id, high.id]


def test_the_app_reads_the_penalty_from_its_configuration(app):
    assert app.config["PLACEMENT_PREFERENCE_KM"] == 25


def test_reasons_say_why_it_matched(people):
    shelter = in_gent("all-in", children="yes", max_child_age=12, wheelchair="yes", languages="nl,fr",
                      units={"family_room": (2, 1, 4)})
    db.session.commit()
    (result,) = run(people.operator, children=[4, 9], needs=["wheelchair"], languages=["fr"]).results
    assert result.facility_id == shelter.id
    assert [r.text for r in result.reasons] == ["speaks fr", "wheelchair", "children up to 12", "room for 4", "24/7"]


# --- where: the region first, confidential distances ---------------------------------


def test_the_region_first_and_further_only_when_nothing_fits_there(people):
    gent = in_gent("gent", km=2, units={"crisis_bed": (8, 1)})
    antwerp = make.facility("antwerp", units={"crisis_bed": (8, 4)})  # region antwerpen
    db.session.commit()

    outcome = run(people.operator)
    assert ids(outcome) == [gent.id] and not outcome.beyond_region
    assert not outcome.results[0].beyond_region

    outcome = run(people.operator, adults=2)  # nothing fits in oost-vlaanderen
    assert ids(outcome) == [antwerp.id] and outcome.beyond_region and outcome.turn_away is None
    assert outcome.results[0].beyond_region and outcome.results[0].region == "antwerpen"

    outcome = run(people.operator, adults=2, beyond_region=False)
    assert ids(outcome) == [] and not outcome.beyond_region and outcome.turn_away.reason == "full"

    outcome = run(people.operator, beyond_region=True)
    assert ids(outcome) == [gent.id, antwerp.id] and outcome.beyond_region


CONFIDENTIAL_KEYS = {"address", "street", "lat", "lon", "latitude", "longitude", "coordinates"}


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_no_address_no_coordinates_and_no_exact_distance_to_a_confidential_facility(client, people):
    aalst = places.centre_of("Aalst")
    # Registered in Aalst, but in truth a few hundred metres from Gent's centre:
    # by its real place it would be nearest to Gent; by the public one it is not.
    secret_spot = near(0.3, 0.2)
    refuge = make.facility("refuge", region_slug="oost-vlaanderen", type="refuge", confidential="yes",
                           municipality="Aalst", postcode="9300", street="Geheimstraat 7",
                           lat=secret_spot["lat"], lon=secret_spot["lon"], units={"refuge_place": (6, 3)})
    public = in_gent("public", km=10, street="Open Straat 1")
    own_operator = make.user("operator", "shelter_staff", facilities_=[refuge])
    db.session.commit()
    roles = {name: make.token_for(user) for name, user in
             [("operator", people.operator), ("manager", people.manager), ("partner", people.partner),
              ("admin", people.admin), ("its own staff, operator too", own_operator)]}
    db.session.commit()

    for postcode in ("9000", "2000", "1000", "8000", "3000", "9300", "Gent", "Liège"):
        place = places.lookup(postcode)
        public_km = round(places.haversine_km(place.lat, place.lon, *aalst))
        for role, token in roles.items():
            response = call(client, "POST", SEARCH, token, json={
                "client_type": "victim", "postcode": postcode, "beyond_region": True})
            body = assert_documented(response, SEARCH, "post")
            assert response.status_code == 200, (role, body)
            (found,) = [r for r in body["results"] if r["facility"]["id"] == refuge.id]
            assert found["distance_km"] == public_km and isinstance(found["distance_km"], int), (postcode, role)
            assert not _keys(body) & CONFIDENTIAL_KEYS, role
            text = json.dumps(body)
            assert "Geheimstraat" not in text and "Open Straat" not in text
            assert f"{secret_spot['lat']:.3f}" not in text and f"{secret_spot['lon']:.3f}" not in text
        if postcode == "9000":
            # The order follows the public distance (10 km before Aalst's 26), not the real one (0.4 km).
            assert [r["facility"]["id"] for r in body["results"]] == [public.id, refuge.id]


def test_a_facility_without_coordinates_is_measured_from_its_municipality(people):
    shelter = make.facility("no-coordinates", region_slug="oost-vlaanderen", municipality="Aalst",
                            postcode="9300", lat=None, lon=None)
    db.session.commit()
    (result,) = run(people.operator).results
    assert result.facility_id == shelter.id
    assert result.distance_km == round(places.haversine_km(GENT.lat, GENT.lon, *places.centre_of("Aalst")), 1)


# --- the API: shape, permissions, bad input ---------------------------------------


def test_the_api_answers_the_documented_shape(client, people, tokens):
    shelter = in_gent("shelter", km=4, languages="nl,fr", children="yes", max_child_age=12,
                      units={"crisis_bed": (8, 4), "family_room": (2, 1, 4)})
    response = call(client, "POST", SEARCH, tokens.operator, json={
        "client_type": "victim", "adults": 1, "children": [4, 9], "gender": "female", "needs": ["wheelchair"],
        "languages": ["fr"], "postcode": "9000", "kinds": ["crisis_bed", "refuge_place", "family_room"],
        "avoid_facilities": [12345], "beyond_region": True, "session": "ui-3f9a"})
    body = assert_documented(response, SEARCH, "post")
    assert response.status_code == 200 and body["results"] == [] and body["turn_away"] == {"reason": "ineligible"}

    response = call(client, "POST", SEARCH, tokens.operator, json={
        "client_type": "victim", "children": [4, 9], "languages": ["fr"], "postcode": "Gent"})
    body = assert_documented(response, SEARCH, "post")
    assert body["turn_away"] is None and body["beyond_region"] is False
    assert body["place"] == {"postcode": "9000", "municipality": "Gent", "region": "oost-vlaanderen"}
    first, second = body["results"]
    assert first == {
        "facility": {"id": shelter.id, "name": shelter.name, "region": "oost-vlaanderen",
                     "intake_phone": "+3232000000", "intake_hours": "24/7"},
        "unit": {"id": first["unit"]["id"], "kind": "crisis_bed", "free": 4, "room_size": None},
        "distance_km": 4.0, "updated_at": "2026-11-28T21:00:00+01:00", "stale": False,
        "reasons": ["speaks fr", "children up to 12", "24/7"], "unmet": [], "places": 3,
        "open_now": True, "opens_at": None, "beyond_region": False, "interpreter_needed": False,
    }
    assert second["unit"] == {"id": second["unit"]["id"], "kind": "family_room", "free": 1, "room_size": 4}
    assert second["places"] == 1
    search = db.session.get(PlacementSearch, body["search_id"])
    assert search.result_count == 2 and search.created_by_id == people.operator.id
    assert search.criteria == {
        "client_type": "victim", "adults": 1, "children": [4, 9], "child_genders": [None, None], "gender": None,
        "needs": [],
        "languages": ["fr"], "postcode": "9000", "municipality": "Gent", "region": "oost-vlaanderen",
        "kinds": ["crisis_bed", "refuge_place", "emergency_bed", "family_room"], "avoided": 0,
        "beyond_region": None,
    }


@pytest.mark.parametrize("role", ["operator", "manager", "partner", "admin"])
def test_searchers(client, people, tokens, role):
    shelter = in_gent("shelter")
    response = call(client, "POST", SEARCH, getattr(tokens, role), json={"client_type": "victim", "postcode": "9000"})
    body = assert_documented(response, SEARCH, "post")
    assert response.status_code == 200 and [r["facility"]["id"] for r in body["results"]] == [shelter.id]
    assert db.session.get(PlacementSearch, body["search_id"]).created_by_id == getattr(people, role).id


def test_shelter_staff_may_not_search_and_nothing_is_written(client, people, tokens):
    in_gent("shelter")
    response = call(client, "POST", SEARCH, tokens.staff, json={"client_type": "victim", "postcode": "9000"})
    body = assert_documented(response, SEARCH, "post")
    assert response.status_code == 403 and body["error"]["code"] == "forbidden"
    response = call(client, "POST", SEARCH, None, json={"client_type": "victim", "postcode": "9000"})
    assert response.status_code == 401
    assert count(PlacementSearch) == 0 and count(TurnAway) == 0
    with pytest.raises(Forbidden):
        run(people.staff)


def test_a_partner_may_not_name_a_call(client, people, tokens):
    response = call(client, "POST", SEARCH, tokens.partner,
                    json={"client_type": "victim", "postcode": "9000", "call_id": 501})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "call_id"
    assert count(PlacementSearch) == 0 and count(TurnAway) == 0


@pytest.mark.parametrize("payload, field", [
    ({"postcode": "9000"}, "client_type"),
    ({"client_type": "thief", "postcode": "9000"}, "client_type"),
    ({"client_type": "victim"}, "postcode"),
    ({"client_type": "victim", "postcode": "9999"}, "postcode"),
    ({"client_type": "victim", "postcode": "Atlantis"}, "postcode"),
    ({"client_type": "victim", "postcode": ["9000"]}, "postcode"),
    ({"client_type": "victim", "postcode": "9000", "adults": 0}, "adults"),
    ({"client_type": "victim", "postcode": "9000", "adults": -1}, "adults"),
    ({"client_type": "victim", "postcode": "9000", "adults": "two"}, "adults"),
    ({"client_type": "victim", "postcode": "9000", "adults": True}, "adults"),
    ({"client_type": "victim", "postcode": "9000", "adults": 40}, "adults"),
    ({"client_type": "couple", "postcode": "9000", "adults": 1}, "adults"),
    ({"client_type": "victim", "postcode": "9000", "adults": 10, "children": [1] * 21}, "children"),
    ({"client_type": "victim", "postcode": "9000", "children": [4, 18]}, "children"),
    ({"client_type": "victim", "postcode": "9000", "children": [-1]}, "children"),
    ({"client_type": "victim", "postcode": "9000", "children": ["four"]}, "children"),
    ({"client_type": "victim", "postcode": "9000", "children": {"a": 4}}, "children"),
    ({"client_type": "victim", "postcode": "9000", "gender": "woman"}, "gender"),
    ({"client_type": "victim", "postcode": "9000", "needs": ["jacuzzi"]}, "needs"),
    ({"client_type": "victim", "postcode": "9000", "needs": [1]}, "needs"),
    ({"client_type": "victim", "postcode": "9000", "languages": ["xx"]}, "languages"),
    ({"client_type": "victim", "postcode": "9000", "kinds": ["castle"]}, "kinds"),
    ({"client_type": "victim", "postcode": "9000", "kinds": ["offender_slot"]}, "kinds"),
    ({"client_type": "offender", "postcode": "9000", "kinds": ["crisis_bed"]}, "kinds"),
    ({"client_type": "couple", "postcode": "9000", "kinds": ["family_room"]}, "kinds"),
    ({"client_type": "victim", "postcode": "9000", "avoid_facilities": ["x"]}, "avoid_facilities"),
    ({"client_type": "victim", "postcode": "9000", "avoid_facilities": 7}, "avoid_facilities"),
    ({"client_type": "victim", "postcode": "9000", "beyond_region": "maybe"}, "beyond_region"),
    ({"client_type": "victim", "postcode": "9000", "call_id": 0}, "call_id"),
    ({"client_type": "victim", "postcode": "9000", "call_id": "x"}, "call_id"),
    ({"client_type": "victim", "postcode": "9000", "session": "a" * 65}, "session"),
    ({"client_type": "victim", "postcode": "9000", "session": "with space"}, "session"),
    ({"client_type": "victim", "postcode": "9000", "session": 12}, "session"),
    ({"client_type": "victim", "postcode": "9000", "limit": 0}, "limit"),
    ({"client_type": "victim", "postcode": "9000", "limit": 201}, "limit"),
    ({"client_type": "victim", "postcode": "9000", "childs": [4]}, "childs"),
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(client, people, tokens, payload, field):
    in_gent("shelter")
    response = call(client, "POST", SEARCH, tokens.operator, json=payload)
    body = assert_documented(response, SEARCH, "post")
    assert response.status_code == 400 and body["error"]["field"] == field, body
    assert body["error"]["code"] == "invalid_field"
    assert count(PlacementSearch) == 0 and count(TurnAway) == 0


def test_a_body_that_is_no_object_is_400(client, people, tokens):
    response = call(client, "POST", SEARCH, tokens.operator, data="client_type=victim",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "body"
    assert count(PlacementSearch) == 0


def test_criteria_from_a_form(people):
    """The UI may pass text as forms send it."""
    criteria = parse_criteria({"client_type": "victim", "postcode": "9000 Gent", "adults": "1",
                                         "children": "4, 9", "needs": "wheelchair pets", "languages": "FR,nl",
                                         "kinds": "crisis_bed;family_room", "beyond_region": "", "gender": "",
                                         "session": "", "call_id": ""})
    assert (criteria.adults, criteria.children, criteria.persons) == (1, (4, 9), 3)
    assert criteria.needs == {"wheelchair", "pets"} and criteria.languages == ("fr", "nl")
    assert criteria.kind_codes == ("crisis_bed", "family_room")
    assert (criteria.beyond_region, criteria.gender, criteria.session, criteria.call_id) == (None, None, None, None)


def test_default_kinds_per_client_type(people):
    def codes(client_type):
        return parse_criteria({"client_type": client_type, "postcode": "9000"}).kind_codes

    assert codes("victim") == ("crisis_bed", "refuge_place", "emergency_bed", "family_room")
    assert codes("offender") == ("intake_slot", "offender_slot")
    assert codes("couple") == ("intake_slot",)
    # A bed kind an admin adds for couples becomes their default.
    db.session.add(CapacityKind(code="couple_room", labels={"en": "Couple room"}, counts="rooms",
                                serves=["couple"], position=9))
    db.session.flush()
    assert codes("couple") == ("couple_room",)
    assert parse_criteria({"client_type": "couple", "postcode": "9000"}).adults == 2


def test_limit(people):
    made = [in_gent(f"shelter-{n}", km=n + 1) for n in range(5)]
    db.session.commit()
    assert ids(run(people.operator, limit=3)) == [f.id for f in made[:3]]


def test_holds_knock_out_the_best_and_the_search_goes_on_down(people, clock):
    made = [in_gent(f"shelter-{n}", km=n + 1, units={"crisis_bed": (2, 1)}) for n in range(6)]
    db.session.commit()
    for facility in made[:4]:
        holds.create(actor(people.operator), clock.now(), unit_id=facility.units[0].id, persons=1,
                     default_minutes=120)
    db.session.commit()
    # The best two batches (2 × limit) are all held: it goes on down.
    assert ids(run(people.operator, limit=1)) == [made[4].id]
    assert ids(run(people.operator, limit=2)) == [made[4].id, made[5].id]
    assert count(Hold) == 4


# --- the nearby search gives exactly what reading everything gives ----------------------

NEARBY_POSTCODES = ("9000", "9300", "9800", "9900", "9160", "9230", "9240", "9200", "2000", "2800", "2500")


def test_the_nearby_search_is_exactly_the_full_ranking(people, clock):
    """The search reads the facilities within a widening radius and stops when
    the best are certain; with a limit no radius can fill, it reads
    everything. Both orders agree, for every limit, scope and preference —
    confidential facilities (their true place beside the searched one, their
    public one further) and facilities without coordinates included."""
    import random

    rng = random.Random(7)
    made = []
    for n in range(120):
        place = places.lookup(rng.choice(NEARBY_POSTCODES))
        confidential = rng.random() < 0.25
        located = confidential or rng.random() > 0.1
        spread = rng.choice((5, 15, 40))
        spot = near(rng.uniform(-spread, spread), rng.uniform(-spread, spread))
        children = rng.random() < 0.6
        units = {"crisis_bed": (10, rng.randint(0, 4))}
        if rng.random() < 0.5:
            units["family_room"] = (3, rng.randint(0, 2), rng.choice((3, 4, 5)))
        made.append(make.facility(
            f"n{n}", region_slug=place.region, municipality=place.municipality, postcode=place.postcode,
            type="refuge" if confidential else "crisis_centre", confidential="yes" if confidential else "no",
            lat=spot["lat"] if located else None, lon=spot["lon"] if located else None,
            genders=rng.choice(("female", "female,male,x")),
            languages=",".join(rng.sample(["nl", "fr", "en", "ar"], 2)),
            high_security=rng.choice(("yes", "no")), pets=rng.choice(("yes", "no")),
            wheelchair=rng.choice(("yes", "no")),
            children="yes" if children else "no", max_child_age=rng.choice((None, 12)) if children else None,
            intake_hours=rng.choice(("24/7", "24/7", "mon 08:00-17:00")), units=units,
            open_for_intake=rng.choice(("yes",) * 9 + ("no",)), closed_reason="Works"))
        if rng.random() < 0.2:
            make_stale(made[-1])
    db.session.commit()

    criteria_sets = [
        {}, {"languages": ["fr"]}, {"languages": ["ar", "en"], "needs": ["high_security"]},
        {"needs": ["pets", "wheelchair"]}, {"gender": "male"}, {"children": [4, 9]},
        {"kinds": ["family_room"], "children": [2, 5]}, {"beyond_region": True, "languages": ["fr"]},
        {"beyond_region": False, "needs": ["high_security"]}, {"postcode": "2000"},
        {"postcode": "9300", "beyond_region": True},
    ]
    for extra in criteria_sets:
        everything = [r.unit_id for r in run(people.operator, limit=200, **extra).results]
        assert everything, extra
        for limit in (1, 2, 3, 5, 8, 12, 20):
            nearby = [r.unit_id for r in run(people.operator, limit=limit, **extra).results]
            assert nearby == everything[:limit], (extra, limit)
