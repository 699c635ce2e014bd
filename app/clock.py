"""The one clock every decision reads.

Services take `now` as a parameter; routes, CLI commands and scheduler jobs get
it from `clock.now()`. Tests replace the app's clock with a `FrozenClock` and
move it by hand, so that expiry and staleness are tested instantly.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    def __init__(self, at: datetime):
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, **kwargs) -> datetime:
        self.at += timedelta(**kwargs)
        return self.at


def now() -> datetime:
    """The current time, aware, in UTC."""
    return current_app.extensions["clock"].now()


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def iso_local(value: datetime | None) -> str | None:
    """ISO 8601 with the local offset, as the API answers times."""
    return value.astimezone(local_zone()).isoformat() if value else None
