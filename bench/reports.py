"""National-scale benchmark of the reports: a region's year, and a day's statistics.

    .venv/bin/python bench/reports.py [--runs 100] [--warmup 5] [--job-runs 5] [--seed 1]
                                      [--database-url postgresql+psycopg://…] [--check] [--keep]

Builds bench/registry.py's world in a temporary SQLite file (10,000
facilities in 11 regions, 30,000 capacity units, 3,000,000 capacity changes
over the year before NOW) with bench/placement.py's holds, and adds:

  * the facilities' intake switch over the year: one facility in ten closes
    and reopens a few times (facility.close / facility.open audit events, which
    the statistics read for every day);
  * the last DETAIL_DAYS days' detail and today's so far, at national volume:
    turn-aways with their households, the requests a third of the full ones
    filed, referrals to the relief points accepted hours later (audit events),
    and the calls to two hotline numbers;
  * a year of daily statistics: those DETAIL_DAYS days computed from the
    detail by compute_day (timed: the job's catch-up), and every older day
    written as a copy of the computed day of the same weekday, its figures
    scaled by a few percent (synthetic but plausible: the same shapes and
    sizes), for every region x kind and hotline number;
  * a manager of the largest region (Antwerpen).

With --database-url (PostgreSQL) every row is then copied (COPY) into that
database, whose tables are emptied first, and everything below runs there.
Then times, taking turns with a raw-SQL floor on a plain driver connection:

  (1) GET /reports/antwerpen?period=365d as the manager, through the test
      client, with the app's objects frozen out of the garbage collector's
      sight as wsgi.py does in production (aim: p95 <= 200 ms); each of its
      charts (an SVG answer of its own); GET /api/v1/stats/daily and
      /stats/hotline-daily for the same 365 days; and (1c) the raw SELECT of
      the region's year of rows;
  (2) the daily statistics job for one day, daily.run(NOW) (today so far,
      the days past being final), rolled back (aim: <= 5 s); (2c) a raw GROUP
      BY per region and kind over the day's capacity history; (2b) for
      information, compute_day of a day OLD_DAY days back (a rebuild's day).

The temporary directory is deleted at the end (unless --keep).
"""

import argparse
import gc
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import database  # noqa: E402  (bench/database.py, beside this file)
import placement  # noqa: E402
import registry  # noqa: E402
from flask import Flask  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import FrozenClock  # noqa: E402
from app.extensions import db, writing  # noqa: E402
from app.models import (  # noqa: E402
    AuditEvent,
    Call,
    CapacityKind,
    CapacityUnit,
    Facility,
    HotlineDay,
    PlacementRequest,
    Referral,
    Region,
    RegionKindDay,
    StatisticDay,
    TurnAway,
)
from app.services.accounts import users  # noqa: E402
from app.services.core.access import Actor  # noqa: E402
from app.services.demo_history import criteria  # noqa: E402
from app.services.statistics import daily, days, hotline_daily, report  # noqa: E402

NOW = registry.NOW  # Saturday 28 November 2026, 21:00 in Brussels
REGION = "antwerpen"
MANAGER, PASSWORD = "manager@bench.example", registry.PASSWORD
HOTLINE_NUMBERS = ("+3220000000", "+3220000001")
DETAIL_DAYS = 7
OLD_DAY = 300
YEAR = 365
AIM_PAGE_P95_MS = 200.0
AIM_JOB_S = 5.0
SETUP = Actor(user=None, source="import")


def make_app(url: str) -> Flask:
    return create_app({"SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench", "DATABASE_URL": url,
                       "WTF_CSRF_ENABLED": False, "CLOCK": FrozenClock(NOW), "TIMEZONE": "Europe/Brussels"})


# --- building ---------------------------------------------------------------------


def add_switches(rng: random.Random) -> int:
    """One facility in ten closed and reopened one to four times in the year."""
    events = []
    for facility_id in db.session.scalars(select(Facility.id)):
        if rng.random() >= 0.1:
            continue
        for _ in range(rng.randint(1, 4)):
            closed = NOW - timedelta(days=rng.uniform(1, YEAR))
            reopened = closed + timedelta(hours=rng.uniform(2, 96))
            for action, at in (("facility.close", closed), ("facility.open", reopened)):
                if at < NOW:
                    events.append({"at": at, "action": action, "object_type": "facilities",
                                   "object_id": facility_id, "details": {"source": "web", "reason": None}})
    db.session.execute(insert(AuditEvent), events)
    return len(events)


def _moments(rng: random.Random, start, end):
    return lambda: start + (end - start) * rng.random()


def add_detail(rng: random.Random, today: date) -> dict:
    """The detail of the DETAIL_DAYS days before today and of today so far."""
    regions = dict(db.session.execute(select(Region.slug, Region.id)).all())
    places = {slug: (postcode, municipality) for slug, postcode, municipality in db.session.execute(
        select(Region.slug, Facility.postcode, Facility.municipality).join(Facility, Facility.region_id == Region.id))}
    kinds = list(db.session.scalars(select(CapacityKind.code)))
    slot_units = db.session.execute(
        select(CapacityUnit.facility_id, CapacityKind.code).join(CapacityKind)
        .where(CapacityKind.counts == "slots")).all()
    turn_aways, requests, calls, referral_rows, acceptances = [], [], [], [], []
    for back in range(DETAIL_DAYS, -1, -1):
        start, end = days.bounds(today - timedelta(days=back))
        moment = _moments(rng, start, min(end, NOW))

        for slug, region_id in regions.items():
            for _ in range(rng.randint(15, 35)):
                reason = rng.choices(("full", "ineligible", "closed"), (45, 45, 10))[0]
                searched = criteria(rng, rng.choice(kinds), slug, places[slug])
                at = moment()
                turn_aways.append({"at": at, "contact_key": f"session:bench-{len(turn_aways)}", "region_id": region_id,
                                   "reason": reason, "criteria": searched})
                if reason == "full" and rng.random() < 0.33:
                    requests.append({"status": "open", "opened_at": at, "expires_at": at + timedelta(hours=72),
                                     "region_id": region_id, "criteria": searched, "excluded_facility_ids": []})
        for number in HOTLINE_NUMBERS:
            for _ in range(rng.randint(120, 200)):
                started = moment()
                fate = rng.choices(("answered", "missed", "menu", "voicemail"), (70, 10, 12, 8))[0]
                rang = None if fate == "menu" else started + timedelta(seconds=rng.randint(8, 25))
                calls.append({
                    "sid": f"CA{len(calls):032d}", "channel": "voice", "caller_masked": "withheld",
                    "status": "completed", "started_at": started, "updated_at": started, "called_number": number,
                    "rang_at": rang, "answered_at": rang + timedelta(seconds=rng.uniform(1, 20))
                    if fate == "answered" else None,
                    "voicemail_at": rang + timedelta(seconds=20) if fate == "voicemail" else None,
                    "ended_at": started + timedelta(minutes=rng.uniform(0.5, 20))})
        for facility_id, kind in rng.sample(slot_units, 150):
            created = moment()
            accepted = created + timedelta(hours=rng.uniform(0.5, 30))
            referral_rows.append({"created_at": created, "facility_id": facility_id, "kind": kind,
                                  "status": "accepted" if accepted < NOW else "proposed", "updated_at": created})
            acceptances.append(accepted)
    db.session.execute(insert(TurnAway), turn_aways)
    db.session.execute(insert(PlacementRequest), requests)
    db.session.execute(insert(Call), [{**row, "ended_at": min(row["ended_at"], NOW)} for row in calls])
    ids = db.session.scalars(insert(Referral).returning(Referral.id, sort_by_parameter_order=True), referral_rows).all()
    db.session.execute(insert(AuditEvent), [
        {"at": at, "action": "referral.status", "object_type": "referrals", "object_id": referral_id,
         "details": {"source": "web", "before": "proposed", "after": "accepted", "note": None}}
        for referral_id, at in zip(ids, acceptances, strict=True) if at < NOW])
    return {"turn-aways": len(turn_aways), "requests": len(requests), "calls": len(calls),
            "referrals": len(referral_rows)}


def scaled(figures: dict, scale: float) -> dict:
    return {name: round(value * scale) for name, value in figures.items()}


def add_statistics(today: date) -> dict:
    """compute_day for the detail's days (timed); every older day of the year
    a copy of the computed day of its weekday, scaled by a few percent."""
    rng = random.Random(7)
    took = []
    for back in range(DETAIL_DAYS, 0, -1):
        began = time.perf_counter()
        for statistic in daily.STATISTICS:
            statistic.compute_day(today - timedelta(days=back), NOW)
        took.append(time.perf_counter() - began)
    db.session.commit()
    regional = {}
    for row in db.session.scalars(select(RegionKindDay).where(RegionKindDay.day < today)):
        regional.setdefault(row.day.weekday(), []).append(row)
    hotline = {}
    for row in db.session.scalars(select(HotlineDay).where(HotlineDay.day < today)):
        hotline.setdefault(row.day.weekday(), []).append(row)
    region_rows, hotline_rows, day_rows = [], [], []
    for back in range(DETAIL_DAYS + 1, YEAR):
        day = today - timedelta(days=back)
        scale = rng.uniform(0.9, 1.1)

        for row in regional[day.weekday()]:
            region_rows.append({
                "day": day, "region_id": row.region_id, "kind_id": row.kind_id,
                "mean_free": round(row.mean_free * scale, 2), "min_free": round(row.min_free * scale),
                "hours_at_zero": row.hours_at_zero, "mean_total": row.mean_total, "facilities": row.facilities,
                "turn_aways": scaled(row.turn_aways, scale), "turn_away_households": row.turn_away_households,
                "requests_opened": round(row.requests_opened * scale),
                "requests_closed": scaled(row.requests_closed, scale),
                "request_wait_median_h": row.request_wait_median_h,
                "holds": scaled(row.holds, scale), "referrals_accepted": round(row.referrals_accepted * scale),
                "referral_accept_median_h": row.referral_accept_median_h, "computed_at": NOW, "final": True})
        for row in hotline[day.weekday()]:
            hotline_rows.append({
                "day": day, "number": row.number, "computed_at": NOW, "final": True,
                "median_answer_s": row.median_answer_s,
                **{name: round(getattr(row, name) * scale)
                   for name in hotline_daily.FIGURES if name != "median_answer_s"}})
        day_rows += [{"statistic": statistic.NAME, "day": day, "computed_at": NOW, "final": True}
                     for statistic in daily.STATISTICS]
    db.session.execute(insert(RegionKindDay), region_rows)
    db.session.execute(insert(HotlineDay), hotline_rows)
    db.session.execute(insert(StatisticDay), day_rows)
    region_id = db.session.scalar(select(Region.id).where(Region.slug == REGION))
    users.save_user(SETUP, NOW, email=MANAGER, name="Bench Manager", roles=["manager"], region_slugs=[REGION],
                    password=PASSWORD)
    db.session.commit()
    return {"computed_s": took, "region rows": db.session.scalar(select(func.count()).select_from(RegionKindDay)),
            "hotline rows": db.session.scalar(select(func.count()).select_from(HotlineDay)),
            "region year": db.session.scalar(select(func.count()).select_from(RegionKindDay)
                                               .where(RegionKindDay.region_id == region_id))}


# --- the raw-SQL floors ------------------------------------------------------------


class Floor(database.Floor):
    """The raw SQL beside the report's figures, on a plain driver connection (sqlite3 or psycopg)."""

    def region_year(self, region_id: int, since: date, until: date):
        return self.run("SELECT * FROM stats_region_daily WHERE region_id = ? AND day >= ? AND day <= ?"
                        " ORDER BY day, kind_id", region_id, since.isoformat(), until.isoformat())

    def day_changes(self, start: datetime, end: datetime):
        # The day's changes first (MATERIALIZED: SQLite would otherwise loop
        # over the units and scan the history for each), then per region and kind.
        return self.run("WITH day AS MATERIALIZED (SELECT unit_id, after FROM capacity_changes"
                        " WHERE field = 'available' AND at >= ? AND at < ?)"
                        " SELECT u.region_id, u.kind_id, COUNT(*), SUM(day.after) FROM day"
                        " JOIN capacity_units u ON u.id = day.unit_id GROUP BY u.region_id, u.kind_id",
                        self.time(start.astimezone(UTC)), self.time(end.astimezone(UTC)))


# --- timing -----------------------------------------------------------------------


def job(app: Flask):
    def run():
        with app.app_context(), writing():
            written = daily.run(NOW)
            db.session.rollback()
        return written

    return run


def old_day(app: Flask, day: date):
    def run():
        with app.app_context(), writing():
            written = sum(statistic.compute_day(day, NOW) for statistic in daily.STATISTICS)
            db.session.rollback()
        return written

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="timed requests of each page (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first (default 5)")
    parser.add_argument("--job-runs", type=int, default=5, help="timed runs of the job (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--changes", type=int, default=registry.CHANGES,
                        help=f"capacity history rows (default {registry.CHANGES:,})")
    parser.add_argument("--database-url", help="measure in this database (PostgreSQL; its tables are emptied)")
    parser.add_argument("--check", action="store_true", help="exit 1 if an aim is missed")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database and print where it is")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="opvang-bench-reports-"))
    path = workdir / "reports.db"
    try:
        rng = random.Random(args.seed)
        began = time.perf_counter()
        app = make_app(f"sqlite:///{path}")
        made = registry.build(app, path, rng, changes=args.changes)
        placement.add_geography_and_holds(path, rng)
        with app.app_context():
            today = days.local_day(NOW)
            switches = add_switches(rng)
            detail = add_detail(rng, today)
            db.session.commit()
            stats = add_statistics(today)
            db.session.remove()
        if args.database_url:
            app = database.copy_into(args.database_url, path, make_app)
        where = database.where(args.database_url)
        print(f"built {made['facilities']:,} facilities, {made['units']:,} units, {made['changes']:,} changes, "
              f"{switches:,} intake switches, the detail of {DETAIL_DAYS} days and today "
              f"({', '.join(f'{n:,} {name}' for name, n in detail.items())}), {stats['region rows']:,} region x "
              f"kind x day and {stats['hotline rows']:,} hotline x day rows ({stats['region year']:,} of "
              f"{REGION}'s year) in {where} in {time.perf_counter() - began:.0f} s")
        print(f"compute_day of the {DETAIL_DAYS} days before today (SQLite, while building): "
              + ", ".join(f"{seconds:.2f}" for seconds in stats["computed_s"]) + " s")
        met = measure(app, args, Floor(args.database_url, path), today)
        return 1 if args.check and not met else 0
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(app: Flask, args, floor: Floor, today: date) -> bool:
    since = today - timedelta(days=YEAR - 1)
    with app.app_context():
        region_id = db.session.scalar(select(Region.id).where(Region.slug == REGION))
        today_bounds = days.bounds(today)
        db.session.remove()
    client = app.test_client()
    response = client.post("/login", data={"email": MANAGER, "password": PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"login failed: {response.status_code}")
    period = f"since={since}&until={today}"
    timings = {}
    page = client.get(f"/reports/{REGION}?period=365d")
    if page.status_code == 404:
        print("report page: not available")
    elif page.status_code != 200:
        raise SystemExit(f"GET /reports/{REGION}?period=365d answered {page.status_code}")
    else:
        timings["(1) GET /reports/… 365d"] = registry.get_ok(client, f"/reports/{REGION}?period=365d")
        for chart in report.TABLES:
            timings[f"(1) …/{chart}.svg"] = registry.get_ok(client, f"/reports/{REGION}/{chart}.svg?period=365d")
    timings["(1) GET /api/v1/stats/daily"] = registry.get_ok(client, f"/api/v1/stats/daily?region={REGION}&{period}")
    timings["(1) GET …/stats/hotline-daily"] = registry.get_ok(client, f"/api/v1/stats/hotline-daily?{period}")
    timings["(1c) raw SELECT of the year"] = lambda: floor.region_year(region_id, since, today)
    print(f"the year read: {len(floor.region_year(region_id, since, today)):,} rows of {REGION}; "
          f"{len(client.get(f'/api/v1/stats/daily?region={REGION}&{period}').data) / 1024:.0f} KiB of JSON")
    # As wsgi.py does once the app is loaded: the building's and the app's
    # objects are no longer walked by each full collection.
    gc.collect()
    gc.freeze()
    results = registry.timed(timings, args.runs, args.warmup)

    old = today - timedelta(days=OLD_DAY)
    print(f"daily.run(NOW) writes {job(app)()}; compute_day({old}) writes {old_day(app, old)()} rows")
    results.update(registry.timed({
        "(2) daily.run, one day": job(app),
        f"(2b) compute_day {OLD_DAY} days back": old_day(app, old),
        "(2c) raw GROUP BY of the day": lambda: floor.day_changes(*today_bounds),
    }, args.job_runs, 1))

    print(f"\n{args.runs} runs of (1) after {args.warmup} warm-up; {args.job_runs} of (2) after 1")
    print(f"{'':44} {'median ms':>10} {'p95 ms':>10}")
    for name, times in results.items():
        print(f"{name:44} {statistics.median(times):10.2f} {registry.p95(times):10.2f}")
    met = True
    page_name = "(1) GET /reports/… 365d"
    if page_name in results:
        page_p95 = registry.p95(results[page_name])
        met = page_p95 <= AIM_PAGE_P95_MS
        print(f"aim for (1): p95 <= {AIM_PAGE_P95_MS:.0f} ms ({page_p95:.2f}): {'met' if met else 'MISSED'}")
    else:
        print("aim for (1): report page not available")
    job_s = max(results["(2) daily.run, one day"]) / 1000
    print(f"aim for (2): <= {AIM_JOB_S:.0f} s (slowest {job_s:.2f}): {'met' if job_s <= AIM_JOB_S else 'MISSED'}")
    return met and job_s <= AIM_JOB_S


if __name__ == "__main__":
    sys.exit(main())
