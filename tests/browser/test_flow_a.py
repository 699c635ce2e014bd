"""Flow A in a real browser: shelter staff change a count with one press, an
operator's open dashboard shows it without a reload; a stale page conflicts;
an impossible number is refused inline."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import CapacityChange, CapacityUnit
from tests import factories

pytestmark = pytest.mark.browser


def _expect():
    from playwright.sync_api import expect

    return expect


def _crisis_unit(facility) -> CapacityUnit:
    return next(unit for unit in facility.units if unit.kind.code == "crisis_bed")


def _scenario(clock, *, staff=1):
    """A facility with 8 crisis beds, 2 available, last updated 30 min ago;
    `staff` shelter staff linked to it and an operator. Committed."""
    region = factories.region("antwerpen")
    facility = factories.facility("huis-aan-de-schelde", name="Huis aan de Schelde",
                                  region_slug=region.slug, units={"crisis_bed": (8, 2)})
    staff_users = [factories.user("shelter_staff", facilities_=[facility]) for _ in range(staff)]
    operator = factories.user("operator")
    db.session.commit()
    clock.advance(minutes=30)
    unit = _crisis_unit(facility)
    data = {
        "facility_slug": facility.slug,
        "facility_id": facility.id,
        "unit_id": unit.id,
        "staff": [(u.email, u.name) for u in staff_users],
        "operator": operator.email,
    }
    # What the database holds before the browser comes: (available, version, history rows).
    data["before"] = _stored(unit.id)
    assert data["before"][0] == 2
    return data


def _changed(before: tuple[int, int, int], available: int, changes: int) -> tuple[int, int, int]:
    """`before` after `changes` saved changes that left `available`."""
    return (available, before[1] + changes, before[2] + changes)


def _stored(unit_id: int) -> tuple[int, int, int]:
    """(available, version, history rows) as the database has them now. Ends
    the read transaction, so that the test never holds one open while the
    browser's requests write."""
    db.session.rollback()
    unit = db.session.get(CapacityUnit, unit_id)
    changes = db.session.scalar(
        select(func.count()).select_from(CapacityChange).where(CapacityChange.unit_id == unit_id)
    )
    result = (unit.available, unit.version, changes)
    db.session.rollback()
    return result


def _log_in(page, email: str):
    """Through the real login form (with its CSRF token)."""
    page.goto("/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(factories.PASSWORD)
    page.locator("form [type=submit]").click()
    page.wait_for_load_state()


def _unit_form(page, unit_id: int):
    return page.locator(f"form#unit-{unit_id}")


def test_a_press_on_the_shelter_page_reaches_an_open_dashboard_without_reload(new_page, clock):
    expect = _expect()
    s = _scenario(clock)
    staff_email, staff_name = s["staff"][0]

    shelter = new_page()
    _log_in(shelter, staff_email)
    expect(shelter).to_have_url(re.compile(rf"/shelter/{s['facility_id']}$"))
    unit = _unit_form(shelter, s["unit_id"])
    expect(unit.get_by_label("Available Crisis bed")).to_have_value("2")
    expect(unit.locator(".status")).to_contain_text("updated 30 min ago")

    # A second person: the operator, with the dashboard already open.
    dashboard = new_page()
    _log_in(dashboard, s["operator"])
    expect(dashboard).to_have_url(re.compile(r"/dashboard/?$"))
    listed = dashboard.locator(f'li[data-facility="{s["facility_slug"]}"] li[data-unit="{s["unit_id"]}"] .free')
    expect(listed).to_have_text("2 free")
    dashboard.evaluate("window.openedOnce = true")

    unit.get_by_role("button", name="One more free: Crisis bed").click()
    expect(unit.get_by_label("Available Crisis bed")).to_have_value("3")
    expect(unit.locator(".status")).to_contain_text("updated just now")
    expect(unit.locator(".status")).to_contain_text(f"by {staff_name}")
    assert _stored(s["unit_id"]) == _changed(s["before"], 3, 1)

    # The dashboard polls its fragment: the new count arrives without a reload.
    expect(listed).to_have_text("3 free")
    assert dashboard.evaluate("window.openedOnce") is True


def test_a_stale_page_gets_the_conflict_and_the_current_value(new_page, clock):
    expect = _expect()
    s = _scenario(clock, staff=2)
    pages = []
    for email, _name in s["staff"]:
        page = new_page()
        _log_in(page, email)
        expect(page).to_have_url(re.compile(rf"/shelter/{s['facility_id']}$"))
        expect(_unit_form(page, s["unit_id"]).get_by_label("Available Crisis bed")).to_have_value("2")
        pages.append(page)
    first, second = (_unit_form(page, s["unit_id"]) for page in pages)

    first.get_by_role("button", name="One more free: Crisis bed").click()
    expect(first.get_by_label("Available Crisis bed")).to_have_value("3")

    # The second page still shows 2 and the old version.
    second.get_by_role("button", name="One more free: Crisis bed").click()
    expect(second.locator(".conflict")).to_have_text(
        "Someone else changed this first. It is now 3; your change was not saved.")
    expect(second.get_by_label("Available Crisis bed")).to_have_value("3")
    expect(pages[1].locator("#request-error")).to_be_hidden()
    assert _stored(s["unit_id"]) == _changed(s["before"], 3, 1)

    # With the fresh version swapped in, the next press counts.
    second.get_by_role("button", name="One more free: Crisis bed").click()
    expect(second.get_by_label("Available Crisis bed")).to_have_value("4")
    expect(second.locator(".conflict")).to_have_count(0)
    assert _stored(s["unit_id"]) == _changed(s["before"], 4, 2)


@pytest.mark.parametrize("typed", ["99", "-1"])
def test_an_impossible_number_is_refused_inline_and_changes_nothing(new_page, clock, typed):
    expect = _expect()
    s = _scenario(clock)
    page = new_page()
    _log_in(page, s["staff"][0][0])
    unit = _unit_form(page, s["unit_id"])

    unit.get_by_label("Available Crisis bed").fill(typed)
    unit.get_by_role("button", name="Save").click()
    error = unit.locator(".field-error")
    expect(error).to_have_text("Enter a number from 0 to 8.")
    expect(unit.get_by_label("Available Crisis bed")).to_have_attribute("aria-invalid", "true")
    expect(unit.locator(".status")).to_contain_text("updated 30 min ago")
    assert _stored(s["unit_id"]) == s["before"]
