"""The hotline's figures over a year of calls: the managers' page and the daily rows.

    .venv/bin/python bench/hotline_figures.py [--per-day 100] [--runs 20] [--warmup 1] [--seed 1]
                                              [--database-url postgresql+psycopg://…] [--check]

Writes `--per-day` voice calls for each of the 366 days before NOW (Saturday
28 November 2026, 21:00 in Brussels) to two hotline numbers, in a temporary
SQLite file (or, with --database-url, in that PostgreSQL database, whose
schema is made anew by the migrations: bench/database.py): six in ten answered
after up to a minute, one in seven a voicemail waiting for a call-back (one
in twenty of those called back), one in ten hung up in the menu, the others
missed. Then times, taking turns, each in a fresh transaction (its end counted):

  (a) the page's figures: today_and_week, and per_call for today, as
      app/console/routes.py `hotline_figures` reads them;
  (b) daily over the last 31 days (a month of `stats/hotline-daily`);
  (c) daily over all 366 days (a rebuild);

each beside its floor, (ac), (bc), (cc): the span's calls counted per number
(answered, missed, menu hang-ups, voicemails) by one hand-written GROUP BY on
a plain driver connection (sqlite3 or psycopg) to the same database, not
split by day: reading the calls once.

Aim: (a) at most 100 ms p95; --check makes a miss exit 1.
"""

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import database  # noqa: E402  (bench/database.py, beside this file)
import registry  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Call, CallbackAttempt, User  # noqa: E402
from app.services.hotline import figures  # noqa: E402

NOW = registry.NOW
ZONE = ZoneInfo("Europe/Brussels")
NUMBERS = ("+3220000000", "+3220000099")
DAYS = 366
MONTH = (date(2026, 10, 29), date(2026, 11, 28))
YEAR = (date(2025, 11, 28), date(2026, 11, 28))
AIM_MS = 100


def build(per_day: int, seed: int) -> int:
    """The year of calls; how many."""
    operator = User(email="bench-operator@opvang.test", name="Bench Operator", password_hash=None, language="en",
                    created_at=NOW)
    db.session.add(operator)
    db.session.flush()
    rnd = random.Random(seed)
    calls = []
    for day in range(DAYS):
        for index in range(per_day):
            start = NOW - timedelta(days=day, minutes=rnd.randrange(24 * 60))
            fate = rnd.random()
            fields = {"rang_at": start + timedelta(seconds=20), "ended_at": start + timedelta(minutes=5)}
            status = "completed"
            if fate < 0.6:
                fields.update(answered_at=start + timedelta(seconds=20 + rnd.randrange(60)), operator_id=operator.id)
            elif fate < 0.75:
                fields.update(voicemail_at=start + timedelta(seconds=45), voicemail_status="unheard",
                              callback_requested=True)
                status = "voicemail"
            elif fate < 0.85:
                fields.update(rang_at=None)
            calls.append(Call(sid=f"CA{day:05d}{index:05d}", channel="voice", caller_masked="+32 4•• •• •• 12",
                              called_number=rnd.choice(NUMBERS), status=status, started_at=start, updated_at=start,
                              menu_choices=[], needs={}, **fields))
    db.session.add_all(calls)
    db.session.flush()
    db.session.add_all(
        CallbackAttempt(call_id=call.id, operator_id=operator.id, status="ended", result="answered",
                        started_at=call.voicemail_at, answered_at=call.voicemail_at + timedelta(hours=1),
                        ended_at=call.voicemail_at + timedelta(hours=1, minutes=10))
        for call in calls[::20] if call.voicemail_at is not None
    )
    db.session.commit()
    return len(calls)


def page() -> None:
    figures.today_and_week(NOW, ZONE)
    figures.per_call(figures.today(NOW, ZONE), NOW)


def month() -> None:
    figures.daily(MONTH[0], MONTH[1], NOW, ZONE)


def year() -> None:
    figures.daily(YEAR[0], YEAR[1], NOW, ZONE)


def ended_transaction(run):
    """`run`, then its transaction rolled back, as a request's end would."""
    def call():
        run()
        db.session.rollback()

    return call


# The floor: the span's calls counted per number by hand (answered, missed,
# ended in the menu, voicemails), in one pass, without splitting them by day.
RAW_COUNTS = """
SELECT called_number, COUNT(*),
       SUM(CASE WHEN answered_at IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN rang_at IS NOT NULL AND answered_at IS NULL AND ended_at IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN rang_at IS NULL AND voicemail_at IS NULL AND ended_at IS NOT NULL THEN 1 ELSE 0 END),
       SUM(CASE WHEN voicemail_at IS NOT NULL THEN 1 ELSE 0 END)
  FROM calls
 WHERE channel = 'voice' AND started_at >= ? AND started_at < ?
 GROUP BY called_number
"""


def raw_counts(floor: database.Floor, first: date, last: date):
    start = datetime.combine(first, time(0), ZONE)
    end = datetime.combine(last + timedelta(days=1), time(0), ZONE)
    return lambda: floor.run(RAW_COUNTS, floor.time(start), floor.time(end))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="measure in this database (PostgreSQL; its schema is made anew)")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="opvang-bench-"))
    try:
        path = folder / "bench.db"
        app = create_app({"DATABASE_URL": args.database_url or f"sqlite:///{path}", "SECRET_KEY": "bench",
                          "CALLER_HASH_KEY": "bench", "HOTLINE_SIGNING_TOKEN": "bench"})
        database.migrate_empty(app)
        floor = database.Floor(args.database_url, path)
        with app.app_context():
            count = build(args.per_day, args.seed)
            print(f"{count} calls over {DAYS} days in {database.where(args.database_url)}")
            week = figures.this_week(NOW, ZONE)
            times = registry.timed({
                "(a) the page": ended_transaction(page),
                "(ac) raw counts, the week": raw_counts(floor, week.start.date(), week.end.date() - timedelta(days=1)),
                "(b) daily, 31 days": ended_transaction(month),
                "(bc) raw counts, 31 days": raw_counts(floor, *MONTH),
                "(c) daily, 366 days": ended_transaction(year),
                "(cc) raw counts, 366 days": raw_counts(floor, *YEAR),
            }, args.runs, args.warmup)
            for name, values in times.items():
                print(f"{name:28s} median {statistics.median(values):7.1f} ms   p95 {registry.p95(values):7.1f} ms")
            page_p95 = registry.p95(times["(a) the page"])
            db.engine.dispose()
        floor.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.check and page_p95 > AIM_MS:
        print(f"(a) p95 {page_p95:.1f} ms is over the aim of {AIM_MS} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
