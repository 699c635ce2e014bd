"""The scheduler's lease: exactly one scheduler acts, whichever hosts run one.

A single row, renewed by its holder with a conditional UPDATE: it succeeds for
the holder, or for anyone once the lease has expired. The database decides
who holds it; times come from the app's clock (never the database's now()).
"""

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.scheduling import SchedulerLease

NAME = "scheduler"


def _ensure_row() -> None:
    if db.session.get(SchedulerLease, NAME) is None:
        try:
            with db.session.begin_nested():
                db.session.add(SchedulerLease(name=NAME))
        except IntegrityError:  # another instance made it first
            pass


def acquire(holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease for `ttl`; True when `holder` holds it now.
    Renewing writes the heartbeat."""
    _ensure_row()
    taken = db.session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == NAME,
            or_(SchedulerLease.holder == holder, SchedulerLease.holder.is_(None), SchedulerLease.expires_at <= now),
        )
        .values(holder=holder, expires_at=now + ttl, heartbeat_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    return taken == 1


def release(holder: str) -> None:
    """Give the lease up (a clean stop), so a standby takes over at once."""
    db.session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == NAME, SchedulerLease.holder == holder)
        .values(holder=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )


def holder() -> str | None:
    return db.session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == NAME))


def heartbeat_age(now: datetime) -> float | None:
    """Seconds since the acting scheduler last renewed its lease; None if no
    scheduler ever ran."""
    beat = db.session.scalar(select(SchedulerLease.heartbeat_at).where(SchedulerLease.name == NAME))
    return None if beat is None else max((now - beat).total_seconds(), 0.0)
