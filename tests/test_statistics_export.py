"""The de-identified export (issue 12, part 3; PRODUCT.md rule 11): statistics
rows made by hand, exported through `flask stats export`, and every table
checked as an outside reader would attack it — no count under 5, no area of
fewer than 3 facilities, no suppressed cell recoverable from a published
total, never per day, household types per month only — and the bytes
searched for what must never leave."""

import csv
import json
import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlite_utils
from sqlalchemy import select

from app.extensions import db
from app.models import CapacityKind, HotlineDay, RegionKindDay
from app.models.placement import HOLD_OUTCOMES, TURN_AWAY_REASONS
from app.services.statistics import export, hotline_daily, region_daily
from tests import factories as make

# Facilities per region and kind: Limburg has one refuge; the family rooms
# are in regions too small by themselves; the intake slots, all regions
# together, are too few to publish at all.
FACILITIES = {
    ("antwerpen", "crisis_bed"): 3, ("gent", "crisis_bed"): 4, ("brugge", "crisis_bed"): 6,
    ("limburg", "crisis_bed"): 1,
    ("antwerpen", "family_room"): 2, ("brugge", "family_room"): 2,
    ("limburg", "intake_slot"): 1,
}
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))
HOTLINE_NUMBERS = ("+3270123456", "+3270654321", "")
NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)  # the suite's START: October and its weeks are over


def _household(rng) -> dict:
    households = rng.randint(0, 9)
    victims = rng.randint(0, households)
    return {"households": households, "client_types": {"victim": victims, "offender": households - victims},
            "adults": households + rng.randint(0, 3), "children": 3, "with_children": min(households, 2),
            "child_ages": {"0-2": 1, "3-5": 0, "6-11": 2, "12-17": 0},
            "needs": {"wheelchair": rng.randint(0, 3)}, "languages": {"nl": households, "ar": rng.randint(0, 2)}}


@pytest.fixture
def stats(app):
    """September to November 2026 by hand: small random counts, so that
    suppression has work; turn-aways that add up to the households."""
    rng = random.Random(12)
    kinds = dict(db.session.execute(select(CapacityKind.code, CapacityKind.id)).all())
    regions = {slug: make.region(slug) for slug, _ in FACILITIES}
    day = date(2026, 9, 1)
    while day <= date(2026, 11, 27):
        for (slug, kind), facilities in FACILITIES.items():
            households = _household(rng)
            full = rng.randint(0, households["households"])
            db.session.add(RegionKindDay(
                day=day, region_id=regions[slug].id, kind_id=kinds[kind],
                mean_free=round(rng.uniform(0, 3 * facilities), 2), min_free=rng.randint(0, facilities),
                hours_at_zero=round(rng.uniform(0, 24), 2), mean_total=float(3 * facilities),
                # Limburg's refuge shares its building with a second one on the 1st.
                facilities=facilities + (1 if day.day == 1 and slug == "limburg" else 0),
                turn_aways={"full": full, "ineligible": households["households"] - full, "closed": 0},
                turn_away_households=households, requests_opened=rng.randint(0, 12),
                requests_closed={"placed": 1, "withdrawn": 0, "expired": 0}, request_wait_median_h=6.0,
                holds={outcome: rng.randint(0, 4) for outcome in HOLD_OUTCOMES},
                referrals_accepted=rng.randint(0, 6), referral_accept_median_h=1.5,
                computed_at=NOW, final=True))
        for number in HOTLINE_NUMBERS:
            answered, missed, hangups = rng.randint(0, 30), rng.randint(0, 3), rng.randint(0, 2)
            db.session.add(HotlineDay(
                day=day, number=number, offered=answered + missed + hangups, answered=answered, missed=missed,
                menu_hangups=hangups, voicemails=rng.randint(0, 2), callbacks=rng.randint(0, 2),
                median_answer_s=12.0, computed_at=NOW, final=True))
        day += timedelta(days=1)
    db.session.commit()


def run(runner, *args):
    return runner.invoke(args=["stats", "export", *args])


def read_db(path) -> dict[str, list[dict]]:
    database = sqlite_utils.Database(path)
    return {name: list(database[name].rows) for name in database.table_names()}


def read_csv(out) -> dict[str, list[dict]]:
    tables = {}
    for path in sorted(out.parent.glob(f"{out.stem}-*.csv")):
        with path.open(newline="") as file:
            tables[path.stem.removeprefix(f"{out.stem}-")] = [
                {name: int(value) if value.isdigit() else value for name, value in row.items()}
                for row in csv.DictReader(file)]
    return tables


# --- the checker: an outside reader's attack ------------------------------------------


def groups(tables: dict[str, list[dict]]):
    """Every (total, parts) a reader can add up, as (table, row index, column)
    cells: the regions and the national row per column, the reasons and
    outcomes and their totals, the numbers and all numbers, the client types
    and age bands and their totals, and the households as many as the
    turn-aways of the same area."""
    def across(table, key, over, total, columns):
        rows = tables.get(table, [])
        parts = defaultdict(list)
        wholes = {}
        for index, row in enumerate(rows):
            where = tuple(row[name] for name in key)
            if row[over] == total:
                wholes[where] = index
            else:
                parts[where].append(index)
        for where, indexes in parts.items():
            for column in columns:
                yield (table, wholes[where], column), [(table, index, column) for index in indexes]

    region_counts = [column.name for column in export.REGION_KIND.counts]
    yield from across("region_kind", ("period", "kind"), "area", "all regions", region_counts)
    yield from across("turn_away_households", ("period", "kind", "characteristic", "value"), "area",
                      "all regions", ["count"])
    yield from across("hotline", ("period",), "number", "all numbers",
                      [column.name for column in export.HOTLINE.counts])
    for index, _ in enumerate(tables["region_kind"]):
        yield (("region_kind", index, "turn_aways_total"),
               [("region_kind", index, f"turn_aways_{reason}") for reason in TURN_AWAY_REASONS])
        yield (("region_kind", index, "holds_total"),
               [("region_kind", index, f"holds_{outcome}") for outcome in HOLD_OUTCOMES])
    for index, _ in enumerate(tables["hotline"]):
        yield (("hotline", index, "offered"),
               [("hotline", index, column) for column in ("answered", "missed", "menu_hangups")])
    areas = defaultdict(dict)
    for index, row in enumerate(tables.get("turn_away_households", [])):
        areas[(row["period"], row["kind"], row["area"])].setdefault(row["characteristic"], []).append(index)
    turn_aways = {(row["period"], row["kind"], row["area"]): index
                  for index, row in enumerate(tables["region_kind"])}
    for area, found in areas.items():
        cell = ("turn_away_households", found["households"][0], "count")
        for whole, part in (("households", "client_type"), ("children", "child_age")):
            yield (("turn_away_households", found[whole][0], "count"),
                   [("turn_away_households", index, "count") for index in found.get(part, [])])
        yield cell, [("region_kind", turn_aways[area], "turn_aways_total")]
        yield ("region_kind", turn_aways[area], "turn_aways_total"), [cell]


def check_no_count_recoverable(tables):
    def value(cell):
        table, index, column = cell
        return tables[table][index][column]

    checked = 0
    for total, parts in groups(tables):
        if value(total) != export.SUPPRESSED:
            hidden = [part for part in parts if value(part) == export.SUPPRESSED]
            assert len(hidden) != 1, f"{hidden[0]} is {total} minus the published rest"
            checked += 1
    assert checked > 100


def check_counts(tables):
    """No count under 5 anywhere: each is "<5" or 5 or more."""
    suppressed = 0
    for spec in (export.REGION_KIND, export.HOUSEHOLDS, export.HOTLINE):
        for row in tables.get(spec.name, []):
            for column in spec.counts:
                assert row[column.name] == export.SUPPRESSED or row[column.name] >= 5, (spec.name, row)
                suppressed += row[column.name] == export.SUPPRESSED
    assert suppressed > 0


def check_facilities(tables, first: date, last: date):
    """No published area of fewer than 3 facilities, and no merged one
    either: the national row minus the published regions covers 3 or more
    (the fewest each region had on a day, as the export counts them)."""
    fewest = defaultdict(dict)
    for (slug, kind), facilities in FACILITIES.items():
        fewest[kind][slug.title()] = facilities
    published = defaultdict(set)
    for row in tables["region_kind"]:
        assert date.fromisoformat(row["period_start"]) >= first and date.fromisoformat(row["period_end"]) <= last
        if row["area_type"] == "region":
            assert fewest[row["kind"]][row["area"]] >= 3
            published[(row["period"], row["kind"])].add(row["area"])
        elif row["area_type"] == "national":
            rest = set(fewest[row["kind"]]) - published[(row["period"], row["kind"])]
            assert sum(fewest[row["kind"]][region] for region in rest) >= 3 or not rest
    kinds = {row["kind"] for row in tables["region_kind"]}
    assert "intake_slot" not in kinds  # Limburg's only intake point, the only one
    assert "Limburg" not in {row["area"] for row in tables["region_kind"]}
    family = [row["area"] for row in tables["region_kind"] if row["kind"] == "family_room"]
    assert set(family) == {export.MERGED, export.NATIONAL}


def check_periods(tables, per: str):
    """Whole weeks or months, never a day."""
    for rows in tables.values():
        for row in rows:
            start, end = date.fromisoformat(row["period_start"]), date.fromisoformat(row["period_end"])
            if per == "week":
                assert start.weekday() == 0 and (end - start).days == 6
                assert row["period"] == f"{start.isocalendar()[0]}-W{start.isocalendar()[1]:02d}"
            else:
                assert start.day == 1 and (end + timedelta(days=1)).day == 1 and row["period"] == f"{start:%Y-%m}"


def check_all(tables, per, first, last):
    check_counts(tables)
    check_facilities(tables, first, last)
    check_no_count_recoverable(tables)
    check_periods(tables, per)


# --- the tests ---------------------------------------------------------------------


def test_a_month_to_sqlite_with_datasette_metadata(stats, runner, tmp_path):
    out = tmp_path / "stats.db"
    result = run(runner, "--since", "2026-09-15", "--until", "2026-10-20", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "months 2026-09 to 2026-10 (2)" in result.output
    tables = read_db(out)
    assert set(tables) == {"region_kind", "turn_away_households", "hotline"}
    assert {row["period"] for rows in tables.values() for row in rows} == {"2026-09", "2026-10"}
    check_all(tables, "month", date(2026, 9, 1), date(2026, 10, 31))

    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert metadata["title"] and metadata["license"] and metadata["source"]
    described = metadata["databases"]["stats"]["tables"]
    database = sqlite_utils.Database(out)
    assert set(described) == set(database.table_names())
    for name in database.table_names():
        assert described[name]["description"]
        assert set(described[name]["columns"]) == {column.name for column in database[name].columns}
        assert all(described[name]["columns"].values())


def test_weeks_to_csv_without_household_types(stats, runner, tmp_path):
    out = tmp_path / "stats.csv"
    # 2026-09-30 is a Wednesday: its whole week is exported, never a part of it.
    result = run(runner, "--since", "2026-09-30", "--until", "2026-10-31", "--out", str(out), "--per", "week")
    assert result.exit_code == 0, result.output
    assert "per month only" in result.output
    tables = read_csv(out)
    assert set(tables) == {"region_kind", "hotline"}
    assert not (tmp_path / "stats-turn_away_households.csv").exists()
    assert tables["region_kind"][0]["period"] == "2026-W40"
    assert tables["region_kind"][-1]["period"] == "2026-W44"  # 26 Oct to 1 Nov
    check_all(tables, "week", date(2026, 9, 28), date(2026, 11, 1))


def test_periods_not_over_are_left_out(stats, runner, tmp_path):
    out = tmp_path / "stats.db"
    result = run(runner, "--since", "2026-10-01", "--until", "2026-11-30", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert {row["period"] for row in read_db(out)["region_kind"]} == {"2026-10"}
    for bad in (["--since", "2026-11-01", "--until", "2026-11-30"],  # November is not over
                ["--since", "2026-11-23", "--until", "2026-11-28", "--per", "week"]):
        (tmp_path / "late.db").unlink(missing_ok=True)
        result = run(runner, *bad, "--out", str(tmp_path / "late.db"))
        assert result.exit_code != 0 and "is over yet" in result.output
        assert not (tmp_path / "late.db").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "2026-10-31", "--until", "2026-10-01", "--out", "x.db"], "since must not be after until"),
    (["--since", "2026-10-01", "--until", "2026-10-31", "--out", "x.db", "--per", "day"], "per must be one of"),
    (["--since", "2026-10-01", "--until", "2026-10-31", "--out", "x.xlsx"], "must end in .db or .csv"),
    (["--since", "2026-10-01", "--until", "2026-10-31", "--out", "x.csv", "--per", "year"], "per must be one of"),
    (["--since", "first of October", "--until", "2026-10-31", "--out", "x.db"], "since must be a date"),
    (["--since", "2026-10-01", "--until", "2026-10-31", "--out", "no/such/dir/x.db"], "no directory"),
])
def test_bad_arguments_write_nothing(stats, runner, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = run(runner, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_nothing_confidential_leaves(app, clock, runner, tmp_path):
    """A confidential refuge with a name of its own, calls with notes and
    risk answers, computed into the statistics by the real job and exported:
    none of it is in any byte written."""
    secret = "Zonnebloemhuis Geheim"
    make.facility("zonnebloem", name=secret, confidential=True, street="Verborgenstraat 7",
                  intake_phone="+3232999888", units={"crisis_bed": (5, 2)})
    for n, slug in enumerate(("a", "b", "c")):
        make.facility(slug, units={"crisis_bed": (4, n)})
    callers = [f"+32470{n:06d}" for n in range(12)]
    for caller in callers:
        call = make.call(caller)
        call.notes = "Partner dreigt, slaapt bij zus"
        call.risk_answers = {"weapon": "yes"}
    db.session.commit()
    clock.at = datetime(2026, 12, 8, 12, tzinfo=UTC)
    for offset in range(9):
        region_daily.compute_day(date(2026, 11, 28) + timedelta(days=offset), clock.now())
        hotline_daily.compute_day(date(2026, 11, 28) + timedelta(days=offset), clock.now())
    db.session.commit()

    forbidden = [secret, "Zonnebloem", "zonnebloem", "Verborgenstraat", "+3232999888", "3232999888",
                 "Partner dreigt", "weapon", *callers, *(caller[1:] for caller in callers)]
    for out, per in (("stats.db", "week"), ("stats.csv", "week"), ("month.db", "month"), ("month.csv", "month")):
        result = run(runner, "--since", "2026-11-01", "--until", "2026-12-06", "--out", str(tmp_path / out),
                     "--per", per)
        assert result.exit_code == 0, result.output
    written = list(tmp_path.iterdir())
    assert {path.name for path in written} >= {"stats.db", "metadata.json", "stats-region_kind.csv",
                                               "month-turn_away_households.csv", "month-hotline.csv"}
    rows = read_db(tmp_path / "stats.db")
    assert rows["region_kind"]
    for path in written:
        content = path.read_bytes()
        for word in forbidden:
            assert word.encode() not in content, (path.name, word)


def test_suppression_hides_a_second_cell_and_follows_it_across_groups():
    values = {"total": 20, "a": 3, "b": 9, "c": 8, "d": 6, "row": 15, "x": 6}
    # a alone would be total - b - c; then d (with c) is in a second group.
    hidden = export.suppress(values, [("total", ["a", "b", "c"]), ("row", ["c", "x"])])
    assert hidden == {"a", "c", "x"}
    # A total itself suppressed recovers nothing.
    assert export.suppress({"total": 4, "a": 4, "b": 0}, [("total", ["a", "b"])]) == {"total", "a", "b"}
    assert export.suppress({"total": 9, "a": 9}, [("total", ["a"])]) == set()
    assert export.suppress({"total": 6, "a": 2, "b": 4}, [("total", ["a", "b"])]) == {"a", "b"}


def test_a_region_with_one_refuge_is_merged_with_the_next_smallest():
    def cell(facilities):
        return export._Cell(facilities=facilities, free_by_day={date(2026, 10, 1): 1.0})

    published = export.areas({"Limburg": cell(1), "Antwerpen": cell(3), "Gent": cell(4)})
    assert [(area, cell.facilities) for area, _, cell in published] == [
        ("Gent", 4), (export.MERGED, 4), (export.NATIONAL, 8)]
    assert export.areas({"Limburg": cell(1), "Hasselt": cell(1)}) == []
