"""The operator's search page: form, htmx results, one click to hold."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Hold, PlacementSearch, TurnAway
from tests import factories as make

HTMX = {"HX-Request": "true"}


@pytest.fixture
def world(app):
    gent = make.facility("vluchthuis-gent", name="Vluchthuis Gent", region_slug="oost-vlaanderen", type="refuge",
                         municipality="Gent", postcode="9000", lat=51.05, lon=3.72, confidential="yes",
                         street="Geheimweg 3", children="yes", max_children=4, max_child_age=16,
                         units={"family_room": (2, 1, 4), "refuge_place": (6, 2)})
    operator = make.user("operator")
    db.session.commit()
    return gent, operator


def count(model):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_form_posted_without_htmx_answers_the_whole_page(client, world):
    gent, operator = world
    make.login(client, operator)
    page = client.post("/placement/search", data={
        "client_type": "victim", "adults": "1", "children": "4,9", "gender": "female", "postcode": "9000"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>" in html
    assert "Vluchthuis Gent" in html and "Geheimweg" not in html
    assert 'name="persons" value="3"' in html
    assert count(PlacementSearch) == 1


def test_criteria_in_a_url_neither_search_nor_fill_the_form(client, world):
    _, operator = world
    make.login(client, operator)
    page = client.get("/placement/?run=1&client_type=victim&children=4,9&gender=female&postcode=9000")
    assert page.status_code == 200 and 'value="9000"' not in page.get_data(as_text=True)
    assert count(PlacementSearch) == 0


def test_the_form_posts_and_answers_the_results_fragment(client, world):
    _, operator = world
    make.login(client, operator)
    response = client.post("/placement/search", headers=HTMX, data={
        "client_type": "victim", "adults": "1", "children": "4, 9", "postcode": "Gent", "session": "s1",
        "kinds": ["family_room"],
    })
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="results"')
    assert "1 place found" in html and "Family room" in html


def test_bad_input_says_what_is_wrong_and_writes_nothing(client, world):
    _, operator = world
    make.login(client, operator)
    response = client.post("/placement/search", headers=HTMX,
                           data={"client_type": "victim", "postcode": "0000", "session": "s1"})
    assert response.status_code == 400 and "postcode" in response.get_data(as_text=True)
    assert count(PlacementSearch) == 0


def test_one_click_holds_the_place_and_a_second_finds_it_gone(client, world):
    gent, operator = world
    make.login(client, operator)
    client.post("/placement/search", headers=HTMX, data={"client_type": "victim", "adults": "1", "children": "4, 9",
                                                         "postcode": "9000", "session": "s1"})
    search_id = db.session.scalar(select(PlacementSearch.id))
    room = next(u for u in gent.units if u.kind.code == "family_room")
    data = {"unit_id": room.id, "persons": "3", "search_id": search_id, "household": "mother, boys 4 and 9"}
    held = client.post("/placement/hold", headers=HTMX, data=data)
    assert held.status_code == 201 and "Held: 3 persons at Vluchthuis Gent" in held.get_data(as_text=True)
    hold = db.session.scalars(select(Hold)).one()
    assert (hold.unit_id, hold.persons, hold.places, hold.search_id, hold.household) == (
        room.id, 3, 1, search_id, "mother, boys 4 and 9")
    again = client.post("/placement/hold", headers=HTMX, data=data)
    assert again.status_code == 409 and "no longer free" in again.get_data(as_text=True)
    assert count(Hold) == 1


def test_nothing_fits_is_a_turn_away_shown_to_managers(client, world, app):
    _, operator = world
    manager = make.user("manager", regions=[make.region("oost-vlaanderen")])
    db.session.commit()
    make.login(client, operator)
    for _ in range(2):  # the same session: one turn-away
        response = client.post("/placement/search", headers=HTMX, data={
            "client_type": "victim", "adults": "9", "postcode": "9000", "session": "s2", "beyond_region": "false"})
        assert "Recorded once for this contact as a turn-away" in response.get_data(as_text=True)
    assert count(TurnAway) == 1
    client.post("/logout")
    make.login(client, manager)
    page = client.get("/placement/turn-aways").get_data(as_text=True)
    assert "Oost Vlaanderen" in page and "<td>1</td>" in page


def test_an_operator_records_a_turn_away_explicitly_once(client, world):
    _, operator = world
    make.login(client, operator)
    first = client.post("/placement/turn-aways", headers=HTMX, data={"reason": "full", "session": "s3"})
    second = client.post("/placement/turn-aways", headers=HTMX, data={"reason": "full", "session": "s3"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert count(TurnAway) == 1
    bad = client.post("/placement/turn-aways", headers=HTMX, data={"reason": "bored", "session": "s4"})
    assert bad.status_code == 400 and count(TurnAway) == 1


@pytest.mark.parametrize("path, method", [("/placement/", "GET"), ("/placement/search", "POST"),
                                          ("/placement/hold", "POST"), ("/placement/turn-aways", "GET")])
def test_shelter_staff_may_not_search(client, world, path, method):
    gent, _ = world
    staff = make.user("shelter_staff", facilities_=[gent])
    db.session.commit()
    make.login(client, staff)
    assert client.open(path, method=method).status_code == 403


def test_partners_search_and_hold_but_see_no_turn_aways(client, world):
    gent, _ = world
    partner = make.user("partner")
    db.session.commit()
    make.login(client, partner)
    html = client.post("/placement/search", data={"client_type": "victim", "postcode": "9000"}).get_data(as_text=True)
    assert "Vluchthuis Gent" in html and "Geheimweg" not in html
    assert client.get("/placement/turn-aways").status_code == 403
