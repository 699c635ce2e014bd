"""The de-identified export of the daily statistics for readers outside
Opvang (PRODUCT.md rule 11; `flask stats export`).

What leaves is per whole ISO week or calendar month, never per day, and only
periods already over. Three tables:

* `region_kind`: per period, kind and area the free places and the counts of
  RegionKindDay. An area is a region, the regions merged because they had too
  few facilities ("merged"), or all regions ("national"). A region's cell
  covers the fewest facilities it had on any of the period's days with
  figures (a facility cannot hide behind a busier day); a cell of fewer than
  MIN_FACILITIES is never published by itself. Those regions are merged, and
  when the merged ones still cover fewer than MIN_FACILITIES the smallest
  published regions join them, so that the national row minus the published
  regions (the merged row) always covers MIN_FACILITIES or more; when even all
  regions together cover fewer, nothing of that kind and period is published.
  The free places of a merged or national row are their mean only: the lowest
  and the hours at zero of a sum are not in the daily rows.
* `turn_away_households` (per month only; not written for --per week): the
  turned-away households' make-up, as counts, over the same areas.
* `hotline`: per period and hotline number (the organisation's own, public
  lines) and for all numbers together, what became of the calls.

Every count under SMALL is written as "<5", and complementary suppression
follows: in every group whose total is published (a row's parts and its
total, the areas and the national row, the numbers and all numbers), a group
with exactly one suppressed part gets its next smallest part suppressed too,
until no group has exactly one. Medians are not exported (a median of daily
medians is none). Nothing here names a facility, a person, a phone, a note or
a risk answer: the rows read hold none.

A table is a TableSpec; a figure is one line in its `columns`.
"""

import csv
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlite_utils
from sqlalchemy import select

from app.extensions import db
from app.models import CapacityKind, Region
from app.models.placement import HOLD_OUTCOMES, TURN_AWAY_REASONS
from app.models.statistics import HotlineDay, RegionKindDay
from app.services.core.errors import InvalidInput
from app.services.core.validation import calendar_date
from app.services.statistics import days

PERIODS = ("week", "month")
MIN_FACILITIES = 3
SMALL = 5
SUPPRESSED = "<5"
FORMATS = (".db", ".csv")
MERGED = "other regions (merged)"
NATIONAL = "all regions"
ALL_NUMBERS = "all numbers"
METADATA = "metadata.json"


# --- what is exported --------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column: a key (`read` None), a count summed over days and areas and
    suppressed under SMALL (`count`), or another figure."""

    name: str
    description: str
    type: type = int
    read: Callable | None = None
    count: bool = False


def _count(name: str, description: str, read: Callable | None = None) -> Column:
    return Column(name, description, int, read, count=True)


@dataclass(frozen=True)
class TableSpec:
    name: str
    description: str
    columns: tuple[Column, ...]
    # (total, parts) among the columns: complementary suppression keeps them.
    row_totals: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def counts(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.count)


PERIOD_COLUMNS = (
    Column("period", "The ISO week (2026-W48) or calendar month (2026-11).", str),
    Column("period_start", "The period's first day.", str),
    Column("period_end", "The period's last day.", str),
)
AREA_COLUMNS = (
    Column("area", f"A care region; '{MERGED}' for the regions with too few facilities to be "
                   f"published by themselves; '{NATIONAL}' for all regions together.", str),
    Column("area_type", "region, merged or national.", str),
    Column("kind", "The capacity kind (e.g. crisis_bed).", str),
)

_reasons = tuple(f"turn_aways_{reason}" for reason in TURN_AWAY_REASONS)
_outcomes = tuple(f"holds_{outcome}" for outcome in HOLD_OUTCOMES)

REGION_KIND = TableSpec(
    "region_kind",
    "Free places and demand per period, capacity kind and area.",
    (
        *PERIOD_COLUMNS,
        *AREA_COLUMNS,
        _count("facilities", "Facilities with a unit of the kind: for a region the fewest on any day of "
                             "the period, for several regions the sum of theirs.", lambda row: row.facilities),
        Column("mean_free", "Free places (available minus held, none while closed for intake), the mean "
                            "over the period's days.", float),
        Column("min_free", "The lowest free places at any moment of the period (regions only).", int),
        Column("hours_at_zero", "Hours with no free place, over the period (regions only).", float),
        _count("requests_opened", "Placement requests opened.", lambda row: row.requests_opened),
        *(_count(name, f"Contacts turned away: {reason}.", lambda row, reason=reason: row.turn_aways.get(reason, 0))
          for name, reason in zip(_reasons, TURN_AWAY_REASONS, strict=True)),
        _count("turn_aways_total", "Contacts turned away, all reasons.",
               lambda row: sum(row.turn_aways.get(reason, 0) for reason in TURN_AWAY_REASONS)),
        *(_count(name, f"Holds ended: {outcome}.", lambda row, outcome=outcome: row.holds.get(outcome, 0))
          for name, outcome in zip(_outcomes, HOLD_OUTCOMES, strict=True)),
        _count("holds_total", "Holds ended, all outcomes.",
               lambda row: sum(row.holds.get(outcome, 0) for outcome in HOLD_OUTCOMES)),
        _count("referrals_accepted", "Referrals accepted.", lambda row: row.referrals_accepted),
    ),
    row_totals=(("turn_aways_total", _reasons), ("holds_total", _outcomes)),
)

HOUSEHOLDS = TableSpec(
    "turn_away_households",
    "The make-up of the households turned away, per calendar month, capacity kind and area "
    "(counts only; never per week).",
    (
        *PERIOD_COLUMNS,
        *AREA_COLUMNS,
        Column("characteristic", "households, adults, children, households_with_children, client_type, "
                                 "child_age, need or language.", str),
        Column("value", "The client type, age band, need or language counted; empty for the totals.", str),
        _count("count", "How many (households, persons or children)."),
    ),
)

HOTLINE = TableSpec(
    "hotline",
    "What became of the hotline's calls, per period and number dialled (the organisation's own "
    "public lines).",
    (
        *PERIOD_COLUMNS,
        Column("number", f"The hotline number dialled; 'none' when not recorded; '{ALL_NUMBERS}' together.", str),
        _count("offered", "Calls that came in.", lambda row: row.offered),
        _count("answered", "Calls an operator answered.", lambda row: row.answered),
        _count("missed", "Calls that reached the operators and were not answered.", lambda row: row.missed),
        _count("menu_hangups", "Calls ended in the menu.", lambda row: row.menu_hangups),
        _count("voicemails", "Voicemails left.", lambda row: row.voicemails),
        _count("callbacks", "Calls called back.", lambda row: row.callbacks),
    ),
    # Treated as a total whether or not every call ends one of these ways:
    # suppressing as if it did only ever hides more.
    row_totals=(("offered", ("answered", "missed", "menu_hangups")),),
)


# --- periods -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date


def _period_of(day: date, per: str) -> Period:
    if per == "week":
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(f"{year}-W{week:02d}", start, start + timedelta(days=6))
    start = day.replace(day=1)
    following = (start + timedelta(days=31)).replace(day=1)
    return Period(f"{start:%Y-%m}", start, following - timedelta(days=1))


def whole_periods(since: date, until: date, per: str, today: date) -> list[Period]:
    """The whole weeks or months touching since..until that are over by
    `today`: never a part of one (which could be a single day)."""
    found = []
    period = _period_of(since, per)
    while period.start <= until and period.end < today:
        found.append(period)
        period = _period_of(period.end + timedelta(days=1), per)
    return found


# --- suppression -------------------------------------------------------------------


def suppress(values: dict, groups: list[tuple[object, list]]) -> set:
    """The keys of `values` to publish as "<5": those under SMALL, and then,
    while a group (total, parts) with its total published has exactly one
    part suppressed, its smallest published part too (or its total, when no
    part is left), so that no suppressed cell is a published total minus
    published parts."""
    hidden = {key for key, value in values.items() if value < SMALL}
    changed = True
    while changed:
        changed = False
        for total, parts in groups:
            parts = [part for part in parts if part in values]
            if total not in values or total in hidden or sum(part in hidden for part in parts) != 1:
                continue
            shown = sorted((part for part in parts if part not in hidden), key=lambda part: (values[part], str(part)))
            hidden.add(shown[0] if shown else total)
            changed = True
    return hidden


# --- areas -------------------------------------------------------------------------

# The region table's counts summed over days (a region's facilities are the
# fewest on a day instead).
_SUMMED = tuple(column for column in REGION_KIND.counts if column.name != "facilities")


@dataclass
class _Cell:
    """One region's (or area's) figures of a kind over a period."""

    facilities: int | None = None
    free_by_day: dict = field(default_factory=Counter)
    min_free: int | None = None
    hours_at_zero: float | None = 0.0
    counts: Counter = field(default_factory=Counter)
    households: Counter = field(default_factory=Counter)

    def add_day(self, row: RegionKindDay) -> None:
        self.facilities = row.facilities if self.facilities is None else min(self.facilities, row.facilities)
        self.free_by_day[row.day] += row.mean_free
        self.min_free = row.min_free if self.min_free is None else min(self.min_free, row.min_free)
        self.hours_at_zero += row.hours_at_zero
        self.counts.update({column.name: column.read(row) for column in _SUMMED})
        self.households.update(_household_counts(row.turn_away_households))

    @staticmethod
    def merge(cells: list["_Cell"]) -> "_Cell":
        """The cells together: facilities and counts summed, free places summed
        per day; the lowest and the hours at zero are not known for a sum."""
        cell = _Cell(facilities=0)
        for other in cells:
            cell.facilities += other.facilities
            cell.free_by_day.update(other.free_by_day)
            cell.counts.update(other.counts)
            cell.households.update(other.households)
        cell.hours_at_zero = None
        return cell

    def figures(self) -> dict:
        return {
            "facilities": self.facilities,
            "mean_free": round(sum(self.free_by_day.values()) / len(self.free_by_day), 2),
            "min_free": self.min_free,
            "hours_at_zero": None if self.hours_at_zero is None else round(self.hours_at_zero, 2),
            **{column.name: self.counts[column.name] for column in _SUMMED},
        }


def _household_counts(households: dict) -> Counter:
    counts = Counter({("households", ""): households.get("households", 0),
                      ("adults", ""): households.get("adults", 0),
                      ("children", ""): households.get("children", 0),
                      ("households_with_children", ""): households.get("with_children", 0)})
    for characteristic, key in (("client_type", "client_types"), ("child_age", "child_ages"),
                                ("need", "needs"), ("language", "languages")):
        counts.update({(characteristic, str(value)): n for value, n in (households.get(key) or {}).items()})
    return counts


# (total, parts) within one area's households: client types add up to the
# households, the age bands to the children.
_HOUSEHOLD_TOTALS = ((("households", ""), "client_type"), (("children", ""), "child_age"))


def areas(cells: dict[str, _Cell]) -> list[tuple[str, str, _Cell]]:
    """(area, area_type, cell) to publish for one kind and period, from its
    regions' cells; [] when all regions together cover too few facilities."""
    if sum(cell.facilities for cell in cells.values()) < MIN_FACILITIES:
        return []
    by_size = sorted(cells.items(), key=lambda item: (item[1].facilities, item[0]))
    small = [(name, cell) for name, cell in by_size if cell.facilities < MIN_FACILITIES]
    published = [(name, cell) for name, cell in by_size if cell.facilities >= MIN_FACILITIES]
    while small and sum(cell.facilities for _, cell in small) < MIN_FACILITIES:
        small.append(published.pop(0))
    found = [(name, "region", cell) for name, cell in sorted(published)]
    if small:
        found.append((MERGED, "merged", _Cell.merge([cell for _, cell in small])))
    found.append((NATIONAL, "national", _Cell.merge(list(cells.values()))))
    return found


# --- the export --------------------------------------------------------------------


@dataclass
class Export:
    """What was written: the files, the periods, and the rows per table."""

    files: list[Path]
    periods: list[Period]
    rows: dict[str, int]
    notes: list[str]


def check_arguments(since, until, out, per) -> tuple[date, date, Path, str]:
    since_day = calendar_date(since, "since")
    until_day = calendar_date(until, "until")
    if since_day is None or until_day is None:
        raise InvalidInput("give both since and until", field="since" if since_day is None else "until")
    if since_day > until_day:
        raise InvalidInput("since must not be after until", field="since")
    if per not in PERIODS:
        raise InvalidInput(f"per must be one of {', '.join(PERIODS)}", field="per")
    path = Path(out or "")
    if path.suffix.lower() not in FORMATS:
        raise InvalidInput(f"the file must end in {' or '.join(FORMATS)}", field="out")
    if not path.parent.is_dir():
        raise InvalidInput(f"no directory {path.parent}", field="out")
    return since_day, until_day, path, per


def export(*, since, until, out, per: str = "month", now: datetime) -> Export:
    """Write the export of the whole periods from `since` to `until` to `out`
    (.db: SQLite with metadata.json beside it; .csv: one file per table,
    named after `out` with the table's name: stats.csv → stats-hotline.csv).
    Nothing is written when an argument is wrong or no period is over."""
    since_day, until_day, path, per = check_arguments(since, until, out, per)
    periods = whole_periods(since_day, until_day, per, days.local_day(now))
    if not periods:
        raise InvalidInput(f"no whole {per} from {since_day} to {until_day} is over yet", field="until")
    notes = []
    specs = [REGION_KIND, HOUSEHOLDS, HOTLINE]
    if per != "month":
        specs.remove(HOUSEHOLDS)
        notes.append("household types are exported per month only: no turn_away_households table per week")
    tables = _tables(periods, per)
    tables = {spec.name: tables[spec.name] for spec in specs}
    files = (_write_db if path.suffix.lower() == ".db" else _write_csv)(path, specs, tables, since_day, until_day)
    return Export(files, periods, {name: len(rows) for name, rows in tables.items()}, notes)


def _tables(periods: list[Period], per: str) -> dict[str, list[dict]]:
    first, last = periods[0].start, periods[-1].end
    cells: dict[tuple, dict[str, _Cell]] = defaultdict(lambda: defaultdict(_Cell))
    for row, region, kind in db.session.execute(
        select(RegionKindDay, Region.name, CapacityKind.code)
        .join(Region, RegionKindDay.region_id == Region.id).join(CapacityKind, RegionKindDay.kind_id == CapacityKind.id)
        .where(RegionKindDay.day >= first, RegionKindDay.day <= last)
        .order_by(RegionKindDay.day)
    ):
        cells[(_period_of(row.day, per), kind)][region].add_day(row)

    region_rows, household_rows = [], []
    for (period, kind), regions in sorted(cells.items(), key=lambda item: (item[0][0].start, item[0][1])):
        for area, area_type, cell in areas(regions):
            keys = {**_period_keys(period), "area": area, "area_type": area_type, "kind": kind}
            region_rows.append({**keys, **cell.figures()})
            household_rows.extend({**keys, "characteristic": characteristic, "value": value, "count": n}
                                  for (characteristic, value), n in sorted(cell.households.items()))
    hotline_rows = _hotline_rows(periods, per)

    values, groups = _across_groups(region_rows, REGION_KIND, _REGION_KEY, "area", NATIONAL)
    if per == "month":
        # Published together, the tables are suppressed together: a household
        # table's cell must not give away a region table's suppressed one.
        household_values, household_groups = _household_groups(household_rows)
        values.update(household_values)
        groups.extend(household_groups)
    hotline_values, hotline_groups = _across_groups(hotline_rows, HOTLINE, ("period", "number"), "number", ALL_NUMBERS)
    values.update(hotline_values)
    groups.extend(hotline_groups)
    hidden = suppress(values, groups)
    _publish(region_rows, REGION_KIND, _REGION_KEY, hidden)
    _publish(household_rows, HOUSEHOLDS, _HOUSEHOLD_KEY, hidden)
    _publish(hotline_rows, HOTLINE, ("period", "number"), hidden)
    return {REGION_KIND.name: region_rows, HOUSEHOLDS.name: household_rows, HOTLINE.name: hotline_rows}


def _period_keys(period: Period) -> dict:
    return {"period": period.label, "period_start": period.start.isoformat(), "period_end": period.end.isoformat()}


def _hotline_rows(periods: list[Period], per: str) -> list[dict]:
    counts: dict[tuple, Counter] = defaultdict(Counter)
    for row in db.session.scalars(select(HotlineDay).where(HotlineDay.day >= periods[0].start,
                                                           HotlineDay.day <= periods[-1].end)):
        period = _period_of(row.day, per)
        figures = {column.name: column.read(row) for column in HOTLINE.counts}
        counts[(period, row.number or "none")].update(figures)
        counts[(period, ALL_NUMBERS)].update(figures)
    return [{**_period_keys(period), "number": number, **{c.name: found[c.name] for c in HOTLINE.counts}}
            for (period, number), found in sorted(counts.items(), key=lambda item: (item[0][0].start,
                                                                                    item[0][1] == ALL_NUMBERS,
                                                                                    item[0][1]))]


# A published count is known by (table, its row's key..., column).
_REGION_KEY = ("period", "kind", "area")
_HOUSEHOLD_KEY = ("period", "kind", "area", "characteristic", "value")


def _cell(spec: TableSpec, row: dict, key: tuple[str, ...], column: str) -> tuple:
    return (spec.name, *(row[name] for name in key), column)


def _across_groups(rows: list[dict], spec: TableSpec, key: tuple[str, ...], across: str, total: str):
    """The counts of `rows` and their groups: each row's parts and totals
    (spec.row_totals), and each column across `across` with its `total` row."""
    values = {_cell(spec, row, key, column.name): row[column.name] for row in rows for column in spec.counts}
    groups = [(_cell(spec, row, key, whole), [_cell(spec, row, key, part) for part in parts])
              for row in rows for whole, parts in spec.row_totals]
    members = defaultdict(list)
    for row in rows:
        if row[across] != total:
            members[_cell(spec, {**row, across: total}, key, "")].append(row)
    for whole, parts in members.items():
        groups.extend(((*whole[:-1], column.name), [_cell(spec, part, key, column.name) for part in parts])
                      for column in spec.counts)
    return values, groups


def _household_groups(rows: list[dict]):
    """The households' counts and groups: across areas, within an area (the
    client types add up to the households, the age bands to the children),
    and the households the same as the region table's turn-aways (each
    published only with the other)."""
    values, groups = _across_groups(rows, HOUSEHOLDS, _HOUSEHOLD_KEY, "area", NATIONAL)
    by_area = defaultdict(list)
    for row in rows:
        by_area[_cell(HOUSEHOLDS, row, _REGION_KEY, "")].append(row)
    for area, area_rows in by_area.items():
        for whole, part in _HOUSEHOLD_TOTALS:
            groups.append(((*area[:-1], *whole, "count"),
                           [_cell(HOUSEHOLDS, row, _HOUSEHOLD_KEY, "count")
                            for row in area_rows if row["characteristic"] == part]))
        households = (*area[:-1], "households", "", "count")
        turn_aways = (REGION_KIND.name, *area[1:-1], "turn_aways_total")
        groups.extend([(households, [turn_aways]), (turn_aways, [households])])
    return values, groups


def _publish(rows: list[dict], spec: TableSpec, key: tuple[str, ...], hidden: set) -> None:
    for row in rows:
        for column in spec.counts:
            if _cell(spec, row, key, column.name) in hidden:
                row[column.name] = SUPPRESSED


# --- files -------------------------------------------------------------------------


def metadata(specs: list[TableSpec], database: str, since: date, until: date) -> dict:
    """Datasette's metadata: the title, the source and license note, and
    every table and column described."""
    return {
        "title": "Opvang: de-identified crisis-relief statistics",
        "description": f"From {since} to {until} (whole periods only). Counts under {SMALL} are shown as "
                       f"'{SUPPRESSED}', and others with them so that none can be recomputed from a total; "
                       f"areas of fewer than {MIN_FACILITIES} facilities are merged.",
        "license": "CC BY 4.0",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "source": "Opvang daily statistics (PRODUCT.md rule 11)",
        "databases": {database: {"tables": {
            spec.name: {"description": spec.description,
                        "columns": {column.name: column.description for column in spec.columns}}
            for spec in specs
        }}},
    }


def _write_db(path: Path, specs, tables, since, until) -> list[Path]:
    """Write beside the target and move into place, so that a failure leaves no file."""
    temporary = path.with_name(f".{path.name}.partial")
    temporary.unlink(missing_ok=True)
    target = sqlite_utils.Database(temporary)
    for spec in specs:
        target[spec.name].create({column.name: column.type for column in spec.columns})
        target[spec.name].insert_all(tables[spec.name])
    target.close()
    meta_path = path.with_name(METADATA)
    meta_temporary = path.with_name(f".{METADATA}.partial")
    meta_temporary.write_text(json.dumps(metadata(specs, path.stem, since, until), indent=2) + "\n")
    os.replace(temporary, path)
    os.replace(meta_temporary, meta_path)
    return [path, meta_path]


def _write_csv(path: Path, specs, tables, since, until) -> list[Path]:
    written = []
    for spec in specs:
        target = path.with_name(f"{path.stem}-{spec.name}{path.suffix}")
        temporary = target.with_name(f".{target.name}.partial")
        with temporary.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=[column.name for column in spec.columns])
            writer.writeheader()
            writer.writerows(tables[spec.name])
        written.append((temporary, target))
    for temporary, target in written:
        os.replace(temporary, target)
    return [target for _, target in written]
