"""Hold outcomes and acceptance (issue 10, item 5): a hold on a kind that
requires the facility's acceptance is `requested` and takes its places until
the facility accepts, declines, or lets it lapse; every hold ends with an
outcome, and one ended without the household placed reopens its contact's
turn-away and tells whoever made it. A high-risk call gets the longest hold."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.clock import iso_local
from app.extensions import db
from app.models import AuditEvent, CapacityKind, Hold, OutboxMessage, TurnAway
from app.services.placement import hold_expiry, holds
from tests import factories as make
from tests.api import assert_documented, call
from tests.conftest import START

SEARCH = "/api/v1/placements/search"


@pytest.fixture
def w(app):
    db.session.execute(db.update(CapacityKind).where(CapacityKind.code == "refuge_place")
                       .values(requires_acceptance=True))
    refuge = make.facility("refuge", name="Refuge Antwerpen",
                           units={"refuge_place": (4, 2), "crisis_bed": (6, 3)})
    other = make.facility("other", units={"crisis_bed": (4, 4)})
    people = SimpleNamespace(
        operator=make.user("operator", phone="+32470000001"),
        manager=make.user("manager"),
        staff=make.user("shelter_staff", facilities_=[refuge]),
        other_staff=make.user("shelter_staff", facilities_=[other]),
        partner=make.user("partner"),
        admin=make.user("admin"),
    )
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    units = {unit.kind.code: unit for unit in refuge.units}
    return SimpleNamespace(refuge=refuge, people=people, tokens=tokens, place=units["refuge_place"],
                           bed=units["crisis_bed"])


def hold(client, token, unit, persons=1, **extra):
    return call(client, "POST", "/api/v1/holds", token, json={"unit_id": unit.id, "persons": persons, **extra})


def act(client, token, hold_id, action, **body):
    return call(client, "POST", f"/api/v1/holds/{hold_id}/{action}", token, **({"json": body} if body else {}))


def unit_figures(client, w):
    body = call(client, "GET", f"/api/v1/facilities/{w.refuge.id}", w.tokens.operator).get_json()
    return {unit["kind"]: (unit["held"], unit["free"]) for unit in body["units"]}


def error_field(response, status=400):
    assert response.status_code == status, response.get_json()
    return response.get_json()["error"]["field"]


def snapshot():
    """What a refused request must leave as it was: the holds, the audit."""
    db.session.rollback()
    return (db.session.execute(select(Hold.id, Hold.status, Hold.outcome, Hold.expires_at).order_by(Hold.id)).all(),
            db.session.scalar(select(func.count()).select_from(AuditEvent)))


# --- requested holds ----------------------------------------------------------------


def test_a_requested_hold_takes_its_places_until_the_facility_accepts(client, w, clock):
    response = hold(client, w.tokens.operator, w.place, persons=2, minutes=90)
    body = assert_documented(response, "/api/v1/holds", "post")
    accept_by = START + timedelta(minutes=60)
    assert response.status_code == 201
    assert (body["status"], body["outcome"], body["accept_by"], body["expires_at"]) == (
        "requested", None, iso_local(accept_by), iso_local(accept_by))
    assert unit_figures(client, w)["refuge_place"] == (2, 0)
    # A search no longer finds the places it takes; the listing by status does.
    found = call(client, "POST", SEARCH, w.tokens.operator,
                 json={"client_type": "victim", "postcode": "2000", "kinds": ["refuge_place"]}).get_json()
    assert [r for r in found["results"] if r["unit"]["id"] == w.place.id] == []
    listed = call(client, "GET", "/api/v1/holds?status=requested", w.tokens.staff)
    assert [h["id"] for h in assert_documented(listed, "/api/v1/holds")] == [body["id"]]

    clock.advance(minutes=10)
    before = snapshot()
    for token in (w.tokens.operator, w.tokens.admin, w.tokens.manager):
        assert act(client, token, body["id"], "accept").status_code == 403
    assert act(client, w.tokens.other_staff, body["id"], "accept").status_code == 403
    assert act(client, w.tokens.staff, body["id"], "confirm").status_code == 409
    assert act(client, w.tokens.operator, body["id"], "extend", minutes=30).status_code == 409
    assert act(client, w.tokens.staff, 999999, "accept").status_code == 404
    assert snapshot() == before

    accepted = act(client, w.tokens.staff, body["id"], "accept")
    accepted_body = assert_documented(accepted, "/api/v1/holds/{hold_id}/accept", "post")
    # Its full minutes, from the acceptance.
    assert (accepted_body["status"], accepted_body["expires_at"]) == (
        "active", iso_local(START + timedelta(minutes=100)))
    assert accepted_body["accept_by"] == iso_local(accept_by)
    assert act(client, w.tokens.staff, body["id"], "accept").status_code == 409
    assert unit_figures(client, w)["refuge_place"] == (2, 0)


def test_holds_on_other_kinds_are_active_at_once(client, w):
    for token in (w.tokens.partner, w.tokens.operator):
        body = hold(client, token, w.bed).get_json()
        assert body["status"] == "active" and body["outcome"] is None and "accept_by" not in body


def test_the_facility_declines_a_requested_hold_with_a_reason(client, w):
    made = hold(client, w.tokens.operator, w.place, persons=2).get_json()
    before = snapshot()
    assert error_field(act(client, w.tokens.staff, made["id"], "decline", note="x")) == "reason"
    assert error_field(act(client, w.tokens.staff, made["id"], "decline", reason="too_far")) == "reason"
    assert act(client, w.tokens.operator, made["id"], "decline", reason="safety").status_code == 403
    assert act(client, w.tokens.admin, made["id"], "decline", reason="safety").status_code == 403
    assert snapshot() == before

    declined = act(client, w.tokens.staff, made["id"], "decline", reason="no_room", note="room flooded")
    body = assert_documented(declined, "/api/v1/holds/{hold_id}/decline", "post")
    assert (body["status"], body["outcome"], body["outcome_reason"]) == ("released", "declined", "no_room")
    assert unit_figures(client, w)["refuge_place"] == (0, 2)
    assert act(client, w.tokens.staff, made["id"], "accept").status_code == 409


def test_its_maker_may_withdraw_a_requested_hold_but_not_as_a_no_show(client, w):
    made = hold(client, w.tokens.operator, w.place).get_json()
    before = snapshot()
    assert error_field(act(client, w.tokens.operator, made["id"], "release", outcome="no_show")) == "outcome"
    assert snapshot() == before
    body = act(client, w.tokens.operator, made["id"], "release", outcome="elsewhere").get_json()
    assert (body["status"], body["outcome"]) == ("released", "elsewhere")


def test_an_unanswered_request_lapses_on_the_schedulers_run(client, w, clock):
    made = hold(client, w.tokens.operator, w.place, persons=2).get_json()
    clock.advance(minutes=59)
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 0, "notified": 0}
    clock.advance(minutes=1)
    # Past accept_by, reads treat it as over before any job marks it.
    assert unit_figures(client, w)["refuge_place"] == (0, 2)
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 1, "notified": 1}
    db.session.expire_all()
    lapsed = db.session.get(Hold, made["id"])
    assert (lapsed.status, lapsed.outcome) == ("expired", "lapsed")
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.object_id == lapsed.id)
                             .order_by(AuditEvent.id.desc()).limit(1)) == "hold.lapse"
    (notice,) = db.session.scalars(select(OutboxMessage)).all()
    assert (notice.purpose, notice.recipient) == ("hold_lapsed", "+32470000001")
    assert notice.body == (f"Opvang: your hold {lapsed.id} of 2 refuge places at Refuge Antwerpen was not accepted "
                           "by 22:00 and has lapsed. Please look for another place.")
    assert act(client, w.tokens.staff, made["id"], "accept").status_code == 409


# --- release outcomes ----------------------------------------------------------------


def test_a_release_says_how_the_hold_ended_and_only_the_facility_declines(client, w):
    first, second, third = (hold(client, w.tokens.operator, w.bed).get_json()["id"] for _ in range(3))
    before = snapshot()
    assert error_field(act(client, w.tokens.operator, first, "release", outcome="admitted")) == "outcome"
    assert error_field(act(client, w.tokens.operator, first, "release", outcome="no_show", reason="safety")) == "reason"
    assert act(client, w.tokens.operator, first, "release", outcome="declined", reason="safety").status_code == 403
    assert error_field(act(client, w.tokens.staff, first, "release", outcome="declined")) == "reason"
    assert act(client, w.tokens.other_staff, first, "release", outcome="no_show").status_code == 403
    assert snapshot() == before

    released = act(client, w.tokens.operator, first, "release", outcome="no_show", note="waited an hour")
    body = assert_documented(released, "/api/v1/holds/{hold_id}/release", "post")
    assert (body["status"], body["outcome"], body["note"]) == ("released", "no_show", "waited an hour")
    assert act(client, w.tokens.operator, first, "release", outcome="elsewhere").status_code == 409
    body = act(client, w.tokens.staff, second, "release", outcome="declined", reason="not_eligible").get_json()
    assert (body["outcome"], body["outcome_reason"]) == ("declined", "not_eligible")
    # Without a body, as before outcomes: cancelled.
    assert act(client, w.tokens.operator, third, "release").get_json()["outcome"] == "cancelled"
    confirmed = hold(client, w.tokens.operator, w.bed).get_json()["id"]
    assert act(client, w.tokens.staff, confirmed, "confirm").get_json()["outcome"] == "admitted"


# --- what an ending reopens --------------------------------------------------------------


def end(client, w, clock, hold_id, outcome):
    """End the hold with `outcome`: the facility's staff decline or report a
    no-show, the clock runs out, or the operator releases it."""
    if outcome == "declined":
        return act(client, w.tokens.staff, hold_id, "decline", reason="safety")
    if outcome == "no_show":
        return act(client, w.tokens.staff, hold_id, "release", outcome="no_show")
    if outcome in ("expired", "lapsed"):
        clock.advance(hours=3)
        hold_expiry.expire_and_notify(clock.now())
        return db.session.commit()  # as the scheduler's run does
    return act(client, w.tokens.operator, hold_id, "release", outcome=outcome)


@pytest.mark.parametrize("outcome, reopens", [
    ("declined", True), ("no_show", True), ("expired", True), ("lapsed", True),
    ("elsewhere", False), ("cancelled", False),
])
def test_an_ending_without_a_place_reopens_the_turn_away_and_tells_the_operator(client, w, clock, outcome, reopens):
    recorded = call(client, "POST", "/api/v1/turn-aways", w.tokens.operator, json={"reason": "full", "session": "s1"})
    assert recorded.status_code == 201
    search = call(client, "POST", SEARCH, w.tokens.operator,
                  json={"client_type": "victim", "postcode": "2000", "session": "s1"}).get_json()["search_id"]
    unit = w.place if outcome == "lapsed" else w.bed
    made = hold(client, w.tokens.operator, unit, search_id=search).get_json()
    db.session.rollback()
    assert db.session.scalar(select(TurnAway.withdrawn_at)) is not None

    end(client, w, clock, made["id"], outcome)
    db.session.rollback()
    assert db.session.get(Hold, made["id"]).outcome == outcome
    turn_away = db.session.scalars(select(TurnAway)).one()
    assert (turn_away.withdrawn_at is None) == reopens
    assert turn_away.reason == "full"
    notices = db.session.scalars(select(OutboxMessage)).all()
    assert [n.purpose for n in notices] == ([f"hold_{outcome}"] if reopens else [])
    for notice in notices:  # the hold's number, the facility: never the household
        assert f" {made['id']} " in notice.body and "Refuge Antwerpen" in notice.body


def test_a_declined_hold_of_a_call_without_a_turn_away_records_one(client, w):
    contact = make.call()
    db.session.commit()
    made = hold(client, w.tokens.operator, w.place, call_id=contact.id, household="Mother Jansen").get_json()
    act(client, w.tokens.staff, made["id"], "decline", reason="not_eligible")
    db.session.rollback()
    turn_away = db.session.scalars(select(TurnAway)).one()
    assert (turn_away.contact_key, turn_away.reason, turn_away.call_id, turn_away.withdrawn_at) == (
        f"call:{contact.id}", "ineligible", contact.id, None)
    (notice,) = db.session.scalars(select(OutboxMessage).where(OutboxMessage.purpose == "hold_declined")).all()
    assert "Jansen" not in notice.body


def test_an_expired_hold_is_announced_once(client, w, clock):
    made = hold(client, w.tokens.operator, w.bed, minutes=30).get_json()
    clock.advance(minutes=31)
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 1, "notified": 1}
    assert hold_expiry.expire_and_notify(clock.now()) == {"expired": 0, "notified": 0}
    db.session.commit()
    assert [n.dedup_key for n in db.session.scalars(select(OutboxMessage))] == [f"hold-expired:{made['id']}:sms"]
    assert db.session.get(Hold, made["id"]).outcome == "expired"


# --- the longest hold for high risk ------------------------------------------------------


def test_a_high_risk_call_gets_the_longest_hold(client, w, app):
    risky, calm = make.call(), make.call()
    risky.risk_level, calm.risk_level = "high", "elevated"
    db.session.commit()
    assert holds.default_minutes_for(risky) == 240 == app.config["HOLD_LONGEST_MINUTES"]
    assert holds.default_minutes_for(calm) == holds.default_minutes_for(None) == 120
    expiry = {
        name: hold(client, w.tokens.operator, w.bed, **fields).get_json()["expires_at"]
        for name, fields in [("risky", {"call_id": risky.id}), ("calm", {"call_id": calm.id}),
                             ("chosen", {"call_id": risky.id, "minutes": 45})]
    }
    assert expiry == {"risky": iso_local(START + timedelta(minutes=240)),
                      "calm": iso_local(START + timedelta(minutes=120)),
                      "chosen": iso_local(START + timedelta(minutes=45))}
    # On a kind that requires acceptance, the minutes run from the acceptance.
    made = hold(client, w.tokens.operator, w.place, call_id=risky.id).get_json()
    assert db.session.get(Hold, made["id"]).minutes == 240


# --- the pages --------------------------------------------------------------------------

HTMX = {"HX-Request": "true"}


def test_the_shelter_page_shows_a_request_first_and_answers_it(client, w, clock):
    make.hold(w.bed, w.people.operator, household="Active household")
    requested = make.hold(w.place, w.people.operator, household="Mother Peeters")
    declined = make.hold(w.place, w.people.operator, household="Other family")
    db.session.commit()
    make.login(client, w.people.staff)
    html = client.get(f"/shelter/{w.refuge.id}/holds", headers=HTMX).get_data(as_text=True)
    assert html.index("Mother Peeters") < html.index("Active household")
    assert "asks for your acceptance" in html and f'id="hold-{requested.id}-accept"' in html
    assert f'id="hold-{requested.id}-confirm"' not in html
    assert 'name="reason"' in html and "No room after all" in html

    path = f"/shelter/{w.refuge.id}/holds/{declined.id}/decline"
    response = client.post(path, data={"reason": ""}, headers=HTMX)
    assert response.status_code == 400 and "Choose how the hold ended" in response.get_data(as_text=True)
    assert client.post(path, data={"reason": "safety"}, headers=HTMX).status_code == 200
    response = client.post(f"/shelter/{w.refuge.id}/holds/{requested.id}/accept", headers=HTMX)
    assert response.status_code == 200 and "Accepted for Mother Peeters" in response.get_data(as_text=True)
    db.session.rollback()
    assert [(h.status, h.outcome) for h in (db.session.get(Hold, requested.id), db.session.get(Hold, declined.id))] \
        == [("active", None), ("released", "declined")]


def test_my_holds_waits_for_the_facility_and_releases_with_an_outcome(client, w):
    requested = make.hold(w.place, w.people.operator)
    active = make.hold(w.bed, w.people.operator)
    db.session.commit()
    make.login(client, w.people.operator)
    page = client.get("/holds").get_data(as_text=True)
    assert "waiting for the facility until 10:00" in page
    assert 'value="no_show"' in page and f'id="hold-{requested.id}-extend"' not in page
    response = client.post(f"/holds/{active.id}/release", data={"outcome": "no_show"}, headers=HTMX)
    assert response.status_code == 200 and "no-show" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Hold, active.id).outcome == "no_show"
