"""Holds in the web UI: the facility's incoming holds on the shelter page
(confirm on arrival, release), held places on the dashboard, and the
operators' and partners' "Holds" page (extend, release)."""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, CapacityChange, CapacityUnit, Hold
from app.services.core.access import Actor
from app.services.placement import holds
from tests import factories as make

HTMX = {"HX-Request": "true"}


@pytest.fixture
def w(app):
    centre = make.facility("crisis-gent", name="Crisis Gent", units={"crisis_bed": (8, 2), "family_room": (3, 1, 4)})
    other = make.facility("crisis-mechelen", name="Crisis Mechelen", units={"crisis_bed": (4, 4)})
    people = SimpleNamespace(
        operator=make.user("operator", phone="+32470111111", name="Olivia Operator"),
        operator2=make.user("operator", name="Omar Operator"),
        manager=make.user("manager"),
        partner=make.user("partner", phone="+32470999999", name="Pieter Politie"),
        partner2=make.user("partner", name="Paula Parket"),
        staff=make.user("shelter_staff", facilities_=[centre]),
        other_staff=make.user("shelter_staff", facilities_=[other]),
    )
    db.session.commit()
    units = {u.kind.code: u for u in centre.units}
    return SimpleNamespace(centre=centre, other=other, people=people, bed=units["crisis_bed"],
                           room=units["family_room"], other_bed=other.units[0])


def state(unit_id):
    """(available, places held by active holds, history rows since it was made) of a unit, fresh."""
    db.session.rollback()
    unit = db.session.get(CapacityUnit, unit_id)
    held = db.session.scalar(select(func.coalesce(func.sum(Hold.places), 0))
                             .where(Hold.unit_id == unit_id, Hold.status == "active"))
    changes = db.session.scalar(select(func.count()).select_from(CapacityChange)
                                .where(CapacityChange.unit_id == unit_id, CapacityChange.source != "import"))
    return unit.available, held, changes


def hold_row(hold_id):
    db.session.rollback()
    return db.session.get(Hold, hold_id)


def audits(action):
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def section(html: str, facility) -> str:
    """The incoming-holds section of a page or answer."""
    match = re.search(rf'<section id="holds-{facility.id}".*?</section>', html, re.S)
    assert match, html
    return match.group(0)


def confirm_path(w, hold, facility=None):
    return f"/shelter/{(facility or w.centre).id}/holds/{hold.id}/confirm"


def release_path(w, hold, facility=None):
    return f"/shelter/{(facility or w.centre).id}/holds/{hold.id}/release"


# --- the shelter page ---------------------------------------------------------


def test_the_staff_page_lists_an_incoming_hold(client, w, clock):
    make.hold(w.bed, w.people.operator, persons=2, minutes=35, household="Mother and boy (4)",
              arrival=clock.now() + timedelta(minutes=40), note="Comes by taxi")
    db.session.commit()
    make.login(client, w.people.staff)
    page = client.get(f"/shelter/{w.centre.id}").get_data(as_text=True)
    listed = section(page, w.centre)
    assert "Mother and boy (4)" in listed and "2 persons" in listed and "Crisis bed" in listed
    assert "Olivia Operator, +32470111111" in listed  # who holds it, and how to reach them
    assert "expires in 35 min" in listed and "Comes by taxi" in listed
    assert "9:40\u202fPM" in listed or "9:40 PM" in listed  # the expected arrival, Brussels time
    assert "Arrived: confirm" in listed and "Release" in listed
    # The section comes before the units, and polls by itself: the unit forms do not.
    assert page.index('id="holds-') < page.index('id="units-')
    assert 'hx-trigger="every 15s"' in listed
    units = re.search(rf'<section id="units-{w.centre.id}".*?</section>', page, re.S).group(0)
    assert "hx-trigger" not in units


def test_the_section_polls_alone_and_shows_new_holds(client, w, clock):
    make.login(client, w.people.staff)
    response = client.get(f"/shelter/{w.centre.id}/holds", headers=HTMX)
    assert response.status_code == 200
    assert "No holds for this facility right now." in response.get_data(as_text=True)
    make.hold(w.room, w.people.partner, persons=3, household="Three of a family")
    db.session.commit()
    clock.advance(minutes=20)
    html = client.get(f"/shelter/{w.centre.id}/holds", headers=HTMX).get_data(as_text=True)
    assert html.lstrip().startswith('<section id="holds-')
    assert "Three of a family" in html and "expires in 1 h 40 min" in html
    assert "Pieter Politie" in html and "partner" in html  # a partner's hold is marked as theirs
    assert "takes 1 place" in html  # a family room: three persons, one room
    assert "unit-" not in html  # no unit form swapped by a poll
    # Without htmx the section's address leads to the page.
    response = client.get(f"/shelter/{w.centre.id}/holds")
    assert response.status_code == 302 and response.location.endswith(f"/shelter/{w.centre.id}#holds-{w.centre.id}")


def test_confirm_drops_the_count_writes_history_and_swaps_the_unit(client, w, clock):
    hold = make.hold(w.bed, w.people.operator, persons=2, household="Mother and boy (4)")
    db.session.commit()
    assert state(w.bed.id) == (2, 2, 0)
    make.login(client, w.people.staff)
    clock.advance(minutes=50)
    response = client.post(confirm_path(w, hold), headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Arrival confirmed for Mother and boy (4). Crisis bed: 0 available now." in html
    assert "Mother and boy (4)</h3>" not in section(html, w.centre)  # no longer incoming
    # The unit's form comes along out of band, with the dropped count and its new version.
    unit_form = re.search(rf'<form[^>]*id="unit-{w.bed.id}"[^>]*>.*?</form>', html, re.S).group(0)
    assert 'hx-swap-oob="true"' in unit_form and f'id="available-{w.bed.id}"' in unit_form
    assert re.search(r'name="available"[^>]*value="0"', unit_form)
    assert f'id="unit-{w.room.id}"' not in html
    assert state(w.bed.id) == (0, 0, 1)
    db.session.rollback()
    change = db.session.scalars(
        select(CapacityChange).where(CapacityChange.unit_id == w.bed.id, CapacityChange.source == "hold")).one()
    assert (change.before, change.after, change.source, change.actor_id) == (2, 0, "hold", w.people.staff.id)
    assert hold_row(hold.id).status == "confirmed" and hold_row(hold.id).closed_by_id == w.people.staff.id
    assert 'name="version" value="2"' in unit_form
    # The page shows the drop too.
    page = client.get(f"/shelter/{w.centre.id}").get_data(as_text=True)
    assert re.search(rf'id="available-{w.bed.id}"[^>]*value="0"', page)


def test_confirming_twice_is_a_conflict_shown_inline(client, w):
    hold = make.hold(w.bed, w.people.operator)
    db.session.commit()
    make.login(client, w.people.staff)
    assert client.post(confirm_path(w, hold), headers=HTMX).status_code == 200
    before = state(w.bed.id)
    response = client.post(confirm_path(w, hold), headers=HTMX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="holds-')
    assert "This hold was already confirmed" in html and 'role="alert"' in html
    assert "hx-swap-oob" not in html
    assert state(w.bed.id) == before


def test_release_frees_the_place(client, w):
    hold = make.hold(w.bed, w.people.operator, persons=2, household="Two adults")
    db.session.commit()
    make.login(client, w.people.staff)
    response = client.post(release_path(w, hold), headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Hold released for Two adults: the place is free again." in html
    assert hold_row(hold.id).status == "released"
    assert state(w.bed.id) == (2, 0, 0)  # the count stays, nothing is held, no history row
    unit_form = re.search(rf'<form[^>]*id="unit-{w.bed.id}"[^>]*>.*?</form>', html, re.S).group(0)
    assert "held" not in unit_form
    # Released again: a conflict, and nothing changes.
    response = client.post(release_path(w, hold), headers=HTMX)
    assert response.status_code == 409 and "This hold was already released." in response.get_data(as_text=True)
    assert state(w.bed.id) == (2, 0, 0)


def test_without_htmx_the_buttons_post_and_come_back_to_the_page(client, w):
    hold = make.hold(w.bed, w.people.operator, household="Walk-in")
    db.session.commit()
    make.login(client, w.people.staff)
    response = client.post(confirm_path(w, hold))
    assert response.status_code == 302 and response.location.endswith(f"/shelter/{w.centre.id}#holds-{w.centre.id}")
    page = client.get(response.location).get_data(as_text=True)
    assert "Arrival confirmed for Walk-in." in page
    assert state(w.bed.id) == (1, 0, 1)


@pytest.mark.parametrize("action", ["confirm", "release"])
def test_another_facilitys_staff_get_403_and_nothing_changes(client, w, action):
    hold = make.hold(w.bed, w.people.operator, household="Secret household")
    db.session.commit()
    before, audit_before = state(w.bed.id), audits(f"hold.{action}")
    make.login(client, w.people.other_staff)
    response = client.post(f"/shelter/{w.centre.id}/holds/{hold.id}/{action}", headers=HTMX)
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "You may not see or change the holds of this facility." in html
    assert "Secret household" not in html and "hx-trigger" not in html  # nothing shown, no polling
    # Through their own facility's address, the hold is not theirs either.
    assert client.post(f"/shelter/{w.other.id}/holds/{hold.id}/{action}", headers=HTMX).status_code == 404
    # Without htmx: the 403 page.
    assert client.post(f"/shelter/{w.centre.id}/holds/{hold.id}/{action}").status_code == 403
    assert client.get(f"/shelter/{w.centre.id}/holds", headers=HTMX).status_code == 403
    assert state(w.bed.id) == before and hold_row(hold.id).status == "active"
    assert audits(f"hold.{action}") == audit_before


def test_operators_and_partners_cannot_use_the_staff_buttons(app, w):
    hold = make.hold(w.bed, w.people.partner)
    db.session.commit()
    for person in (w.people.operator, w.people.partner):
        other = app.test_client()
        make.login(other, person)
        assert other.post(confirm_path(w, hold), headers=HTMX).status_code == 403
    assert state(w.bed.id) == (2, 1, 0) and hold_row(hold.id).status == "active"


def test_an_expired_hold_is_marked_and_confirms_only_while_a_place_is_free(client, w, clock):
    hold = make.hold(w.bed, w.people.operator, persons=2, minutes=30, household="Late family")
    db.session.commit()
    clock.advance(minutes=40)  # expired ten minutes ago; no job has marked it
    # Meanwhile the staff gave one of the two places away: one free, the hold needs two.
    make.login(client, w.people.staff)
    unit = db.session.get(CapacityUnit, w.bed.id)
    assert client.post(f"/shelter/units/{w.bed.id}", data={"step": "-1", "version": unit.version},
                       headers=HTMX).status_code == 200
    page = client.get(f"/shelter/{w.centre.id}").get_data(as_text=True)
    listed = section(page, w.centre)
    assert "Late family" in listed and "expired 10 min ago" in listed and 'class="badge expired"' in listed
    assert f'id="hold-{hold.id}-confirm"' in listed and f'id="hold-{hold.id}-release"' not in listed

    before = state(w.bed.id)
    response = client.post(confirm_path(w, hold), headers=HTMX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This hold has expired and no place is free now (1 free), so it cannot be confirmed." in html
    assert "hx-swap-oob" not in html
    assert state(w.bed.id) == before and hold_row(hold.id).status == "active"

    # A place comes free again: now the late arrival is admitted.
    unit = db.session.get(CapacityUnit, w.bed.id)
    client.post(f"/shelter/units/{w.bed.id}", data={"step": "1", "version": unit.version}, headers=HTMX)
    response = client.post(confirm_path(w, hold), headers=HTMX)
    assert response.status_code == 200 and "Crisis bed: 0 available now." in response.get_data(as_text=True)
    assert state(w.bed.id)[0] == 0 and hold_row(hold.id).status == "confirmed"


def test_holds_expired_long_ago_and_closed_ones_leave_the_page(client, w, clock):
    make.hold(w.bed, w.people.operator, minutes=30, household="Long gone")
    make.hold(w.other_bed, w.people.operator, household="Elsewhere")
    db.session.commit()
    clock.advance(hours=13)
    make.login(client, w.people.staff)
    listed = section(client.get(f"/shelter/{w.centre.id}").get_data(as_text=True), w.centre)
    assert "Long gone" not in listed and "Elsewhere" not in listed


# --- the dashboard --------------------------------------------------------------


def test_the_dashboard_shows_held_places_per_unit(client, w):
    make.hold(w.bed, w.people.operator)
    db.session.commit()
    make.login(client, w.people.manager)
    html = client.get("/dashboard/?region=antwerpen").get_data(as_text=True)
    bed = re.search(rf'<li data-unit="{w.bed.id}">.*?</li>', html, re.S).group(0)
    assert "1 free" in bed and "1 held" in bed
    room = re.search(rf'<li data-unit="{w.room.id}">.*?</li>', html, re.S).group(0)
    assert "held" not in room
    assert re.search(r'data-kind="crisis_bed">.*?1 held', html, re.S)  # and the region's total


# --- the Holds page ------------------------------------------------------------


def test_an_operator_sees_own_holds_and_may_list_all(client, w, clock):
    mine = make.hold(w.bed, w.people.operator, household="My family")
    theirs = make.hold(w.other_bed, w.people.operator2, household="Their family")
    partners = make.hold(w.bed, w.people.partner, household="Police case")
    clock.advance(minutes=1)
    done = make.hold(w.room, w.people.operator, household="Already released")
    holds.release(Actor(user=w.people.operator, source="web"), done, clock.now())
    db.session.commit()

    make.login(client, w.people.operator)
    page = client.get("/holds").get_data(as_text=True)
    assert 'href="/holds"' in page  # the nav link
    assert "My family" in page and "Their family" not in page and "Police case" not in page
    assert "Already released" not in page
    assert "My active holds (1)" in page and "Crisis Gent" in page and "expires in 1 h 59 min" in page
    assert 'href="tel:+3232000000"' in page
    assert f'id="hold-{mine.id}-extend"' in page and f'id="hold-{mine.id}-release"' in page

    page = client.get("/holds?show=all").get_data(as_text=True)
    assert page.index("My family") < page.index("Their family") and "Police case" in page
    assert "Omar Operator" in page and "Pieter Politie" in page
    assert f'id="hold-{theirs.id}-release"' in page and f'id="hold-{partners.id}-extend"' in page


def test_a_partner_sees_only_own_holds(client, w):
    make.hold(w.bed, w.people.partner, household="Police case")
    make.hold(w.bed, w.people.partner2, household="Justice case")
    make.hold(w.other_bed, w.people.operator, household="Hotline case")
    db.session.commit()
    make.login(client, w.people.partner)
    for path in ("/holds", "/holds?show=all"):
        page = client.get(path).get_data(as_text=True)
        assert "Police case" in page
        assert "Justice case" not in page and "Hotline case" not in page
        assert "All active holds" not in page
        assert "Teststraat" not in page  # never an address


def test_extend_adds_30_minutes(client, w, clock):
    hold = make.hold(w.bed, w.people.partner, minutes=60)
    db.session.commit()
    expires = hold_row(hold.id).expires_at
    make.login(client, w.people.partner)
    clock.advance(minutes=10)
    response = client.post(f"/holds/{hold.id}/extend", headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<li class="hold active" id="hold-{hold.id}"')
    assert "Extended by 30 min: expires in 1 h 20 min." in html
    assert hold_row(hold.id).expires_at == expires + timedelta(minutes=30)
    assert audits("hold.extend") == 1


def test_release_from_the_holds_page(client, w):
    hold = make.hold(w.bed, w.people.operator, household="Changed plans")
    db.session.commit()
    make.login(client, w.people.operator)
    response = client.post(f"/holds/{hold.id}/release", headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Hold released for Changed plans: the place is free again." in html and "released" in html
    assert f"hold-{hold.id}-extend" not in html
    assert hold_row(hold.id).status == "released" and state(w.bed.id) == (2, 0, 0)
    # Without htmx: back to the list, which says so.
    other = make.hold(w.bed, w.people.operator, household="Second")
    db.session.commit()
    response = client.post(f"/holds/{other.id}/release", data={"show": "all"})
    assert response.status_code == 302 and response.location.endswith("/holds?show=all")
    assert "Hold released for Second" in client.get(response.location).get_data(as_text=True)


def test_a_partner_cannot_touch_another_partners_hold(client, w):
    hold = make.hold(w.bed, w.people.partner2, minutes=60, household="Justice case")
    db.session.commit()
    expires = hold_row(hold.id).expires_at
    make.login(client, w.people.partner)
    for action in ("extend", "release"):
        response = client.post(f"/holds/{hold.id}/{action}", headers=HTMX)
        assert response.status_code == 403
        assert "Justice case" not in response.get_data(as_text=True)
    row = hold_row(hold.id)
    assert (row.status, row.expires_at) == ("active", expires)
    assert audits("hold.extend") == 0 and audits("hold.release") == 0


def test_an_expired_hold_cannot_be_extended(client, w, clock):
    hold = make.hold(w.bed, w.people.operator, minutes=30)
    db.session.commit()
    expires = hold_row(hold.id).expires_at
    clock.advance(minutes=31)
    make.login(client, w.people.operator)
    response = client.post(f"/holds/{hold.id}/extend", headers=HTMX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "This hold has expired and cannot be extended: make a new one." in html
    assert "expired 1 min ago" in html
    assert hold_row(hold.id).expires_at == expires and audits("hold.extend") == 0


def test_the_holds_page_is_for_holders_only(app, client, w):
    assert client.get("/holds").status_code == 302  # to the login page
    make.login(client, w.people.staff)
    assert client.get("/holds").status_code == 403
    assert 'href="/holds"' not in client.get(f"/shelter/{w.centre.id}").get_data(as_text=True)
    hold = make.hold(w.bed, w.people.operator)
    db.session.commit()
    assert client.post(f"/holds/{hold.id}/extend", headers=HTMX).status_code == 403
    assert client.post("/holds/999999/release", headers=HTMX).status_code == 403
    manager = app.test_client()
    make.login(manager, w.people.manager)
    assert manager.post("/holds/999999/release", headers=HTMX).status_code == 404
    assert hold_row(hold.id).status == "active"
