"""Flow B's last step in a real browser: an operator holds a place, the
facility's open page shows it by itself (polling), staff confirm the arrival,
and the count on the page drops."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db, writing
from app.models import CapacityChange, CapacityUnit, Hold
from tests import factories
from tests.browser.test_flow_a import _log_in, _unit_form

pytestmark = pytest.mark.browser


@pytest.fixture
def app_config():
    # The shelter page polls for holds every second here (15 s by default).
    return {"DASHBOARD_REFRESH_SECONDS": 1, "SHELTER_REFRESH_SECONDS": 1, "WTF_CSRF_ENABLED": True}


def _stored(unit_id: int, hold_id: int) -> tuple[int, int, str]:
    """(available, history rows written by holds, the hold's status), fresh;
    ends the read transaction before the browser writes again."""
    db.session.rollback()
    available = db.session.get(CapacityUnit, unit_id).available
    changes = db.session.scalar(select(func.count()).select_from(CapacityChange)
                                .where(CapacityChange.unit_id == unit_id, CapacityChange.source == "hold"))
    status = db.session.get(Hold, hold_id).status
    db.session.rollback()
    return available, changes, status


def test_a_hold_appears_on_the_open_shelter_page_and_confirming_drops_the_count(new_page, clock):
    from playwright.sync_api import expect

    facility = factories.facility("vluchthuis-gent", name="Vluchthuis Gent", units={"crisis_bed": (8, 2)})
    staff = factories.user("shelter_staff", facilities_=[facility])
    operator = factories.user("operator", name="Olivia Operator", phone="+32470111111")
    db.session.commit()
    unit_id = facility.units[0].id

    page = new_page()
    _log_in(page, staff.email)
    expect(page).to_have_url(re.compile(rf"/shelter/{facility.id}$"))
    holds = page.locator(f"#holds-{facility.id}")
    expect(holds).to_contain_text("No holds for this facility right now.")
    unit = _unit_form(page, unit_id)
    field = unit.get_by_label("Available Crisis bed")
    expect(field).to_have_value("2")
    # Staff are typing in a unit form: the polling must leave it alone.
    field.fill("5")
    page.evaluate("window.openedOnce = true")

    # The operator holds a place (through the service, as the search page does).
    db.session.rollback()
    with writing():
        unit_row = db.session.get(CapacityUnit, unit_id)
        hold = factories.hold(unit_row, operator, persons=1, minutes=45, household="Mother, girl (6)")
        db.session.commit()
    assert _stored(unit_id, hold.id) == (2, 0, "active")

    card = holds.locator(f"#hold-{hold.id}")
    expect(card).to_contain_text("Mother, girl (6)")  # within a few polls, without a reload
    expect(card).to_contain_text("Olivia Operator, +32470111111")
    expect(card).to_contain_text("expires in 45 min")
    expect(field).to_have_value("5")
    assert page.evaluate("window.openedOnce") is True  # no reload
    field.fill("2")

    card.get_by_role("button", name="Arrived: confirm").click()
    expect(holds.locator(".flash.success")).to_have_text(
        "Arrival confirmed for Mother, girl (6). Crisis bed: 1 available now.")
    expect(card).to_have_count(0)
    expect(field).to_have_value("1")  # the unit's form, swapped in out of band
    expect(page.locator("#request-error")).to_be_hidden()
    assert _stored(unit_id, hold.id) == (1, 1, "confirmed")

    # The swapped-in form carries the new version: the next press saves.
    unit.get_by_role("button", name="One more free: Crisis bed").click()
    expect(field).to_have_value("2")
    expect(unit.locator(".conflict")).to_have_count(0)
