"""The waiting list (PRODUCT.md flow D): filing requests, their order, and
freed places offered to them one at a time — also when counts rise at once."""

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db, writing
from app.models import AuditEvent, CapacityUnit, Hold, OutboxMessage, PlacementOffer, PlacementRequest, User
from app.services.core.access import Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.placement import holds, offers, requests
from app.services.placement.criteria import parse_criteria
from app.services.registry import capacity
from tests import factories as make
from tests.api import assert_documented
from tests.api import call as call_api
from tests.test_placement import RULES, in_gent


@pytest.fixture
def w(app, clock):
    full = make.facility("full", units={"crisis_bed": (8, 0)})
    other = make.facility("other-full", units={"crisis_bed": (4, 0)})
    people = SimpleNamespace(
        operator=make.user("operator", phone="+32470000001", language="nl"),
        manager=make.user("manager"),
        partner=make.user("partner"),
        staff=make.user("admin"),
    )
    people.operator.on_duty = True
    db.session.commit()
    return SimpleNamespace(full=full, other=other, bed=full.units[0], other_bed=other.units[0], people=people,
                           actor=Actor(user=people.operator, source="web"),
                           staff=Actor(user=people.staff, source="web"))


def criteria(call=None, **data):
    return parse_criteria({"client_type": "victim", "postcode": "2000", "gender": "female",
                           **({"call_id": call.id} if call else {}), **data})


def file(w, clock, *, risk=None, note=None, **data):
    call = make.call()
    call.risk_level = risk
    request = requests.file(w.actor, criteria(call, **data), clock.now(), note=note)
    db.session.commit()
    return request


def raise_count(w, clock, unit, available):
    unit = db.session.get(CapacityUnit, unit.id)
    capacity.set_available(w.staff, unit, available, unit.version, clock.now())
    db.session.commit()


def open_offers():
    db.session.expire_all()
    return list(db.session.scalars(select(PlacementOffer).where(PlacementOffer.status == "open")
                                   .order_by(PlacementOffer.id)))


def test_filing_keeps_the_criteria_the_call_its_risk_and_an_expiry(w, clock):
    request = file(w, clock, risk="high", children="4", note="x")
    assert request.status == "open" and request.risk_level == "high"
    assert request.expires_at == clock.now() + timedelta(hours=72)
    assert request.criteria["children"] == [4] and request.criteria["region"] == "antwerpen"
    assert request.region.slug == "antwerpen" and request.offers == []
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "placement_request.file")) == 1


def test_one_open_request_per_call_and_partners_may_not_file(w, clock):
    request = file(w, clock)
    with pytest.raises(Conflict) as conflict:
        requests.file(w.actor, criteria(request.call), clock.now())
    assert conflict.value.current["request"] is request
    with pytest.raises(Forbidden):
        requests.file(Actor(user=w.people.partner, source="web"), criteria(), clock.now())


def test_filing_offers_a_place_already_free(w, clock):
    free = make.facility("free", units={"crisis_bed": (4, 1)})
    db.session.commit()
    request = file(w, clock)
    [offer] = open_offers()
    assert (offer.request_id, offer.unit_id, offer.places) == (request.id, free.units[0].id, 1)
    assert offer.expires_at == clock.now() + timedelta(minutes=15)


def test_the_list_orders_by_risk_then_waiting_time(w, clock):
    filed = {}
    for level in ("standard", None, "elevated", "high", "elevated"):
        filed.setdefault(level, []).append(file(w, clock, risk=level))
        clock.advance(minutes=1)
    order = [r.id for r in requests.listing(w.people.operator)]
    assert order == [filed["high"][0].id, *(r.id for r in filed["elevated"]), filed[None][0].id,
                     filed["standard"][0].id]
    with pytest.raises(InvalidInput):
        requests.listing(w.people.operator, status="lost")
    with pytest.raises(Forbidden):
        requests.listing(w.people.partner)


def test_a_count_rise_offers_one_request_at_a_time_in_waiting_list_order(w, clock):
    later = file(w, clock, risk="standard")
    clock.advance(minutes=5)
    first = file(w, clock, risk="high")
    raise_count(w, clock, w.bed, 1)
    [offer] = open_offers()
    assert offer.request_id == first.id
    # The offered place is not offered again while open.
    assert offers.places_freed([w.bed.id], clock.now()) == []
    # A second place goes to the next request.
    raise_count(w, clock, w.bed, 2)
    assert [o.request_id for o in open_offers()] == [first.id, later.id]


def test_the_notice_says_only_that_a_place_may_fit(w, clock):
    request = file(w, clock, risk="high", note="partner is armed")
    raise_count(w, clock, w.bed, 1)
    [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "placement_offer"))
    assert message.body == f"Opvang: aanvraag {request.id}: er is misschien een plaats."
    assert message.user_id == w.people.operator.id and message.channel == "sms"
    # Once per offer and operator.
    assert offers.places_freed([w.bed.id], clock.now()) == []


def test_outside_intake_hours_offers_nothing_until_intake_opens(w, clock):
    request = file(w, clock)
    # Saturday 21:00 in Brussels: intake opens at 21:30.
    late = make.facility("late", units={"crisis_bed": (4, 0)}, intake_hours="sat 21:30-23:00")
    db.session.commit()
    raise_count(w, clock, late.units[0], 2)
    assert open_offers() == []
    clock.advance(minutes=32)
    assert offers.intake_opened(clock.now()) == {"offered": 1}
    [offer] = open_offers()
    assert (offer.request_id, offer.unit_id) == (request.id, late.units[0].id)


def test_reopening_a_facility_offers_its_places(w, clock):
    request = file(w, clock)
    shut = make.facility("shut", units={"crisis_bed": (4, 2)}, open_for_intake="no", closed_reason="Flooding")
    db.session.commit()
    assert open_offers() == []
    capacity.set_open_for_intake(w.staff, shut, True, None, clock.now())
    db.session.commit()
    assert [o.request_id for o in open_offers()] == [request.id]


def test_a_declined_or_expired_offer_passes_to_the_next(w, clock):
    first = file(w, clock)
    clock.advance(minutes=1)
    second = file(w, clock)
    clock.advance(minutes=1)
    third = file(w, clock)
    raise_count(w, clock, w.bed, 1)
    [offer] = open_offers()
    assert offer.request_id == first.id
    offers.decline(w.actor, offer, clock.now())
    db.session.commit()
    [offer] = open_offers()
    assert offer.request_id == second.id
    clock.advance(minutes=16)
    assert offers.expire_offers(clock.now()) == {"expired": 1, "offered": 1}
    db.session.commit()
    [offer] = open_offers()
    assert offer.request_id == third.id
    with pytest.raises(Conflict):
        offers.decline(w.actor, db.session.get(PlacementOffer, offer.id - 1), clock.now())


def test_taking_an_offer_holds_the_place_for_the_request_and_the_hold_ends_it(w, clock):
    request = file(w, clock, adults=2)
    raise_count(w, clock, w.bed, 2)
    [offer] = open_offers()
    hold = offers.take(w.actor, offer, clock.now())
    db.session.commit()
    assert (hold.request_id, hold.persons, hold.call_id, offer.status, offer.hold_id) == (
        request.id, 2, request.call_id, "taken", hold.id)
    # Declined by the facility: the request is open again.
    hold.outcome = "declined"
    hold.status = "released"
    requests.hold_ended(hold, clock.now())
    assert request.status == "open"
    hold.outcome = "admitted"
    requests.hold_ended(hold, clock.now())
    assert request.status == "placed"


@pytest.mark.parametrize("outcome, status", [("elsewhere", "withdrawn"), ("cancelled", "withdrawn"),
                                              ("no_show", "open"), ("lapsed", "open"), ("expired", "open")])
def test_hold_outcomes(w, clock, outcome, status):
    request = file(w, clock)
    free = make.facility("free", units={"crisis_bed": (4, 1)})
    db.session.flush()
    hold = make.hold(free.units[0], w.people.operator, request_id=request.id)
    hold.outcome = outcome
    requests.hold_ended(hold, clock.now())
    assert request.status == status


def test_withdraw_and_expiry_close_the_request_and_pass_its_offer_on(w, clock):
    first = file(w, clock)
    clock.advance(minutes=1)
    second = file(w, clock)
    raise_count(w, clock, w.bed, 1)
    with pytest.raises(InvalidInput):
        requests.withdraw(w.actor, first, "", clock.now())
    requests.withdraw(w.actor, first, "found a place with family", clock.now())
    db.session.commit()
    assert first.status == "withdrawn" and first.offers[0].status == "withdrawn"
    [offer] = open_offers()
    assert offer.request_id == second.id
    with pytest.raises(Conflict):
        requests.withdraw(w.actor, first, "again", clock.now())
    clock.advance(hours=73)
    assert requests.expire_overdue(clock.now()) == {"expired": 1}
    assert second.status == "expired"


def test_open_requests_are_unmet_demand_per_region(w, clock):
    file(w, clock)
    file(w, clock)
    region_id = w.full.region_id
    assert requests.open_per_region(None, clock.now()) == {region_id: 2}
    assert requests.open_per_region({region_id + 1000}, clock.now()) == {}


def test_live_matches_record_nothing_and_skip_excluded_facilities(w, clock):
    free = make.facility("free", units={"crisis_bed": (4, 0)})
    db.session.commit()
    call = make.call()
    request = requests.file(w.actor, criteria(call), clock.now(), excluded_facility_ids=[w.other.id],
                            danger_checked=True)
    db.session.commit()
    raise_count(w, clock, w.other_bed, 1)
    assert open_offers() == []  # excluded
    free.units[0].available = 1
    free.located_at = clock.now() + timedelta(minutes=1)
    db.session.commit()
    clock.advance(minutes=2)
    [match] = requests.live_matches(w.actor, request, clock.now(), preference_km=25)
    assert match.result.facility_id == free.id and match.danger_checked is False


def test_the_offers_of_one_update_go_in_waiting_list_order_while_places_last_each_audited(w, clock):
    first = file(w, clock, risk="high")
    pair = file(w, clock, risk="elevated", adults=2)
    single = file(w, clock)
    raise_count(w, clock, w.bed, 2)
    # The pair takes two places, more than are left after the first: the next single takes the last.
    made = open_offers()
    assert [(o.request_id, o.places) for o in made] == [(first.id, 1), (single.id, 1)]
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "placement_offer.make")
                                .order_by(AuditEvent.object_id)).all()
    assert [(e.object_type, e.object_id, e.actor_id, e.details) for e in events] == [
        ("placement_offers", offer.id, None,
         {"source": "system", "request": offer.request_id, "unit": w.bed.id, "places": 1}) for offer in made]
    raise_count(w, clock, w.bed, 4)
    assert [o.request_id for o in open_offers()] == [first.id, single.id, pair.id]


def test_a_freed_place_of_a_kind_no_longer_serving_the_client_type_is_not_offered(w, clock):
    file(w, clock)
    w.bed.kind.serves = ["offender"]
    db.session.commit()
    raise_count(w, clock, w.bed, 3)
    assert open_offers() == []


def test_a_request_kept_to_its_region_is_offered_no_place_beyond_it(w, clock):
    gent, counts = _full_in_gent("gent", 1, {})
    db.session.commit()
    file(w, clock, beyond_region=False)  # Antwerpen's only
    anywhere = file(w, clock)
    for unit, available in counts.items():
        raise_count(w, clock, unit, available)
    assert [(o.request_id, o.unit_id) for o in open_offers()] == [(anywhere.id, gent.units[0].id)]


def _full_in_gent(slug, km, spec):
    """A facility of the search's rule cases (tests/test_placement.py RULES),
    its units full; and the counts of the case, to raise them to."""
    units = spec.get("units", {"crisis_bed": (8, 4)})
    facility = in_gent(slug, km=km, **{**spec, "units": {code: (n[0], 0, *n[2:]) for code, n in units.items()}})
    return facility, {unit: units[unit.kind.code][1] for unit in facility.units}


@pytest.mark.parametrize("rule", RULES)
def test_a_freed_place_follows_each_rule_of_the_search(w, clock, rule):
    """The facility each rule case of the search refuses is never offered;
    the one it proposes is (ranking.facility_takes decides for both)."""
    data, fits, refused = RULES[rule]
    good, good_counts = _full_in_gent("good", 5, fits)
    bad, bad_counts = _full_in_gent("bad", 1, refused)
    call = make.call()
    db.session.commit()
    request = requests.file(w.actor, parse_criteria({"client_type": "victim", "postcode": "9000",
                                                     "call_id": call.id, **data}), clock.now())
    db.session.commit()
    for unit, available in bad_counts.items():
        raise_count(w, clock, unit, available)
    assert open_offers() == []
    for unit, available in good_counts.items():
        raise_count(w, clock, unit, available)
    assert [(o.request_id, db.session.get(CapacityUnit, o.unit_id).facility_id) for o in open_offers()] == [
        (request.id, good.id)]


# --- two counts rising at once --------------------------------------------------------


def at_once(app, jobs) -> list[str]:
    """Run each job in its own thread and transaction, all starting together;
    the errors they raised."""
    db.session.rollback()  # this thread's transaction would hold SQLite's write lock
    start = threading.Barrier(len(jobs))
    failures = []

    def run(job):
        with app.app_context(), writing():
            try:
                start.wait()
                job()
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return failures


def test_counts_rising_at_once_never_offer_a_request_twice_nor_a_place_twice(app, w, clock):
    units = [make.facility(f"race-{n}", units={"crisis_bed": (4, 0)}).units[0] for n in range(6)]
    db.session.commit()
    waiting = [file(w, clock) for _ in range(4)]
    unit_ids = [unit.id for unit in units]
    staff_id = w.people.staff.id

    def rise(unit_id):
        unit = db.session.get(CapacityUnit, unit_id)
        staff = Actor(user=db.session.get(User, staff_id), source="web")
        capacity.set_available(staff, unit, 1, unit.version, clock.now())

    assert not at_once(app, [lambda unit_id=unit_id: rise(unit_id) for unit_id in unit_ids])
    made = open_offers()
    # Four requests, six places: each request offered exactly once, each place at most once.
    assert sorted(o.request_id for o in made) == sorted(r.id for r in waiting)
    assert len({o.unit_id for o in made}) == len(made)


def test_places_of_one_unit_offered_twice_at_once_go_once(app, w, clock):
    """Two transactions offering one unit's places (the scheduler's jobs, a
    hold ending): the second waits for the first's lock on the unit, then
    reads its offers."""
    waiting = [file(w, clock) for _ in range(4)]
    w.bed.available = 2  # free, not yet offered
    unit_id = w.bed.id
    db.session.commit()
    assert not at_once(app, [lambda: offers.places_freed([unit_id], clock.now())] * 2)
    made = open_offers()
    assert [(o.request_id, o.places) for o in made] == [(waiting[0].id, 1), (waiting[1].id, 1)]


def test_a_hold_for_a_request_needs_an_open_request(w, clock):
    free = make.facility("free", units={"crisis_bed": (4, 2)})
    db.session.flush()
    with pytest.raises(InvalidInput):
        holds.create(w.actor, clock.now(), unit_id=free.units[0].id, persons=1, request_id=999999,
                     default_minutes=120)
    assert db.session.scalar(select(func.count()).select_from(Hold)) == 0
    assert db.session.scalar(select(func.count()).select_from(PlacementRequest)) == 0


# --- the API --------------------------------------------------------------------------


def api_world(w):
    tokens = SimpleNamespace(operator=make.token_for(w.people.operator), partner=make.token_for(w.people.partner),
                             manager=make.token_for(w.people.manager))
    db.session.commit()
    return tokens


def test_api_files_lists_shows_and_withdraws(client, w, clock):
    tokens = api_world(w)
    call_ = make.call()
    call_.risk_level = "elevated"
    db.session.commit()
    body = {"client_type": "victim", "gender": "female", "postcode": "2000", "call_id": call_.id, "note": "n"}
    response = call_api(client, "POST", "/api/v1/placement-requests", tokens.operator, json=body)
    assert response.status_code == 201, response.get_json()
    filed = assert_documented(response, "/api/v1/placement-requests", "post")
    assert (filed["status"], filed["risk_level"], filed["region"], filed["offer"], filed["matches"]) == (
        "open", "elevated", "antwerpen", None, [])
    # A second for the same call: 409 with the open one, nothing written.
    before = rows_of(PlacementRequest)
    again = call_api(client, "POST", "/api/v1/placement-requests", tokens.operator, json=body)
    assert again.status_code == 409 and again.get_json()["request"]["id"] == filed["id"]
    assert rows_of(PlacementRequest) == before
    listed = call_api(client, "GET", "/api/v1/placement-requests?status=open&region=antwerpen", tokens.manager)
    assert [r["id"] for r in assert_documented(listed, "/api/v1/placement-requests")] == [filed["id"]]
    shown = call_api(client, "GET", f"/api/v1/placement-requests/{filed['id']}", tokens.operator)
    assert assert_documented(shown, "/api/v1/placement-requests/{request_id}")["matches"] == []
    path = f"/api/v1/placement-requests/{filed['id']}/withdraw"
    assert call_api(client, "POST", path, tokens.operator, json={}).status_code == 400
    done = call_api(client, "POST", path, tokens.operator, json={"reason": "with family"})
    assert assert_documented(done, "/api/v1/placement-requests/{request_id}/withdraw", "post")["status"] == "withdrawn"
    assert call_api(client, "POST", path, tokens.operator, json={"reason": "again"}).status_code == 409


def test_api_refuses_writing_nothing(client, w, clock):
    tokens = api_world(w)
    before = rows_of(PlacementRequest)
    cases = [
        ("POST", "/api/v1/placement-requests", None, {"client_type": "victim", "postcode": "2000"}, 401),
        ("POST", "/api/v1/placement-requests", tokens.partner, {"client_type": "victim", "postcode": "2000"}, 403),
        ("POST", "/api/v1/placement-requests", tokens.operator, {"client_type": "victim"}, 400),
        ("POST", "/api/v1/placement-requests", tokens.operator, {"client_type": "victim", "postcode": "2000",
                                                                  "note": "x" * 2001}, 400),
        ("GET", "/api/v1/placement-requests?status=lost", tokens.operator, None, 400),
        ("GET", "/api/v1/placement-requests/999999", tokens.operator, None, 404),
        ("POST", "/api/v1/placement-requests/999999/withdraw", tokens.operator, {"reason": "x"}, 404),
        ("POST", "/api/v1/placement-offers/999999/take", tokens.operator, {}, 404),
        ("POST", "/api/v1/placement-offers/999999/decline", tokens.partner, {}, 403),
    ]
    for method, path, token, body, status in cases:
        response = call_api(client, method, path, token, **({"json": body} if body is not None else {}))
        assert response.status_code == status, (path, response.get_json())
    assert rows_of(PlacementRequest) == before


def test_api_take_and_decline_offers(client, w, clock):
    tokens = api_world(w)
    first = file(w, clock)
    clock.advance(minutes=1)
    second = file(w, clock)
    raise_count(w, clock, w.bed, 1)
    [offer] = open_offers()
    declined = call_api(client, "POST", f"/api/v1/placement-offers/{offer.id}/decline", tokens.operator)
    assert assert_documented(declined, "/api/v1/placement-offers/{offer_id}/decline", "post")["offer"]["status"] == (
        "declined")
    [offer] = open_offers()
    assert offer.request_id == second.id
    before = rows_of(Hold)
    partner = call_api(client, "POST", f"/api/v1/placement-offers/{offer.id}/take", tokens.partner, json={})
    assert partner.status_code == 403 and rows_of(Hold) == before
    taken = call_api(client, "POST", f"/api/v1/placement-offers/{offer.id}/take", tokens.operator, json={})
    body = assert_documented(taken, "/api/v1/placement-offers/{offer_id}/take", "post")
    assert body["offer"]["status"] == "taken" and body["offer"]["hold_id"] == body["hold"]["id"]
    assert db.session.get(Hold, body["hold"]["id"]).request_id == second.id
    again = call_api(client, "POST", f"/api/v1/placement-offers/{offer.id}/take", tokens.operator, json={})
    assert again.status_code == 409 and rows_of(Hold) == before + 1
    assert first.status == "open"


def test_api_hold_with_a_request_links_it(client, w, clock):
    tokens = api_world(w)
    request = file(w, clock)
    free = make.facility("free-later", units={"crisis_bed": (4, 0)})
    db.session.commit()
    raise_count(w, clock, free.units[0], 3)
    response = call_api(client, "POST", "/api/v1/holds", tokens.operator,
                        json={"unit_id": free.units[0].id, "persons": 1, "request_id": request.id})
    assert response.status_code == 201, response.get_json()
    assert db.session.get(Hold, response.get_json()["id"]).request_id == request.id
    refused = call_api(client, "POST", "/api/v1/holds", tokens.partner,
                       json={"unit_id": free.units[0].id, "persons": 1, "request_id": request.id})
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "request_id"


def rows_of(model):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


# --- the pages ------------------------------------------------------------------------


def test_console_shows_the_offer_and_one_click_holds_it(client, w, clock):
    request = file(w, clock, risk="high", note="calls after 18h")
    raise_count(w, clock, w.bed, 1)
    [offer] = open_offers()
    make.login(client, w.people.operator)
    index = client.get("/console/").get_data(as_text=True)
    assert f"Aanvraag {request.id}: er is misschien een plaats" in index  # Dutch: the default locale
    page = client.get("/console/requests").get_data(as_text=True)
    assert "Hoog risico" in page and "calls after 18h" in page and "Reserveer deze plaats" in page
    response = client.post(f"/console/offers/{offer.id}/take", headers={"HX-Request": "true"})
    answer = response.get_data(as_text=True)
    assert response.status_code == 200 and f"Gereserveerd voor aanvraag {request.id}." in answer
    db.session.expire_all()
    assert db.session.scalar(select(Hold).where(Hold.request_id == request.id)) is not None
    again = client.post(f"/console/offers/{offer.id}/pass", headers={"HX-Request": "true"})
    assert again.status_code == 409 and "niet meer open" in again.get_data(as_text=True)


def test_file_a_request_from_the_search(client, w, clock):
    make.login(client, w.people.operator)
    response = client.post("/placement/requests", data={"client_type": "victim", "postcode": "2000",
                                                        "gender": "female", "note": "after 18h"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 201, response.get_data(as_text=True)
    [filed] = db.session.scalars(select(PlacementRequest))
    assert f"Ingediend als aanvraag {filed.id}" in response.get_data(as_text=True) and filed.note == "after 18h"
    bad = client.post("/placement/requests", data={"client_type": "victim"}, headers={"HX-Request": "true"})
    assert bad.status_code == 400 and rows_of(PlacementRequest) == 1
    results = client.post("/placement/search", data={"client_type": "victim", "postcode": "2000"},
                          headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Aanvraag indienen" in results


def test_a_freed_place_is_not_offered_to_a_household_with_a_boy_past_the_facilitys_age(w, clock):
    w.full.children, w.full.max_child_age, w.full.max_boy_age = True, 17, 12
    db.session.commit()
    with_boy = file(w, clock, children=[{"age": 13, "gender": "male"}])
    with_girl = file(w, clock, children=[{"age": 13, "gender": "female"}])
    raise_count(w, clock, w.bed, 4)
    assert [offer.request_id for offer in open_offers()] == [with_girl.id]
    assert with_boy.criteria["child_genders"] == ["male"]
