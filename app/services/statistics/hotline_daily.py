"""Per hotline number and local day (HotlineDay): calls offered, answered,
missed, hung up in the menu, voicemails, called back, and the median time to
answer — app.services.hotline.figures's day figures, kept. The hotline
belongs to no region: every manager reads them, as every manager sees the
hotline's alerts."""

from datetime import date, datetime, timedelta

from sqlalchemy import select

from app.clock import local_zone
from app.extensions import db
from app.models.statistics import HotlineDay
from app.services.core.access import HOTLINE_FIGURE_READERS
from app.services.core.errors import Forbidden
from app.services.core.validation import calendar_date
from app.services.hotline import figures
from app.services.statistics import days

NAME = "hotline_daily"
# A call's facts (its times, number and fate) are never purged: only its
# notes are. Nothing it reads goes, so every day can be rebuilt.
RETENTION_KEYS: tuple[str, ...] = ()
KEY = ("number",)
FIGURES = ("offered", "answered", "missed", "menu_hangups", "voicemails", "callbacks", "median_answer_s")


def compute_day(day: date, now: datetime) -> int:
    """Replace the day's rows by the day's figures (the day so far for
    today, final=False); how many rows. A day not begun has none."""
    start, day_end = days.bounds(day)
    if now <= start:
        return 0
    rows = [{"number": found.number or "", "computed_at": now, "final": day_end <= now,
             **{name: getattr(found.figures, name) for name in FIGURES}}
            for found in figures.daily(day, day, now, local_zone())]
    days.replace_day(HotlineDay, day, rows, KEY)
    days.mark_computed(NAME, day, now, final=day_end <= now)
    return len(rows)


def read(user, now: datetime, *, since=None, until=None) -> list[HotlineDay]:
    """The rows from `since` to `until` (local days, both included; default
    the 30 days up to today), by day and number: for managers and admins."""
    if user is None or not user.has_role(*HOTLINE_FIGURE_READERS):
        raise Forbidden("the hotline's statistics are for managers and admins")
    until = calendar_date(until, "until") or days.local_day(now)
    since = calendar_date(since, "since") or until - timedelta(days=days.DEFAULT_PERIOD_DAYS - 1)
    days.check_period(since, until)
    return list(db.session.scalars(
        select(HotlineDay).where(HotlineDay.day >= since, HotlineDay.day <= until)
        .order_by(HotlineDay.day, HotlineDay.number == "", HotlineDay.number)))
