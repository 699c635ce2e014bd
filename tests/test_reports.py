"""A region's report (app/reports, app/services/statistics/report.py): who
reads it, the period picker, the tables' figures against the statistics
rows, the CSV files against the tables, the charts as SVG images under their
own policy."""

import csv
import io
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from app.extensions import db
from app.models import CapacityKind, HotlineDay, OutboxMessage, RegionKindDay
from app.services.alerts import digest
from app.services.core.errors import InvalidInput
from app.services.statistics import report
from app.web.security_headers import CONTENT_SECURITY_POLICY, SVG_IMAGE_POLICY
from tests import factories as make

TODAY = date(2026, 11, 28)  # the suite's START, in Brussels
AT = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
NO_HOLDS = dict.fromkeys(("admitted", "declined", "no_show", "elsewhere", "cancelled", "expired", "lapsed"), 0)
HOUSEHOLDS = {"households": 0, "client_types": {}, "adults": 0, "children": 0, "with_children": 0,
              "child_ages": {"0-2": 0, "3-5": 0, "6-11": 0, "12-17": 0},
              "needs": {"wheelchair": 0, "pets": 0, "high_security": 0}, "languages": {}}


def region_day(region, kind_id, day, **figures) -> RegionKindDay:
    row = RegionKindDay(**{
        "day": day, "region_id": region.id, "kind_id": kind_id, "mean_free": 0.0, "min_free": 0,
        "hours_at_zero": 0.0, "mean_total": 0.0, "facilities": 1,
        "turn_aways": {"full": 0, "ineligible": 0, "closed": 0}, "turn_away_households": HOUSEHOLDS,
        "requests_opened": 0, "requests_closed": {"placed": 0, "withdrawn": 0, "expired": 0},
        "request_wait_median_h": None, "holds": NO_HOLDS, "referrals_accepted": 0,
        "referral_accept_median_h": None, "computed_at": AT, "final": True, **figures})
    db.session.add(row)
    return row


@pytest.fixture
def w(app, clock):
    """Three days of Antwerpen's crisis beds (the 25th not computed), a day
    of its family rooms, a day of Limburg; two hotline numbers."""
    antwerpen, limburg = make.region("antwerpen"), make.region("limburg")
    kinds = dict(db.session.execute(select(CapacityKind.code, CapacityKind.id)).all())
    beds, rooms = kinds["crisis_bed"], kinds["family_room"]
    region_day(antwerpen, beds, date(2026, 11, 24), mean_free=3.5, mean_total=12.0, hours_at_zero=2.5,
               turn_aways={"full": 2, "ineligible": 1, "closed": 0}, requests_opened=2,
               requests_closed={"placed": 1, "withdrawn": 0, "expired": 0}, request_wait_median_h=5.0,
               holds={**NO_HOLDS, "admitted": 2, "no_show": 1}, referrals_accepted=1, referral_accept_median_h=3.0,
               turn_away_households={**HOUSEHOLDS, "households": 3, "with_children": 1, "client_types": {"victim": 3},
                                     "child_ages": {**HOUSEHOLDS["child_ages"], "3-5": 2},
                                     "languages": {"fr": 1}})
    region_day(antwerpen, beds, date(2026, 11, 26), mean_free=0.75, mean_total=14.0, hours_at_zero=20.0,
               turn_aways={"full": 4, "ineligible": 0, "closed": 1}, requests_opened=1,
               requests_closed={"placed": 0, "withdrawn": 2, "expired": 1}, request_wait_median_h=30.0,
               turn_away_households={**HOUSEHOLDS, "households": 5, "client_types": {"victim": 4, "couple": 1},
                                     "needs": {**HOUSEHOLDS["needs"], "wheelchair": 1}, "languages": {"fr": 2}})
    region_day(antwerpen, beds, date(2026, 11, 28), mean_free=6.0, mean_total=14.0, final=False)
    region_day(antwerpen, rooms, date(2026, 11, 26), facilities=0, hours_at_zero=24.0,
               turn_aways={"full": 1, "ineligible": 0, "closed": 0})
    region_day(limburg, beds, date(2026, 11, 26), mean_free=9.0, mean_total=10.0,
               turn_aways={"full": 7, "ineligible": 0, "closed": 0})
    for number, day, offered, answered, median in (("+3220000001", date(2026, 11, 26), 10, 8, 20.0),
                                                    ("+3220000001", date(2026, 11, 27), 4, 4, 10.0),
                                                    ("", date(2026, 11, 27), 1, 0, None)):
        db.session.add(HotlineDay(day=day, number=number, offered=offered, answered=answered,
                                  missed=offered - answered, menu_hangups=0, voicemails=offered - answered,
                                  callbacks=0, median_answer_s=median, computed_at=AT, final=True))
    people = SimpleNamespace(
        manager=make.user("manager", regions=[antwerpen]),
        other_manager=make.user("manager", regions=[limburg]),
        admin=make.user("admin"),
        operator=make.user("operator"),
        partner=make.user("partner"),
        staff=make.user("shelter_staff", facilities_=[make.facility("a")]),
    )
    db.session.commit()
    return SimpleNamespace(antwerpen=antwerpen, limburg=limburg, people=people, beds=beds, rooms=rooms)


def signed_in(app, user):
    client = app.test_client()
    make.login(client, user)
    return client


class Tables(HTMLParser):
    """The page's report tables: {chart name: [header row, rows...]} as text."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.current = self.row = self.text = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and "data-chart" in attrs:
            self.current = self.tables.setdefault(attrs["data-chart"], [])
        elif self.current is not None and tag == "tr":
            self.row = []
        elif self.row is not None and tag in ("th", "td"):
            self.text = []

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self.text is not None:
            self.row.append("".join(self.text).strip())
            self.text = None
        elif tag == "tr" and self.row is not None:
            self.current.append(self.row)
            self.row = None
        elif tag == "table":
            self.current = None


def page_tables(client, query="?since=2026-11-24&until=2026-11-28") -> dict[str, list[list[str]]]:
    response = client.get(f"/reports/antwerpen{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return Tables(response.get_data(as_text=True)).tables


def as_dicts(table: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *rows = table
    return {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}


# --- who -------------------------------------------------------------------------------------

PATHS = ("/reports/antwerpen", "/reports/antwerpen/occupancy.csv", "/reports/antwerpen/hotline.svg")


@pytest.mark.parametrize("path", PATHS)
def test_the_regions_manager_and_admins_read_it(app, w, path):
    for user in (w.people.manager, w.people.admin):
        assert signed_in(app, user).get(path).status_code == 200


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("role", ["other_manager", "operator", "partner", "staff"])
def test_everyone_else_is_refused(app, w, path, role):
    response = signed_in(app, getattr(w.people, role)).get(path)
    assert response.status_code == 403
    assert "Antwerpen" not in response.get_data(as_text=True)


@pytest.mark.parametrize("path", PATHS)
def test_anonymous_users_are_sent_to_sign_in(client, w, path):
    response = client.get(path)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_bad_period_from_another_region_is_still_refused(app, w):
    assert signed_in(app, w.people.other_manager).get("/reports/antwerpen?period=9d").status_code == 403


def test_an_unknown_region_is_404(app, w):
    assert signed_in(app, w.people.admin).get("/reports/atlantis").status_code == 404


def test_the_reports_list_shows_the_users_regions(app, w):
    mine = signed_in(app, w.people.manager).get("/reports/").get_data(as_text=True)
    assert "/reports/antwerpen" in mine and "/reports/limburg" not in mine
    everyone = signed_in(app, w.people.admin).get("/reports/").get_data(as_text=True)
    assert "/reports/antwerpen" in everyone and "/reports/limburg" in everyone


def test_the_nav_and_the_dashboard_link_to_the_reports_for_managers_only(app, w):
    assert 'href="/reports/"' in signed_in(app, w.people.manager).get("/dashboard/").get_data(as_text=True)
    assert 'href="/reports/"' not in signed_in(app, w.people.operator).get("/dashboard/").get_data(as_text=True)


# --- the period ------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "since", "until"), [
    ({}, date(2026, 10, 30), TODAY),
    ({"period": "7d"}, date(2026, 11, 22), TODAY),
    ({"period": "30d"}, date(2026, 10, 30), TODAY),
    ({"period": "365d"}, date(2025, 11, 29), TODAY),
    ({"month": "2026-02"}, date(2026, 2, 1), date(2026, 2, 28)),
    ({"month": "2024-02"}, date(2024, 2, 1), date(2024, 2, 29)),
    ({"month": "2025-12"}, date(2025, 12, 1), date(2025, 12, 31)),
    ({"since": "2026-11-01", "until": "2026-11-10"}, date(2026, 11, 1), date(2026, 11, 10)),
    ({"since": "2026-11-20"}, date(2026, 11, 20), TODAY),
    ({"since": "2026-11-20", "until": "", "month": "", "period": ""}, date(2026, 11, 20), TODAY),
])
def test_each_form_of_period(args, since, until):
    period = report.parse_period(args, TODAY)
    assert (period.since, period.until) == (since, until)


@pytest.mark.parametrize(("args", "field"), [
    ({"period": "9d"}, "period"),
    ({"period": "7"}, "period"),
    ({"month": "2026-13"}, "month"),
    ({"month": "2026-1"}, "month"),
    ({"month": "november"}, "month"),
    ({"month": "1800-01"}, "month"),
    ({"since": "2026-02-30"}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2026-11-10"}, "since"),
    ({"since": "2026-11-10", "until": "2026-11-01"}, "since"),
    ({"since": "2024-01-01", "until": "2026-11-01"}, "since"),
    ({"period": "7d", "month": "2026-11"}, "month"),
    ({"month": "2026-11", "since": "2026-11-01"}, "since"),
])
def test_a_bad_period_is_refused_with_its_field(args, field):
    with pytest.raises(InvalidInput) as refused:
        report.parse_period(args, TODAY)
    assert refused.value.field == field


@pytest.mark.parametrize("query", ["?period=9d", "?month=2026-13", "?since=2026-11-10&until=2026-11-01",
                                   "?since=2026-02-30", "?month=2026-11&period=7d"])
def test_a_bad_period_is_400_with_the_message_on_the_page(app, w, query):
    client = signed_in(app, w.people.manager)
    response = client.get(f"/reports/antwerpen{query}")
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="period-error"' in body and 'name="month"' in body
    for chart in ("occupancy.csv", "occupancy.svg"):
        assert client.get(f"/reports/antwerpen/{chart}{query}").status_code == 400


def test_the_period_links_keep_the_period(app, w):
    body = signed_in(app, w.people.manager).get("/reports/antwerpen?month=2026-11").get_data(as_text=True)
    assert "/reports/antwerpen/occupancy.svg?month=2026-11" in body
    assert "/reports/antwerpen/occupancy.csv?month=2026-11" in body


# --- the figures ----------------------------------------------------------------------------


def test_the_occupancy_table_is_the_rows_day_by_day(app, w):
    occupancy = as_dicts(page_tables(signed_in(app, w.people.manager))["occupancy"])
    assert list(occupancy) == ["2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28"]
    rows = db.session.scalars(select(RegionKindDay).where(RegionKindDay.region_id == w.antwerpen.id)).all()
    for row in rows:
        cells = occupancy[row.day.isoformat()]
        kind = "Crisis bed" if row.kind_id == w.beds else "Family room"
        assert float(cells[f"{kind}: free places (mean)"]) == row.mean_free
        assert float(cells[f"{kind}: total places (mean)"]) == row.mean_total
    # A day not computed is blank, not zero.
    assert set(occupancy["2026-11-25"].values()) == {""}


def test_the_summed_tables_add_the_rows_up(app, w):
    tables = page_tables(signed_in(app, w.people.manager))
    zero = as_dicts(tables["hours-at-zero"])
    assert zero["Crisis bed"] == {"Hours at zero free": "22.5", "Days with hours at zero": "2", "Days computed": "3"}
    assert zero["Family room"]["Hours at zero free"] == "24"
    turned = as_dicts(tables["turn-aways"])
    assert list(turned["Crisis bed"].values()) == ["6", "1", "1", "8"]
    assert list(turned["Family room"].values()) == ["1", "0", "0", "1"]
    households = as_dicts(tables["households"])
    assert households["Households: all"] == {"Households": "8"}
    assert households["Households: with children"] == {"Households": "1"}
    assert households["Children aged: 3-5"] == {"Households": "2"}
    assert households["Needs: Wheelchair access"] == {"Households": "1"}
    assert households["Client type: Victims"] == {"Households": "7"}
    assert households["Language: Français"] == {"Households": "3"}
    # Closed: 1 after 5 h, 3 with a median of 30 h: the median of 5, 30, 30, 30.
    assert list(as_dicts(tables["requests"])["Crisis bed"].values()) == ["3", "1", "2", "1", "30"]
    holds = as_dicts(tables["holds"])["Crisis bed"]
    assert (holds["arrived and confirmed"], holds["no-show"], holds["expired"]) == ("2", "1", "0")
    assert list(as_dicts(tables["referrals"])["Crisis bed"].values()) == ["1", "3"]
    # Limburg's figures are not Antwerpen's.
    assert "7" not in turned["Crisis bed"].values()


def test_the_hotline_table_sums_each_numbers_days(app, w):
    tables = page_tables(signed_in(app, w.people.manager))
    hotline = as_dicts(tables["hotline"])
    # 8 answered at a median of 20 s and 4 at 10 s: the median of twelve is 20.
    assert hotline["+3220000001"] == {"Calls offered": "14", "Answered": "12", "Missed": "2",
                                      "Hung up in the menu": "0", "Voicemails": "2", "Called back": "0",
                                      "Median seconds to answer": "20"}
    assert hotline["(no number)"]["Calls offered"] == "1"


def test_a_period_reads_its_days_only(app, w):
    tables = page_tables(signed_in(app, w.people.manager), "?since=2026-11-26&until=2026-11-26")
    assert list(as_dicts(tables["occupancy"])) == ["2026-11-26"]
    assert list(as_dicts(tables["turn-aways"])["Crisis bed"].values()) == ["4", "0", "1", "5"]
    assert list(as_dicts(tables["hotline"])) == ["+3220000001"]


@pytest.mark.parametrize("chart", list(report.TABLES))
def test_each_csv_is_its_table(app, w, chart):
    client = signed_in(app, w.people.manager)
    table = page_tables(client)[chart]
    response = client.get(f"/reports/antwerpen/{chart}.csv?since=2026-11-24&until=2026-11-28")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    first, *rest = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert first[0].startswith("# internal use — not for publication") and "Antwerpen" in first[0]
    assert rest == table


def test_each_chart_is_an_svg_image_without_script_under_its_own_policy(app, w):
    client = signed_in(app, w.people.manager)
    page = client.get("/reports/antwerpen?period=7d")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    body = page.get_data(as_text=True)
    for chart in report.TABLES:
        assert f'<img src="/reports/antwerpen/{chart}.svg?period=7d"' in body
        response = client.get(f"/reports/antwerpen/{chart}.svg?period=7d")
        svg = response.get_data(as_text=True)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml"
        assert response.headers["Content-Security-Policy"] == SVG_IMAGE_POLICY
        assert "script-src" not in SVG_IMAGE_POLICY and "default-src 'none'" in SVG_IMAGE_POLICY
        assert "<script" not in svg and "<svg" in svg


def test_the_occupancy_lines_differ_by_dash_not_colour_alone(app, w):
    svg = signed_in(app, w.people.manager).get("/reports/antwerpen/occupancy.svg?period=7d").get_data(as_text=True)
    dashes = {part.split(";")[0] for part in svg.split("stroke-dasharray:")[1:]}
    assert len(dashes) >= 4  # two kinds, free and total: four series, four patterns


def test_a_year_reads_the_rows_in_two_queries(app, w):
    """The page reads the statistics once: the region's rows and the hotline's."""
    statements = []
    engine = Engine  # every engine: the request's app is a twin of the test's

    def count(conn, cursor, statement, *args):
        if "stats_" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        page_tables(signed_in(app, w.people.manager), "?period=365d")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 2
    assert db.session.scalar(select(func.count()).select_from(RegionKindDay)) == 5


# --- the digest -----------------------------------------------------------------------------


def test_the_digest_gives_each_region_its_headline_and_a_link_to_its_report(app, clock, w):
    clock.at = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # the digest of the 26th
    assert digest.daily_digest(clock.now())["sent"] == 2
    bodies = {message.user_id: message.body for message in db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.purpose == "digest"))}
    page = app.config["HOTLINE_PUBLIC_URL"].rstrip("/")
    # Crisis beds 20 h at zero (family rooms: no facility, not listed); 4 + 1 + 1 turned away; 1 request.
    assert (f"- Antwerpen: Crisis bed 20 h without a free place; 6 turned away; waiting list: 1 new. "
            f"Report: {page}/reports/antwerpen?month=2026-11") in bodies[w.people.manager.id].splitlines()
    limburg = bodies[w.people.other_manager.id]
    assert "- Limburg: Crisis bed 0 min without a free place; 7 turned away;" in limburg
    assert "Antwerpen" not in limburg
