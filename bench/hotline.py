"""Latency of the hotline's voice webhook and of a call-back's webhooks, in-process.

    .venv/bin/python bench/hotline.py [--requests 1000] [--warmup 50] [--operators 3] [--seed 1]
                                      [--database-url postgresql+psycopg://…] [--profile] [--check] [--keep]

Makes a temporary SQLite database by the real migrations (or, with
--database-url, makes that PostgreSQL database's schema anew by them: see
bench/database.py), with a few operators on duty, then sends `--requests` signed `POST /hotline/voice` through the test
client, each a new call (a new CallSid, a caller's number among 50,000), as
Twilio does when a call comes in: the signature is checked, the call recorded
(keyed hash, masked number) and committed, and the language menu answered as
TwiML. Beside it, taking turns request by request, the same signed POST to a
bare Flask app whose route returns the same TwiML as a constant: the floor;
and, for information, the call row's INSERT … ON CONFLICT DO NOTHING and its
COMMIT as raw SQL on a plain driver connection (sqlite3 or psycopg) to the
same database: what recording the call costs at the least.

Then a call-back's webhooks (app/hotline/callback.py), each attempt through
its legs in order: the operator's whisper, the key 1 (the caller's number
unsealed into the Dial), the caller's leg answered (machine detection's
AnsweredBy), the dial's result and the operator's leg's status callback.
`--requests` attempts are made beforehand (a contact with its number kept,
sealed, and an attempt calling the operator each); each webhook takes turns
with a bare route answering a TwiML of its size as a constant.

Aim: each webhook at most 20 ms p95 (Twilio waits 15 s at most) and at most
2x the bare route; --check makes a miss exit 1. --profile then profiles 500 more
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import database  # noqa: E402  (bench/database.py, beside this file)
import registry  # noqa: E402
from flask import Flask, Response  # noqa: E402
from registry import p95  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import FrozenClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Call, CallbackAttempt, User  # noqa: E402
from app.services.accounts import users  # noqa: E402
from app.services.core.access import Actor  # noqa: E402
from app.services.hotline import callbacks, calls, phones  # noqa: E402

NOW = registry.NOW
PUBLIC_URL = "https://hotline.bench.example"
TOKEN = "bench-signing-token"
HOTLINE = "+3220000000"
PATH = "/hotline/voice"
AIM_P95_MS = 20.0
AIM_RATIO = 2.0


def make_app(url: str) -> Flask:
    return create_app({
        "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench-caller-hash-key", "DATABASE_URL": url,
        "HOTLINE_SIGNING_TOKEN": TOKEN, "HOTLINE_PUBLIC_URL": PUBLIC_URL, "TWILIO_FROM_NUMBER": HOTLINE,
        "CLOCK": FrozenClock(NOW),
    })


def build(app: Flask, operators: int) -> None:
    database.migrate_empty(app)
    with app.app_context():
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests of each (default 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests of each first (default 50)")
    parser.add_argument("--operators", type=int, default=3, help="operators on duty (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="measure in this database (PostgreSQL; its schema is made anew)")
    parser.add_argument("--profile", action="store_true", help="then profile 500 more webhook requests")
    parser.add_argument("--check", action="store_true", help="exit 1 if the aim is missed")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database and print where it is")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="opvang-bench-hotline-"))
    path = workdir / "hotline.db"
    try:
        app = make_app(args.database_url or f"sqlite:///{path}")
        build(app, args.operators)
        met = measure(app, args, database.Floor(args.database_url, path))
        met = measure_callbacks(app, args) and met
        return 0 if met or not args.check else 1
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# The call row as calls.start writes it, by hand (its JSON defaults as literals).
RAW_INSERT_CALL = (
    "INSERT INTO calls (sid, channel, caller_hash, caller_masked, called_number, status, started_at, updated_at,"
    " menu_choices, needs, risk_answers, callback_requested)"
    " VALUES (:sid, 'voice', :hash, :masked, :called, 'ringing', :now, :now, '[]', '{}', '{}', FALSE)"
    " ON CONFLICT (sid) DO NOTHING")


def measure(app: Flask, args, floor: database.Floor) -> bool:
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
    times = {"webhook": [], "bare": [], "raw": []}
    cpu = {"webhook": [], "bare": [], "raw": []}
    key = app.config["CALLER_HASH_KEY"]
    for n, (params, headers) in enumerate(timed):
        # Taking turns, so that whatever else the machine does weighs on both alike.
        wall, spent = time.perf_counter(), time.thread_time()
        answer = post_ok(client, params, headers)
        times["webhook"].append((time.perf_counter() - wall) * 1000)
        cpu["webhook"].append((time.thread_time() - spent) * 1000)
        wall, spent = time.perf_counter(), time.thread_time()
        constant = post_ok(bare, params, headers)
        times["bare"].append((time.perf_counter() - wall) * 1000)
        cpu["bare"].append((time.thread_time() - spent) * 1000)
        if answer != constant:
            raise SystemExit("the webhook's TwiML differs from the bare route's")
        number = phones.normalise(params["From"])
        row = {"sid": f"RAW{n:032d}", "hash": phones.caller_hash(number, key), "masked": phones.mask(number),
               "called": HOTLINE, "now": floor.time(NOW)}
        wall, spent = time.perf_counter(), time.thread_time()
        floor.write(RAW_INSERT_CALL, **row)
        times["raw"].append((time.perf_counter() - wall) * 1000)
        cpu["raw"].append((time.thread_time() - spent) * 1000)

    with app.app_context():
        recorded = db.session.scalar(select(func.count()).select_from(Call).where(Call.sid.like("CA%")))
        db.session.remove()
    if recorded != 1 + len(warmup) + len(timed):
        raise SystemExit(f"{recorded} calls recorded for {1 + len(warmup) + len(timed)} requests")

    print(f"{len(timed)} signed POST {PATH} (a new CallSid each; {args.operators} operators on duty; "
          f"{recorded} calls recorded in {database.where(args.database_url)}) after {len(warmup)} warm-up, "
          f"taking turns with the bare route and the raw INSERT")
    print(f"{'':34} {'median ms':>10} {'p95 ms':>10}   {'CPU median':>10} {'CPU p95':>10}")
    names = {"webhook": f"POST {PATH} (signed, recorded)", "bare": "bare Flask route, same TwiML",
             "raw": "raw INSERT + COMMIT of the call"}
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


# --- a call-back's webhooks ----------------------------------------------------------

CALLBACK_STEPS = ("whisper", "accept", "answered", "dial-result", "status")


def make_attempts(app: Flask, count: int, rng: random.Random) -> list[tuple[int, str]]:
    """`count` contacts waiting for a call-back (the number kept, sealed), each
    with an attempt calling operator 0: (attempt id, operator leg sid)."""
    with app.app_context():
        operator = db.session.scalar(select(User).order_by(User.id))
        key = app.config["CALLER_HASH_KEY"]
        made = []
        for n in range(count):
            number = f"+324{rng.randrange(70, 100)}{rng.randrange(10**6):06d}"
            call = Call(sid=f"CB{n:032d}", channel="voice", caller_hash=phones.caller_hash(number, key),
                        caller_masked=phones.mask(number), number_sealed=phones.seal(number, key),
                        number_kept_for="callback", number_erase_at=NOW.replace(year=NOW.year + 1),
                        callback_requested=True, status=calls.WAITING, started_at=NOW, updated_at=NOW,
                        safe_to_call_back=True, called_number=HOTLINE)
            attempt = CallbackAttempt(call=call, operator=operator, status="calling_operator", started_at=NOW,
                                      operator_leg_sid=f"CA{10**9 + n:032d}")
            db.session.add_all([call, attempt])
            made.append(attempt)
        db.session.commit()
        ids = [(attempt.id, attempt.operator_leg_sid) for attempt in made]
        db.session.remove()
    return ids


def callback_legs(attempt_id: int, leg: str, operator_phone: str) -> list[tuple[str, dict, dict]]:
    """The five webhooks of one attempt, in order, signed: (path, params, headers)."""
    validator = RequestValidator(TOKEN)
    operator_leg = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": leg, "From": HOTLINE,
                    "To": operator_phone, "Direction": "outbound-api", "CallStatus": "in-progress"}
    caller_leg = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": f"CA{attempt_id:032x}",
                  "ParentCallSid": leg, "From": HOTLINE, "Direction": "outbound-dial", "CallStatus": "in-progress",
                  "AnsweredBy": "human"}
    steps = [
        (callbacks.WHISPER_PATH, operator_leg),
        (callbacks.ACCEPT_PATH, {**operator_leg, "Digits": "1"}),
        (callbacks.ANSWERED_PATH, caller_leg),
        (callbacks.DIAL_RESULT_PATH, {**operator_leg, "DialCallStatus": "completed", "DialCallDuration": "300"}),
        (callbacks.STATUS_PATH, {**operator_leg, "CallStatus": "completed", "CallDuration": "320"}),
    ]
    signed = []
    for path, params in steps:
        path = f"{path}?attempt={attempt_id}"
        signed.append((path, params, {"X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + path, params)}))
    return signed


def bare_callback_app(answers: dict[str, bytes]) -> Flask:
    """The floor: each call-back webhook's path answering a TwiML of the same size, as a constant."""
    app = Flask("bare-callback")
    for path, twiml in answers.items():
        app.add_url_rule(path, path, lambda twiml=twiml: Response(twiml, mimetype="text/xml"), methods=["POST"])
    return app


def post_signed(client, path: str, params: dict, headers: dict) -> bytes:
    response = client.post(path, data=params, headers=headers)
    if response.status_code != 200:
        raise SystemExit(f"POST {path} answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
    return response.get_data()


def measure_callbacks(app: Flask, args) -> bool:
    rng = random.Random(args.seed + 1)
    attempts = make_attempts(app, 1 + args.warmup + args.requests, rng)
    with app.app_context():
        operator_phone = db.session.scalar(select(User.phone).order_by(User.id))
        db.session.remove()
    client = app.test_client()
    legs = [callback_legs(attempt_id, leg, operator_phone) for attempt_id, leg in attempts]
    first, warmup, timed = legs[0], legs[1: 1 + args.warmup], legs[1 + args.warmup:]
    answers = {path.split("?")[0]: post_signed(client, path, params, headers) for path, params, headers in first}
    if b"<Dial" not in answers[callbacks.ACCEPT_PATH] or b"<Gather" not in answers[callbacks.WHISPER_PATH]:
        raise SystemExit(f"the call-back's webhooks did not answer as expected: {answers}")
    bare = bare_callback_app(answers).test_client()
    # Wall time and the thread's CPU time (which other processes do not inflate), as for the voice webhook.
    times = {(step, kind): [] for step in CALLBACK_STEPS for kind in ("webhook", "bare")}
    cpu = {(step, kind): [] for step in CALLBACK_STEPS for kind in ("webhook", "bare")}
    for n, attempt in enumerate(warmup + timed):
        for step, (path, params, headers) in zip(CALLBACK_STEPS, attempt, strict=True):
            for kind, target, url in (("webhook", client, path), ("bare", bare, path.split("?")[0])):
                wall, spent = time.perf_counter(), time.thread_time()
                post_signed(target, url, params, headers)
                if n >= len(warmup):
                    times[step, kind].append((time.perf_counter() - wall) * 1000)
                    cpu[step, kind].append((time.thread_time() - spent) * 1000)

    with app.app_context():
        ended = db.session.scalar(select(func.count()).select_from(CallbackAttempt).where(
            CallbackAttempt.result == "answered"))
        db.session.remove()
    if ended != len(attempts):
        raise SystemExit(f"{ended} of {len(attempts)} call-back attempts ended answered")

    print(f"\n{len(timed)} call-backs, each through its five signed webhooks in order (after {len(warmup)} "
          f"warm-up), every webhook taking turns with a bare route answering its TwiML as a constant")
    print(f"{'':34} {'median ms':>10} {'p95 ms':>10} {'bare p95':>9} {'ratio':>7}   {'CPU p95':>8} "
          f"{'bare CPU':>8} {'ratio':>7}")
    worst_p95, worst_ratio = 0.0, 0.0
    for step in CALLBACK_STEPS:
        webhook, floor = times[step, "webhook"], times[step, "bare"]
        ratio = p95(webhook) / p95(floor)
        cpu_ratio = p95(cpu[step, "webhook"]) / p95(cpu[step, "bare"])
        worst_p95, worst_ratio = max(worst_p95, p95(webhook)), max(worst_ratio, ratio)
        print(f"{'POST /hotline/callback/' + step:34} {statistics.median(webhook):10.2f} {p95(webhook):10.2f} "
              f"{p95(floor):9.2f} {ratio:6.2f}x   {p95(cpu[step, 'webhook']):8.2f} {p95(cpu[step, 'bare']):8.2f} "
              f"{cpu_ratio:6.2f}x")
    met = worst_p95 <= AIM_P95_MS and worst_ratio <= AIM_RATIO
    print(f"aim: p95 <= {AIM_P95_MS:.0f} ms: {'met' if worst_p95 <= AIM_P95_MS else 'MISSED'} (worst "
          f"{worst_p95:.2f} ms); p95 <= {AIM_RATIO:.0f}x the bare route: "
          f"{'met' if worst_ratio <= AIM_RATIO else 'MISSED'} (worst {worst_ratio:.2f}x)")
    return met


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
