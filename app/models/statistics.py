"""Daily statistics that outlive the detail they are computed from (PRODUCT.md,
"Daily statistics"): no personal data, never purged. One table per statistic,
each keyed by its local day (app.clock's zone); `StatisticDay` says which days
of which statistic were computed, and whether finally; `PurgeHorizon` says up
to where the retention purge has blanked each kind of detail, so that a
rebuild never writes zeros over figures computed while the detail was there.
"""

from datetime import date, datetime

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime


class RegionKindDay(db.Model):
    """Per region, capacity kind and local day: the free places over the day
    and the demand the region met or did not (app.services.statistics.region_daily)."""

    __tablename__ = "stats_region_daily"
    __table_args__ = (
        UniqueConstraint("day", "region_id", "kind_id", name="uq_stats_region_daily_day_region_kind"),
        # The API and the reports read one region's period.
        Index("ix_stats_region_daily_region_day", "region_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"))
    kind_id: Mapped[int] = mapped_column(ForeignKey("capacity_kinds.id"))
    # Free places (available − held; none while closed for intake), summed
    # over the region's units of the kind: the mean weighted by time over the
    # day (up to the computation for today), the lowest, and how long it was 0.
    mean_free: Mapped[float] = mapped_column(Float)
    min_free: Mapped[int]
    hours_at_zero: Mapped[float] = mapped_column(Float)
    # Total places (the capacity, open for intake or not), summed the same
    # way: the mean weighted by time over the day.
    mean_total: Mapped[float] = mapped_column(Float)
    # How many facilities had a unit of the kind during the day.
    facilities: Mapped[int]
    # {"full": n, "ineligible": n, "closed": n}
    turn_aways: Mapped[dict] = mapped_column(JSON)
    # The turned-away households' make-up, as counts only (region_daily.HOUSEHOLD_KEYS).
    turn_away_households: Mapped[dict] = mapped_column(JSON)
    requests_opened: Mapped[int]
    # Requests closed that day, by how (region_daily.CLOSED_REQUEST_STATUSES),
    # and the median hours they had waited (None: none closed).
    requests_closed: Mapped[dict] = mapped_column(JSON)
    request_wait_median_h: Mapped[float | None] = mapped_column(Float)
    # Holds ended that day, by outcome (app.models.placement.HOLD_OUTCOMES).
    holds: Mapped[dict] = mapped_column(JSON)
    # Referrals to the region's facilities of the kind accepted that day, and
    # the median hours from referral to acceptance (None: none accepted).
    referrals_accepted: Mapped[int]
    referral_accept_median_h: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # False while the day is not over (today's rows are the day so far).
    final: Mapped[bool]

    region: Mapped["Region"] = relationship()  # noqa: F821
    kind: Mapped["CapacityKind"] = relationship()  # noqa: F821


class HotlineDay(db.Model):
    """Per hotline number and local day: what became of the calls
    (app.services.statistics.hotline_daily, from app.services.hotline.figures)."""

    __tablename__ = "stats_hotline_daily"
    __table_args__ = (UniqueConstraint("day", "number", name="uq_stats_hotline_daily_day_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    # The hotline number dialled; "" for calls recorded without one (a NULL
    # would escape the unique key).
    number: Mapped[str] = mapped_column(String(32))
    offered: Mapped[int]
    answered: Mapped[int]
    missed: Mapped[int]
    menu_hangups: Mapped[int]
    voicemails: Mapped[int]
    callbacks: Mapped[int]
    median_answer_s: Mapped[float | None] = mapped_column(Float)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    final: Mapped[bool]


class StatisticDay(db.Model):
    """A day a statistic was computed for, and whether the day was over then:
    tells a day without activity (computed, no rows) from one never computed,
    and the job which days are still to finalise."""

    __tablename__ = "stats_days"

    statistic: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    final: Mapped[bool]


class PurgeHorizon(db.Model):
    """Up to when the retention purge has blanked one kind of detail, named by
    its retention key (e.g. RETENTION_DAYS_SEARCHES): everything recorded
    before `purged_before` is gone. Only ever moves forward."""

    __tablename__ = "purge_horizons"

    detail: Mapped[str] = mapped_column(String(64), primary_key=True)
    purged_before: Mapped[datetime] = mapped_column(UTCDateTime)
