"""Sign-in throttling, by address and by e-mail address from an address.

Failed sign-ins make a streak per key, kept in the database so that every web
worker sees the same streak. Past a number of free failures each failure makes
the next attempt from there wait: 1 minute, then 2, 4, ... up to
LOGIN_THROTTLE_MAX_WAIT_MINUTES. A streak is forgotten once its wait is over
and LOGIN_THROTTLE_QUIET_MINUTES more have passed without a failure.

The throttle never locks an account: an attacker elsewhere slows down only
themselves. Unknown e-mail addresses are throttled just like known ones, so
the answer tells nobody which accounts exist. An address may be a whole
office behind one router, so it gets more free failures than one e-mail
address from it.
"""

import hashlib
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import LoginFailures

FIRST_WAIT = timedelta(minutes=1)


def _keys(email: str, ip: str | None) -> dict[str, int]:
    """Each key that counts this attempt, with its free failures. The e-mail
    address is hashed: the table need not hold what people typed."""
    address = ip or "unknown"
    email_hash = hashlib.sha256(email.encode()).hexdigest()[:32]
    config = current_app.config
    return {
        f"address:{address}": config["LOGIN_FREE_FAILURES_PER_ADDRESS"],
        f"account:{email_hash}:{address}": config["LOGIN_FREE_FAILURES_PER_ACCOUNT"],
    }


def _wait(failures: int, free: int) -> timedelta:
    """How long after the last failure of a streak of `failures` the next attempt must wait."""
    if failures < free:
        return timedelta(0)
    longest = timedelta(minutes=current_app.config["LOGIN_THROTTLE_MAX_WAIT_MINUTES"])
    doublings = min(failures - free, 30)  # beyond this the cap has long been reached
    return min(FIRST_WAIT * 2**doublings, longest)


def _forgotten(row: LoginFailures, free: int, now: datetime) -> bool:
    quiet = timedelta(minutes=current_app.config["LOGIN_THROTTLE_QUIET_MINUTES"])
    return now >= row.last_failure_at + _wait(row.failures, free) + quiet


def retry_after(email: str, ip: str | None, now: datetime) -> timedelta | None:
    """How long an attempt for `email` from `ip` must still wait, or None."""
    longest = None
    for key, free in _keys(email, ip).items():
        row = db.session.get(LoginFailures, key)
        if row is None:
            continue
        remaining = row.last_failure_at + _wait(row.failures, free) - now
        if remaining > timedelta(0) and (longest is None or remaining > longest):
            longest = remaining
    return longest


def count_failure(email: str, ip: str | None, now: datetime) -> None:
    """Add a failed sign-in to every streak it belongs to (the caller commits
    it even though the sign-in is refused)."""
    for key, free in _keys(email, ip).items():
        _count(key, free, now)


def _count(key: str, free: int, now: datetime) -> None:
    # Locked, so that two workers counting at once both count.
    row = db.session.scalar(select(LoginFailures).where(LoginFailures.key == key).with_for_update())
    if row is None:
        try:
            with db.session.begin_nested():
                db.session.add(LoginFailures(key=key, failures=1, last_failure_at=now))
        except IntegrityError:  # another worker made the row first
            _count(key, free, now)
        return
    row.failures = 1 if _forgotten(row, free, now) else row.failures + 1
    row.last_failure_at = now


def forget_account(email: str, ip: str | None) -> None:
    """A successful sign-in ends the streak of its e-mail address from its
    address (not the address's own: others there may still be guessing)."""
    keys = [key for key in _keys(email, ip) if key.startswith("account:")]
    db.session.execute(delete(LoginFailures).where(LoginFailures.key.in_(keys)))


def purge(before: datetime) -> int:
    """Delete the streaks whose last failure came before `before` (the
    retention job: their keys hold addresses)."""
    return db.session.execute(delete(LoginFailures).where(LoginFailures.last_failure_at < before)).rowcount
