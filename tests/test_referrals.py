"""Referrals: to a relief point or an organisation; who may refer, who moves
the status and along which table; what each role sees; the staff page."""

import threading
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app import clock as app_clock
from app.api.serializers import referral_json
from app.extensions import db
from app.models import AuditEvent, Referral
from app.services.registry import organisations
from tests import factories as make
from tests.api import assert_documented, call

HTMX = {"HX-Request": "true"}
ALL_STATUSES = ("proposed", "accepted", "declined", "arrived")
ALLOWED = {("proposed", "accepted"), ("proposed", "declined"), ("accepted", "arrived"), ("accepted", "declined")}


def organisation(slug, kind, name):
    return organisations.save(make.SETUP, app_clock.now(), slug=slug, name=name, kind=kind)


@pytest.fixture
def w(app):
    point = make.facility("hulppunt-gent", name="Hulppunt Gent", type="relief_point", units={"intake_slot": (5, 5)})
    programme = make.facility("dader-gent", name="Daderprogramma Gent", type="offender_programme",
                              units={"offender_slot": (3, 3)})
    both = make.facility("hulppunt-beide", name="Hulppunt Beide", type="relief_point",
                         units={"intake_slot": (2, 2), "offender_slot": (2, 2)})
    centre = make.facility("crisis-gent", name="Crisis Gent", units={"crisis_bed": (8, 2)})
    # A crisis centre with intake slots is still no relief point.
    centre_slots = make.facility("crisis-slots", name="Crisis Slots", units={"intake_slot": (2, 2)})
    # A relief point whose only kind is a bed kind: no slot to refer to.
    point_beds = make.facility("hulppunt-bedden", name="Hulppunt Bedden", type="relief_point",
                               units={"emergency_bed": (2, 2)})
    justice = organisation("justitiehuis-gent", "justice_house", "Justitiehuis Gent")
    police = organisation("pz-gent", "police_zone", "Politiezone Gent")
    people = SimpleNamespace(
        operator=make.user("operator"),
        manager=make.user("manager"),
        admin=make.user("admin"),
        partner=make.user("partner", phone="+32470111222", name="Inspecteur Peeters"),
        partner2=make.user("partner"),
        staff=make.user("shelter_staff", facilities_=[point]),
        other_staff=make.user("shelter_staff", facilities_=[centre]),
        programme_staff=make.user("shelter_staff", facilities_=[programme]),
    )
    call_id = make.call().id
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(user) for name, user in vars(people).items()})
    db.session.commit()
    return SimpleNamespace(point=point, programme=programme, both=both, centre=centre, centre_slots=centre_slots,
                           point_beds=point_beds, justice=justice, police=police, people=people, tokens=tokens,
                           call_id=call_id)


def refer(client, token, **body):
    return call(client, "POST", "/api/v1/referrals", token, json=body)


def patch(client, token, referral_id, **body):
    return call(client, "PATCH", f"/api/v1/referrals/{referral_id}", token, json=body)


def count(model, *where):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def referral_events():
    return count(AuditEvent, AuditEvent.action.like("referral.%"))


def fresh(referral_id) -> Referral:
    db.session.rollback()
    return db.session.get(Referral, referral_id)


def made(client, w, target="point", by="operator", **body) -> int:
    ids = {"facility_id": getattr(w, target).id} if target != "justice" else {"organisation_id": w.justice.id}
    response = refer(client, getattr(w.tokens, by), **ids, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def set_status(referral_id, status):
    db.session.rollback()
    db.session.get(Referral, referral_id).status = status
    db.session.commit()


# --- create ------------------------------------------------------------------


def test_an_operator_refers_a_call_to_a_relief_point(client, w, clock):
    response = refer(client, w.tokens.operator, facility_id=w.point.id, call_id=w.call_id,
                     note="  Spreekt enkel Frans ")
    body = assert_documented(response, "/api/v1/referrals", "post")
    assert response.status_code == 201
    assert body["facility_id"] == w.point.id and body["facility"] == "Hulppunt Gent"
    assert (body["organisation_id"], body["organisation"]) == (None, None)
    assert (body["kind"], body["status"], body["call_id"], body["note"]) == (
        "intake_slot", "proposed", w.call_id, "Spreekt enkel Frans")
    assert body["created_by"] == body["updated_by"] == w.people.operator.name
    assert body["created_at"] == body["updated_at"] == "2026-11-28T21:00:00+01:00"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.create")).one()
    assert (event.object_type, event.object_id, event.actor_id) == ("referrals", body["id"], w.people.operator.id)
    assert event.details["facility"] == w.point.id and event.details["by_partner"] is False


def test_a_manager_refers_to_a_justice_house(client, w):
    response = refer(client, w.tokens.manager, organisation_id=w.justice.id, note="Slachtoffer van stalking")
    body = assert_documented(response, "/api/v1/referrals", "post")
    assert response.status_code == 201
    assert (body["organisation_id"], body["organisation"], body["kind"]) == (
        w.justice.id, "Justitiehuis Gent", "justice_house")
    assert (body["facility_id"], body["facility"], body["call_id"]) == (None, None, None)
    # Naming the organisation's own kind is fine too.
    assert refer(client, w.tokens.manager, organisation_id=w.police.id, kind="police_zone").status_code == 201
    assert count(Referral) == 2 and referral_events() == 2


def test_the_kind_defaults_to_the_facilitys_slot_kind_and_is_required_when_it_has_two(client, w):
    assert refer(client, w.tokens.operator, facility_id=w.programme.id).get_json()["kind"] == "offender_slot"
    response = refer(client, w.tokens.operator, facility_id=w.both.id)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "kind"
    response = refer(client, w.tokens.operator, facility_id=w.both.id, kind="offender_slot")
    assert response.status_code == 201 and response.get_json()["kind"] == "offender_slot"
    assert count(Referral) == 2


@pytest.mark.parametrize("body, field", [
    ({}, "facility_id"),
    ({"note": "who?"}, "facility_id"),
    ({"facility_id": "point", "organisation_id": "justice"}, "facility_id"),
    ({"facility_id": 99999}, "facility_id"),
    ({"facility_id": "x"}, "facility_id"),
    ({"facility_id": True}, "facility_id"),
    ({"facility_id": -3}, "facility_id"),
    ({"facility_id": "centre"}, "facility_id"),
    ({"facility_id": "centre_slots"}, "facility_id"),
    ({"facility_id": "point_beds"}, "facility_id"),
    ({"facility_id": "point", "kind": "offender_slot"}, "kind"),
    ({"facility_id": "point", "kind": "crisis_bed"}, "kind"),
    ({"facility_id": "point", "kind": "spa"}, "kind"),
    ({"facility_id": "point", "kind": 7}, "kind"),
    ({"facility_id": "point", "kind": ""}, "kind"),
    ({"organisation_id": 99999}, "organisation_id"),
    ({"organisation_id": [1]}, "organisation_id"),
    ({"organisation_id": "justice", "kind": "police_zone"}, "kind"),
    ({"facility_id": "point", "note": "x" * 2001}, "note"),
    ({"facility_id": "point", "note": {"a": 1}}, "note"),
    ({"facility_id": "point", "call_id": "call-9"}, "call_id"),
    ({"facility_id": "point", "call_id": 0}, "call_id"),
    ({"facility_id": "point", "call_id": 999999}, "call_id"),  # no such call
])
def test_bad_input_is_400_naming_the_field_and_writes_nothing(client, w, body, field):
    names = {"point", "centre", "centre_slots", "point_beds", "justice"}
    body = {key: (getattr(w, value).id if isinstance(value, str) and value in names else value)
            for key, value in body.items()}
    response = refer(client, w.tokens.operator, **body)
    error = assert_documented(response, "/api/v1/referrals", "post")["error"]
    assert response.status_code == 400 and error["field"] == field, error
    assert count(Referral) == 0 and referral_events() == 0


def test_a_body_that_is_no_json_object_is_400(client, w):
    response = call(client, "POST", "/api/v1/referrals", w.tokens.operator, data="facility_id=1")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "body"
    assert count(Referral) == 0


@pytest.mark.parametrize("who, expected", [
    ("operator", 201), ("manager", 201), ("admin", 201), ("partner", 201),
    ("staff", 403), ("other_staff", 403), ("programme_staff", 403),
])
def test_who_may_refer(client, w, who, expected):
    response = refer(client, getattr(w.tokens, who), facility_id=w.point.id)
    assert_documented(response, "/api/v1/referrals", "post")
    assert response.status_code == expected
    assert count(Referral) == referral_events() == (1 if expected == 201 else 0)


def test_anonymous_callers_are_401(client, w):
    assert refer(client, None, facility_id=w.point.id).status_code == 401
    assert call(client, "PATCH", "/api/v1/referrals/1", None, json={"status": "accepted"}).status_code == 401
    assert call(client, "GET", "/api/v1/referrals", None).status_code == 401
    assert count(Referral) == 0


def test_a_partner_refers_without_a_call(client, w):
    response = refer(client, w.tokens.partner, facility_id=w.point.id, call_id=w.call_id)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "call_id"
    assert count(Referral) == 0 and referral_events() == 0
    response = refer(client, w.tokens.partner, organisation_id=w.justice.id, note="Aangifte gedaan")
    body = assert_documented(response, "/api/v1/referrals", "post")
    assert response.status_code == 201 and body["call_id"] is None and body["note"] == "Aangifte gedaan"
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.create")).one()
    assert event.details["by_partner"] is True and event.actor_id == w.people.partner.id


# --- status ------------------------------------------------------------------


def test_staff_accept_then_see_the_arrival(client, w, clock):
    referral_id = made(client, w)
    clock.advance(minutes=20)
    response = patch(client, w.tokens.staff, referral_id, status="accepted")
    body = assert_documented(response, "/api/v1/referrals/{referral_id}", "patch")
    assert response.status_code == 200 and body["status"] == "accepted"
    assert body["updated_by"] == w.people.staff.name and body["updated_at"] == "2026-11-28T21:20:00+01:00"
    assert body["created_by"] == w.people.operator.name
    clock.advance(hours=2)
    response = patch(client, w.tokens.staff, referral_id, status="arrived", note="Met twee kinderen")
    assert response.status_code == 200 and response.get_json()["note"] == "arrived: Met twee kinderen"
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.status")
                                .order_by(AuditEvent.id)).all()
    assert [(e.details["before"], e.details["after"], e.actor_id) for e in events] == [
        ("proposed", "accepted", w.people.staff.id), ("accepted", "arrived", w.people.staff.id)]
    assert events[1].details["note"] == "Met twee kinderen"


@pytest.mark.parametrize("before, after", sorted(ALLOWED))
def test_allowed_moves(client, w, before, after):
    referral_id = made(client, w)
    set_status(referral_id, before)
    response = patch(client, w.tokens.staff, referral_id, status=after)
    assert response.status_code == 200 and fresh(referral_id).status == after


@pytest.mark.parametrize("before, after", sorted(
    (b, a) for b in ALL_STATUSES for a in ALL_STATUSES if (b, a) not in ALLOWED))
def test_every_other_move_is_409_with_the_current_status_and_changes_nothing(client, w, clock, before, after):
    referral_id = made(client, w)
    set_status(referral_id, before)
    events = referral_events()
    referral = fresh(referral_id)
    state = (referral.status, referral.note, referral.updated_at, referral.updated_by_id)
    assert state[0] == before
    clock.advance(minutes=5)
    response = patch(client, w.tokens.staff, referral_id, status=after, note="te laat")
    body = assert_documented(response, "/api/v1/referrals/{referral_id}", "patch")
    assert response.status_code == 409
    assert f"is {before}" in body["error"]["message"] and body["referral"]["status"] == before
    referral = fresh(referral_id)
    assert (referral.status, referral.note, referral.updated_at, referral.updated_by_id) == state
    assert referral_events() == events


@pytest.mark.parametrize("body, field", [
    ({"status": "done"}, "status"),
    ({"status": "ACCEPTED"}, "status"),
    ({"status": 1}, "status"),
    ({"status": None}, "status"),
    ({}, "status"),
    ({"status": "accepted", "note": "x" * 501}, "note"),
])
def test_bad_status_input_is_400_and_changes_nothing(client, w, body, field):
    referral_id = made(client, w)
    response = patch(client, w.tokens.staff, referral_id, **body)
    error = assert_documented(response, "/api/v1/referrals/{referral_id}", "patch")["error"]
    assert response.status_code == 400 and error["field"] == field
    assert fresh(referral_id).status == "proposed" and referral_events() == 1


def test_an_unknown_referral_is_404(client, w):
    response = patch(client, w.tokens.admin, 99999, status="accepted")
    assert_documented(response, "/api/v1/referrals/{referral_id}", "patch")
    assert response.status_code == 404


@pytest.mark.parametrize("target, who, expected", [
    # To a facility: its own staff and admins, no one else.
    ("point", "staff", 200), ("point", "admin", 200),
    ("point", "operator", 403), ("point", "manager", 403), ("point", "partner", 403),
    ("point", "partner2", 403), ("point", "other_staff", 403), ("point", "programme_staff", 403),
    # To an organisation (which has no users): operators, managers, admins.
    ("justice", "operator", 200), ("justice", "manager", 200), ("justice", "admin", 200),
    ("justice", "staff", 403), ("justice", "partner", 403), ("justice", "partner2", 403),
])
def test_who_moves_the_status(client, w, target, who, expected):
    referral_id = made(client, w, target=target, by="partner")
    response = patch(client, getattr(w.tokens, who), referral_id, status="accepted")
    body = assert_documented(response, "/api/v1/referrals/{referral_id}", "patch")
    assert response.status_code == expected, body
    referral = fresh(referral_id)
    if expected == 403:
        assert referral.status == "proposed" and referral.updated_by_id == w.people.partner.id
        assert referral_events() == 1
    else:
        assert referral.status == "accepted" and referral.updated_by_id == getattr(w.people, who).id


def test_two_people_pressing_at_once_move_it_once(app, w):
    """Ten presses of accept at once (two phones, a stale page): exactly one
    wins, the others get a 409, never a 500 — on SQLite and on PostgreSQL."""
    client = app.test_client()
    referral_id = made(client, w)
    statuses = []
    start = threading.Barrier(10)

    def attempt():
        start.wait()
        response = patch(app.test_client(), w.tokens.staff, referral_id, status="accepted")
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200] + [409] * 9
    assert count(AuditEvent, AuditEvent.action == "referral.status") == 1


# --- who sees what -----------------------------------------------------------


def listed(client, token, query=""):
    response = call(client, "GET", f"/api/v1/referrals{query}", token)
    body = assert_documented(response, "/api/v1/referrals")
    assert response.status_code == 200
    return body


def test_each_role_sees_its_referrals(client, w):
    by_partner = made(client, w, by="partner", note="Van de politie")
    by_operator = made(client, w, call_id=w.call_id, note="Van de lijn")
    to_programme = made(client, w, target="programme")
    to_justice = made(client, w, target="justice", by="partner")
    everything = [by_partner, by_operator, to_programme, to_justice]
    for who in ("operator", "manager", "admin"):
        assert [r["id"] for r in listed(client, getattr(w.tokens, who))] == everything
    assert [r["id"] for r in listed(client, w.tokens.partner)] == [by_partner, to_justice]
    assert listed(client, w.tokens.partner2) == []
    assert [r["id"] for r in listed(client, w.tokens.staff)] == [by_partner, by_operator]
    assert [r["id"] for r in listed(client, w.tokens.programme_staff)] == [to_programme]
    assert listed(client, w.tokens.other_staff) == []
    # The partner sees the note of their own referral; staff see the call too.
    own = listed(client, w.tokens.partner)[0]
    assert own["note"] == "Van de politie" and own["call_id"] is None
    assert listed(client, w.tokens.staff)[1]["call_id"] == w.call_id


def test_a_partner_cannot_reach_another_partners_referral(client, w):
    referral_id = made(client, w, target="justice", by="partner")
    response = patch(client, w.tokens.partner2, referral_id, status="declined")
    assert response.status_code == 403 and "not yours" in response.get_json()["error"]["message"]
    assert fresh(referral_id).status == "proposed"


def test_partners_never_get_calls_or_notes_of_referrals_they_did_not_make(client, w):
    referral_id = made(client, w, call_id=w.call_id, note="Adres: Kerkstraat 1")
    referral = fresh(referral_id)
    shown = referral_json(referral, w.people.partner)
    assert "call_id" not in shown and "note" not in shown
    assert referral_json(referral, w.people.operator)["note"] == "Adres: Kerkstraat 1"


def test_filters_and_paging(client, w):
    first = made(client, w)
    second = made(client, w, target="programme")
    made(client, w, target="justice")
    set_status(second, "accepted")
    assert [r["id"] for r in listed(client, w.tokens.operator, "?status=accepted")] == [second]
    assert [r["id"] for r in listed(client, w.tokens.operator, f"?facility={w.point.id}")] == [first]
    response = call(client, "GET", "/api/v1/referrals?limit=2", w.tokens.operator)
    assert len(response.get_json()) == 2 and 'rel="next"' in response.headers["Link"]
    nxt = call(client, "GET", f"/api/v1/referrals?limit=2&cursor={response.get_json()[-1]['id']}", w.tokens.operator)
    assert len(nxt.get_json()) == 1 and "Link" not in nxt.headers


@pytest.mark.parametrize("query, field", [
    ("?status=open", "status"), ("?facility=abc", "facility"), ("?limit=0", "limit"), ("?cursor=-1", "cursor"),
])
def test_bad_filters_are_400(client, w, query, field):
    response = call(client, "GET", f"/api/v1/referrals{query}", w.tokens.operator)
    assert_documented(response, "/api/v1/referrals")
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


# --- the staff page ----------------------------------------------------------


def test_the_staff_page_lists_incoming_referrals(client, w):
    proposed = made(client, w, by="partner", note="Komt met de bus")
    accepted = made(client, w, note="Al aanvaard")
    declined = made(client, w, note="Afgewezen verwijzing")
    arrived = made(client, w, note="Al aangekomen")
    set_status(accepted, "accepted")
    set_status(declined, "declined")
    set_status(arrived, "arrived")
    make.login(client, w.people.staff)
    page = client.get(f"/shelter/{w.point.id}").get_data(as_text=True)
    assert "Incoming referrals" in page
    assert f'id="referral-{proposed}"' in page and f'id="referral-{accepted}"' in page
    assert f'id="referral-{declined}"' not in page and f'id="referral-{arrived}"' not in page
    assert "Komt met de bus" in page and "Referred by Inspecteur Peeters" in page and "+32470111222" in page
    assert "Intake slot" in page
    proposed_part = page.split(f'id="referral-{proposed}"')[1].split("</li>")[0]
    assert 'value="accepted"' in proposed_part and 'value="declined"' in proposed_part
    assert 'value="arrived"' not in proposed_part
    accepted_part = page.split(f'id="referral-{accepted}"')[1].split("</li>")[0]
    assert 'value="arrived"' in accepted_part and 'value="declined"' in accepted_part
    assert 'value="accepted"' not in accepted_part


def test_a_facility_without_slots_shows_no_referrals_section(client, w):
    make.login(client, w.people.other_staff)
    page = client.get(f"/shelter/{w.centre.id}").get_data(as_text=True)
    assert "Incoming referrals" not in page


def test_the_page_is_in_the_users_language(client, w):
    made(client, w)
    w.people.staff.language = "nl"
    db.session.commit()
    make.login(client, w.people.staff)
    page = client.get(f"/shelter/{w.point.id}").get_data(as_text=True)
    assert "Incoming referrals" not in page and "Aanvaarden" in page


def test_accepting_on_the_page_answers_the_fragment(client, w):
    referral_id = made(client, w)
    make.login(client, w.people.staff)
    response = client.post(f"/shelter/referrals/{referral_id}", data={"status": "accepted"}, headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<li") and "Saved: Accepted." in html
    assert 'value="arrived"' in html and 'value="accepted"' not in html
    referral = fresh(referral_id)
    assert referral.status == "accepted" and referral.updated_by_id == w.people.staff.id
    response = client.post(f"/shelter/referrals/{referral_id}", data={"status": "arrived", "note": "om 22 u"},
                           headers=HTMX)
    assert response.status_code == 200 and "<button" not in response.get_data(as_text=True)
    assert fresh(referral_id).note == "arrived: om 22 u"


def test_without_htmx_the_page_comes_back_with_a_message(client, w):
    referral_id = made(client, w)
    make.login(client, w.people.staff)
    response = client.post(f"/shelter/referrals/{referral_id}", data={"status": "declined"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/shelter/{w.point.id}")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved: Declined." in page and f'id="referral-{referral_id}"' not in page
    assert fresh(referral_id).status == "declined"


def test_a_conflict_on_the_page_shows_the_current_status(client, w):
    referral_id = made(client, w)
    set_status(referral_id, "declined")
    make.login(client, w.people.staff)
    response = client.post(f"/shelter/referrals/{referral_id}", data={"status": "accepted"}, headers=HTMX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This referral is now “Declined”; your change was not saved." in html and 'role="alert"' in html
    assert fresh(referral_id).status == "declined" and referral_events() == 1


def test_a_bad_status_on_the_page_is_400_inline(client, w):
    referral_id = made(client, w)
    make.login(client, w.people.staff)
    response = client.post(f"/shelter/referrals/{referral_id}", data={"status": "gone"}, headers=HTMX)
    assert response.status_code == 400 and "Choose one of the buttons." in response.get_data(as_text=True)
    assert fresh(referral_id).status == "proposed" and referral_events() == 1


def test_staff_of_another_facility_get_403_inline_without_the_referral(client, w):
    referral_id = made(client, w, note="Geheime notitie")
    make.login(client, w.people.programme_staff)
    response = client.post(f"/shelter/referrals/{referral_id}", data={"status": "accepted"}, headers=HTMX)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "You may not update referrals to this facility." in html and "Geheime notitie" not in html
    assert fresh(referral_id).status == "proposed" and referral_events() == 1


@pytest.mark.parametrize("who", ["operator", "manager", "partner"])
def test_other_roles_cannot_use_the_staff_page(client, w, who):
    referral_id = made(client, w)
    make.login(client, getattr(w.people, who))
    response = client.post(f"/shelter/referrals/{referral_id}", data={"status": "accepted"}, headers=HTMX)
    assert response.status_code == 403
    assert fresh(referral_id).status == "proposed" and referral_events() == 1
