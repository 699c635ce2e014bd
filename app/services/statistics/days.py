"""What the daily statistics share: local days, writing a day's rows by their
unique key, which days were computed, and up to when the detail is gone."""

from datetime import date, datetime, time, timedelta

from flask import current_app
from sqlalchemy import delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from app.clock import local_zone
from app.extensions import db
from app.models.statistics import PurgeHorizon, StatisticDay
from app.services.core.errors import InvalidInput

# What one read of a statistic may ask for: at most a year, leap day
# included; by default the last 30 days.
MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30


def bounds(day: date) -> tuple[datetime, datetime]:
    """A local day's first instant and the next day's (23 or 25 hours apart
    when the clocks change)."""
    zone = local_zone()
    return datetime.combine(day, time(0), zone), datetime.combine(day + timedelta(days=1), time(0), zone)


def local_day(at: datetime) -> date:
    return at.astimezone(local_zone()).date()


def check_period(since: date, until: date) -> None:
    """InvalidInput for a period reversed or longer than MAX_PERIOD_DAYS."""
    if since > until:
        raise InvalidInput("since must not be after until", field="since")
    if (until - since).days >= MAX_PERIOD_DAYS:
        raise InvalidInput(f"ask for at most {MAX_PERIOD_DAYS} days at once", field="since")


def upsert(model, rows: list[dict], key: tuple[str, ...]) -> None:
    """Insert `rows`, or update those whose `key` (a unique constraint) is
    there already: one statement, never a duplicate, on either database."""
    if not rows:
        return
    insert = postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(model)
    statement = statement.on_conflict_do_update(
        index_elements=list(key),
        set_={name: statement.excluded[name] for name in rows[0] if name not in key},
    )
    db.session.execute(statement, rows)


def replace_day(model, day: date, rows: list[dict], key: tuple[str, ...]) -> None:
    """Make `rows` the day's rows of `model` (keyed by "day" and `key`): upsert
    them, and delete the day's rows no longer computed."""
    upsert(model, [{"day": day, **row} for row in rows], ("day", *key))
    columns = [getattr(model, name) for name in key]
    kept = {tuple(row[name] for name in key) for row in rows}
    stale = [found for found in db.session.execute(select(*columns).where(model.day == day))
             if tuple(found) not in kept]
    if stale:
        db.session.execute(delete(model).where(model.day == day, tuple_(*columns).in_(stale))
                           .execution_options(synchronize_session=False))


def mark_computed(statistic: str, day: date, now: datetime, *, final: bool) -> None:
    upsert(StatisticDay, [{"statistic": statistic, "day": day, "computed_at": now, "final": final}],
           ("statistic", "day"))


def computed_days(statistic: str, since: date, until: date) -> dict[date, bool]:
    """The days from `since` to `until` the statistic computed, and whether finally."""
    return dict(db.session.execute(
        select(StatisticDay.day, StatisticDay.final)
        .where(StatisticDay.statistic == statistic, StatisticDay.day >= since, StatisticDay.day <= until)
    ).all())


def purged_before(retention_keys: tuple[str, ...], now: datetime) -> datetime | None:
    """Before when the detail named by `retention_keys` may be gone: the
    latest horizon the purge recorded, or the retention window itself, since
    a purge before horizons were recorded left none, and detail past its
    window goes at the purge's next run (a rebuild racing it would read half
    of it). None: nothing is purged."""
    if not retention_keys:
        return None
    recorded = db.session.scalars(
        select(PurgeHorizon.purged_before).where(PurgeHorizon.detail.in_(retention_keys))
    ).all()
    windows = [now - timedelta(days=current_app.config[key]) for key in retention_keys]
    return max([*recorded, *windows])

