"""The hotline's figures over a year of calls: the managers' page and the daily rows.

    .venv/bin/python bench/hotline_figures.py [--per-day 100] [--runs 20] [--seed 1]
                                              [--database-url postgresql+psycopg://…] [--check]

Writes `--per-day` voice calls for each of the 366 days before NOW (Saturday
28 November 2026, 21:00 in Brussels) to two hotline numbers, in a temporary
SQLite file (or, with --database-url, in that PostgreSQL database, whose
schema is dropped and made again by the migrations): six in ten answered
after up to a minute, one in seven a voicemail waiting for a call-back (one
in twenty of those called back), one in ten hung up in the menu, the others
missed. Then times, taking turns, each in a fresh transaction:

  (a) the page's figures: today_and_week, and per_call for today, as
      app/console/routes.py `hotline_figures` reads them;
  (b) daily over the last 31 days (a month of `stats/hotline-daily`);
  (c) daily over all 366 days (a rebuild).

Aim: (a) at most 100 ms p95; --check makes a miss exit 1.
"""

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Call, CallbackAttempt, User  # noqa: E402
from app.services.hotline import figures  # noqa: E402

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Brussels")
NUMBERS = ("+3220000000", "+3220000099")
DAYS = 366
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
    figures.daily(date(2026, 10, 29), date(2026, 11, 28), NOW, ZONE)


def year() -> None:
    figures.daily(date(2025, 11, 28), date(2026, 11, 28), NOW, ZONE)


def timed(run) -> float:
    start = time.perf_counter()
    run()
    elapsed = (time.perf_counter() - start) * 1000
    db.session.rollback()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-day", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="opvang-bench-"))
    try:
        url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench",
                          "HOTLINE_SIGNING_TOKEN": "bench"})
        with app.app_context():
            if args.database_url:
                with db.engine.begin() as connection:
                    connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                    connection.exec_driver_sql("CREATE SCHEMA public")
            upgrade()
            count = build(args.per_day, args.seed)
            print(f"{count} calls over {DAYS} days, {db.engine.dialect.name}")
            runs = {"(a) the page": page, "(b) daily, 31 days": month, "(c) daily, 366 days": year}
            times = {name: [] for name in runs}
            for _ in range(args.runs):
                for name, run in runs.items():
                    times[name].append(timed(run))
            for name, values in times.items():
                p95 = statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]
                print(f"{name:22s} median {statistics.median(values):7.1f} ms   p95 {p95:7.1f} ms")
            page_p95 = statistics.quantiles(times["(a) the page"], n=20)[-1] if args.runs > 1 else 0
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if args.check and page_p95 > AIM_MS:
        print(f"(a) p95 {page_p95:.1f} ms is over the aim of {AIM_MS} ms")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
