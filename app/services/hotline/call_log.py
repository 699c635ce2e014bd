"""The call log (the console's page) and the API's list of calls."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Call, User, UserRole
from app.models.hotline import CALL_STATUSES, CHANNELS, OUTCOMES
from app.services.core import validation
from app.services.core.access import CALL_WORKERS
from app.services.core.errors import InvalidInput


@dataclass(frozen=True)
class LogFilters:
    day: date | None = None
    outcome: str | None = None  # an outcome, or "none": not recorded yet
    operator_id: int | None = None
    channel: str | None = None

    def args(self) -> dict:
        """As query arguments, for links to other pages of the same list."""
        values = {"date": self.day.isoformat() if self.day else None, "outcome": self.outcome,
                  "operator": self.operator_id, "channel": self.channel}
        return {name: value for name, value in values.items() if value is not None}


def parse_log_filters(args: Mapping) -> LogFilters:
    """The call log's filters from a query string; InvalidInput naming a bad one."""
    day = validation.calendar_date(args.get("date"), "date")
    outcome = (args.get("outcome") or "").strip() or None
    if outcome is not None and outcome not in (*OUTCOMES, "none"):
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)} or none", field="outcome")
    operator_id = validation.record_id(args.get("operator"), "operator")
    channel = (args.get("channel") or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    return LogFilters(day=day, outcome=outcome, operator_id=operator_id,
                      channel=channel)


def log_query(filters: LogFilters, zone: ZoneInfo) -> Select:
    """The calls matching `filters`, newest first; `day` is a local day."""
    query = select(Call).options(selectinload(Call.operator))
    if filters.day is not None:
        start = datetime.combine(filters.day, time(0), zone)
        end = datetime.combine(filters.day + timedelta(days=1), time(0), zone)
        query = query.where(Call.started_at >= start, Call.started_at < end)
    if filters.outcome == "none":
        query = query.where(Call.outcome.is_(None))
    elif filters.outcome is not None:
        query = query.where(Call.outcome == filters.outcome)
    if filters.operator_id is not None:
        query = query.where(Call.operator_id == filters.operator_id)
    if filters.channel is not None:
        query = query.where(Call.channel == filters.channel)
    return query.order_by(Call.started_at.desc(), Call.id.desc())


def call_takers() -> list[User]:
    """Operators and managers, for the log's operator filter."""
    return list(db.session.scalars(
        # A subquery rather than DISTINCT: PostgreSQL cannot compare the JSON
        # columns of users for equality.
        select(User).where(User.id.in_(
            select(UserRole.user_id).where(UserRole.role.in_(CALL_WORKERS))))
        .order_by(User.name, User.id)
    ))


def parse_since(raw: str | None, zone: ZoneInfo) -> datetime | None:
    """`since` as the API takes it: a time with its zone, or a day (from its
    midnight in `zone`)."""
    raw = (raw or "").strip()
    if len(raw) == 10:
        return datetime.combine(validation.calendar_date(raw, "since"), time(0), zone)
    return validation.aware_time(raw, "since")


def listed(*, status: str | None = None, since: datetime | None = None, after_id: int | None = None,
           limit: int = 100) -> list[Call]:
    """Calls by id (the API's list): of `status`, started at or after `since`."""
    if status is not None and status not in CALL_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(CALL_STATUSES)}", field="status")
    query = select(Call).options(selectinload(Call.operator))
    if status is not None:
        query = query.where(Call.status == status)
    if since is not None:
        query = query.where(Call.started_at >= since)
    return list(db.session.scalars(query.where(Call.id > (after_id or 0)).order_by(Call.id).limit(limit)))
