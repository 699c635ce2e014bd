"""Danger places (PRODUCT.md section 5, rule 8): what a search leaves out, that a
refuge's own point never decides it, what the answer says, bad input, a
preview that writes nothing, and no trace of a danger place anywhere."""

import logging
import math

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import AuditEvent, PlacementSearch, TurnAway
from app.services.core.errors import InvalidInput
from app.services.placement import search as placement
from app.services.placement.criteria import DangerPlace, parse_criteria
from app.services.placement.danger import centres_within_reach, excluded_facilities
from app.services.registry import places
from app.web.search_form import criteria_data, danger_places_from_form
from tests import factories as make
from tests import test_placement
from tests.api import assert_documented, call
from tests.test_placement import GENT, SEARCH, actor, count, ids, in_gent, near, run

people, tokens = test_placement.people, test_placement.tokens  # the placement tests' fixtures
HTMX = {"HX-Request": "true"}
SEARCH_DATA = {"client_type": "victim", "postcode": "9000"}
DESTELBERGEN = places.lookup("Destelbergen")  # its centre 5.9 km from Gent's, extent 7.8 km
LOCHRISTI = places.lookup("Lochristi")


def danger(name: str, radius_km: float) -> DangerPlace:
    return DangerPlace(places.lookup(name), radius_km)


def refuge(slug: str, municipality: places.Place, at: dict, **fields):
    """A confidential refuge of `municipality` whose own (secret) point is `at`."""
    fields.setdefault("units", {"refuge_place": (8, 4)})
    return make.facility(slug, region_slug="oost-vlaanderen", type="refuge", confidential="yes",
                         municipality=municipality.municipality, postcode=municipality.postcode,
                         lat=at["lat"], lon=at["lon"], **fields)


def km_from_gent(lat: float, lon: float) -> float:
    return places.haversine_km(GENT.lat, GENT.lon, lat, lon)


# --- what is left out --------------------------------------------------------------


def test_a_facility_within_the_radius_is_left_out_and_one_beyond_it_is_not(people):
    inside = in_gent("inside", km=3)
    beyond = in_gent("beyond", km=5)
    db.session.commit()
    assert excluded_facilities([danger("9000", 4)]) == {inside.id}
    outcome = run(people.operator, danger_places=[{"postcode": "9000", "radius_km": 4}])
    assert ids(outcome) == [beyond.id]
    assert outcome.excluded_by_danger == 1 and outcome.excluded_facility_ids == {inside.id}
    # Distances stay from the searched place, not from the danger place.
    assert outcome.results[0].distance_km == 5.0


def test_a_refuge_inside_the_radius_by_its_own_point_but_not_by_its_centre_is_left_out(people):
    """Its secret point 2 km from the danger place; its municipality's centre
    5.9 km away, beyond the radius of 4 but within 4 + the municipality's extent."""
    secret = near(km_east=2)
    assert km_from_gent(**secret) < 4 < km_from_gent(DESTELBERGEN.lat, DESTELBERGEN.lon)
    hidden = refuge("hidden", DESTELBERGEN, secret)
    db.session.commit()
    assert hidden.public_lat == DESTELBERGEN.lat  # what the search sees
    assert excluded_facilities([danger("9000", 4)]) == {hidden.id}


def test_a_refuge_outside_the_radius_by_its_own_point_but_inside_by_its_centre_is_left_out(people):
    """The reverse: Gent's refuge with its secret point 30 km out, the danger
    place at Gent's centre with a radius of 10. An open facility at that same
    point is not left out: its public point is its own."""
    far = near(km_north=30)
    hidden = refuge("hidden", GENT, far)
    open_one = in_gent("open", km=30)
    db.session.commit()
    assert excluded_facilities([danger("9000", 10)]) == {hidden.id}
    assert open_one.id not in excluded_facilities([danger("9000", 10)])


def test_a_refuge_is_left_out_by_its_municipality_alone(people):
    """Moving the danger place about, and the refuge's own point anywhere,
    the refuge is left out exactly when its municipality's centre lies within
    the radius plus the municipality's extent: nobody learns more than its
    municipality, however many searches they run."""
    hidden = refuge("hidden", LOCHRISTI, near(km_north=4, km_east=8))
    db.session.commit()
    nearby = [place for place in places.municipalities()
              if km_from_gent(place.lat, place.lon) < 60]
    dangers = [DangerPlace(place, radius) for place in nearby for radius in (1, 7.5, 15, 40)]

    def left_out() -> list[bool]:
        return [hidden.id in excluded_facilities([one]) for one in dangers]

    first = left_out()
    by_municipality = [places.haversine_km(one.place.lat, one.place.lon, LOCHRISTI.lat, LOCHRISTI.lon)
                       <= one.radius_km + LOCHRISTI.extent_km for one in dangers]
    assert first == by_municipality
    assert any(first) and not all(first)  # the test sees both sides
    for point in (near(km_north=-20, km_east=30), near(km_east=0.1), near(km_north=50)):
        hidden.lat, hidden.lon = point["lat"], point["lon"]
        db.session.commit()
        assert left_out() == first


def test_a_municipality_within_reach_is_one_whose_land_may_come_within_the_radius():
    reach = centres_within_reach(danger("9000", 4))
    assert (GENT.lat, GENT.lon) in reach and (DESTELBERGEN.lat, DESTELBERGEN.lon) in reach
    far = places.lookup("Arlon")
    assert (far.lat, far.lon) not in reach


def test_several_danger_places_each_leave_out_theirs(people):
    gent = in_gent("gent", km=1)
    aalst = make.facility("aalst", region_slug="oost-vlaanderen", municipality="Aalst", postcode="9300",
                          lat=places.lookup("Aalst").lat, lon=places.lookup("Aalst").lon)
    elsewhere = in_gent("elsewhere", km=12)
    db.session.commit()
    outcome = run(people.operator, beyond_region=False,
                  danger_places=[{"postcode": "9000", "radius_km": 5}, {"municipality": "Aalst", "radius_km": 3}])
    assert ids(outcome) == [elsewhere.id]
    assert outcome.excluded_facility_ids == {gent.id, aalst.id} and outcome.excluded_by_danger == 2


def test_excluded_by_danger_counts_only_facilities_that_would_otherwise_fit(people):
    """Left out and otherwise fitting: counted. Left out but full, or not
    taking the gender: not counted, though still among the ids left out."""
    fits = in_gent("fits", km=1)
    full = in_gent("full", km=2, units={"crisis_bed": (8, 0)})
    men_only = in_gent("men", km=3, genders="male")
    db.session.commit()
    outcome = run(people.operator, gender="female", danger_places=[{"postcode": "9000", "radius_km": 10}])
    assert outcome.results == [] and outcome.excluded_by_danger == 1
    assert outcome.excluded_facility_ids == {fits.id, full.id, men_only.id}
    # Nothing fits once the danger place leaves them out: a turn-away, without the danger place.
    assert outcome.turn_away is not None and "danger_places" not in outcome.turn_away.criteria


def test_excluded_by_danger_counts_those_left_out_of_the_results(people):
    """With `limit` results, a facility left out counts when it would have
    ranked ahead of the last result; with fewer, every one left out that fits
    in the scope counts (the search read it all)."""
    ahead = in_gent("ahead", km=2)
    behind = make.facility("behind", region_slug="oost-vlaanderen", municipality="Aalst", postcode="9300",
                           lat=places.lookup("Aalst").lat, lon=places.lookup("Aalst").lon)
    ahead_but_full = in_gent("ahead-full", km=1, units={"crisis_bed": (8, 0)})
    first, second = in_gent("first", km=5), in_gent("second", km=10)
    db.session.commit()
    dangers = [{"postcode": "9000", "radius_km": 3}, {"municipality": "Aalst", "radius_km": 3}]
    for limit, found, left_out in ((1, [first.id], 1), (2, [first.id, second.id], 1),
                                   (25, [first.id, second.id], 2)):
        outcome = run(people.operator, limit=limit, danger_places=dangers)
        assert ids(outcome) == found and outcome.excluded_by_danger == left_out, limit
        assert outcome.excluded_facility_ids == {ahead.id, behind.id, ahead_but_full.id}
    assert run(people.operator, limit=1).excluded_by_danger == 0  # no danger places


def test_the_search_leaves_out_exactly_the_facilities_left_out(people):
    """The search decides row by row what excluded_facilities finds as a
    whole: the same facilities, open or confidential, for danger places near
    and far, one or several."""
    open_ones = [in_gent(f"open-{i}", km=km) for i, km in enumerate((0.5, 3, 6, 9, 14, 22, 35))]
    refuges = [refuge(f"refuge-{place.nis}", place, near(km_north=1, base=place))
               for place in (GENT, DESTELBERGEN, LOCHRISTI, places.lookup("Aalst"), places.lookup("Eeklo"))]
    db.session.commit()
    every = {facility.id for facility in open_ones + refuges}
    groups, partly = ({f.id for f in open_ones}, {f.id for f in refuges}), [False, False]
    for dangers in ([{"postcode": "9000", "radius_km": 1}], [{"postcode": "9000", "radius_km": 4}],
                    [{"municipality": "Lochristi", "radius_km": 2}], [{"municipality": "Eeklo", "radius_km": 30}],
                    [{"municipality": "Arlon", "radius_km": 15}],
                    [{"postcode": "9300", "radius_km": 5}, {"municipality": "Destelbergen", "radius_km": 1}]):
        outcome = run(people.operator, limit=200, danger_places=dangers)
        left_out = excluded_facilities(parse_criteria({**SEARCH_DATA, "danger_places": dangers}).danger_places)
        assert set(ids(outcome)) == every - left_out, dangers
        assert outcome.excluded_by_danger == len(left_out & every)
        partly = [seen or 0 < len(left_out & group) < len(group) for seen, group in zip(partly, groups, strict=True)]
    assert partly == [True, True]  # the test sees both sides, of open ones and of refuges


def test_the_ids_left_out_are_found_when_asked_and_a_request_filed_keeps_them(people):
    """A search does not work out every facility left out (the request's
    list) unless asked; a request filed from it keeps exactly those."""
    from app.services.placement import requests

    inside = in_gent("inside", km=2)
    hidden = refuge("hidden", DESTELBERGEN, near(km_north=40))
    beyond = in_gent("beyond", km=20)
    db.session.commit()
    data = {**SEARCH_DATA, "limit": 1, "danger_places": [{"postcode": "9000", "radius_km": 4}]}
    outcome = run(people.operator, **data)
    assert ids(outcome) == [beyond.id] and outcome.excluded_by_danger == 2
    assert "excluded_facility_ids" not in vars(outcome)  # not worked out by the search
    request = requests.file(actor(people.operator), parse_criteria(data), clock.now(), search=outcome.search)
    db.session.commit()
    assert request.excluded_facility_ids == sorted(outcome.excluded_facility_ids) == sorted([inside.id, hidden.id])


# --- a preview writes nothing ------------------------------------------------------


def test_a_preview_writes_nothing(people):
    shelter = in_gent("shelter", km=1)
    db.session.commit()
    searches, turn_aways = count(PlacementSearch), count(TurnAway)
    criteria = parse_criteria({"client_type": "victim", "postcode": "9000"})
    outcome = placement.search(actor(people.operator), criteria, clock.now(), preference_km=25, record=False)
    assert ids(outcome) == [shelter.id] and outcome.search is None
    nothing = parse_criteria({"client_type": "victim", "postcode": "9000", "needs": ["wheelchair"]})
    outcome = placement.search(actor(people.operator), nothing, clock.now(), preference_km=25, record=False)
    assert outcome.results == [] and outcome.turn_away is None and outcome.search is None
    db.session.commit()
    assert (count(PlacementSearch), count(TurnAway)) == (searches, turn_aways)
    run(people.operator)  # the same search recorded: the counts above can move
    db.session.commit()
    assert count(PlacementSearch) == searches + 1


# --- criteria: danger places and children's genders ---------------------------------


BAD_DANGER_PLACES = {
    "unknown postcode": [{"postcode": "0042"}],
    "unknown municipality": [{"municipality": "Nergenshuizen"}],
    "radius too small": [{"postcode": "9000", "radius_km": 0.5}],
    "radius too large": [{"postcode": "9000", "radius_km": 101}],
    "radius not a number": [{"postcode": "9000", "radius_km": "far"}],
    "more than five": [{"postcode": "9000"}] * 6,
    "not a list": {"postcode": "9000"},
    "neither postcode nor municipality": [{"radius_km": 5}],
    "both": [{"postcode": "9000", "municipality": "Gent"}],
    "an unknown key": [{"postcode": "9000", "street": "Kerkstraat"}],
    "not an object": ["9000"],
}


@pytest.mark.parametrize("case", BAD_DANGER_PLACES)
def test_bad_danger_places_are_refused_by_the_api_naming_the_field_and_writing_nothing(client, tokens, case):
    searches, turn_aways, events = count(PlacementSearch), count(TurnAway), count(AuditEvent)
    response = call(client, "POST", SEARCH, tokens.operator, json={
        "client_type": "victim", "postcode": "9000", "danger_places": BAD_DANGER_PLACES[case]})
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "danger_places"
    assert "Nergenshuizen" not in response.get_data(as_text=True)
    assert "0042" not in response.get_data(as_text=True)
    assert (count(PlacementSearch), count(TurnAway), count(AuditEvent)) == (searches, turn_aways, events)


def test_a_danger_place_takes_the_default_radius(app):
    (default,) = parse_criteria({"client_type": "victim", "postcode": "9000",
                                 "danger_places": [{"municipality": "gand"}]}).danger_places
    assert default.place == GENT and default.radius_km == app.config["DANGER_RADIUS_KM"] == 15
    (given,) = parse_criteria({"client_type": "victim", "postcode": "9000",
                               "danger_places": [{"postcode": 9000, "radius_km": "2,5"}]}).danger_places
    assert given.radius_km == 2.5
    assert "Gent" not in repr(given)


def test_children_may_carry_a_gender(app):
    criteria = parse_criteria({"client_type": "victim", "postcode": "9000",
                               "children": [{"age": 13, "gender": "male"}, 4, {"age": 15, "gender": "female"}]})
    assert criteria.children == (13, 4, 15) and criteria.boys == (13,)
    assert criteria.stored()["child_genders"] == ["male", None, "female"]
    typed = parse_criteria({"client_type": "victim", "postcode": "9000", "children": "13m, 4, 9F, 2v"})
    assert typed.children == (13, 4, 9, 2) and typed.boys == (13,)
    assert typed.child_genders == ("male", None, "female", "female")
    for bad in ([{"age": 13, "gender": "boy"}], [{"gender": "male"}], "13q", [{"age": 19, "gender": "male"}]):
        with pytest.raises(InvalidInput) as refused:
            parse_criteria({"client_type": "victim", "postcode": "9000", "children": bad})
        assert refused.value.field == "children"


def test_the_form_gives_its_danger_places_in_pairs(app):
    from werkzeug.datastructures import MultiDict

    form = MultiDict([("client_type", "victim"), ("postcode", "9000"),
                      ("danger_place", " Aalst "), ("danger_radius", "20"),
                      ("danger_place", ""), ("danger_radius", "15"),
                      ("danger_place", "9000"), ("danger_radius", "")])
    assert danger_places_from_form(form) == [{"postcode": "Aalst", "radius_km": "20"}, {"postcode": "9000"}]
    assert criteria_data(form)["danger_places"] == danger_places_from_form(form)
    assert "danger_places" not in criteria_data(MultiDict([("danger_place", ""), ("danger_radius", "15")]))


# --- the API and the page -----------------------------------------------------------


def test_the_api_answers_how_many_were_left_out(client, tokens):
    in_gent("inside", km=3)
    beyond = in_gent("beyond", km=6)
    db.session.commit()
    response = call(client, "POST", SEARCH, tokens.operator, json={
        "client_type": "victim", "postcode": "9000", "children": [{"age": 4, "gender": "male"}],
        "danger_places": [{"postcode": "9000", "radius_km": 4}]})
    body = assert_documented(response, SEARCH, "post")
    assert body["excluded_by_danger"] == 0  # the one inside takes no children
    response = call(client, "POST", SEARCH, tokens.operator, json={
        "client_type": "victim", "postcode": "9000", "danger_places": [{"postcode": "9000", "radius_km": 4}]})
    body = assert_documented(response, SEARCH, "post")
    assert body["excluded_by_danger"] == 1 and [r["facility"]["id"] for r in body["results"]] == [beyond.id]


def test_the_page_says_how_many_were_left_out(client, people):
    in_gent("inside", km=3)
    in_gent("beyond", km=6)
    db.session.commit()
    make.login(client, people.operator)
    response = client.post("/placement/search", headers=HTMX, data={
        "client_type": "victim", "postcode": "9000", "danger_place": "Gent", "danger_radius": "4"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "1 facility left out: too close to a danger place" in page


def test_the_search_page_offers_two_danger_places_without_javascript(client, people):
    make.login(client, people.operator)
    page = client.get("/placement/").get_data(as_text=True)
    assert page.count('name="danger_place"') == 2 and page.count('name="danger_radius"') == 2
    assert 'value="15"' in page and 'method="post"' in page


# --- no trace --------------------------------------------------------------------


TRACE = ("Herzele", "Zwalm")


def _every_text_in_the_database() -> str:
    db.session.rollback()
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            found.extend(str(value) for value in row)
    return "\n".join(found)


def test_a_danger_place_leaves_no_trace(client, people, tokens, caplog):
    """Searches with distinctive danger places by the API and the page (one
    finding places, one finding none: a turn-away): not in any table, any log
    line, or any answer but the page's echo of its own form."""
    caplog.set_level(logging.DEBUG)
    in_gent("shelter", km=2)
    db.session.commit()
    for json in ({"client_type": "victim", "postcode": "9000", "danger_places": [{"municipality": "Herzele"}]},
                 {"client_type": "victim", "postcode": "9000", "needs": ["wheelchair"], "call_id": None,
                  "danger_places": [{"municipality": "Zwalm", "radius_km": 30}]}):
        response = call(client, "POST", SEARCH, tokens.operator, json=json)
        assert response.status_code == 200
        assert not any(name in response.get_data(as_text=True) for name in TRACE)
    make.login(client, people.operator)
    for headers in (HTMX, {}):
        response = client.post("/placement/search", headers=headers, data={
            "client_type": "victim", "postcode": "9000", "danger_place": "Zwalm", "danger_radius": "30"})
        assert response.status_code == 200 and response.location is None
        if headers:
            assert "Zwalm" not in response.get_data(as_text=True)
    assert count(PlacementSearch) >= 4 and count(TurnAway) >= 1
    stored = _every_text_in_the_database()
    assert not any(name in stored for name in TRACE)
    assert not any(name in caplog.text for name in TRACE)


def test_the_boxes_hold_the_radius():
    """The lat/lon box read by index holds every point within the radius,
    in every direction."""
    from app.services.placement.danger import _Zone

    centre = places.lookup("Arlon")
    box = _Zone(DangerPlace(centre, 40)).box()
    for bearing in range(0, 360, 5):
        angle = math.radians(bearing)
        lat = centre.lat + 40 / 111.0 * math.cos(angle)
        lon = centre.lon + 40 / (111.0 * math.cos(math.radians(lat))) * math.sin(angle)
        if places.haversine_km(centre.lat, centre.lon, lat, lon) <= 40:
            assert box["south"] <= lat <= box["north"] and box["west"] <= lon <= box["east"]


def test_the_share_of_a_disk_outside_the_danger_places():
    """What the nearby search aims its rings by (speed alone): the area of a
    disk outside circles given by (distance, radius)."""
    from app.services.placement.danger import share_outside

    assert share_outside((), 10) == 1 and share_outside(((30, 5),), 10) == 1
    assert share_outside(((0, 15),), 10) == 0 and share_outside(((2, 15),), 10) == 0
    assert share_outside(((0, 5),), 10) == pytest.approx(0.75)
    # Two circles of radius r, r apart: their lens is r² (2π/3 − √3/2).
    assert share_outside(((10, 10),), 10) == pytest.approx(1 - (2 * math.pi / 3 - math.sqrt(3) / 2) / math.pi)
