"""A manager opens a region's report in Chromium: each chart's image loads
beside its table, the chart's own SVG answer applies its style under its
policy without a violation, and a CSV downloaded from the page holds the
table's figures."""

import csv

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import CapacityKind, RegionKindDay
from app.services.statistics import daily
from tests import factories
from tests.browser.test_content_security_policy import app_config, watched_page  # noqa: F401
from tests.browser.test_flow_a import _log_in

pytestmark = pytest.mark.browser


def test_a_manager_reads_a_chart_and_its_table_and_downloads_the_csv(watched_page, clock):  # noqa: F811
    from playwright.sync_api import expect

    open_page, problems = watched_page
    region = factories.region("antwerpen")
    factories.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (8, 3)})
    factories.facility("hulppunt", type="relief_point", units={"intake_slot": (5, 5)})
    manager = factories.user("manager", regions=[region])
    db.session.commit()
    clock.advance(hours=2)
    daily.run(clock.now())  # today's statistics so far, as the job keeps them
    db.session.commit()

    page = open_page()
    _log_in(page, manager.email)
    page.goto("/reports/antwerpen?period=7d")
    section = page.locator("section#occupancy")
    chart = section.locator("img")
    expect(chart).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
    table = section.locator("table")
    expect(table.locator("caption")).to_contain_text("Free and total places per day")
    cells = [[cell.strip() for cell in row.locator("th, td").all_inner_texts()]
             for row in table.locator("tr").all()]
    assert cells[0][1:] == ["Crisis bed: free places (mean)", "Crisis bed: total places (mean)",
                            "Intake slot: free places (mean)", "Intake slot: total places (mean)"]
    # Today's row: the statistics' figures (the units were made at 21:00, two hours before).
    beds, slots = (db.session.scalar(select(RegionKindDay).join(CapacityKind).where(CapacityKind.code == code))
                   for code in ("crisis_bed", "intake_slot"))
    assert beds.mean_free == round(3 * 2 / 23, 2)
    assert [float(cell) for cell in cells[-1][1:]] == [beds.mean_free, beds.mean_total, slots.mean_free,
                                                        slots.mean_total]

    with page.expect_download() as download:
        section.locator(".download a").click()
    with open(download.value.path(), newline="", encoding="utf-8") as file:
        first, *rows = list(csv.reader(file))
    assert first[0].startswith("# internal use — not for publication")
    assert rows == cells

    # The chart's own answer: its inline style applies (its policy allows it), nothing is reported.
    src = chart.get_attribute("src")
    page.goto(src)
    font = page.evaluate("getComputedStyle(document.querySelector('.title')).fontFamily")
    assert "system-ui" in font
    assert problems == []
