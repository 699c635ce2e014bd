"""Throughput of `GET /api/v1/regions` under gunicorn, beside a bare Flask route.

    .venv/bin/python bench/throughput.py [--seconds 3] [--rounds 3] [--connections 16]
                                         [--email operator@demo.opvang.be] [--path /api/v1/regions]
                                         [--database-url postgresql+psycopg://…] [--check]

Loads the demo data (`flask seed-demo`) into a temporary SQLite file (or, with
--database-url, into that PostgreSQL database, whose schema is dropped and made
again by the migrations) and makes an API token for `--email`. Then starts two
gunicorns on 127.0.0.1, two sync workers each: the app (`wsgi:app`, as the
Procfile runs it) and the floor, a bare Flask app whose one route answers the
app's JSON for `--path` as a constant. A load driver of two processes keeps
`--connections` connections busy in all (a new connection per request, as a
sync worker closes each), driving the two servers in turns, `--seconds` each,
`--rounds` times, so that whatever else the machine does weighs on both alike.
It prints each server's requests per second, latency and errors, and their
ratio; and the CPU time its processes spent per answer (from /proc), which
other processes on the machine do not inflate, and its ratio. Aim: the app
at least 0.3x the bare route's throughput (goal 0.5x); --check makes a miss
exit 1. Both servers are stopped and the temporary
directory deleted at the end, however the run ends.

The driver runs on the same cores as the servers, so both figures are lower
than a separate client would measure; it costs both alike per request.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, Response  # noqa: E402

AIM_RATIO = 0.3
GOAL_RATIO = 0.5
HOST = "127.0.0.1"


def bare_app(body_file: str) -> Flask:
    """The floor (a gunicorn app factory): the route answering the app's JSON as a constant."""
    body = Path(body_file).read_bytes()
    app = Flask("bare")

    @app.get("/<path:anything>")
    def constant(anything):
        return Response(body, mimetype="application/json")

    return app


def prepare(url: str, email: str, drop_schema: bool) -> str:
    """The demo data in the database at `url`; an API token for `email`."""
    from flask_migrate import upgrade
    from sqlalchemy import select

    from app import clock, create_app
    from app.extensions import db, writing
    from app.models import User
    from app.services import demo, demo_history
    from app.services.accounts import users
    from app.services.core.access import Actor

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench",
                      "HOTLINE_SIGNING_TOKEN": "bench"})
    with app.app_context(), writing():
        if drop_schema:
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP SCHEMA public CASCADE")
                connection.exec_driver_sql("CREATE SCHEMA public")
        upgrade()
        now = clock.now()
        demo.load(now, history_days=demo_history.HISTORY_DAYS)
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            raise SystemExit(f"no demo user {email}")
        token = users.create_token(Actor(user=None, source="import"), user, now)
        db.session.commit()
        db.engine.dispose()
    return token


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def cpu_seconds(server: subprocess.Popen) -> float:
    """CPU time (user and system) spent so far by gunicorn's master and its workers."""
    pids = [server.pid, *map(int, Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split())]
    ticks = 0
    for pid in pids:
        # The fields after the command's name (in parentheses); utime and stime are the 14th and 15th.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def start_gunicorn(target: str, port: int, env: dict, log: Path) -> subprocess.Popen:
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--bind", f"{HOST}:{port}", "--workers", "2",
               "--worker-class", "sync", "--chdir", str(ROOT), "--log-level", "warning", target]
    return subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def request_bytes(path: str, token: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n").encode()


def fetch(port: int, request: bytes) -> bytes:
    """One request on a new connection; the whole answer (the server closes it)."""
    with socket.create_connection((HOST, port), timeout=10) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def wait_until_up(port: int, request: bytes, server: subprocess.Popen, log: Path) -> bytes:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn on port {port} stopped:\n{log.read_text()[-2000:]}")
        try:
            return fetch(port, request)
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn on port {port} did not answer within 30 s")


def body_of(answer: bytes) -> bytes:
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"answered {head.splitlines()[0].decode()}: {body[:300]!r}")
    return body


def drive(port: int, request: bytes, threads: int, seconds: float, results) -> None:
    """A driver process: `threads` connections in turn, for `seconds`; puts (answers, errors, latencies)."""
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    latencies, errors = [], [0]

    def loop():
        mine, failed = [], 0
        while (start := time.monotonic()) < deadline:
            try:
                ok = fetch(port, request).startswith(b"HTTP/1.1 200")
            except OSError:
                ok = False
            if ok:
                mine.append(time.monotonic() - start)
            else:
                failed += 1
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put((len(latencies), errors[0], latencies))


def round_of(port: int, request: bytes, connections: int, seconds: float) -> tuple[int, int, list[float]]:
    """`connections` connections from two driver processes for `seconds`: answers, errors, latencies."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    # Daemons: should one hang, the bench still ends (and stops the servers).
    processes = [context.Process(target=drive, args=(port, request, share, seconds, results), daemon=True)
                 for share in (connections // 2, connections - connections // 2)]
    for process in processes:
        process.start()
    gathered = [results.get(timeout=seconds + 60) for _ in processes]
    for process in processes:
        process.join(timeout=10)
    latencies = [latency for _, _, some in gathered for latency in some]
    return sum(count for count, _, _ in gathered), sum(failed for _, failed, _ in gathered), latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="each server's turn in a round (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each server (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="connections kept busy (default 16)")
    parser.add_argument("--email", default="operator@demo.opvang.be", help="the demo user whose token is sent")
    parser.add_argument("--path", default="/api/v1/regions", help="what the app is asked (a GET)")
    parser.add_argument("--database-url", help="measure in this database (PostgreSQL; its schema is dropped)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the aim is missed")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="opvang-bench-throughput-"))
    servers = []
    try:
        url = args.database_url or f"sqlite:///{workdir / 'demo.db'}"
        token = prepare(url, args.email, drop_schema=bool(args.database_url))
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench"}
        request = request_bytes(args.path, token)
        app_port, bare_port = free_port(), free_port()
        servers.append(start_gunicorn("wsgi:app", app_port, env, workdir / "app.log"))
        body = body_of(wait_until_up(app_port, request, servers[0], workdir / "app.log"))
        (workdir / "body.json").write_bytes(body)
        servers.append(start_gunicorn(f"bench.throughput:bare_app({str(workdir / 'body.json')!r})", bare_port, env,
                                      workdir / "bare.log"))
        if body_of(wait_until_up(bare_port, request, servers[1], workdir / "bare.log")) != body:
            raise SystemExit("the bare route's answer differs from the app's")
        regions = len(json.loads(body))
        database = url.split(":", 1)[0]

        totals = {"app": [0, 0, [], 0.0], "bare": [0, 0, [], 0.0]}
        for _ in range(args.rounds):
            for name, port, server in (("app", app_port, servers[0]), ("bare", bare_port, servers[1])):
                spent = cpu_seconds(server)
                answers, errors, latencies = round_of(port, request, args.connections, args.seconds)
                totals[name][0] += answers
                totals[name][1] += errors
                totals[name][2] += latencies
                totals[name][3] += cpu_seconds(server) - spent
    finally:
        for server in servers:
            stop(server)
        shutil.rmtree(workdir, ignore_errors=True)

    seconds = args.rounds * args.seconds
    print(f"GET {args.path} ({regions} regions, demo data, {database}, bearer token of {args.email}); gunicorn, "
          f"2 sync workers each, {args.connections} connections, {args.rounds} turns of {args.seconds:g} s each")
    print(f"{'':28} {'req/s':>9} {'median ms':>10} {'p95 ms':>8} {'errors':>7} {'server CPU ms/answer':>21}")
    rates, cpu = {}, {}
    for name, label in (("app", f"GET {args.path}"), ("bare", "bare Flask route, same JSON")):
        answers, errors, latencies, spent = totals[name]
        rates[name] = answers / seconds
        cpu[name] = spent * 1000 / answers if answers else float("nan")
        p95 = statistics.quantiles(latencies, n=20)[18] * 1000 if len(latencies) > 1 else float("nan")
        median = statistics.median(latencies) * 1000 if latencies else float("nan")
        print(f"{label:28} {rates[name]:9.0f} {median:10.2f} {p95:8.2f} {errors:7d} {cpu[name]:21.3f}")
    ratio = rates["app"] / rates["bare"] if rates["bare"] else 0.0
    met = ratio >= AIM_RATIO and not totals["app"][1]
    print(f"ratio app/bare {ratio:.2f}x (server CPU per answer, bare/app: {cpu['bare'] / cpu['app']:.2f}x); "
          f"aim >= {AIM_RATIO}x: {'met' if met else 'MISSED'}; goal >= {GOAL_RATIO}x: "
          f"{'met' if ratio >= GOAL_RATIO else 'not yet'}")
    return 0 if met or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
