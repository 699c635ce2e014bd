"""Turn-aways: a contact that ends without a place, recorded once, with its
reason; withdrawn by a hold; listed per day; counted per region and day."""

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, PlacementSearch, TurnAway
from app.services.core.access import Actor
from app.services.placement import holds, turn_aways
from tests import factories as make
from tests.api import assert_documented, call
from tests.test_placement import in_gent

SEARCH = "/api/v1/placements/search"
LIST = "/api/v1/turn-aways"


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def all_turn_aways() -> list[TurnAway]:
    db.session.rollback()
    return list(db.session.scalars(select(TurnAway).order_by(TurnAway.id)))


@pytest.fixture
def w(app):
    oost = make.region("oost-vlaanderen")
    antwerpen = make.region("antwerpen")
    people = SimpleNamespace(
        operator=make.user("operator"),
        operator2=make.user("operator"),
        manager=make.user("manager", regions=[oost]),
        other_manager=make.user("manager", regions=[antwerpen]),
        partner=make.user("partner"),
        admin=make.user("admin"),
        staff=make.user("shelter_staff"),
    )
    call_id = make.call().id
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    return SimpleNamespace(people=people, tokens=tokens, oost=oost, antwerpen=antwerpen, call_id=call_id)


def search(client, token, **criteria):
    response = call(client, "POST", SEARCH, token, json={"client_type": "victim", "postcode": "9000", **criteria})
    body = assert_documented(response, SEARCH, "post")
    assert response.status_code == 200, body
    return body


# --- why: full, ineligible, closed ---------------------------------------------------


def test_full_when_eligible_facilities_have_too_few_free_places(client, w):
    in_gent("small", units={"crisis_bed": (4, 1)})
    body = search(client, w.tokens.operator, adults=2, beyond_region=False, session="s1")
    assert body["results"] == [] and body["turn_away"] == {"reason": "full"}


def test_full_when_holds_take_the_places(client, w, clock):
    shelter = in_gent("small", units={"crisis_bed": (4, 1)})
    db.session.commit()
    holds.create(Actor(w.people.operator, "web"), clock.now(), unit_id=shelter.units[0].id, persons=1,
                 default_minutes=120)
    db.session.commit()
    assert search(client, w.tokens.operator, session="s1")["turn_away"] == {"reason": "full"}


def test_closed_when_the_places_are_in_facilities_switched_closed(client, w):
    in_gent("closed", units={"crisis_bed": (4, 4)}, open_for_intake="no", closed_reason="Flooding")
    in_gent("full", units={"crisis_bed": (4, 0)})
    body = search(client, w.tokens.operator, session="s1")
    assert body["results"] == [] and body["turn_away"] == {"reason": "closed"}


def test_closed_facilities_without_places_are_full(client, w):
    in_gent("closed", units={"crisis_bed": (4, 0)}, open_for_intake="no", closed_reason="Flooding")
    assert search(client, w.tokens.operator, session="s1")["turn_away"] == {"reason": "full"}


def test_ineligible_when_no_facility_takes_the_household(client, w):
    in_gent("women", genders="female", units={"crisis_bed": (4, 4)})
    body = search(client, w.tokens.operator, gender="male", session="s1")
    assert body["turn_away"] == {"reason": "ineligible"}
    assert search(client, w.tokens.operator, session="s2", children=[3])["turn_away"] == {"reason": "ineligible"}


def test_a_turn_away_keeps_the_criteria_and_the_region_but_no_personal_data(client, w):
    body = search(client, w.tokens.operator, children=[4, 9], languages=["fr"], call_id=w.call_id, session="s1",
                  avoid_facilities=[77])
    (turn_away,) = all_turn_aways()
    assert turn_away.id and body["turn_away"] == {"reason": "ineligible"}
    assert (turn_away.region_id, turn_away.call_id, turn_away.search_id) == (w.oost.id, w.call_id, body["search_id"])
    assert turn_away.contact_key == f"call:{w.call_id}" and turn_away.recorded_by_id == w.people.operator.id
    assert turn_away.criteria["children"] == [4, 9] and turn_away.criteria["avoided"] == 1
    assert "call" not in str(turn_away.criteria) and "s1" not in str(turn_away.criteria)
    assert "77" not in str(turn_away.criteria)
    assert count(AuditEvent, AuditEvent.action == "turn_away.record") == 1


# --- once per contact ---------------------------------------------------------------------


def test_two_empty_searches_of_one_session_are_one_turn_away(client, w):
    first = search(client, w.tokens.operator, session="session-a")
    second = search(client, w.tokens.operator, session="session-a", children=[5])
    assert first["turn_away"] and second["turn_away"]
    (turn_away,) = all_turn_aways()
    assert turn_away.search_id == first["search_id"]
    assert count(PlacementSearch) == 2


def test_two_sessions_are_two_turn_aways(client, w):
    search(client, w.tokens.operator, session="session-a")
    search(client, w.tokens.operator, session="session-b")
    assert [t.contact_key for t in all_turn_aways()] == ["session:session-a", "session:session-b"]


def test_one_call_is_one_turn_away_whatever_the_sessions(client, w):
    search(client, w.tokens.operator, call_id=w.call_id, session="session-a")
    search(client, w.tokens.operator2, call_id=w.call_id, session="session-b")
    assert [t.contact_key for t in all_turn_aways()] == [f"call:{w.call_id}"]


def test_without_call_or_session_each_search_is_its_own_contact(client, w):
    first = search(client, w.tokens.partner)
    second = search(client, w.tokens.partner)
    assert [t.contact_key for t in all_turn_aways()] == [f"search:{first['search_id']}",
                                                        f"search:{second['search_id']}"]


def test_a_search_that_finds_places_records_none(client, w):
    in_gent("shelter")
    assert search(client, w.tokens.operator, session="s1")["turn_away"] is None
    assert count(TurnAway) == 0


def test_a_hold_from_the_contacts_search_withdraws_its_turn_away(client, w):
    search(client, w.tokens.operator, adults=3, beyond_region=False, session="s1")  # nothing for three
    shelter = in_gent("shelter", units={"crisis_bed": (8, 2)})
    found = search(client, w.tokens.operator, session="s1")
    assert found["turn_away"] is None and count(TurnAway, TurnAway.withdrawn_at.is_(None)) == 1
    response = call(client, "POST", "/api/v1/holds", w.tokens.operator,
                    json={"unit_id": shelter.units[0].id, "persons": 1, "search_id": found["search_id"]})
    assert response.status_code == 201
    (turn_away,) = all_turn_aways()
    assert turn_away.withdrawn_at is not None
    assert call(client, "GET", LIST, w.tokens.operator).get_json() == []
    # Found nothing again later: still the one (withdrawn) record.
    search(client, w.tokens.operator, adults=3, beyond_region=False, session="s1")
    assert count(TurnAway) == 1


def test_a_hold_for_the_call_withdraws_its_turn_away(client, w):
    search(client, w.tokens.operator, call_id=w.call_id)
    shelter = in_gent("shelter")
    response = call(client, "POST", "/api/v1/holds", w.tokens.operator,
                    json={"unit_id": shelter.units[0].id, "persons": 1, "call_id": w.call_id})
    assert response.status_code == 201
    assert all_turn_aways()[0].withdrawn_at is not None


# --- listing: GET /api/v1/turn-aways --------------------------------------------------------


def test_the_list_of_a_day_in_local_time(client, w, clock):
    search(client, w.tokens.operator, session="evening", call_id=w.call_id)  # Saturday 21:00 in Brussels
    clock.advance(hours=3, minutes=30)  # Sunday 00:30 in Brussels, still Saturday in UTC
    search(client, w.tokens.operator, session="night")

    body = assert_documented(call(client, "GET", f"{LIST}?date=2026-11-28", w.tokens.operator), LIST)
    assert [(t["reason"], t["region"], t["call_id"]) for t in body] == [("ineligible", "oost-vlaanderen", w.call_id)]
    assert body[0]["at"] == "2026-11-28T21:00:00+01:00" and body[0]["criteria"]["postcode"] == "9000"
    body = assert_documented(call(client, "GET", LIST, w.tokens.operator), LIST)  # today: Sunday
    assert [t["at"] for t in body] == ["2026-11-29T00:30:00+01:00"]
    assert call(client, "GET", f"{LIST}?date=2026-11-27", w.tokens.admin).get_json() == []


def test_managers_see_their_regions_operators_and_admins_all(client, w):
    search(client, w.tokens.operator, session="gent")  # oost-vlaanderen
    search(client, w.tokens.operator, session="antwerp", postcode="2000")  # antwerpen

    def regions(token, query=""):
        response = call(client, "GET", f"{LIST}{query}", token)
        return response.status_code, sorted(t["region"] for t in assert_documented(response, LIST)) \
            if response.status_code == 200 else response.get_json()["error"]["code"]

    assert regions(w.tokens.operator) == (200, ["antwerpen", "oost-vlaanderen"])
    assert regions(w.tokens.admin) == (200, ["antwerpen", "oost-vlaanderen"])
    assert regions(w.tokens.operator, "?region=antwerpen") == (200, ["antwerpen"])
    assert regions(w.tokens.manager) == (200, ["oost-vlaanderen"])
    assert regions(w.tokens.other_manager) == (200, ["antwerpen"])
    assert regions(w.tokens.manager, "?region=oost-vlaanderen") == (200, ["oost-vlaanderen"])
    assert regions(w.tokens.manager, "?region=antwerpen") == (403, "forbidden")
    assert regions(w.tokens.partner) == (403, "forbidden")
    assert regions(w.tokens.staff) == (403, "forbidden")
    assert call(client, "GET", LIST).status_code == 401


@pytest.mark.parametrize("query, field", [
    ("?date=yesterday", "date"), ("?date=2026-13-01", "date"), ("?region=atlantis", "region"),
    ("?limit=0", "limit"),
])
def test_bad_list_queries_are_400(client, w, query, field):
    response = call(client, "GET", f"{LIST}{query}", w.tokens.operator)
    body = assert_documented(response, LIST)
    assert response.status_code == 400 and body["error"]["field"] == field


def test_the_list_pages(client, w):
    for n in range(3):
        search(client, w.tokens.operator, session=f"s{n}")
    response = call(client, "GET", f"{LIST}?limit=2", w.tokens.operator)
    assert len(response.get_json()) == 2 and 'rel="next"' in response.headers["Link"]
    following = response.headers["Link"].split(">")[0].lstrip("<").replace("http://localhost", "")
    assert len(call(client, "GET", following, w.tokens.operator).get_json()) == 1


# --- recording one explicitly: POST /api/v1/turn-aways ---------------------------------------


def test_an_operator_records_one_once_per_contact(client, w):
    response = call(client, "POST", LIST, w.tokens.operator,
                    json={"reason": "full", "call_id": w.call_id, "region": "antwerpen", "note": "no room for six"})
    first = assert_documented(response, LIST, "post")
    assert response.status_code == 201
    assert (first["reason"], first["region"], first["call_id"], first["note"]) == ("full", "antwerpen", w.call_id,
                                                                                   "no room for six")
    response = call(client, "POST", LIST, w.tokens.operator2, json={"reason": "closed", "call_id": w.call_id})
    again = assert_documented(response, LIST, "post")
    assert response.status_code == 200 and again == first
    other_call = make.call().id
    db.session.commit()
    response = call(client, "POST", LIST, w.tokens.manager, json={"reason": "closed", "call_id": other_call})
    assert response.status_code == 201
    assert count(TurnAway) == 2


def test_an_explicit_record_takes_the_sessions_last_search(client, w):
    in_gent("shelter", children="yes")
    found = search(client, w.tokens.operator, session="s9", children=[2])  # found a place; the caller declined
    assert found["results"] and count(TurnAway) == 0
    response = call(client, "POST", LIST, w.tokens.operator, json={"reason": "ineligible", "session": "s9"})
    body = assert_documented(response, LIST, "post")
    assert response.status_code == 201
    assert body["region"] == "oost-vlaanderen" and body["search_id"] == found["search_id"]
    assert body["criteria"]["children"] == [2]
    # Without a call or session it is a contact of its own, every time.
    for _ in range(2):
        assert call(client, "POST", LIST, w.tokens.operator, json={"reason": "full"}).status_code == 201
    assert count(TurnAway) == 3


@pytest.mark.parametrize("payload, field", [
    ({}, "reason"), ({"reason": "bored"}, "reason"), ({"reason": "full", "call_id": "x"}, "call_id"),
    ({"reason": "full", "session": "a b"}, "session"), ({"reason": "full", "region": "atlantis"}, "region"),
    ({"reason": "full", "note": "x" * 2001}, "note"), ({"reason": "full", "note": 5}, "note"),
])
def test_bad_records_are_400_and_write_nothing(client, w, payload, field):
    response = call(client, "POST", LIST, w.tokens.operator, json=payload)
    body = assert_documented(response, LIST, "post")
    assert response.status_code == 400 and body["error"]["field"] == field
    assert count(TurnAway) == 0


@pytest.mark.parametrize("role", ["partner", "staff", "admin"])
def test_only_operators_and_managers_record(client, w, role):
    response = call(client, "POST", LIST, getattr(w.tokens, role), json={"reason": "full", "call_id": w.call_id})
    assert_documented(response, LIST, "post")
    assert response.status_code == 403 and count(TurnAway) == 0


# --- the manager's view: per region and day --------------------------------------------------


def test_per_region_and_day(client, w, clock):
    search(client, w.tokens.operator, session="a")                  # Sat, oost-vlaanderen, ineligible
    search(client, w.tokens.operator, session="b", postcode="2000")  # Sat, antwerpen, ineligible
    clock.advance(hours=4)                                           # Sunday 01:00 in Brussels
    in_gent("tiny", units={"crisis_bed": (2, 1)})
    search(client, w.tokens.operator, session="c", adults=2, beyond_region=False)  # Sun, oost-vlaanderen, full
    search(client, w.tokens.operator, session="d", adults=2, beyond_region=False, call_id=w.call_id)
    now = clock.now()

    counts = turn_aways.per_region_and_day(None, date(2026, 11, 28), date(2026, 11, 29), now)
    assert [(c.region_id, c.day.isoformat(), c.count, c.by_reason) for c in counts] == sorted([
        (w.antwerpen.id, "2026-11-28", 1, {"ineligible": 1}),
        (w.oost.id, "2026-11-28", 1, {"ineligible": 1}),
        (w.oost.id, "2026-11-29", 2, {"full": 2}),
    ], key=lambda row: (row[1], row[0]))
    assert turn_aways.per_region_and_day({w.antwerpen.id}, date(2026, 11, 29), date(2026, 11, 29), now) == []
    assert [c.count for c in turn_aways.per_region_and_day(None, date(2026, 11, 28), date(2026, 11, 28), now)] \
        == [1, 1]

    # A hold for the call withdraws its turn-away: the count drops.
    roomy = in_gent("roomy")
    db.session.commit()
    holds.create(Actor(w.people.operator, "web"), now, unit_id=roomy.units[0].id, persons=1, call_id=w.call_id,
                 default_minutes=120)
    db.session.commit()
    counts = turn_aways.per_region_and_day({w.oost.id}, date(2026, 11, 29), date(2026, 11, 29), now)
    assert [(c.count, c.by_reason) for c in counts] == [(1, {"full": 1})]
