"""The hotline's own figures (PRODUCT.md flow E and "Daily statistics"): what
became of the voice calls, per period and per hotline number dialled.

A call is *offered* when it comes in; *answered* once an operator pressed 1
in the whisper (after answered_at − rang_at seconds in the operators' ring);
*missed* when it reached the operators' ring and nobody accepted, and a
*menu hang-up* when it ended in the menu (app.services.hotline.calls `missed`,
`menu_hangup`: one definition, shared with the alerts); a *voicemail* when the
caller left one; *called back* once a call-back attempt was answered (after
that attempt's answered_at − the voicemail's time, or the call's start when
there is none). Still open, as of `now`: *pending call-backs* (the caller
agreed, no attempt answered, the call still waiting) and *unheard voicemails*.
SMS contacts are no calls: they are not counted here.

Counts are SQL aggregates, one query per set of periods that follow each
other; the median time to answer is taken in Python over the answered
calls' times (a day or a week of them). `daily` gives API.md's
`stats/hotline-daily` rows (its `callbacks`: the calls called back); the
managers' page (console) reads `today_and_week` and `per_call`. Plain
functions: they take `now` and never commit.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, exists, func, literal, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Call, CallbackAttempt
from app.services.core.errors import InvalidInput
from app.services.hotline import calls

# The longest range `daily` answers at once (a leap year).
MAX_DAYS = 366


@dataclass(frozen=True)
class Figures:
    offered: int = 0
    answered: int = 0
    missed: int = 0
    menu_hangups: int = 0
    voicemails: int = 0
    callbacks: int = 0
    pending_callbacks: int = 0
    unheard_voicemails: int = 0
    median_answer_s: float | None = None

    @property
    def answered_percent(self) -> int | None:
        """The calls answered, as a whole percentage of those offered; None without any."""
        return round(100 * self.answered / self.offered) if self.offered else None


@dataclass(frozen=True)
class DayFigures:
    day: date
    number: str | None
    figures: Figures


@dataclass(frozen=True)
class CallFigures:
    """What became of one call."""

    call_id: int
    started_at: datetime
    number: str | None
    answered: bool
    answered_by: str | None  # the operator's name
    answer_s: int | None
    missed: bool
    menu_hangup: bool
    voicemail: bool
    called_back_after_s: int | None


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime


def today(now: datetime, zone: ZoneInfo) -> Period:
    """The local day of `now`."""
    day = now.astimezone(zone).date()
    return _days(day, day, zone)


def this_week(now: datetime, zone: ZoneInfo) -> Period:
    """The local week (Monday to Sunday) of `now`."""
    day = now.astimezone(zone).date()
    monday = day - timedelta(days=day.weekday())
    return _days(monday, monday + timedelta(days=6), zone)


def _days(first: date, last: date, zone: ZoneInfo) -> Period:
    """From local midnight before `first` to local midnight after `last`
    (a day of 23 or 25 hours when the clocks change)."""
    return Period(datetime.combine(first, time(0), zone), datetime.combine(last + timedelta(days=1), time(0), zone))


# --- the SQL ----------------------------------------------------------------------------

_ANSWERED_ATTEMPT = (CallbackAttempt.call_id == Call.id) & (CallbackAttempt.result == "answered")


def _called_back():
    return exists().where(_ANSWERED_ATTEMPT)


def _pending_callback():
    return Call.callback_requested.is_(True) & (Call.status == calls.WAITING) & ~_called_back()


def _which(periods: Sequence[Period]):
    """The index of the period a call started in, for periods that follow each
    other (a call outside them all is filtered out by the caller): a CASE
    that halves the periods at each step, so that a year of days costs a row
    nine comparisons, not 366."""
    def index(first: int, last: int):
        if first == last:
            return literal(first)
        middle = (first + last + 1) // 2
        return case((Call.started_at < periods[middle].start, index(first, middle - 1)), else_=index(middle, last))

    return index(0, len(periods) - 1)


COUNTS = ("offered", "answered", "missed", "menu_hangups", "voicemails", "callbacks", "pending_callbacks",
          "unheard_voicemails")


@dataclass(frozen=True)
class _Tally:
    """The counts of some calls and their answer times: tallies add up (days
    to a week, numbers to all), and give their Figures at the end."""

    counts: tuple[int, ...] = (0,) * len(COUNTS)
    answer_seconds: tuple[float, ...] = ()

    def __add__(self, other: "_Tally") -> "_Tally":
        return _Tally(tuple(a + b for a, b in zip(self.counts, other.counts, strict=True)),
                      self.answer_seconds + other.answer_seconds)

    def figures(self) -> Figures:
        median = statistics.median(self.answer_seconds) if self.answer_seconds else None
        return Figures(**dict(zip(COUNTS, self.counts, strict=True)), median_answer_s=median)


def _tallies(periods: Sequence[Period], now: datetime) -> dict[tuple[int, str | None], _Tally]:
    """A tally per (index of the period, hotline number) that has calls; each
    of `periods` starts where the one before it ends. Two queries: the counts
    as SQL aggregates, and the answered calls' times (their median is taken
    in Python)."""
    assert all(before.end == after.start for before, after in zip(periods, periods[1:], strict=False))
    in_periods = ((Call.channel == "voice") & (Call.started_at >= periods[0].start)
                  & (Call.started_at < periods[-1].end))
    # The period and its counts per call in a subquery, grouped outside it:
    # PostgreSQL would not see that the CASE in GROUP BY (its boundaries
    # bound as other parameters) is the one selected.
    criteria = (Call.answered_at.is_not(None), calls.missed(now), calls.menu_hangup(), Call.voicemail_at.is_not(None),
                _called_back(), _pending_callback(), Call.voicemail_status == "unheard")
    per_call = select(
        _which(periods).label("period"), Call.called_number.label("number"),
        *(case((criterion, 1), else_=0).label(f"c{index}") for index, criterion in enumerate(criteria)),
    ).where(in_periods).subquery()
    rows = db.session.execute(
        select(per_call.c.period, per_call.c.number, func.count(),
               *(func.sum(per_call.c[f"c{index}"]) for index in range(len(criteria))))
        .group_by(per_call.c.period, per_call.c.number)
    )
    counts = {(period, number): tuple(int(value) for value in values) for period, number, *values in rows}
    seconds: dict[tuple[int, str | None], list[float]] = {}
    answered = db.session.execute(
        select(_which(periods), Call.called_number, Call.rang_at, Call.answered_at)
        .where(in_periods, Call.answered_at.is_not(None), Call.rang_at.is_not(None))
    )
    for period, number, rang_at, answered_at in answered:
        seconds.setdefault((period, number), []).append(max(0.0, (answered_at - rang_at).total_seconds()))
    return {key: _Tally(values, tuple(seconds.get(key, ()))) for key, values in counts.items()}


# --- per period, per day, per call ---------------------------------------------------------


def by_number(period: Period, now: datetime) -> dict[str | None, Figures]:
    """The figures of the calls that started in `period`, per hotline number
    (None: calls recorded without one), as of `now`."""
    return {number: tally.figures() for (_, number), tally in _tallies([period], now).items()}


@dataclass(frozen=True)
class TodayAndWeek:
    today: Figures
    week: Figures


def today_and_week(now: datetime, zone: ZoneInfo) -> tuple[dict[str | None, TodayAndWeek], TodayAndWeek]:
    """The figures of today and of this week, per hotline number and every
    number together: the managers' page. One pass over the week, cut at
    today's midnights (its days before today, today, its days after)."""
    week, day = this_week(now, zone), today(now, zone)
    tallies = _tallies([Period(week.start, day.start), day, Period(day.end, week.end)], now)
    numbers = {number for _, number in tallies}
    empty = _Tally()

    def both(parts: list[_Tally]) -> TodayAndWeek:
        return TodayAndWeek(today=parts[1].figures(), week=sum(parts, empty).figures())

    def parts_of(numbers_: set[str | None]) -> list[_Tally]:
        return [sum((tallies.get((index, number), empty) for number in numbers_), empty) for index in range(3)]

    return {number: both(parts_of({number})) for number in numbers}, both(parts_of(numbers))


def daily(since: date, until: date, now: datetime, zone: ZoneInfo) -> list[DayFigures]:
    """The figures per local day from `since` to `until` (both included) and
    per hotline number, for the days and numbers that had calls; today's are
    the day so far. Ordered by day, then number (None last). API.md's
    `stats/hotline-daily`."""
    if until < since:
        raise InvalidInput("until must not be before since", field="until")
    if (until - since).days >= MAX_DAYS:
        raise InvalidInput(f"at most {MAX_DAYS} days at once", field="until")
    days = [since + timedelta(days=offset) for offset in range((until - since).days + 1)]
    tallies = _tallies([_days(day, day, zone) for day in days], now)
    return [DayFigures(days[period], number, tally.figures())
            for (period, number), tally in sorted(tallies.items(), key=lambda item: (
                item[0][0], item[0][1] is None, item[0][1] or ""))]


def per_call(period: Period, now: datetime, *, limit: int = 500) -> list[CallFigures]:
    """What became of each call that started in `period`, the latest first."""
    first_answered_callback = (
        select(func.min(CallbackAttempt.answered_at)).where(_ANSWERED_ATTEMPT).correlate(Call).scalar_subquery()
    )
    rows = db.session.execute(
        select(Call, calls.missed(now), calls.menu_hangup(), first_answered_callback)
        .where(Call.channel == "voice", Call.started_at >= period.start, Call.started_at < period.end)
        .options(selectinload(Call.operator))
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return [
        CallFigures(
            call_id=call.id,
            started_at=call.started_at,
            number=call.called_number,
            answered=call.answered_at is not None,
            answered_by=call.operator.name if call.answered_at is not None and call.operator else None,
            answer_s=_seconds(call.rang_at, call.answered_at),
            missed=bool(missed),
            menu_hangup=bool(menu_hangup),
            voicemail=call.voicemail_at is not None,
            called_back_after_s=_seconds(call.voicemail_at or call.started_at, called_back_at),
        )
        for call, missed, menu_hangup, called_back_at in rows
    ]


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, round((end - start).total_seconds()))
