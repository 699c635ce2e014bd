"""National-scale benchmark of the registry's read path.

    .venv/bin/python bench/registry.py [--runs 200] [--page-runs 50] [--seed 1] [--check]

Builds a synthetic registry in a temporary SQLite file (schema by the real
migrations, rows bulk-inserted): 10,000 facilities in 11 regions, 30,000
capacity units, 3,000,000 capacity changes; about one unit in five stale and
one facility in twenty closed for intake. Then times, in-process:

  (a) capacity.region_totals(now), the regional totals of the dashboard and API;
  (b) GET /dashboard/ as a logged-in operator, and GET /api/v1/regions if that
      route exists;
  (c) one hand-written SQL query giving the same numbers, on a plain sqlite3
      connection: the floor for (a), which must agree with it exactly;
  (d) a bare Flask app's route returning constant JSON: the floor for (b).

(a) and (c) take turns, as do the API and (d), so that whatever else the
machine is doing weighs on both alike. Aim: (a) at most 20 ms p95 and at most
2x (c); --check makes a miss exit 1. The temporary directory is deleted at the
end, whatever happens (unless --keep).
"""

import argparse
import csv
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import FrozenClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import CapacityKind, CapacityUnit, Facility, Region  # noqa: E402
from app.models.capacity import SOURCES  # noqa: E402
from app.services.accounts import users
from app.services.core.access import Actor  # noqa: E402
from app.services.registry import capacity, facilities, places
from app.services.registry.intake_hours import ALWAYS  # noqa: E402

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
FACILITIES = 10_000
CHANGES = 3_000_000
PASSWORD = "bench password"
AIM_P95_MS = 20.0
AIM_RATIO = 2.0

# Belgium's ten provinces and Brussels, weighted roughly by population (millions).
REGIONS = [
    ("antwerpen", "Antwerpen", 1.90), ("oost-vlaanderen", "Oost-Vlaanderen", 1.55),
    ("henegouwen", "Henegouwen", 1.35), ("brussel", "Brussel", 1.22),
    ("west-vlaanderen", "West-Vlaanderen", 1.20), ("vlaams-brabant", "Vlaams-Brabant", 1.17),
    ("luik", "Luik", 1.11), ("limburg", "Limburg", 0.89), ("namen", "Namen", 0.50),
    ("waals-brabant", "Waals-Brabant", 0.41), ("luxemburg", "Luxemburg", 0.29),
]
FACILITY_TYPES = ("crisis_centre", "refuge", "relief_point", "offender_programme")
LANGUAGES = ("nl", "fr", "en", "de", "ar", "tr", "pl")


def sqlite_time(value: datetime) -> str:
    """How SQLAlchemy stores a (UTC) datetime in SQLite, so that raw rows compare alike."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


# --- building -------------------------------------------------------------


def municipalities() -> list[places.Place]:
    """Every municipality once (its main postcode), in the postcode table's order."""
    with places.TABLE.open(encoding="utf-8", newline="") as handle:
        return [places.lookup(row["postcode"]) for row in csv.DictReader(handle) if row["primary"] == "1"]


def build(app: Flask, path: Path, rng: random.Random, changes: int = CHANGES) -> dict:
    """Migrate, then fill the registry with `changes` history rows. Returns what
    was made, for the report. bench/placement.py imports it."""
    with app.app_context():
        upgrade()
        kinds = {code: (kind_id, counts) for kind_id, code, counts in db.session.execute(
            select(CapacityKind.id, CapacityKind.code, CapacityKind.counts))}

        db.session.execute(insert(Region), [{"slug": s, "name": n} for s, n, _ in REGIONS])
        region_ids = [rid for rid, in db.session.execute(select(Region.id).order_by(Region.id))]
        weights = [w for _, _, w in REGIONS]

        facility_rows, unit_rows = [], []
        known = municipalities()
        # 1..5 kinds per facility, each count equally often: 3 on average, 30,000 in all.
        kind_counts = [1 + i % 5 for i in range(FACILITIES)]
        rng.shuffle(kind_counts)
        for n in range(1, FACILITIES + 1):
            open_ = rng.random() >= 0.05
            stale_after = rng.choice((12, 12, 24, 48))
            ftype = rng.choice(FACILITY_TYPES)
            facility_rows.append({
                "id": n,
                "slug": f"facility-{n:05d}",
                "name": f"{ftype.replace('_', ' ').title()} {n:05d}",
                "type": ftype,
                "region_id": rng.choices(region_ids, weights)[0],
                "municipality": known[n % len(known)].municipality,
                "postcode": known[n % len(known)].postcode,
                "street": f"Straat {n}",
                "lat": 50.5 + rng.random(), "lon": 3.0 + 2.5 * rng.random(),
                "confidential": ftype == "refuge" and rng.random() < 0.5,
                "intake_phone": f"+3232{n:06d}",
                "intake_hours": ALWAYS,
                "open_for_intake": open_,
                "closed_reason": None if open_ else "Renovatie",
                "stale_after_hours": stale_after,
                "genders": ["female"] if rng.random() < 0.6 else ["female", "male", "x"],
                "children": rng.random() < 0.5,
                "wheelchair": rng.random() < 0.3,
                "pets": rng.random() < 0.1,
                "high_security": rng.random() < 0.1,
                "languages": rng.sample(LANGUAGES, rng.randint(1, 3)),
                "created_at": NOW - timedelta(days=400),
                "located_at": NOW - timedelta(days=400),
            })
            row = facility_rows[-1]
            row["public_lat"], row["public_lon"] = facilities.public_point(
                row["confidential"], row["lat"], row["lon"], row["municipality"], row["postcode"])
            row["language_mask"] = facilities.language_mask(row["languages"])
            for code in rng.sample(sorted(kinds), kind_counts[n - 1]):
                kind_id, counts = kinds[code]
                total = rng.randint(0, 30)
                # Most units were updated within their facility's window; about one in five is stale.
                window = stale_after * (rng.uniform(1.0, 4.0) if rng.random() < 0.2 else rng.random())
                updated_at = NOW - timedelta(hours=window)
                unit_rows.append({
                    "facility_id": n, "region_id": facility_rows[-1]["region_id"], "facility_open": open_,
                    "kind_id": kind_id, "total": total,
                    "available": rng.randint(0, total), "room_size": 4 if counts == "rooms" else None,
                    "version": rng.randint(1, 200), "updated_at": updated_at,
                    "stale_at": updated_at + timedelta(hours=stale_after),
                })
        db.session.execute(insert(Facility), facility_rows)
        db.session.execute(insert(CapacityUnit.__table__), unit_rows)

        operator = users.save_user(Actor(user=None, source="import"), NOW, email="operator@bench.example",
                                      name="Bench Operator", roles=["operator"], password=PASSWORD)
        db.session.commit()
        operator_id = operator.id
        db.session.remove()
        db.engine.dispose()

    # 3,000,000 history rows through the plain driver: SQLAlchemy's per-row
    # processing would take minutes.
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")  # 256 MiB while loading
    units = len(unit_rows)
    start = NOW - timedelta(days=365)
    step = (NOW - start) / max(changes, 1)

    def history():
        for n in range(1, changes + 1):
            before = rng.randint(0, 30)
            confirm = rng.random() < 0.1
            yield (n, rng.randint(1, units), sqlite_time(start + step * n), "confirm" if confirm else "set",
                   "available", before, before if confirm else rng.randint(0, 30),
                   SOURCES[n % 3], operator_id if n % 2 else None, None)

    with conn:
        conn.executemany(
            'INSERT INTO capacity_changes (id, unit_id, at, action, field, before, after, source, actor_id, note)'
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            history(),
        )
    conn.close()
    return {"regions": len(REGIONS), "facilities": len(facility_rows), "units": units, "changes": changes}


# --- the baseline query ---------------------------------------------------

# Written by hand as one would for SQLite and this schema (each unit carries its
# facility's region and intake switch): group on the integer keys, name the
# kinds afterwards, and count a region's stale facilities from its units.
BASELINE_SQL = """
SELECT s.region_id, k.code, s.total, s.available, s.free, NULL
  FROM (SELECT region_id, kind_id, SUM(total) AS total, SUM(available) AS available,
               SUM(CASE WHEN facility_open THEN available ELSE 0 END) AS free
          FROM capacity_units
         GROUP BY region_id, kind_id) s
  JOIN capacity_kinds k ON k.id = s.kind_id
UNION ALL
SELECT region_id, NULL, NULL, NULL, NULL, COUNT(DISTINCT facility_id)
  FROM capacity_units
 WHERE stale_at <= ?
 GROUP BY region_id
"""


def baseline(conn: sqlite3.Connection, now: datetime) -> list[tuple]:
    return conn.execute(BASELINE_SQL, (sqlite_time(now),)).fetchall()


def as_numbers_from_service(totals) -> dict:
    return {
        t.region.id: (t.stale_facilities, {code: (f.total, f.available, f.free) for code, f in t.by_kind.items()})
        for t in totals
    }


def as_numbers_from_baseline(rows, region_ids, kind_codes) -> dict:
    numbers = {rid: [0, {code: (0, 0, 0) for code in kind_codes}] for rid in region_ids}
    for region_id, code, total, available, free, stale in rows:
        if code is None:
            numbers[region_id][0] = stale
        else:
            numbers[region_id][1][code] = (total, available, free)
    return {rid: tuple(value) for rid, value in numbers.items()}


# --- timing ---------------------------------------------------------------


def timed(functions: dict[str, Callable[[], object]], runs: int, warmup: int) -> dict[str, list[float]]:
    """Time each function `runs` times, taking turns, so that whatever else the
    machine does at the moment weighs on each alike."""
    for function in functions.values():
        for _ in range(warmup):
            function()
    times = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def bare_app() -> Flask:
    app = Flask("bare")

    @app.get("/ping")
    def ping():
        return {"ok": True}

    return app


def get_ok(client, url: str) -> Callable[[], None]:
    def call():
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"GET {url} answered {response.status_code}")
        response.get_data()

    return call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs of each measurement (default 200)")
    parser.add_argument("--page-runs", type=int, default=50,
                        help="timed runs of GET /dashboard/, which is slow at this scale (default 50)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed runs first (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="exit 1 if (a) misses its aim")
    parser.add_argument("--keep", action="store_true", help="keep the database and print where it is")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="opvang-bench-"))
    path = workdir / "registry.db"
    try:
        app = create_app({
            "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench", "DATABASE_URL": f"sqlite:///{path}",
            "WTF_CSRF_ENABLED": False, "CLOCK": FrozenClock(NOW),
        })
        began = time.perf_counter()
        made = build(app, path, random.Random(args.seed))
        print(f"built {made['regions']} regions, {made['facilities']:,} facilities, {made['units']:,} units, "
              f"{made['changes']:,} changes in {time.perf_counter() - began:.1f} s "
              f"({path.stat().st_size / 2**20:.0f} MiB)")
        met = measure(app, path, args)
        return 1 if args.check and not met else 0
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(app: Flask, path: Path, args) -> bool:
    runs, warmup = args.runs, args.warmup
    with app.app_context():
        region_ids = [rid for rid, in db.session.execute(select(Region.id))]
        kind_codes = list(db.session.scalars(select(CapacityKind.code)))
        stale_units = db.session.scalar(
            select(db.func.count()).select_from(CapacityUnit).where(CapacityUnit.stale_at <= NOW))
        closed = db.session.scalar(select(db.func.count()).select_from(Facility).where(~Facility.open_for_intake))
        first = db.session.scalars(select(Region).order_by(Region.name)).first()
        first_facilities = db.session.scalar(
            select(db.func.count()).select_from(Facility).where(Facility.region_id == first.id))
        first_units = db.session.scalar(
            select(db.func.count()).select_from(CapacityUnit).join(Facility).where(Facility.region_id == first.id))
        first_name = first.name
        db.session.remove()
    print(f"{stale_units:,} stale units; {closed:,} facilities closed for intake")

    # (a) the service, in an app context as a request has it; the session is
    # cleared after each call as at the end of a request. (c) the baseline, on
    # its own plain connection. Timed taking turns.
    def service():
        totals = capacity.region_totals(NOW)
        db.session.remove()
        return totals

    conn = sqlite3.connect(path)
    with app.app_context():
        numbers_a = as_numbers_from_service(capacity.region_totals(NOW))
        db.session.remove()
        numbers_c = as_numbers_from_baseline(baseline(conn, NOW), region_ids, kind_codes)
        if numbers_a != numbers_c:
            differing = sorted(rid for rid in numbers_c if numbers_a.get(rid) != numbers_c[rid])
            raise SystemExit(f"region_totals and the raw query disagree for regions {differing}")
        print(f"(a) and (c) agree: {len(region_ids)} regions x {len(kind_codes)} kinds, and the stale counts")
        results = timed({"(a) region_totals": service, "(c) raw SQL": lambda: baseline(conn, NOW)}, runs, warmup)
    conn.close()

    # (b) the pages, through the test client, logged in as an operator; (d) a
    # bare Flask app's constant JSON, taking turns with the API.
    client = app.test_client()
    response = client.post("/login", data={"email": "operator@bench.example", "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    pages = {"(d) bare Flask JSON": get_ok(bare_app().test_client(), "/ping")}
    pages["(b) GET /api/v1/regions"] = get_ok(client, "/api/v1/regions")
    results.update(timed(pages, runs, warmup))
    page = client.get("/dashboard/")
    print(f"GET /dashboard/ shows {first_name} ({first_facilities:,} facilities, {first_units:,} units) one page "
          f"at a time: {len(page.data) / 1024:.0f} KiB of HTML; timed {args.page_runs} times")
    results.update(timed({"(b) GET /dashboard/": get_ok(client, "/dashboard/")}, args.page_runs, min(warmup, 3)))

    print(f"\n{runs} runs after {warmup} warm-up (dashboard: {args.page_runs})")
    print(f"{'':28} {'median ms':>10} {'p95 ms':>10}")
    for name in ("(a) region_totals", "(c) raw SQL", "(b) GET /dashboard/", "(b) GET /api/v1/regions",
                 "(d) bare Flask JSON"):
        if name in results:
            print(f"{name:28} {statistics.median(results[name]):10.2f} {p95(results[name]):10.2f}")

    def ratios(a: str, b: str) -> str:
        median = statistics.median(results[a]) / statistics.median(results[b])
        return f"{median:.2f}x median, {p95(results[a]) / p95(results[b]):.2f}x p95"

    print()
    print(f"(a)/(c)             {ratios('(a) region_totals', '(c) raw SQL')}")
    print(f"(b)/(d) dashboard   {ratios('(b) GET /dashboard/', '(d) bare Flask JSON')}")
    print(f"(b)/(d) API         {ratios('(b) GET /api/v1/regions', '(d) bare Flask JSON')}")

    a_p95 = p95(results["(a) region_totals"])
    a_ratio = statistics.median(results["(a) region_totals"]) / statistics.median(results["(c) raw SQL"])
    met = a_p95 <= AIM_P95_MS and a_ratio <= AIM_RATIO
    print(f"aim for (a): p95 <= {AIM_P95_MS:.0f} ms ({a_p95:.2f}) and median <= {AIM_RATIO:.0f}x (c) ({a_ratio:.2f}): "
          f"{'met' if met else 'MISSED'}")
    return met


if __name__ == "__main__":
    sys.exit(main())
