from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime


class SchedulerLease(db.Model):
    """Who the acting scheduler is. The active one renews its lease (and so
    writes its heartbeat); a second instance waits until the lease expires."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobRun(db.Model):
    """How each scheduler job has fared: runs, errors, the last error."""

    __tablename__ = "scheduler_jobs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    runs: Mapped[int] = mapped_column(default=0)
    errors: Mapped[int] = mapped_column(default=0)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class StaleReminder(db.Model):
    """A facility's current stale spell: since when its counts are stale, and
    when its staff were reminded and the region's managers told. The row
    exists while the facility is stale; the reminder job deletes it when it
    finds the facility fresh again, so that the next spell reminds anew."""

    __tablename__ = "stale_reminders"

    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id", ondelete="CASCADE"), primary_key=True)
    # The earliest stale_at of the facility's stale units when the spell was
    # first seen: it names the spell (in the notices' dedup keys).
    stale_since: Mapped[datetime] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
