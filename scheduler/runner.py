"""Runs the scheduler's jobs inside the app, while this process holds the lease.

Every job is a plain service function taking `now`; the runner gives it an
app context and a writing transaction, commits after it, and records how it
went. An error is logged and counted, and never stops the process.
"""

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask

from app import clock
from app.extensions import db, writing
from app.models.scheduling import JobRun
from app.services.scheduling import lease

log = logging.getLogger("scheduler")


class Runner:
    def __init__(self, app: Flask, *, lease_seconds: int):
        self.app = app
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ttl = timedelta(seconds=lease_seconds)
        self.active = False
        self.stopping = False
        # Until when (time.monotonic) this process trusts its last renewal: half
        # the lease, so that a job never starts on a lease another instance may
        # have taken since (even with its clock somewhat ahead of ours).
        self._held_until = 0.0

    def holds_lease(self) -> bool:
        return self.active and not self.stopping and time.monotonic() < self._held_until

    def renew_lease(self) -> bool:
        """Take or keep the lease; only the holder runs jobs."""
        if self.stopping:
            return False
        asked = time.monotonic()
        with self.app.app_context(), writing():
            try:
                active = lease.acquire(self.holder, clock.now(), self.ttl)
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("could not renew the lease")
                active = False
        if active:
            self._held_until = asked + self.ttl.total_seconds() / 2
        if active != self.active:
            log.info("%s the lease (%s)", "took" if active else "lost", self.holder)
        self.active = active
        return active

    def run(self, job_id: str, job: Callable[[datetime], object]) -> None:
        if not self.holds_lease():
            return
        with self.app.app_context(), writing():
            now = clock.now()
            try:
                result = job(now)
                db.session.commit()
            except Exception as error:
                db.session.rollback()
                log.exception("job %s failed", job_id)
                self._record(job_id, now, error=f"{type(error).__name__}: {error}")
                return
            self._record(job_id, now)
            if _did_something(result):
                log.info("job %s: %s", job_id, len(result) if isinstance(result, list | tuple | set) else result)

    def _record(self, job_id: str, started: datetime, error: str | None = None) -> None:
        try:
            run = db.session.get(JobRun, job_id) or JobRun(job_id=job_id, runs=0, errors=0)
            db.session.add(run)
            run.runs += 1
            run.last_started_at = started
            run.last_finished_at = clock.now()
            if error:
                run.errors += 1
                run.last_error = error[:2000]
            db.session.commit()
        except Exception:
            db.session.rollback()
            log.exception("could not record the run of %s", job_id)

    def stop(self) -> None:
        """Give the lease up, so that a standby takes over at once."""
        self.stopping = True
        with self.app.app_context(), writing():
            try:
                lease.release(self.holder)
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("could not release the lease; it expires by itself")
        if self.active:
            log.info("released the lease (%s)", self.holder)
        self.active = False


def _did_something(result: object) -> bool:
    """Whether a job's result is worth a log line: a non-empty list, or a
    summary with a count above zero (a run that found nothing is silent)."""
    if isinstance(result, dict):
        return any(isinstance(value, int) and value > 0 for value in result.values())
    return bool(result)
