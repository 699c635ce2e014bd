"""A region's report over a period (PRODUCT.md flow F): its daily statistics
read once (one query for the region's rows, one for the hotline's), then
summed into one table per chart. The tables hold codes and numbers only; the
pages, CSV files and charts (app/reports) label them.

A table's columns are keys: "day", "kind", "category" or "number" first
(what its rows are), then measures, per kind as "measure:kind_code". Its rows
hold the first column's value (a date, a kind code, a "group:item" category
or a hotline number), then the figures; None where no day was computed.
"""

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Row, select
from sqlalchemy.orm import contains_eager

from app.extensions import db
from app.models import CapacityKind, HotlineDay, Region, RegionKindDay
from app.models.placement import HOLD_OUTCOMES, TURN_AWAY_REASONS
from app.services.core.access import STATISTICS_READERS, statistics_region_ids
from app.services.core.errors import Forbidden, InvalidInput, NotFound
from app.services.core.validation import calendar_date
from app.services.placement.criteria import NEEDS
from app.services.statistics import days, hotline_daily
from app.services.statistics.region_daily import CHILD_AGE_BANDS, CLOSED_REQUEST_STATUSES

# The period picker's "last days", and what a report shows unless asked.
LAST_DAYS = {"7d": 7, "30d": 30, "365d": 365}
DEFAULT_LAST_DAYS = "30d"
MONTH = re.compile(r"(\d{4})-(\d{2})")
HOTLINE_FIGURES = ("offered", "answered", "missed", "menu_hangups", "voicemails", "callbacks")


@dataclass(frozen=True)
class Period:
    """Local days from `since` to `until`, both included, and the query
    arguments that name it (for links to the same period)."""

    since: date
    until: date
    args: dict = field(hash=False, compare=False)

    @property
    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]


def parse_period(args: Mapping, today: date) -> Period:
    """The period the picker asks for: `period` (7d, 30d, 365d: the last days
    up to `today`), `month` (YYYY-MM) or `since` and `until` (YYYY-MM-DD; until
    defaults to today); nothing: the last 30 days. InvalidInput for an unknown
    form, a bad date, a period reversed or longer than days.MAX_PERIOD_DAYS,
    or more than one form at once."""
    given = {name: (args.get(name) or "").strip() for name in ("period", "month", "since", "until")}
    forms = [name for name in ("period", "month") if given[name]]
    if given["since"] or given["until"]:
        forms.append("since")
    if len(forms) > 1:
        raise InvalidInput("choose one period: the last days, a month or a range of days", field=forms[1])
    form = forms[0] if forms else "period"
    if form == "period":
        code = given["period"] or DEFAULT_LAST_DAYS
        if code not in LAST_DAYS:
            raise InvalidInput(f"period must be one of {', '.join(LAST_DAYS)}", field="period")
        return Period(today - timedelta(days=LAST_DAYS[code] - 1), today, {"period": code})
    if form == "month":
        match = MONTH.fullmatch(given["month"])
        try:
            first = date(int(match[1]), int(match[2]), 1) if match else None
        except ValueError:
            first = None
        if first is None:
            raise InvalidInput("month must be a month like 2026-11", field="month")
        calendar_date(first.isoformat(), "month")  # the years any date may have
        after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        return Period(first, after - timedelta(days=1), {"month": given["month"]})
    since = calendar_date(given["since"], "since")
    if since is None:
        raise InvalidInput("give the first day of the range", field="since")
    until = calendar_date(given["until"], "until") or today
    days.check_period(since, until)
    return Period(since, until, {"since": since.isoformat(), "until": until.isoformat()})


@dataclass
class Report:
    """One region's statistics over a period: its rows by (kind id, day),
    the kinds it has rows of (in the kinds' order), and the hotline's rows."""

    region: Region
    period: Period
    kinds: list[CapacityKind]
    rows: dict[tuple[int, date], Row]  # RegionKindDay's columns that were asked for
    hotline: list[HotlineDay]


def readable_region(user, region_slug: str) -> Region:
    """The region `region_slug` if `user` reads its reports (its managers,
    admins): Forbidden otherwise, NotFound for an unknown region."""
    if user is None or not user.has_role(*STATISTICS_READERS):
        raise Forbidden("the reports are for managers and admins")
    region = db.session.scalar(select(Region).where(Region.slug == region_slug))
    if region is None:
        raise NotFound(f"unknown region {region_slug!r}")
    allowed = statistics_region_ids(user)
    if allowed is not None and region.id not in allowed:
        raise Forbidden("you may read the reports of your own regions only")
    return region


def read(user, now: datetime, region_slug: str, period: Period, tables=None) -> Report:
    """The report of the region `region_slug` over `period`, for whom
    readable_region lets through, with the figures `tables` (names of
    TABLES; default all) need: a year of a region is thousands of rows, read
    as plain rows of those columns only (no objects, no JSON not shown)."""
    region = readable_region(user, region_slug)
    tables = tuple(TABLES) if tables is None else tables
    needed = sorted({name for table in tables for name in TABLE_COLUMNS[table]})
    rows, kinds = {}, []
    if needed:
        columns = [getattr(RegionKindDay, name) for name in ("kind_id", "day", *needed)]
        rows = {(row.kind_id, row.day): row for row in db.session.execute(
            select(*columns).where(RegionKindDay.region_id == region.id, RegionKindDay.day >= period.since,
                                   RegionKindDay.day <= period.until))}
        kinds = list(db.session.scalars(
            select(CapacityKind).where(CapacityKind.id.in_({kind_id for kind_id, _ in rows}))
            .order_by(CapacityKind.position, CapacityKind.id)))
    hotline = (hotline_daily.read(user, now, since=period.since.isoformat(), until=period.until.isoformat())
               if "hotline" in tables else [])
    return Report(region=region, period=period, kinds=kinds, rows=rows, hotline=hotline)


# --- the tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[tuple]


def _weighted_median(medians: list[tuple[float, int]]) -> float | None:
    """The median of the days' medians, each counted as often as it has
    cases: the period's median, as near as the daily figures tell it."""
    values = sorted(value for value, count in medians for _ in range(count))
    if not values:
        return None
    middle = len(values) // 2
    return round(values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2, 2)


def _summed(dicts, keys) -> dict:
    """The counts of `keys` summed over `dicts` (a JSON column's values)."""
    sums = dict.fromkeys(keys, 0)
    for counts in dicts:
        for key in keys:
            sums[key] += counts.get(key, 0)
    return sums


def _of_kind(report: Report, kind: CapacityKind) -> list[Row]:
    return [row for day in report.period.days if (row := report.rows.get((kind.id, day)))]


def occupancy(report: Report) -> Table:
    """Per day, each kind's mean free and total places."""
    columns = ["day"]
    for kind in report.kinds:
        columns += [f"mean_free:{kind.code}", f"mean_total:{kind.code}"]
    rows = []
    for day in report.period.days:
        cells = [day]
        for kind in report.kinds:
            row = report.rows.get((kind.id, day))
            cells += [row.mean_free, row.mean_total] if row else [None, None]
        rows.append(tuple(cells))
    return Table(tuple(columns), rows)


def hours_at_zero(report: Report) -> Table:
    """Per kind: the hours without a free place, the days with any, and the days computed."""
    rows = []
    for kind in report.kinds:
        of_kind = _of_kind(report, kind)
        rows.append((kind.code, round(sum(row.hours_at_zero for row in of_kind), 2),
                     sum(row.hours_at_zero > 0 for row in of_kind), len(of_kind)))
    return Table(("kind", "hours_at_zero", "days_at_zero", "days"), rows)


def turn_aways(report: Report) -> Table:
    """Per kind: the turn-aways by reason, and all of them."""
    rows = []
    for kind in report.kinds:
        counts = _summed((row.turn_aways for row in _of_kind(report, kind)), TURN_AWAY_REASONS)
        rows.append((kind.code, *(counts[reason] for reason in TURN_AWAY_REASONS),
                     sum(counts[reason] for reason in TURN_AWAY_REASONS)))
    return Table(("kind", *TURN_AWAY_REASONS, "total"), rows)


def households(report: Report) -> Table:
    """The turned-away households' make-up over every kind: how many, with
    children, children by age band, needs, languages and client types."""
    made_up = [row.turn_away_households for row in report.rows.values()]
    totals = _summed(made_up, ("households", "with_children"))
    ages = _summed((households.get("child_ages", {}) for households in made_up), [b for b, _, _ in CHILD_AGE_BANDS])
    needs = _summed((households.get("needs", {}) for households in made_up), NEEDS)
    languages, client_types = Counter(), Counter()
    for households in made_up:
        for code, n in households.get("languages", {}).items():
            languages[code] += n
        for code, n in households.get("client_types", {}).items():
            client_types[code] += n
    rows = [("households:all", totals["households"]), ("households:with_children", totals["with_children"])]
    rows += [(f"child_ages:{band}", n) for band, n in ages.items()]
    rows += [(f"needs:{need}", n) for need, n in needs.items()]
    rows += [(f"client_types:{code}", n) for code, n in sorted(client_types.items(), key=lambda item: str(item[0]))]
    rows += [(f"languages:{code}", n) for code, n in sorted(languages.items())]
    return Table(("category", "households"), rows)


def requests(report: Report) -> Table:
    """Per kind: the requests opened, closed by how, and their median wait in hours."""
    rows = []
    for kind in report.kinds:
        of_kind = _of_kind(report, kind)
        closed = _summed((row.requests_closed for row in of_kind), CLOSED_REQUEST_STATUSES)
        waits = []
        for row in of_kind:
            if row.request_wait_median_h is not None:
                waits.append((row.request_wait_median_h, sum(row.requests_closed.values())))
        rows.append((kind.code, sum(row.requests_opened for row in of_kind),
                     *(closed[status] for status in CLOSED_REQUEST_STATUSES), _weighted_median(waits)))
    return Table(("kind", "requests_opened", *(f"closed_{status}" for status in CLOSED_REQUEST_STATUSES),
                  "request_wait_median_h"), rows)


def holds(report: Report) -> Table:
    """Per kind: the holds ended, by outcome."""
    rows = []
    for kind in report.kinds:
        counts = _summed((row.holds for row in _of_kind(report, kind)), HOLD_OUTCOMES)
        rows.append((kind.code, *(counts[outcome] for outcome in HOLD_OUTCOMES)))
    return Table(("kind", *HOLD_OUTCOMES), rows)


def referrals(report: Report) -> Table:
    """Per kind: the referrals accepted, and the median hours to acceptance."""
    rows = []
    for kind in report.kinds:
        of_kind = _of_kind(report, kind)
        rows.append((kind.code, sum(row.referrals_accepted for row in of_kind), _weighted_median(
            [(row.referral_accept_median_h, row.referrals_accepted) for row in of_kind
             if row.referral_accept_median_h is not None])))
    return Table(("kind", "referrals_accepted", "referral_accept_median_h"), rows)


def hotline(report: Report) -> Table:
    """Per hotline number: its calls over the period, and the median seconds to answer."""
    by_number: dict[str, list[HotlineDay]] = {}
    for row in report.hotline:
        by_number.setdefault(row.number, []).append(row)
    rows = [(number, *(sum(getattr(row, name) for row in found) for name in HOTLINE_FIGURES),
             _weighted_median([(row.median_answer_s, row.answered) for row in found
                               if row.median_answer_s is not None]))
            for number, found in by_number.items()]
    return Table(("number", *HOTLINE_FIGURES, "median_answer_s"), rows)


# The report's tables by name, in the page's order (the names are in its URLs),
# and the columns of RegionKindDay each reads.
TABLES = {
    "occupancy": occupancy,
    "hours-at-zero": hours_at_zero,
    "turn-aways": turn_aways,
    "households": households,
    "requests": requests,
    "holds": holds,
    "referrals": referrals,
    "hotline": hotline,
}
TABLE_COLUMNS = {
    "occupancy": ("mean_free", "mean_total"),
    "hours-at-zero": ("hours_at_zero",),
    "turn-aways": ("turn_aways",),
    "households": ("turn_away_households",),
    "requests": ("requests_opened", "requests_closed", "request_wait_median_h"),
    "holds": ("holds",),
    "referrals": ("referrals_accepted", "referral_accept_median_h"),
    "hotline": (),
}


# --- the digest's headline ---------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """A region's day in three figures: hours at zero per kind (those with any
    places or turn-aways), turn-aways, and requests opened."""

    region: Region
    hours_at_zero: list[tuple[CapacityKind, float]]
    turn_aways: int
    requests_opened: int
    # False while the day's rows are the day so far.
    final: bool


def headlines(day: date, region_ids: set[int] | None) -> list[Headline]:
    """Each region's headline for `day` (all regions for None), by region name;
    one query. A region without rows that day has none."""
    query = (select(RegionKindDay)
             .join(Region, RegionKindDay.region_id == Region.id)
             .join(CapacityKind, RegionKindDay.kind_id == CapacityKind.id)
             .options(contains_eager(RegionKindDay.region), contains_eager(RegionKindDay.kind))
             .where(RegionKindDay.day == day)
             .order_by(Region.name, Region.id, CapacityKind.position, CapacityKind.id))
    if region_ids is not None:
        query = query.where(RegionKindDay.region_id.in_(region_ids))
    by_region: dict[int, list[RegionKindDay]] = {}
    for row in db.session.scalars(query):
        by_region.setdefault(row.region_id, []).append(row)
    return [Headline(region=found[0].region,
                     hours_at_zero=[(row.kind, row.hours_at_zero) for row in found if row.facilities],
                     turn_aways=sum(sum(row.turn_aways.values()) for row in found),
                     requests_opened=sum(row.requests_opened for row in found),
                     final=all(row.final for row in found))
            for found in by_region.values()]
