"""The pages work under the Content-Security-Policy (app/web/security_headers.py):
signing in, the language select (a handler in opvang.js, not inline), a press
on the shelter page (htmx), the dashboard and the operator console polling. The
browser reports no violation of the policy and no console error on the way."""

import re

import pytest

from app.extensions import db
from app.models import User
from tests import factories
from tests.browser.test_flow_a import _crisis_unit, _log_in, _unit_form

pytestmark = pytest.mark.browser

# Every violation the page sees, passed to the test as it happens (a page's
# own record of it would be lost with the next navigation).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportViolation(event.violatedDirective + " blocked " + (event.blockedURI || "inline")
                         + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


@pytest.fixture
def app_config():
    return {"DASHBOARD_REFRESH_SECONDS": 1, "CONSOLE_REFRESH_SECONDS": 1, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def watched_page(new_page):
    """A new page whose policy violations, console errors and warnings, and
    uncaught script errors are collected in `problems`."""
    problems = []

    def open_page():
        page = new_page()
        page.context.expose_function("reportViolation", lambda text: problems.append(f"violation: {text}"))
        page.context.add_init_script(REPORT_VIOLATIONS)
        page.on("console", lambda message: message.type in ("error", "warning")
                and not _favicon_missing(message)
                and problems.append(f"console {message.type}: {message.text} ({message.location['url']})"))
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        return page

    return open_page, problems


def _favicon_missing(message) -> bool:
    """Opvang has no icon; the browser's own request for one is no page's doing."""
    return message.location["url"].endswith("/favicon.ico")


def _polls(page, path: str):
    """Wait until the page's htmx polling has fetched `path` twice (so at least
    one answer has been swapped in before the second was asked for)."""
    for _ in range(2):
        with page.expect_response(lambda response: response.request.headers.get("hx-request") == "true"
                                  and response.url.split("?")[0].endswith(path)) as answer:
            pass
        assert answer.value.status == 200


def test_the_pages_work_under_the_policy(watched_page, clock):
    from playwright.sync_api import expect

    open_page, problems = watched_page
    region = factories.region("antwerpen")
    facility = factories.facility("huis-aan-de-schelde", name="Huis aan de Schelde", region_slug=region.slug,
                                  units={"crisis_bed": (8, 2)})
    staff = factories.user("shelter_staff", facilities_=[facility])
    operator = factories.user("operator")
    manager = factories.user("manager", regions=[region])
    db.session.commit()
    unit_id = _crisis_unit(facility).id

    shelter = open_page()
    _log_in(shelter, staff.email)
    expect(shelter).to_have_url(re.compile(rf"/shelter/{facility.id}$"))
    # The response headers carry the policy the browser enforces here.
    assert "script-src 'self'" in shelter.evaluate("fetch(location.href).then(r => r.headers.get("
                                                   "'content-security-policy'))")

    # htmx: one press, the count swapped in.
    unit = _unit_form(shelter, unit_id)
    unit.get_by_role("button", name="One more free: Crisis bed").click()
    expect(unit.get_by_label("Available Crisis bed")).to_have_value("3")

    # The language select sends its form on change, through opvang.js.
    shelter.locator("#language").select_option("nl")
    expect(shelter.locator("html")).to_have_attribute("lang", "nl")
    expect(shelter.locator("#language")).to_have_value("nl")
    db.session.rollback()
    assert db.session.get(User, staff.id).language == "nl"
    db.session.rollback()

    operator_page = open_page()
    _log_in(operator_page, operator.email)
    expect(operator_page).to_have_url(re.compile(r"/dashboard/?$"))
    expect(operator_page.locator(f'li[data-facility="{facility.slug}"] li[data-unit="{unit_id}"] .free')
           ).to_have_text("3 free")
    _polls(operator_page, "/dashboard/")

    operator_page.goto("/console/")
    _polls(operator_page, "/console/live")

    manager_page = open_page()
    _log_in(manager_page, manager.email)
    manager_page.get_by_role("link", name="Hotline", exact=True).click()
    expect(manager_page.get_by_role("heading", name="Hotline figures")).to_be_visible()

    assert problems == []
