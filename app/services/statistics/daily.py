"""The daily statistics: the scheduler's job and the rebuild.

STATISTICS lists one module per statistic (see the package's docstring);
adding one is adding it here. Neither function commits.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.services.core.errors import InvalidInput
from app.services.statistics import days, hotline_daily, region_daily

STATISTICS = (region_daily, hotline_daily)
# How many days past the job finalises when it finds them not final (the
# scheduler was down); older ones are `flask stats rebuild`'s.
CATCH_UP_DAYS = 7


@dataclass
class Rebuild:
    """The days rebuilt, and those skipped because their detail is purged
    (their rows, if any, were left as they were)."""

    rebuilt: list[date] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)


def _purged(statistic, day: date, now: datetime) -> bool:
    horizon = days.purged_before(statistic.RETENTION_KEYS, now)
    return horizon is not None and days.bounds(day)[0] < horizon


def run(now: datetime) -> dict[str, int]:
    """The job: today's rows (the day so far), and every day of the last
    CATCH_UP_DAYS not yet computed after its end; how many rows each statistic
    wrote. Days whose detail is purged are left alone."""
    today = days.local_day(now)
    written = {}
    for statistic in STATISTICS:
        done = days.computed_days(statistic.NAME, today - timedelta(days=CATCH_UP_DAYS), today)
        due = [today - timedelta(days=back) for back in range(CATCH_UP_DAYS, 0, -1)]
        due = [day for day in due if not done.get(day) and not _purged(statistic, day, now)]
        written[statistic.NAME] = sum(statistic.compute_day(day, now) for day in [*due, today])
    return written


def rebuild(since: date, now: datetime) -> dict[str, Rebuild]:
    """Compute every day from `since` to today again, per statistic: the days
    whose detail the purge has blanked are skipped, and their rows stay as
    they are (never zeros over kept evidence)."""
    today = days.local_day(now)
    if since > today:
        raise InvalidInput("since must not be after today", field="since")
    results = {}
    for statistic in STATISTICS:
        result = results[statistic.NAME] = Rebuild()
        for back in range((today - since).days, -1, -1):
            day = today - timedelta(days=back)
            if _purged(statistic, day, now):
                result.skipped.append(day)
            else:
                statistic.compute_day(day, now)
                result.rebuilt.append(day)
    return results
