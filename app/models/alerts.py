from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime

ALERT_STATES = ("pending", "firing", "resolved")
# What a rule watches: a region's free places, or the hotline (which belongs to no region).
ALERT_METRICS = ("free_places", "operators_on_duty", "missed_calls")
HOTLINE_METRICS = ("operators_on_duty", "missed_calls")
ALERT_CHANNELS = ("sms", "email")
# What happens to an alert, in its timeline.
ALERT_EVENTS = ("pending", "fired", "repeated", "escalated", "acknowledged", "resolved", "cancelled", "critical")


class AlertRule(db.Model):
    """"Free <kinds> in <region> below <threshold> for <for_minutes>": when
    and whom to tell (API.md "Alerts")."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        CheckConstraint("threshold >= 0", name="threshold_not_negative"),
        CheckConstraint("margin >= 0", name="margin_not_negative"),
        CheckConstraint("critical_at >= 0", name="critical_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(24), default="free_places", server_default="free_places")
    # operators_on_duty: the staffed hours (local "HH:MM"); missed_calls: the window counted.
    active_from: Mapped[str | None] = mapped_column(String(5))
    active_to: Mapped[str | None] = mapped_column(String(5))
    window_minutes: Mapped[int | None]
    # None: every region, each on its own (free_places); always None for the hotline's metrics.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # None for the hotline's metrics.
    kinds: Mapped[list | None] = mapped_column(JSON)
    threshold: Mapped[int]
    critical_at: Mapped[int] = mapped_column(default=0)
    for_minutes: Mapped[int] = mapped_column(default=10)
    margin: Mapped[int] = mapped_column(default=1)
    keep_firing_minutes: Mapped[int] = mapped_column(default=10)
    # No column default: the ORM would put it in place of an explicit None ("never").
    repeat_minutes: Mapped[int | None]
    escalate_after_minutes: Mapped[int | None]
    # E-mail addresses of users to escalate to (admins or named users).
    escalate_to: Mapped[list] = mapped_column(JSON, default=list)
    # Local "HH:MM"; non-critical notices wait until the quiet hours end.
    quiet_from: Mapped[str | None] = mapped_column(String(5))
    quiet_to: Mapped[str | None] = mapped_column(String(5))
    channels: Mapped[list] = mapped_column(JSON)
    # E-mail addresses of the users to tell; empty: the region's managers.
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped["Region | None"] = relationship()  # noqa: F821


class Alert(db.Model):
    """One episode of a rule in one region: pending → firing → resolved. Its
    `code` is the acknowledgement code (`OK K7RM4`): random, so that nobody
    acknowledges an alert by guessing, and unique among the open alerts."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_state_rule_id", "state", "rule_id"),
        Index("uq_alerts_open_code", "code", unique=True, sqlite_where=text("open_key IS NOT NULL"),
              postgresql_where=text("open_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id"))
    # None for a hotline metric's alert.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    # "<rule>:<region>" ("<rule>:hotline") while the episode is open, NULL once
    # resolved: the database allows one open episode per rule and region.
    open_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    code: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16))
    critical: Mapped[bool] = mapped_column(default=False)
    # The value watched when it opened: free places, operators on duty or missed calls (the metric).
    free: Mapped[int]
    threshold: Mapped[int]
    full_facilities: Mapped[int] = mapped_column(default=0)
    stale_facilities: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Since when the free places are back at threshold + margin (hysteresis).
    recovering_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    rule: Mapped[AlertRule] = relationship()
    region: Mapped["Region | None"] = relationship()  # noqa: F821
    acknowledged_by: Mapped["User | None"] = relationship()  # noqa: F821
    events: Mapped[list["AlertEvent"]] = relationship(back_populates="alert", order_by="AlertEvent.id")


class AlertEvent(db.Model):
    """The alert's timeline: pending, fired, who was told, acknowledged, resolved."""

    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(16))
    free: Mapped[int | None]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    alert: Mapped[Alert] = relationship(back_populates="events")
    actor: Mapped["User | None"] = relationship()  # noqa: F821
