"""Counting events per key and window in the database, so that every web
worker sees the same count."""

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import RateCounter


def window_start(now: datetime, window: timedelta) -> datetime:
    seconds = int(window.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=now.tzinfo)


def count(key: str, now: datetime, window: timedelta) -> int:
    """Count one event for `key` in the current window; the window's count."""
    start = window_start(now, window)
    bumped = db.session.execute(
        update(RateCounter)
        .where(RateCounter.key == key, RateCounter.window_start == start)
        .values(count=RateCounter.count + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not bumped:
        try:
            with db.session.begin_nested():
                db.session.add(RateCounter(key=key, window_start=start, count=1))
        except IntegrityError:  # another worker made the row first
            return count(key, now, window)
    return db.session.scalar(
        select(RateCounter.count).where(RateCounter.key == key, RateCounter.window_start == start)
    )


def current(key: str, now: datetime, window: timedelta) -> int:
    start = window_start(now, window)
    value = db.session.scalar(
        select(RateCounter.count).where(RateCounter.key == key, RateCounter.window_start == start)
    )
    return value or 0


def purge(now: datetime, older_than: timedelta) -> int:
    return db.session.execute(delete(RateCounter).where(RateCounter.window_start < now - older_than)).rowcount
