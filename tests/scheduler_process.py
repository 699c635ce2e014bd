"""`python -m scheduler` as a real process for the tests: the test's database
(the same SQLite file, or the same PostgreSQL database), the fake Twilio and
the fake SMTP server on loopback, short intervals. Its output goes to a file."""

import ctypes
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app import PROJECT_ROOT
from app.config import ENVIRONMENT_KEYS

# Seconds, short enough for a test: a lease taken over within 2 s of its
# holder's death, claims that expire after 4 s, retries after a fraction of one.
FAST = {
    "SCHEDULER_LEASE_SECONDS": 2,
    "SCHEDULER_RENEW_SECONDS": 0.25,
    "OUTBOX_DELIVERY_SECONDS": 1,
    "OUTBOX_CLAIM_SECONDS": 4,
    "OUTBOX_RETRY_BASE_SECONDS": 0.3,
    "OUTBOX_RETRY_MAX_SECONDS": 1,
    "OUTBOX_MAX_ATTEMPTS": 100,
    "HOLD_EXPIRY_SECONDS": 1,
    "RETENTION_PURGE_SECONDS": 1,
}


try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not Linux
    _libc = None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the scheduler gets SIGKILL when the test run itself dies."""
    if _libc is not None:
        _libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class SchedulerProcess:
    def __init__(self, settings: dict, log_path: Path):
        env = {key: value for key, value in os.environ.items() if key not in ENVIRONMENT_KEYS}
        env["PYTHONUNBUFFERED"] = "1"
        for key, value in settings.items():
            if value is not None:
                env[key] = str(value)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "scheduler"], cwd=PROJECT_ROOT, env=env,
            stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, and its exit status."""
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout)

    def close(self) -> None:
        try:
            self.kill()
        finally:
            self._log.close()

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if not self.alive() or time.monotonic() > deadline:
                raise AssertionError(f"scheduler {self.pid} never logged {text!r}:\n{self.log()}")
            time.sleep(0.05)


def real_now() -> datetime:
    """A scheduler process reads the system clock: what a test queues for it
    is due by that clock (a second ago), not by the test's frozen one."""
    return datetime.now(UTC) - timedelta(seconds=1)


def wait_until(predicate, timeout: float = 60, what: str = "the condition", logs=()) -> None:
    """Poll `predicate` until it holds; fail with the processes' logs."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s\n" + "\n".join(p.log() for p in logs))
        time.sleep(0.05)
