"""From a ringing phone to a held place in a real browser, counting clicks:
the operator opens the call from the live list (one), types the household
while the places that fit are ranked beside it, and holds one (two, three at
most). At 1366×768 the first result shows without scrolling."""

import os
import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Hold
from tests import factories
from tests.browser.test_flow_a import _log_in
from tests.test_console import HOTLINE, voice_call

pytestmark = pytest.mark.browser

SHOTS = "/tmp/shots-e"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def app_config(twilio_server):
    return {**twilio_server.config(from_number=HOTLINE), "WTF_CSRF_ENABLED": True, "CONSOLE_REFRESH_SECONDS": 1}


def test_three_clicks_from_the_console_to_a_held_place(new_page, client, clock):
    from playwright.sync_api import expect

    factories.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (8, 3)})
    operator = factories.user("operator", phone="+32470000001", name="Olga Operator")
    db.session.commit()
    call = voice_call(client)  # rings, through the signed webhooks
    db.session.rollback()

    page = new_page(viewport=DESKTOP)
    _log_in(page, operator.email)
    page.goto("/console/")
    clicks = 0

    def click(locator):
        nonlocal clicks
        clicks += 1
        locator.click()

    # Click 1: anywhere on the ringing call's row.
    click(page.locator(f'tr[data-call="{call.id}"]'))
    expect(page).to_have_url(re.compile(rf"/console/calls/{call.id}$"))
    results = page.locator("#results")
    expect(results).to_contain_text("Choose who and type a postcode")
    # Choosing who (a chip: click 2), typing the rest.
    click(page.locator("#workspace-form label.choice", has_text="Victim"))
    page.locator("#record-adults").fill("1")
    page.locator("#record-postcode").fill("2000")
    # Where the abuser lives: typed, never a click, never stored. The places
    # shown are the ones ranked with it (the preview it sends has answered).
    with page.expect_request(lambda r: r.url.endswith("/preview") and "Zoutleeuw" in (r.post_data or "")) as sent:
        page.locator("#danger_place-0").fill("Zoutleeuw")
    sent.value.response()
    first = results.locator("li.result").first
    expect(first).to_contain_text("Crisis Antwerpen")
    expect(page.locator("#save-status")).to_contain_text(re.compile(r"saved \d\d:\d\d:\d\d"))
    # The first result, its Hold button included, is on screen without scrolling.
    assert page.evaluate("window.scrollY") == 0
    button = first.get_by_role("button", name="Hold")
    box = button.bounding_box()
    assert box and box["y"] >= 0 and box["y"] + box["height"] <= DESKTOP["height"], box
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/call-1366x768.png")

    # Click 3: Hold. Leaving the danger place for the button sends no other
    # preview: its answer would re-draw the results under the pointer and
    # swallow the click.
    previews = []
    page.on("request", lambda r: r.url.endswith("/preview") and previews.append(r))
    with page.expect_response(re.compile(rf"/console/calls/{call.id}/hold$")):
        click(button)
    assert previews == []
    expect(first).to_contain_text(re.compile(r"Held: \d+ persons? at .* until \d"))
    expect(page.locator("#holds-of-call")).to_contain_text("Crisis Antwerpen")
    assert clicks <= 3
    db.session.rollback()
    hold = db.session.scalars(select(Hold)).one()
    assert hold.call_id == call.id and hold.search_id is not None and hold.status == "active"
    db.session.rollback()

    phone = new_page(viewport=PHONE)
    _log_in(phone, operator.email)
    phone.goto(f"/console/calls/{call.id}")
    expect(phone.locator("#results li.result").first).to_contain_text("Crisis Antwerpen")
    phone.screenshot(path=f"{SHOTS}/call-390x844.png", full_page=True)
    page.screenshot(path=f"{SHOTS}/call-1366x768-held.png")
