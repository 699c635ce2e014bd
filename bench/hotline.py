"""Latency of the hotline's voice webhook, in-process.

    .venv/bin/python bench/hotline.py [--requests 1000] [--warmup 50] [--operators 3] [--seed 1]
                                      [--profile] [--check] [--keep]

Makes a temporary SQLite database by the real migrations (a few operators on
duty), then sends `--requests` signed `POST /hotline/voice` through the test
client, each a new call (a new CallSid, a caller's number among 50,000), as
Twilio does when a call comes in: the signature is checked, the call recorded
(keyed hash, masked number) and committed, and the language menu answered as
TwiML. Beside it, taking turns request by request, the same signed POST to a
bare Flask app whose route returns the same TwiML as a constant: the floor.

Aim: the webhook at most 20 ms p95 (Twilio waits 15 s at most) and at most 2x
the bare route; --check makes a miss exit 1. --profile then profiles 500 more
webhook requests and prints where the time goes. The temporary directory is
deleted at the end (unless --keep).
"""

import argparse
import cProfile
import io
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, Response  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import FrozenClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Call  # noqa: E402
from app.services.accounts import users
from app.services.core.access import Actor  # noqa: E402
from app.services.hotline import calls

NOW = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
PUBLIC_URL = "https://hotline.bench.example"
TOKEN = "bench-signing-token"
HOTLINE = "+3220000000"
PATH = "/hotline/voice"
AIM_P95_MS = 20.0
AIM_RATIO = 2.0


def make_app(path: Path) -> Flask:
    return create_app({
        "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench-caller-hash-key", "DATABASE_URL": f"sqlite:///{path}",
        "HOTLINE_SIGNING_TOKEN": TOKEN, "HOTLINE_PUBLIC_URL": PUBLIC_URL, "TWILIO_FROM_NUMBER": HOTLINE,
        "CLOCK": FrozenClock(NOW),
    })


def build(app: Flask, operators: int) -> None:
    with app.app_context():
        upgrade()
        setup = Actor(user=None, source="import")
        for n in range(operators):
            user = users.save_user(setup, NOW, email=f"operator{n}@bench.example", name=f"Operator {n}",
                                      roles=["operator"], phone=f"+3247000{n:04d}")
            calls.set_on_duty(Actor(user=user, source="web"), user, True, NOW)
        db.session.commit()
        db.session.remove()


def bare_app(twiml: bytes) -> Flask:
    """The floor: the same route, answering the same TwiML as a constant."""
    app = Flask("bare")

    @app.post(PATH)
    def voice():
        return Response(twiml, mimetype="text/xml")

    return app


def signed_requests(count: int, rng: random.Random, start: int) -> list[tuple[dict, dict]]:
    """Twilio's side, prepared before timing: form parameters and headers."""
    validator = RequestValidator(TOKEN)
    requests = []
    for n in range(start, start + count):
        params = {
            "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": f"CA{n:032d}",
            "CallStatus": "ringing", "Direction": "inbound", "To": HOTLINE,
            "From": f"+324{rng.randrange(70, 100)}{rng.randrange(10**6):06d}", "FromCountry": "BE", "ToCountry": "BE",
        }
        headers = {"X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + PATH, params)}
        requests.append((params, headers))
    return requests


def post_ok(client, params: dict, headers: dict) -> bytes:
    response = client.post(PATH, data=params, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"POST {PATH} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    return response.get_data()


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[18]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests of each (default 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests of each first (default 50)")
    parser.add_argument("--operators", type=int, default=3, help="operators on duty (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="then profile 500 more webhook requests")
    parser.add_argument("--check", action="store_true", help="exit 1 if the aim is missed")
    parser.add_argument("--keep", action="store_true", help="keep the database and print where it is")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="opvang-bench-hotline-"))
    path = workdir / "hotline.db"
    try:
        app = make_app(path)
        build(app, args.operators)
        return 0 if measure(app, args) or not args.check else 1
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(app: Flask, args) -> bool:
    rng = random.Random(args.seed)
    client = app.test_client()
    first, *rest = signed_requests(1 + args.warmup + args.requests, rng, start=1)
    twiml = post_ok(client, *first)
    bare = bare_app(twiml).test_client()
    warmup, timed = rest[: args.warmup], rest[args.warmup:]
    for params, headers in warmup:
        post_ok(client, params, headers)
        post_ok(bare, params, headers)

    # Wall time, as Twilio waits; and the thread's CPU time, which other
    # processes on the machine do not inflate (they preempt, and wall time grows).
    times = {"webhook": [], "bare": []}
    cpu = {"webhook": [], "bare": []}
    for params, headers in timed:
        # Taking turns, so that whatever else the machine does weighs on both alike.
        wall, spent = time.perf_counter(), time.thread_time()
        answer = post_ok(client, params, headers)
        times["webhook"].append((time.perf_counter() - wall) * 1000)
        cpu["webhook"].append((time.thread_time() - spent) * 1000)
        wall, spent = time.perf_counter(), time.thread_time()
        floor = post_ok(bare, params, headers)
        times["bare"].append((time.perf_counter() - wall) * 1000)
        cpu["bare"].append((time.thread_time() - spent) * 1000)
        if answer != floor:
            raise SystemExit("the webhook's TwiML differs from the bare route's")

    with app.app_context():
        recorded = db.session.scalar(select(func.count()).select_from(Call))
        db.session.remove()
    if recorded != 1 + len(warmup) + len(timed):
        raise SystemExit(f"{recorded} calls recorded for {1 + len(warmup) + len(timed)} requests")

    print(f"{len(timed)} signed POST {PATH} (a new CallSid each; {args.operators} operators on duty; "
          f"{recorded} calls recorded in SQLite) after {len(warmup)} warm-up, taking turns with the bare route")
    print(f"{'':34} {'median ms':>10} {'p95 ms':>10}   {'CPU median':>10} {'CPU p95':>10}")
    names = {"webhook": f"POST {PATH} (signed, recorded)", "bare": "bare Flask route, same TwiML"}
    for key, name in names.items():
        print(f"{name:34} {statistics.median(times[key]):10.2f} {p95(times[key]):10.2f}   "
              f"{statistics.median(cpu[key]):10.2f} {p95(cpu[key]):10.2f}")

    def ratio(series, measure_) -> float:
        return measure_(series["webhook"]) / measure_(series["bare"])

    print(f"{'ratio webhook/bare':34} {ratio(times, statistics.median):9.2f}x {ratio(times, p95):9.2f}x   "
          f"{ratio(cpu, statistics.median):9.2f}x {ratio(cpu, p95):9.2f}x")
    met_p95 = p95(times["webhook"]) <= AIM_P95_MS
    met_ratio = ratio(times, p95) <= AIM_RATIO
    print(f"aim: p95 <= {AIM_P95_MS:.0f} ms: {'met' if met_p95 else 'MISSED'}; "
          f"p95 <= {AIM_RATIO:.0f}x the bare route: {'met' if met_ratio else 'MISSED'}")

    if args.profile:
        profile(client, signed_requests(500, rng, start=10**6))
    return met_p95 and met_ratio


# The steps of a webhook request, as (file suffix, function) in the profile:
# their cumulative time per request. Nested steps are indented.
STEPS = {
    "whole request, through the test client": ("flask/testing.py", "open"),
    "  test client builds the request": ("flask/testing.py", "_request_from_builder_args"),
    "  before_request hooks": ("flask/app.py", "preprocess_request"),
    "    signature check": ("app/hotline/__init__.py", "check_signature"),
    "      form parsing": ("werkzeug/wrappers/request.py", "form"),
    "      RequestValidator.validate": ("twilio/request_validator.py", "validate"),
    "  the view": ("app/hotline/voice.py", "voice"),
    "    calls.start": ("app/services/hotline/calls.py", "start"),
    "      phones.normalise + mask + caller_hash": ("app/services/hotline/phones.py",
                                                ("normalise", "mask", "caller_hash")),
    "      session.execute (INSERT … ON CONFLICT)": ("sqlalchemy/orm/scoping.py", "execute"),
    "        connection checkout (pool, pre-ping, BEGIN)": ("sqlalchemy/orm/session.py", "_connection_for_bind"),
    "        sqlite3 execute": ("~", "<method 'execute' of 'sqlite3.Cursor' objects>"),
    "    session.commit": ("sqlalchemy/orm/scoping.py", "commit"),
    "      sqlite3 commit": ("~", "<method 'commit' of 'sqlite3.Connection' objects>"),
    "  teardown (session.remove)": ("flask_sqlalchemy/extension.py", "_teardown_session"),
}


def profile(client, requests) -> None:
    """Where a webhook request's time goes (cProfile slows everything about
    twofold: read the shares)."""
    profiler = cProfile.Profile()
    profiler.enable()
    for params, headers in requests:
        post_ok(client, params, headers)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    n = len(requests)
    # A function wrapped by SQLAlchemy appears more than once under its name:
    # the outermost (largest) counts; the functions of one step add up.
    found: dict[tuple[str, str], float] = {}
    for (filename, _line, name), (_, _, _, cumulative, _) in stats.stats.items():
        for label, (file_part, function) in STEPS.items():
            if filename.endswith(file_part) and name in (function if isinstance(function, tuple) else (function,)):
                found[label, name] = max(found.get((label, name), 0.0), cumulative)
    spent = dict.fromkeys(STEPS, 0.0)
    for (label, _name), seconds in found.items():
        spent[label] += seconds
    whole = spent["whole request, through the test client"]
    print(f"\nprofile of {n} more webhook requests (under cProfile): {whole * 1000 / n:.2f} ms each")
    for label, seconds in spent.items():
        print(f"  {label:52} {seconds * 1000 / n:6.3f} ms {100 * seconds / whole:5.1f} %")


if __name__ == "__main__":
    sys.exit(main())
