"""Flow A on the shelter staff page: one press saves, conflicts show the
fresh value, bad values change nothing."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, CapacityChange, CapacityUnit, Facility
from tests import factories as make

HTMX = {"HX-Request": "true"}


@pytest.fixture
def shelter(app):
    facility = make.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (8, 2)})
    other = make.facility("crisis-mechelen", name="Crisis Mechelen", units={"crisis_bed": (4, 1)})
    staff = make.user("shelter_staff", facilities_=[facility])
    db.session.commit()
    return facility, other, staff


def unit_state(unit_id):
    db.session.rollback()
    unit = db.session.get(CapacityUnit, unit_id)
    return unit.available, unit.version


def changes():
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(CapacityChange))


def test_staff_with_one_facility_land_on_its_page(client, shelter):
    facility, _, staff = shelter
    make.login(client, staff)
    response = client.get("/", follow_redirects=True)
    assert response.request.path == f"/shelter/{facility.id}"
    page = response.get_data(as_text=True)
    assert "Crisis Antwerpen" in page and 'value="2"' in page


def test_plus_saves_at_once_and_answers_the_fragment(client, shelter, clock):
    facility, _, staff = shelter
    unit = facility.units[0]
    make.login(client, staff)
    clock.advance(minutes=5)
    response = client.post(f"/shelter/units/{unit.id}", data={"step": "1", "version": "1"}, headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<form") and 'value="3"' in html and "just now" in html
    assert 'name="version" value="2"' in html
    assert unit_state(unit.id) == (3, 2)
    change = db.session.scalars(select(CapacityChange).order_by(CapacityChange.id.desc())).first()
    assert (change.before, change.after, change.source, change.actor_id) == (2, 3, "web", staff.id)


def test_minus_and_typed_value(client, shelter):
    facility, _, staff = shelter
    unit = facility.units[0]
    make.login(client, staff)
    path = f"/shelter/units/{unit.id}"
    assert client.post(path, data={"step": "-1", "version": "1"}, headers=HTMX).status_code == 200
    assert unit_state(unit.id) == (1, 2)
    assert client.post(path, data={"available": "7", "version": "2"}, headers=HTMX).status_code == 200
    assert unit_state(unit.id) == (7, 3)


def test_a_stale_page_gets_a_conflict_showing_the_current_value(client, shelter):
    facility, _, staff = shelter
    unit = facility.units[0]
    make.login(client, staff)
    client.post(f"/shelter/units/{unit.id}", data={"step": "1", "version": "1"}, headers=HTMX)
    before = changes()
    # A second phone still shows version 1 (2 free) and presses + too.
    response = client.post(f"/shelter/units/{unit.id}", data={"step": "1", "version": "1"}, headers=HTMX)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "It is now 3" in html and 'value="3"' in html and 'name="version" value="2"' in html
    assert unit_state(unit.id) == (3, 2)
    assert changes() == before


@pytest.mark.parametrize("value", ["-1", "9", "abc", "", "2.5"])
def test_invalid_values_get_an_inline_error_and_change_nothing(client, shelter, value):
    facility, _, staff = shelter
    unit = facility.units[0]
    make.login(client, staff)
    before = changes()
    response = client.post(f"/shelter/units/{unit.id}", data={"available": value, "version": "1"}, headers=HTMX)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Enter a number from 0 to 8" in html and 'aria-invalid="true"' in html
    assert unit_state(unit.id) == (2, 1)
    assert changes() == before


def test_minus_at_zero_is_refused(client, app):
    facility = make.facility(units={"crisis_bed": (3, 0)})
    staff = make.user("shelter_staff", facilities_=[facility])
    db.session.commit()
    make.login(client, staff)
    response = client.post(f"/shelter/units/{facility.units[0].id}", data={"step": "-1", "version": "1"}, headers=HTMX)
    assert response.status_code == 400
    assert unit_state(facility.units[0].id) == (0, 1)


def test_without_htmx_the_form_posts_and_redirects_back(client, shelter):
    facility, _, staff = shelter
    make.login(client, staff)
    response = client.post(f"/shelter/units/{facility.units[0].id}", data={"step": "1", "version": "1"})
    assert response.status_code == 302 and response.location.endswith(f"/shelter/{facility.id}")
    assert unit_state(facility.units[0].id) == (3, 2)


def test_staff_cannot_touch_another_facility(client, shelter):
    _, other, staff = shelter
    make.login(client, staff)
    before = changes()
    assert client.get(f"/shelter/{other.id}").status_code == 403
    response = client.post(f"/shelter/units/{other.units[0].id}", data={"step": "1", "version": "1"}, headers=HTMX)
    assert response.status_code == 403
    assert client.post(f"/shelter/{other.id}/confirm", headers=HTMX).status_code == 403
    assert client.post(f"/shelter/{other.id}/intake", data={"open": "0", "closed_reason": "x"}).status_code == 403
    assert unit_state(other.units[0].id) == (1, 1)
    assert changes() == before
    db.session.rollback()
    assert db.session.get(Facility, other.id).open_for_intake is True


def test_counts_still_correct_refreshes_freshness_without_a_change(client, shelter, clock):
    facility, _, staff = shelter
    unit = facility.units[0]
    make.login(client, staff)
    clock.advance(hours=13)
    assert "stale: 13 h" in client.get(f"/shelter/{facility.id}").get_data(as_text=True)
    response = client.post(f"/shelter/{facility.id}/confirm", headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "stale" not in html and "just now" in html
    db.session.rollback()
    refreshed = db.session.get(CapacityUnit, unit.id)
    assert (refreshed.available, refreshed.version) == (2, 1)  # no change, no version bump
    assert refreshed.updated_at == clock.now() and not refreshed.is_stale(clock.now())
    confirm = db.session.scalars(select(CapacityChange).order_by(CapacityChange.id.desc())).first()
    assert (confirm.action, confirm.before, confirm.after, confirm.actor_id) == ("confirm", 2, 2, staff.id)


def test_close_for_intake_needs_a_reason_and_makes_nothing_free(client, shelter):
    facility, _, staff = shelter
    make.login(client, staff)
    response = client.post(f"/shelter/{facility.id}/intake", data={"open": "0", "closed_reason": " "}, headers=HTMX)
    assert response.status_code == 400 and "Say why" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Facility, facility.id).open_for_intake is True

    response = client.post(f"/shelter/{facility.id}/intake", data={"open": "0", "closed_reason": "Outbreak"},
                           headers=HTMX)
    assert response.status_code == 200 and "Closed for intake" in response.get_data(as_text=True)
    db.session.rollback()
    closed = db.session.get(Facility, facility.id)
    assert (closed.open_for_intake, closed.closed_reason) == (False, "Outbreak")
    closings = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "facility.close")
    assert db.session.scalar(closings) == 1
    regions = client.get("/api/v1/regions").get_json()
    assert regions[0]["capacity"]["crisis_bed"]["free"] == 1  # only Mechelen's bed

    assert client.post(f"/shelter/{facility.id}/intake", data={"open": "1"}, headers=HTMX).status_code == 200
    db.session.rollback()
    assert db.session.get(Facility, facility.id).open_for_intake is True


def test_intake_switch_rejects_a_bad_choice(client, shelter):
    facility, _, staff = shelter
    make.login(client, staff)
    assert client.post(f"/shelter/{facility.id}/intake", data={"open": "maybe"}).status_code == 400
