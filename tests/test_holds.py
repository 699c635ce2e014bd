"""Holds: reserve, expire at read time, confirm, release, extend — and the
race for the last place."""

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, CapacityChange, CapacityUnit, Hold, TurnAway
from tests import factories as make
from tests.api import assert_documented, call


@pytest.fixture
def w(app):
    centre = make.facility("crisis", units={"crisis_bed": (8, 2), "family_room": (3, 1, 4)})
    other = make.facility("other", units={"crisis_bed": (4, 4)})
    closed = make.facility("closed", units={"crisis_bed": (4, 4)}, open_for_intake="no", closed_reason="Flooding")
    people = SimpleNamespace(
        operator=make.user("operator"),
        operator2=make.user("operator"),
        manager=make.user("manager"),
        staff=make.user("shelter_staff", facilities_=[centre]),
        other_staff=make.user("shelter_staff", facilities_=[other]),
        partner=make.user("partner", phone="+32470999999"),
        partner2=make.user("partner"),
        admin=make.user("admin"),
    )
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    beds = {u.kind.code: u for u in centre.units}
    return SimpleNamespace(centre=centre, other=other, closed=closed, people=people, tokens=tokens,
                           bed=beds["crisis_bed"], room=beds["family_room"])


def hold(client, token, unit, persons=1, **extra):
    return call(client, "POST", "/api/v1/holds", token, json={"unit_id": unit.id, "persons": persons, **extra})


def unit_now(unit):
    db.session.rollback()
    return db.session.get(CapacityUnit, unit.id)


def rows(model):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def region_figures(client, token, kind="crisis_bed"):
    return call(client, "GET", "/api/v1/regions", token).get_json()[0]["capacity"][kind]


def test_a_hold_takes_places_until_it_expires(client, w, clock):
    response = hold(client, w.tokens.operator, w.bed, persons=2, household="mother, boy 4", minutes=90,
                    arrival="2026-11-28T22:30:00+01:00", note="arrives by taxi")
    body = assert_documented(response, "/api/v1/holds", "post")
    assert response.status_code == 201
    assert (body["persons"], body["places"], body["status"]) == (2, 2, "active")
    assert body["expires_at"] == "2026-11-28T22:30:00+01:00"  # 21:00 + 90 min, Brussels time
    assert body["created_by"] == w.people.operator.name and body["contact"].startswith(w.people.operator.name)
    assert region_figures(client, w.tokens.operator)["held"] == 2
    assert region_figures(client, w.tokens.operator)["free"] == 4  # 2 of the centre's + 4 of other, minus 2
    unit = call(client, "GET", f"/api/v1/facilities/{w.centre.id}", w.tokens.operator).get_json()["units"][0]
    assert (unit["available"], unit["held"], unit["free"]) == (2, 2, 0)

    clock.advance(minutes=91)  # no job has run: the hold expires at read time
    unit = call(client, "GET", f"/api/v1/facilities/{w.centre.id}", w.tokens.operator).get_json()["units"][0]
    assert (unit["held"], unit["free"]) == (0, 2)
    listed = call(client, "GET", "/api/v1/holds?status=expired", w.tokens.operator).get_json()
    assert [h["status"] for h in listed] == ["expired"]


def test_a_family_room_is_one_place_for_a_household_that_fits(client, w):
    body = hold(client, w.tokens.operator, w.room, persons=4).get_json()
    assert body["places"] == 1
    response = hold(client, w.tokens.operator, w.room, persons=5)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "persons"


def test_not_enough_free_places_is_409_with_the_unit(client, w):
    before = rows(Hold)
    response = hold(client, w.tokens.operator, w.bed, persons=3)
    body = assert_documented(response, "/api/v1/holds", "post")
    assert response.status_code == 409
    assert "2 free" in body["error"]["message"] and body["unit"]["free"] == 2
    assert rows(Hold) == before


def test_a_hold_on_a_closed_facility_is_409_with_the_reason(client, w):
    response = hold(client, w.tokens.operator, w.closed.units[0])
    assert response.status_code == 409 and "Flooding" in response.get_json()["error"]["message"]
    assert rows(Hold) == 0


@pytest.mark.parametrize("payload, field", [
    ({"persons": 1}, "unit_id"),
    ({"unit_id": "x", "persons": 1}, "unit_id"),
    ({"unit_id": 1}, "persons"),
    ({"unit_id": 1, "persons": 0}, "persons"),
    ({"unit_id": 1, "persons": -2}, "persons"),
    ({"unit_id": 1, "persons": 31}, "persons"),
    ({"unit_id": 1, "persons": True}, "persons"),
    ({"unit_id": 1, "persons": 1, "minutes": 0}, "minutes"),
    ({"unit_id": 1, "persons": 1, "minutes": 2000}, "minutes"),
    ({"unit_id": 1, "persons": 1, "arrival": "tonight"}, "arrival"),
    ({"unit_id": 1, "persons": 1, "arrival": "2026-11-28T23:00:00"}, "arrival"),
    ({"unit_id": 1, "persons": 1, "household": ["a"]}, "household"),
    ({"unit_id": 1, "persons": 1, "note": "x" * 2001}, "note"),
    ({"unit_id": 1, "persons": 1, "search_id": 999}, "search_id"),
])
def test_bad_hold_input_is_400_naming_the_field(client, w, payload, field):
    payload = {**payload, "unit_id": w.bed.id} if payload.get("unit_id") == 1 else payload
    response = call(client, "POST", "/api/v1/holds", w.tokens.operator, json=payload)
    body = assert_documented(response, "/api/v1/holds", "post")
    assert response.status_code == 400 and body["error"]["field"] == field
    assert rows(Hold) == 0


def test_unknown_unit_is_404(client, w):
    response = call(client, "POST", "/api/v1/holds", w.tokens.operator, json={"unit_id": 99999, "persons": 1})
    assert response.status_code == 404


@pytest.mark.parametrize("who", ["staff", "other_staff"])
def test_shelter_staff_do_not_make_holds(client, w, who):
    assert hold(client, getattr(w.tokens, who), w.bed).status_code == 403
    assert rows(Hold) == 0


def test_confirming_takes_the_place_and_writes_history(client, w, clock):
    made = hold(client, w.tokens.operator, w.bed, persons=2).get_json()
    clock.advance(minutes=30)
    response = call(client, "POST", f"/api/v1/holds/{made['id']}/confirm", w.tokens.staff)
    body = assert_documented(response, "/api/v1/holds/{hold_id}/confirm", "post")
    assert response.status_code == 200 and body["status"] == "confirmed"
    unit = unit_now(w.bed)
    assert (unit.available, unit.version) == (0, 2)
    change = db.session.scalars(select(CapacityChange).order_by(CapacityChange.id.desc())).first()
    assert (change.before, change.after, change.source, change.actor_id) == (2, 0, "hold", w.people.staff.id)
    assert region_figures(client, w.tokens.operator)["held"] == 0
    assert rows(AuditEvent.__table__.select().where(AuditEvent.action == "hold.confirm").subquery()) == 1
    again = call(client, "POST", f"/api/v1/holds/{made['id']}/confirm", w.tokens.staff)
    assert again.status_code == 409 and unit_now(w.bed).available == 0


def test_an_expired_hold_is_confirmed_only_while_a_place_is_free(client, w, clock):
    first = hold(client, w.tokens.operator, w.bed, persons=2, minutes=10).get_json()
    clock.advance(minutes=11)
    # Its places went back; someone else holds them now.
    hold(client, w.tokens.operator2, w.bed, persons=2)
    late = call(client, "POST", f"/api/v1/holds/{first['id']}/confirm", w.tokens.staff)
    assert late.status_code == 409 and "expired" in late.get_json()["error"]["message"]
    assert unit_now(w.bed).available == 2


def test_an_expired_hold_is_confirmed_when_a_place_is_still_free(client, w, clock):
    first = hold(client, w.tokens.operator, w.bed, persons=1, minutes=10).get_json()
    clock.advance(hours=3)
    response = call(client, "POST", f"/api/v1/holds/{first['id']}/confirm", w.tokens.staff)
    assert response.status_code == 200 and unit_now(w.bed).available == 1


def test_release_and_extend(client, w, clock):
    made = hold(client, w.tokens.operator, w.bed, minutes=30).get_json()
    extended = call(client, "POST", f"/api/v1/holds/{made['id']}/extend", w.tokens.operator, json={"minutes": 60})
    assert_documented(extended, "/api/v1/holds/{hold_id}/extend", "post")
    assert extended.get_json()["expires_at"] == "2026-11-28T22:30:00+01:00"
    bad = call(client, "POST", f"/api/v1/holds/{made['id']}/extend", w.tokens.operator, json={"minutes": -5})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "minutes"
    released = call(client, "POST", f"/api/v1/holds/{made['id']}/release", w.tokens.staff)
    assert released.status_code == 200 and released.get_json()["status"] == "released"
    assert region_figures(client, w.tokens.operator)["held"] == 0
    assert call(client, "POST", f"/api/v1/holds/{made['id']}/release", w.tokens.staff).status_code == 409
    assert call(client, "POST", f"/api/v1/holds/{made['id']}/confirm", w.tokens.staff).status_code == 409
    extend = call(client, "POST", f"/api/v1/holds/{made['id']}/extend", w.tokens.operator, json={"minutes": 5})
    assert extend.status_code == 409
    assert unit_now(w.bed).available == 2


def test_partners_hold_and_release_their_own_holds_only(client, w):
    response = hold(client, w.tokens.partner, w.bed)
    body = response.get_json()
    assert response.status_code == 201 and "call_id" not in body
    assert body["contact"].endswith("+32470999999")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "hold.create")).one()
    assert event.actor_id == w.people.partner.id and event.details["by_partner"] is True
    # Another partner neither sees nor releases it; the partner cannot confirm it.
    assert call(client, "GET", "/api/v1/holds", w.tokens.partner2).get_json() == []
    assert call(client, "POST", f"/api/v1/holds/{body['id']}/release", w.tokens.partner2).status_code == 403
    assert call(client, "POST", f"/api/v1/holds/{body['id']}/confirm", w.tokens.partner).status_code == 403
    assert [h["id"] for h in call(client, "GET", "/api/v1/holds", w.tokens.partner).get_json()] == [body["id"]]
    assert call(client, "POST", f"/api/v1/holds/{body['id']}/release", w.tokens.partner).status_code == 200


def refused_field(response) -> str:
    assert response.status_code == 400, response.get_json()
    return response.get_json()["error"]["field"]


def test_a_hold_names_only_a_call_that_exists_and_never_a_partners(client, w):
    call_id = make.call().id
    db.session.commit()
    assert refused_field(hold(client, w.tokens.partner, w.bed, call_id=call_id)) == "call_id"
    assert refused_field(hold(client, w.tokens.partner, w.bed, call_id=999999)) == "call_id"
    assert refused_field(hold(client, w.tokens.operator, w.bed, call_id=999999)) == "call_id"
    assert rows(Hold) == 0
    response = hold(client, w.tokens.operator, w.bed, call_id=call_id)
    assert response.status_code == 201 and response.get_json()["call_id"] == call_id


def test_a_hold_names_only_a_search_its_maker_may_use(client, w):
    search = call(client, "POST", "/api/v1/placements/search", w.tokens.operator,
                  json={"client_type": "victim", "postcode": "2000", "session": "s1"}).get_json()["search_id"]
    assert refused_field(hold(client, w.tokens.partner, w.bed, search_id=search)) == "search_id"
    assert refused_field(hold(client, w.tokens.operator, w.bed, search_id=999999)) == "search_id"
    assert rows(Hold) == 0
    assert hold(client, w.tokens.operator2, w.bed, search_id=search).status_code == 201


def test_a_partners_hold_never_withdraws_an_operators_turn_away(client, w):
    """The contact is the session: a partner's search in a session of the same
    name is their own, and their hold from it leaves the operator's record."""
    recorded = call(client, "POST", "/api/v1/turn-aways", w.tokens.operator, json={"reason": "full", "session": "s1"})
    assert recorded.status_code == 201
    search = call(client, "POST", "/api/v1/placements/search", w.tokens.partner,
                  json={"client_type": "victim", "postcode": "2000", "session": "s1"}).get_json()["search_id"]
    assert hold(client, w.tokens.partner, w.bed, search_id=search).status_code == 201
    db.session.rollback()
    assert db.session.scalars(select(TurnAway.withdrawn_at)).all() == [None]


def test_other_facilities_staff_cannot_touch_a_hold(client, w):
    made = hold(client, w.tokens.operator, w.bed).get_json()
    for action in ("confirm", "release"):
        assert call(client, "POST", f"/api/v1/holds/{made['id']}/{action}", w.tokens.other_staff).status_code == 403
    assert unit_now(w.bed).available == 2
    assert call(client, "GET", "/api/v1/holds", w.tokens.other_staff).get_json() == []
    assert [h["id"] for h in call(client, "GET", "/api/v1/holds", w.tokens.staff).get_json()] == [made["id"]]


@pytest.mark.parametrize("query, field", [("status=maybe", "status"), ("facility=x", "facility")])
def test_hold_list_rejects_bad_filters(client, w, query, field):
    response = call(client, "GET", f"/api/v1/holds?{query}", w.tokens.operator)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


def test_twenty_operators_race_for_the_last_place(app, w):
    """Exactly one hold, nineteen clear 409s, never a 500 — on SQLite and on
    PostgreSQL alike."""
    last = make.facility("last-bed", units={"crisis_bed": (5, 1)})
    db.session.commit()
    unit_id = last.units[0].id
    statuses = []
    start = threading.Barrier(20)

    def attempt():
        client = app.test_client()
        start.wait()
        response = call(client, "POST", "/api/v1/holds", w.tokens.operator, json={"unit_id": unit_id, "persons": 1})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [201] + [409] * 19
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Hold).where(Hold.unit_id == unit_id)) == 1
