"""A region's report over a year, at national scale: the page and its charts.

    .venv/bin/python bench/report_page.py [--regions 20] [--runs 20] [--freeze]
                                          [--database-url postgresql+psycopg://…] [--check]

Writes a year (366 local days up to today) of daily statistics for
`--regions` regions × every capacity kind, and two hotline numbers, in a
temporary SQLite file (or, with --database-url, in that PostgreSQL database,
whose schema is dropped and made again by the migrations). Then times, as an
admin through the app (routing, sign-in, service, template), taking turns:

  (a) GET /reports/<region>?period=365d, the page with its eight tables;
  (b) each chart's SVG for the same period (the occupancy's: 366 days × 12 lines);
  (c) a raw-SQL baseline: the one query of the region's year of rows.

Aim: (a) at most 200 ms p95; --check makes a miss exit 1.
"""

import argparse
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from app import clock, create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import CapacityKind, HotlineDay, Region, RegionKindDay  # noqa: E402
from app.services.accounts import users  # noqa: E402
from app.services.core.access import Actor  # noqa: E402
from app.services.statistics import days, report  # noqa: E402

AIM_MS = 200
DAYS = 366
PASSWORD = "bench password, long enough"
HOLDS = ("admitted", "declined", "no_show", "elsewhere", "cancelled", "expired", "lapsed")


def build(regions: int, seed: int) -> int:
    """The year of rows; how many."""
    rnd = random.Random(seed)
    now = clock.now()
    today = days.local_day(now)
    kinds = db.session.scalars(select(CapacityKind.id)).all()
    made = [Region(slug=f"region-{n:02d}", name=f"Region {n:02d}") for n in range(regions)]
    db.session.add_all(made)
    db.session.flush()
    rows = []
    for region in made:
        for kind_id in kinds:
            for back in range(DAYS):
                total = rnd.randrange(5, 120)
                rows.append(dict(
                    day=today - timedelta(days=back), region_id=region.id, kind_id=kind_id,
                    mean_free=round(rnd.random() * total / 4, 2), min_free=0, hours_at_zero=round(rnd.random() * 6, 2),
                    mean_total=float(total), facilities=rnd.randrange(1, 40),
                    turn_aways={"full": rnd.randrange(9), "ineligible": rnd.randrange(3), "closed": rnd.randrange(2)},
                    turn_away_households={
                        "households": 5, "client_types": {"victim": 4, "couple": 1}, "adults": 6, "children": 3,
                        "with_children": 2, "child_ages": {"0-2": 1, "3-5": 1, "6-11": 1, "12-17": 0},
                        "needs": {"wheelchair": 1, "pets": 0, "high_security": 1}, "languages": {"fr": 2, "en": 1}},
                    requests_opened=rnd.randrange(5),
                    requests_closed={"placed": rnd.randrange(3), "withdrawn": rnd.randrange(2), "expired": 0},
                    request_wait_median_h=round(rnd.random() * 48, 2),
                    holds={outcome: rnd.randrange(3) for outcome in HOLDS}, referrals_accepted=rnd.randrange(4),
                    referral_accept_median_h=round(rnd.random() * 12, 2), computed_at=now, final=True))
    db.session.execute(RegionKindDay.__table__.insert(), rows)
    db.session.execute(HotlineDay.__table__.insert(), [
        dict(day=today - timedelta(days=back), number=number, offered=100, answered=60, missed=25, menu_hangups=10,
             voicemails=15, callbacks=1, median_answer_s=40.0, computed_at=now, final=True)
        for back in range(DAYS) for number in ("+3220000000", "+3220000099")])
    users.save_user(Actor(user=None, source="import"), now, email="bench-admin@opvang.test", name="Bench Admin",
                    roles=["admin"], facility_slugs=[], region_slugs=[], phone=None, language="en",
                    password=PASSWORD)
    db.session.commit()
    return len(rows)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=20)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--freeze", action="store_true", help="gc.freeze() the loaded app before timing")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="opvang-bench-"))
    try:
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench",
                          "HOTLINE_SIGNING_TOKEN": "bench", "WTF_CSRF_ENABLED": False})
        with app.app_context():
            if args.database_url:
                with db.engine.begin() as connection:
                    connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                    connection.exec_driver_sql("CREATE SCHEMA public")
            upgrade()
            count = build(args.regions, args.seed)
            region_id = db.session.scalar(select(Region.id).where(Region.slug == "region-07"))
            print(f"{count} region × kind × day rows, {args.regions} regions, {db.engine.dialect.name}")
        if args.freeze:
            # What a server that freezes its start-up objects does (gc.freeze() after
            # loading the app): the collector no longer walks them on each full
            # collection, the pauses that otherwise make the p95.
            gc.collect()
            gc.freeze()
        client = app.test_client()
        signed_in = client.post("/login", data={"email": "bench-admin@opvang.test", "password": PASSWORD})
        assert signed_in.status_code == 302, signed_in.status_code

        def get(path):
            def run():
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
            return run

        def baseline():
            with app.app_context():
                db.session.execute(text("SELECT * FROM stats_region_daily WHERE region_id = :region "
                                        "AND day >= :since"), {"region": region_id,
                                                               "since": days.local_day(clock.now()) - timedelta(365)}
                                   ).all()

        runs = {"(a) the page, 365 days": get("/reports/region-07?period=365d"),
                **{f"(b) {name}.svg": get(f"/reports/region-07/{name}.svg?period=365d") for name in report.TABLES},
                "(c) raw SQL: the rows": baseline}
        times = {name: [] for name in runs}
        for _ in range(args.runs):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1000)
        for name, values in times.items():
            print(f"{name:28s} median {statistics.median(values):7.1f} ms   p95 {p95(values):7.1f} ms")
        with app.app_context():
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    page_p95 = p95(times["(a) the page, 365 days"])
    if args.check and page_p95 > AIM_MS:
        print(f"(a) p95 {page_p95:.1f} ms is over the aim of {AIM_MS} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
