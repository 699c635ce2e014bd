"""Load test: a mixed workload against gunicorn on loopback, stepped up until it no longer holds.

    .venv/bin/python bench/load.py [--seconds 15] [--max-multiplier 32] [--refine 1] [--workers 2] [--seed 1]
                                   [--database-url postgresql+psycopg://…] [--keep]

Prepares a database (a temporary SQLite file, or with --database-url that
PostgreSQL database, its schema made anew: bench/database.py): the demo data by
`flask seed-demo`, then the load's own accounts: 300 operators, ten shelter
staff sharing the demo facilities, four desk operators with API tokens, three
operators on duty with a phone. Then starts gunicorn as production runs it
(the Procfile: two sync workers, wsgi:app) on a free port of 127.0.0.1, and
drives it with locust users, in one process, all traffic to that address:

  operators     300 with the dashboard open, each polling its fragment every
                15 s (GET /dashboard/?region=…, as htmx asks);
  shelter staff 1,000 count updates an hour, a press on − or + of the
                shelter page (POST /shelter/units/<id>, htmx, with its version);
  calls         200 an hour, each through its six webhooks signed as Twilio
                signs them (X-Twilio-Signature over the public URL and the
                form): the call, the menu, an operator's whisper and key 1,
                the dial's result, the status callback;
  desk          400 placement searches an hour through the API (the varied
                households of bench/placement.py, bearer tokens), every fourth
                followed by a hold on its first result and the hold's release.

That is about 21 requests a second: the workload (1x). After a warm-up, in
which every user signs in and starts at a random moment of its period, the
workload is measured for --seconds, then multiplied by 2, 4, … (every user's
period divided), each step measured for --seconds once every operator has
polled at its rate, until a step does not hold: the p95 of all requests
passes 100 ms, a request fails, or the users fall behind the offered rate by
more than a tenth; or until --max-multiplier. Then --refine steps halfway
between the largest step that held and the smallest that did not. Prints
throughput and p50 / p95 / p99 per route and the errors for the workload,
then the same per route for the requests of every step that held together
(a call or a hold comes a few times a minute: one step has few of them);
then every step; then the largest sustained rate with p95 under 100 ms.

The raw baseline, from the same run: a bare Flask route answering constant
JSON under the same gunicorn (two sync workers), polled by the same 300
operators at the multiplier that did not hold (or the last one tried): what
the machine, the server and the load generator manage with no app behind.

The load generator shares the machine's cores with the server, as wrk did in
issue 13's figures. Traffic goes to 127.0.0.1 only; every loop stops by
itself: a warm-up, at most seven steps of --seconds (six doublings and a
refinement), then the floor: at most about three minutes at the defaults;
gunicorn is stopped and the temporary directory deleted at the end (unless
--keep).
"""

# locust patches the standard library for gevent on import: before anything else.
from locust import FastHttpUser, events, task  # isort: skip
from locust.env import Environment  # isort: skip
from locust.stats import RequestStats, StatsEntry  # isort: skip

import argparse
import functools
import itertools
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import gevent

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import database  # noqa: E402  (bench/database.py, beside this file)
import placement  # noqa: E402
from sqlalchemy import select  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Facility, Region  # noqa: E402
from app.services.accounts import users  # noqa: E402
from app.services.core.access import Actor  # noqa: E402
from app.services.hotline import calls  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PASSWORD = "load test password"
# The load's accounts sign in with a fast hash: a sign-in is no part of the
# workload, and 300 scrypt sign-ins would take the warm-up.
FAST_HASH = "pbkdf2:sha256:1000"
HOTLINE = "+3220000000"
AIM_P95_MS = 100.0
POLL_PERIOD = 15.0  # s: the dashboard's DASHBOARD_REFRESH_SECONDS
SIGN_IN_S = 5.0  # s over which the users sign in
SETUP = Actor(user=None, source="import")

OPERATORS = 300
SHELTER_STAFF = 10
DESKS = 4
CALLERS = 4
ON_DUTY = 3
HOLD_EVERY = 4  # searches per hold
EPOCH = time.monotonic()  # where the users' grids of moments start


class Offered:
    """The multiplier of the workload now: every user's period is divided by it."""

    multiplier = 1.0


def spread(user) -> None:
    """Give the user a random phase within its period, and wait for its first
    moment: the users' tasks are spread evenly from the first, as in a steady state."""
    user.phase, user.last = random.random(), time.monotonic()
    paced(user)


def paced(user) -> float:
    """Locust's wait_time: wait for the user's next moment, the first after its
    last task began on a grid of its period (divided by the multiplier now)
    shifted by its phase, so that the rate does not depend on how long tasks
    take and the users stay spread evenly whatever the step. The multiplier is
    looked at again every half second: a new step takes hold at once. A user
    that fell behind starts at once, and skips the moments it missed."""
    while True:
        period = user.period / Offered.multiplier
        due = EPOCH + (math.floor((user.last - EPOCH) / period - user.phase) + 1 + user.phase) * period
        now = time.monotonic()
        if due <= now:
            break
        gevent.sleep(min(due - now, 0.5))
    user.last = now
    return 0


@dataclass
class Plan:
    """What the users act on: filled in by prepare()."""

    signing_token: str = ""
    public_url: str = ""
    regions: list[str] = field(default_factory=list)
    operators: Iterator[str] = iter(())  # e-mail addresses, round and round
    staff: Iterator[tuple[str, list[int]]] = iter(())  # (e-mail, facility ids)
    desk_tokens: Iterator[str] = iter(())
    on_duty_phones: list[str] = field(default_factory=list)
    searches: list[dict] = field(default_factory=list)


PLAN = Plan()
HTMX = {"HX-Request": "true"}


def sign_in(client, email: str) -> str:
    """Sign in through the login form; the page's CSRF token for later posts."""
    page = client.get("/login", name="GET /login")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    with client.post("/login", data={"csrf_token": token, "email": email, "password": PASSWORD},
                     allow_redirects=False, catch_response=True, name="POST /login") as response:
        if response.status_code != 302:
            response.failure(f"sign-in of {email} answered {response.status_code}")
    return token


class Operator(FastHttpUser):
    """An operator with the dashboard open: its fragment every 15 s."""

    fixed_count = OPERATORS
    period = POLL_PERIOD
    wait_time = paced

    def on_start(self):
        gevent.sleep(random.uniform(0, SIGN_IN_S))
        sign_in(self.client, next(PLAN.operators))
        self.region = random.choice(PLAN.regions)
        spread(self)

    @task
    def poll(self):
        self.client.get(f"/dashboard/?region={self.region}", headers=HTMX, name="GET /dashboard/ (poll)")


class ShelterStaff(FastHttpUser):
    """Shelter staff pressing − or + on their facilities' page: 1,000 an hour in all."""

    fixed_count = SHELTER_STAFF
    period = 3600 * SHELTER_STAFF / 1000
    wait_time = paced

    def on_start(self):
        gevent.sleep(random.uniform(0, SIGN_IN_S))
        email, facility_ids = next(PLAN.staff)
        self.csrf = sign_in(self.client, email)
        self.units = {}
        for facility_id in facility_ids:
            facility = self.client.get(f"/api/v1/facilities/{facility_id}", name="GET /api/v1/facilities/<id>").json()
            self.units.update({unit["id"]: unit for unit in facility["units"] if unit["total"]})
        spread(self)

    @task
    def press(self):
        unit = self.units[random.choice(list(self.units))]
        step = 1 if unit["available"] == 0 or (unit["available"] < unit["total"] and random.random() < 0.5) else -1
        with self.client.post(f"/shelter/units/{unit['id']}", name="POST /shelter/units/<id>", catch_response=True,
                              data={"csrf_token": self.csrf, "version": unit["version"], "step": step},
                              headers={**HTMX, "X-CSRFToken": self.csrf}) as response:
            if response.status_code != 200:
                response.failure(f"answered {response.status_code}")
                return
            unit["version"] = int(re.search(r'name="version" value="(\d+)"', response.text).group(1))
            unit["available"] += step


class Caller(FastHttpUser):
    """Calls to the hotline, answered by an operator: 200 an hour, six webhooks each."""

    fixed_count = CALLERS
    period = 3600 * CALLERS / 200
    wait_time = paced
    calls = itertools.count(1)

    def on_start(self):
        self.validator = RequestValidator(PLAN.signing_token)
        spread(self)

    def webhook(self, path: str, params: dict) -> None:
        """POST as Twilio does: the form, signed over the public URL with its query."""
        signature = self.validator.compute_signature(PLAN.public_url + path, params)
        with self.client.post(path, data=params, headers={"X-Twilio-Signature": signature}, catch_response=True,
                              name="POST " + path.split("?")[0]) as response:
            if response.status_code != 200 or b"<Response" not in response.content:
                response.failure(f"answered {response.status_code}")

    @task
    def call(self):
        n = next(self.calls)
        sid, leg = f"CA{n:032d}", f"CA{10**9 + n:032d}"
        phone = random.choice(PLAN.on_duty_phones)
        base = {"AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01"}
        caller = {**base, "CallSid": sid, "From": f"+324{random.randrange(70, 100)}{random.randrange(10**6):06d}",
                  "To": HOTLINE, "Direction": "inbound", "CallStatus": "ringing"}
        operator = {**base, "CallSid": leg, "ParentCallSid": sid, "From": HOTLINE, "To": phone,
                    "Direction": "outbound-dial", "CallStatus": "in-progress"}
        self.webhook("/hotline/voice", caller)
        self.webhook("/hotline/voice/menu", {**caller, "CallStatus": "in-progress", "Digits": "1"})
        self.webhook(f"/hotline/voice/whisper?lang=nl&call={sid}", operator)
        self.webhook(f"/hotline/voice/whisper/accept?lang=nl&call={sid}", {**operator, "Digits": "1"})
        self.webhook("/hotline/voice/dial-result?lang=nl",
                     {**caller, "CallStatus": "in-progress", "DialCallStatus": "completed", "DialCallDuration": "240"})
        self.webhook("/hotline/voice/status", {**caller, "CallStatus": "completed", "CallDuration": "300"})


class Desk(FastHttpUser):
    """Placement searches through the API, 400 an hour; every fourth holds its first result, then releases it."""

    fixed_count = DESKS
    period = 3600 * DESKS / 400
    wait_time = paced

    def on_start(self):
        self.client.auth_header = f"Bearer {next(PLAN.desk_tokens)}"
        self.searches = itertools.cycle(random.sample(PLAN.searches, len(PLAN.searches)))
        self.done = 0
        spread(self)

    @task
    def search(self):
        criteria = next(self.searches)
        with self.client.post("/api/v1/placements/search", json=criteria, catch_response=True,
                              name="POST /api/v1/placements/search") as response:
            if response.status_code != 200:
                response.failure(f"answered {response.status_code}: {response.text[:200]}")
                return
            results = response.json()["results"]
        self.done += 1
        if self.done % HOLD_EVERY or not results:
            return
        persons = criteria.get("adults", 1) + len(criteria.get("children", []))
        with self.client.post("/api/v1/holds", json={"unit_id": results[0]["unit"]["id"], "persons": persons},
                              catch_response=True, name="POST /api/v1/holds") as response:
            if response.status_code == 409:  # another desk took the place first: the right answer
                response.success()
                return
            if response.status_code != 201:
                response.failure(f"answered {response.status_code}: {response.text[:200]}")
                return
            hold = response.json()
        self.client.post(f"/api/v1/holds/{hold['id']}/release", json={"outcome": "cancelled"},
                         name="POST /api/v1/holds/<id>/release")


class BareOperator(FastHttpUser):
    """The floor: an operator polling a bare Flask route instead of the dashboard."""

    fixed_count = OPERATORS
    period = POLL_PERIOD
    wait_time = paced

    def on_start(self):
        spread(self)

    @task
    def poll(self):
        self.client.get("/ping", name="GET /ping (bare Flask)")


WORKLOAD = (Operator, ShelterStaff, Caller, Desk)
# Requests per task: a call's six webhooks; a desk's search, and a hold and its release every fourth.
REQUESTS_PER_TASK = {Operator: 1, ShelterStaff: 1, Caller: 6, Desk: 1 + 2 / HOLD_EVERY, BareOperator: 1}


def offered_rate(user_classes, multiplier: float) -> float:
    """Requests a second the users start at `multiplier`."""
    return sum(cls.fixed_count / cls.period * REQUESTS_PER_TASK[cls] for cls in user_classes) * multiplier


# --- the database -------------------------------------------------------------------


def prepare(url: str, rng: random.Random) -> None:
    """The demo data by `flask seed-demo`, then the load's accounts; fills PLAN."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "load", "CALLER_HASH_KEY": "load",
                      "PASSWORD_HASH_METHOD": FAST_HASH})
    database.migrate_empty(app)
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "seed-demo"], cwd=ROOT, check=True,
                   env=server_environment(url), stdout=subprocess.DEVNULL)
    now = app.extensions["clock"].now()
    with app.app_context():
        PLAN.regions = list(db.session.scalars(select(Region.slug).order_by(Region.id)))
        facilities = db.session.execute(select(Facility.id, Facility.slug).order_by(Facility.id)).all()
        operators = [users.save_user(SETUP, now, email=f"operator{n:03d}@load.example", name=f"Operator {n}",
                                     roles=["operator"], password=PASSWORD,
                                     phone=f"+32471{n:06d}" if n < ON_DUTY else None)
                     for n in range(OPERATORS)]
        for operator in operators[:ON_DUTY]:
            calls.set_on_duty(Actor(user=operator, source="web"), operator, True, now)
        staff = []
        for n in range(SHELTER_STAFF):
            theirs = facilities[n::SHELTER_STAFF]
            users.save_user(SETUP, now, email=f"staff{n:02d}@load.example", name=f"Staff {n}",
                            roles=["shelter_staff"], facility_slugs=[slug for _, slug in theirs], password=PASSWORD)
            staff.append((f"staff{n:02d}@load.example", [facility_id for facility_id, _ in theirs]))
        operator_emails = [operator.email for operator in operators]
        PLAN.on_duty_phones = [operator.phone for operator in operators[:ON_DUTY]]
        tokens = []
        for n in range(DESKS):
            desk = users.save_user(SETUP, now, email=f"desk{n}@load.example", name=f"Desk {n}", roles=["operator"])
            tokens.append(users.create_token(SETUP, desk, now))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    PLAN.operators = itertools.cycle(operator_emails)
    PLAN.staff = itertools.cycle(staff)
    PLAN.desk_tokens = itertools.cycle(tokens)
    PLAN.searches = placement.varied_searches(200, rng)


# --- the server ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def server_environment(url: str, port: int | None = None) -> dict:
    """The environment gunicorn (and seed-demo) run in: production's settings
    but plain http on loopback (no TLS proxy in front, so cookies go without
    Secure), and a Twilio API that is no address of anyone else."""
    environment = {key: value for key, value in os.environ.items() if key != "OPVANG_DEVELOPMENT"}
    environment.update(DATABASE_URL=url, SECRET_KEY="load", CALLER_HASH_KEY="load")
    if port is not None:
        environment.update(SESSION_COOKIE_SECURE="0", REMEMBER_COOKIE_SECURE="0",
                           HOTLINE_PUBLIC_URL=f"http://{HOST}:{port}", TWILIO_AUTH_TOKEN=PLAN.signing_token,
                           TWILIO_API_BASE=f"http://{HOST}:9")
    return environment


class Gunicorn:
    """gunicorn on a free port of 127.0.0.1 with `workers` sync workers, serving
    `target` (module:attribute, from `folder`); stopped on leaving."""

    def __init__(self, target: str, folder: Path, workers: int, log: Path, database_url: str,
                 ready: str = "/healthz"):
        self.port, self.ready = free_port(), ready
        self.command = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{self.port}", "--workers", str(workers),
                        "--access-logfile", str(log), "--error-logfile", str(log), target]
        self.folder, self.log, self.database_url = folder, log, database_url

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> "Gunicorn":
        self.process = subprocess.Popen(self.command, cwd=self.folder,
                                        env=server_environment(self.database_url, self.port), stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn stopped at start: see {self.log}")
            try:
                with urllib.request.urlopen(self.base + self.ready, timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"gunicorn did not answer within 30 s: see {self.log}")

    def __exit__(self, *_exc) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- running ------------------------------------------------------------------------


def figures(entry: StatsEntry) -> tuple:
    """(requests, failures, p50, p95, p99) of a route, or of them all."""
    return (entry.num_requests, entry.num_failures, *(entry.get_response_time_percentile(q) or 0
                                                      for q in (0.5, 0.95, 0.99)))


def added(into: RequestStats, stats: RequestStats) -> RequestStats:
    """`into` with every request of `stats` added to its routes' and its total's."""
    for entry in stats.entries.values():
        into.get(entry.name, entry.method).extend(entry)
    into.total.extend(stats.total)
    into.errors.update(stats.errors)
    return into


@dataclass
class Step:
    multiplier: float
    offered: float
    seconds: float
    stats: RequestStats

    @property
    def throughput(self) -> float:
        return self.stats.total.num_requests / self.seconds

    def verdict(self) -> str | None:
        """Why this step did not hold, or None."""
        requests, failures, _, p95, _ = figures(self.stats.total)
        if failures:
            return f"{failures} failed"
        if p95 >= AIM_P95_MS:
            return f"p95 {p95:.0f} ms"
        if requests < 0.9 * self.offered * self.seconds:
            return "the users fell behind"
        return None


def measure(env: Environment, multiplier: float, seconds: float) -> Step:
    env.stats.reset_all()
    began = time.monotonic()
    gevent.sleep(seconds)
    took = time.monotonic() - began
    return Step(multiplier, offered_rate(env.user_classes, multiplier), took, added(RequestStats(), env.stats))


def run(base: str, user_classes, seconds: float, first: float, last: float, refine: int) -> list[Step]:
    """The users against `base`: a warm-up (every user signed in and started
    within a poll period), then `first` times the workload for `seconds`,
    doubled while it holds up to `last`; after a step that did not hold,
    `refine` more halfway between the largest that held and the smallest
    that did not. The users are stopped at the end, whatever happens."""
    env = Environment(user_classes=list(user_classes), host=base, events=events)
    runner = env.create_local_runner()
    steps, multiplier = [], first
    try:
        Offered.multiplier = multiplier
        count = sum(cls.fixed_count for cls in user_classes)
        runner.start(count, spawn_rate=100)
        gevent.sleep(SIGN_IN_S + POLL_PERIOD / multiplier)
        while True:
            steps.append(measure(env, multiplier, seconds))
            held = [step.multiplier for step in steps if not step.verdict()]
            failed = [step.multiplier for step in steps if step.verdict()]
            first_failed = next((n for n, step in enumerate(steps) if step.verdict()), None)
            if first_failed is None and multiplier * 2 <= last:
                multiplier *= 2
            elif first_failed is not None and held and len(steps) - 1 - first_failed < refine:
                multiplier = (max(held) + min(failed)) / 2
            else:
                break
            Offered.multiplier = multiplier
            # Every operator polls within a period of the new step, and a
            # queue left by a step that did not hold drains.
            gevent.sleep(POLL_PERIOD / multiplier + 5)
    finally:
        runner.quit()
    return steps


def print_routes(title: str, stats: RequestStats, seconds: float | None = None) -> None:
    """Per route and in all: requests (a second, over `seconds`), p50 / p95 / p99, errors."""
    print(f"\n{title}")
    print(f"{'':40} {'requests':>9} {'req/s' if seconds else '':>7} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
          f"{'errors':>7}")
    rows = sorted((entry.name, figures(entry)) for entry in stats.entries.values() if entry.num_requests)
    for name, (requests, failures, p50, p95, p99) in [*rows, ("all", figures(stats.total))]:
        rate = f"{requests / seconds:7.1f}" if seconds else ""
        print(f"{name:40} {requests:9d} {rate:>7} {p50:7.0f} {p95:7.0f} {p99:7.0f} {failures:7d}")
    for error in stats.errors.values():
        print(f"  error x{error.occurrences}: {error.name}: {str(error.error)[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15, help="measured seconds of each step (default 15)")
    parser.add_argument("--max-multiplier", type=float, default=32, help="the largest step tried (default 32x)")
    parser.add_argument("--refine", type=int, default=1,
                        help="steps halfway, after the first that did not hold (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn's sync workers (default 2, the Procfile's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="load this database (PostgreSQL; its schema is made anew)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, gunicorn log)")
    args = parser.parse_args()

    # Stopped with SIGTERM, the run ends as on an error: gunicorn stopped, the directory deleted.
    main_greenlet = gevent.getcurrent()
    gevent.signal_handler(signal.SIGTERM, main_greenlet.throw, SystemExit("stopped by SIGTERM"))
    workdir = Path(tempfile.mkdtemp(prefix="opvang-load-"))
    url = args.database_url or f"sqlite:///{workdir / 'load.db'}"
    rng = random.Random(args.seed)
    random.seed(args.seed)
    try:
        began = time.monotonic()
        PLAN.signing_token = f"load-{rng.getrandbits(64):x}"
        prepare(url, rng)
        # The machine's load before: the steps share its cores with whatever else runs.
        print(f"prepared the demo data and {OPERATORS + SHELTER_STAFF + DESKS} load accounts in "
              f"{database.where(args.database_url)} in {time.monotonic() - began:.1f} s; load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        with Gunicorn("wsgi:app", ROOT, args.workers, workdir / "gunicorn.log", url) as server:
            PLAN.public_url = server.base
            print(f"gunicorn, {args.workers} sync workers, at {server.base}; warm-up {SIGN_IN_S + POLL_PERIOD:.0f} s, "
                  f"then {args.seconds:.0f} s a step from 1x ({offered_rate(WORKLOAD, 1):.1f} req/s offered)")
            steps = run(server.base, WORKLOAD, args.seconds, 1, args.max_multiplier, args.refine)
        best = max((step for step in steps if not step.verdict()), key=lambda step: step.multiplier, default=None)
        failed = min((step for step in steps if step.verdict()), key=lambda step: step.multiplier, default=None)
        with Gunicorn("registry:bare_app()", ROOT / "bench", args.workers, workdir / "bare.log", url,
                      ready="/ping") as bare:
            floor_multiplier = (failed or steps[-1]).multiplier
            floor = run(bare.base, (BareOperator,), args.seconds, floor_multiplier, floor_multiplier, 0)[0]

        workload = steps[0]
        print_routes(f"the workload: 1x, offered {workload.offered:.1f} req/s, {workload.throughput:.1f} req/s served "
                     f"over {workload.seconds:.0f} s", workload.stats, workload.seconds)
        held = [step for step in steps if not step.verdict()]
        if len(held) > 1:
            print_routes(f"the steps that held ({', '.join(f'{step.multiplier:g}x' for step in held)}), their "
                         f"requests together", functools.reduce(added, (step.stats for step in held), RequestStats()))
        print(f"\n{'step':>6} {'offered':>9} {'served':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7}")
        for step in steps:
            requests, failures, p50, p95, p99 = figures(step.stats.total)
            print(f"{step.multiplier:5g}x {step.offered:9.1f} {step.throughput:9.1f} {p50:7.0f} {p95:7.0f} {p99:7.0f} "
                  f"{failures:7d}  {step.verdict() or 'held'}")
        requests, failures, p50, p95, p99 = figures(floor.stats.total)
        print(f"floor: bare Flask GET /ping, {floor_multiplier:g}x the operators' polls ({floor.offered:.1f} req/s): "
              f"{floor.throughput:.1f} req/s served, p50 {p50:.0f} ms, p95 {p95:.0f} ms, p99 {p99:.0f} ms, "
              f"{failures} errors")
        if best:
            print(f"largest sustained rate with p95 under {AIM_P95_MS:.0f} ms: {best.throughput:.1f} req/s "
                  f"({best.multiplier:g}x the workload"
                  + (f"; {failed.multiplier:g}x did not hold: {failed.verdict()})" if failed else
                     f"; the largest step tried, --max-multiplier {args.max_multiplier:g})"))
        else:
            print(f"the workload itself did not hold: {steps[0].verdict()}")
        return 0
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
