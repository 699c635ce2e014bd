"""Run the scheduler: its own process, never inside a web worker.

It builds the app with `create_app()` (one configuration, one database engine)
and runs the jobs of app/services/scheduling/jobs.py, each in the app context, every
interval its configuration key says. Several may run, on several hosts: the
one holding the lease (a row in the database, renewed every
SCHEDULER_RENEW_SECONDS for SCHEDULER_LEASE_SECONDS) acts; the others renew
in vain until it expires, and the first to renew after that takes over.

The lease row is the whole mechanism, on SQLite and PostgreSQL alike. A
PostgreSQL advisory lock is not used: it would need a connection of its own
kept outside the pool for the process's life (a pooled connection, recycled
or reset, silently drops it), and it says nothing on SQLite; the lease row
gives the same guarantee with the app's own engine, and its renewals are the
heartbeat /healthz reports.

SIGTERM (and SIGINT) stop it cleanly: no new job starts, running ones
finish, the lease is released so that a standby takes over at once.
"""

import gc
import logging
import signal
from datetime import datetime

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from app import create_app
from app.services.scheduling import jobs
from scheduler.runner import Runner

log = logging.getLogger("scheduler")


def build(app: Flask, runner: Runner, scheduler_class: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """The scheduler with the lease job and every job of app/services/scheduling/jobs.py."""
    config = app.config
    scheduler = scheduler_class(
        timezone=config["TIMEZONE"],
        # One run at a time per job; runs missed while busy or asleep are
        # one run, not a burst of them.
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    renew = float(config["SCHEDULER_RENEW_SECONDS"])
    scheduler.add_job(runner.renew_lease, "interval", seconds=renew, id="lease", name="lease",
                      misfire_grace_time=max(1, round(renew)))
    started = datetime.now(scheduler.timezone)
    for job in jobs.JOBS:
        seconds = float(config[job.interval])
        # A run later than one interval is superseded by the next one.
        scheduler.add_job(runner.run, "interval", seconds=seconds, id=job.id, name=job.id,
                          args=(job.id, job.function), next_run_time=started,
                          misfire_grace_time=max(1, round(seconds)))
    return scheduler


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # APScheduler says "Running job …" at INFO for every run.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app = create_app()
    # The app's start-up objects live as long as the process: kept out of the
    # collector's full passes, which otherwise walk them all every few runs
    # (tens of milliseconds added to an alert evaluation; see bench/alerts.py).
    gc.collect()
    gc.freeze()
    runner = Runner(app, lease_seconds=app.config["SCHEDULER_LEASE_SECONDS"])
    scheduler = build(app, runner)

    def stop(signum, frame):
        log.info("signal %s: stopping", signum)
        runner.stopping = True
        if scheduler.running:
            scheduler.shutdown(wait=True)  # running jobs finish

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler %s started: jobs %s", runner.holder, ", ".join(job.id for job in jobs.JOBS))
    runner.renew_lease()
    try:
        if not runner.stopping:  # a signal during the start
            scheduler.start()  # returns once stopped
    finally:
        runner.stop()
        log.info("scheduler %s stopped", runner.holder)


if __name__ == "__main__":
    main()
