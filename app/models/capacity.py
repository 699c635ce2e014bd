from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime

# What a kind counts: persons (a hold takes one place per person), rooms (one
# room per household, up to room_size persons) or slots (one per household).
COUNTS = ("persons", "rooms", "slots")
CLIENT_TYPES = ("victim", "offender", "couple")
SOURCES = ("web", "sms", "api", "hold", "import")


class CapacityKind(db.Model):
    __tablename__ = "capacity_kinds"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    # {"nl": ..., "en": ..., "fr": ...}
    labels: Mapped[dict] = mapped_column(JSON)
    counts: Mapped[str] = mapped_column(String(16))
    # The client types this kind serves.
    serves: Mapped[list] = mapped_column(JSON)
    position: Mapped[int] = mapped_column(default=0)
    # A hold on this kind waits for the facility's acceptance (`requested`).
    requires_acceptance: Mapped[bool] = mapped_column(default=False)

    def label(self, locale: str) -> str:
        return self.labels.get(locale) or self.labels.get("en") or self.code

    def __repr__(self) -> str:
        return f"<CapacityKind {self.code}>"


class CapacityUnit(db.Model):
    """One facility x one kind: what it has and what it reports free."""

    __tablename__ = "capacity_units"
    __table_args__ = (
        UniqueConstraint("facility_id", "kind_id"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("available >= 0 AND available <= total", name="available_within_total"),
        # The unit carries its facility's region and intake switch, and the
        # database keeps them equal: this key names the facility by all three,
        # and a change of either on the facility cascades to its units.
        ForeignKeyConstraint(
            ["facility_id", "region_id", "facility_open"],
            ["facilities.id", "facilities.region_id", "facilities.open_for_intake"],
            onupdate="CASCADE",
            name="fk_capacity_units_facility",
        ),
        # So the regional totals (capacity.region_totals) are two scans of
        # these indexes, in group order, without a join or a sort:
        # bench/registry.py measures them at national scale.
        Index("ix_capacity_units_region_totals", "region_id", "kind_id", "facility_open", "total", "available"),
        Index("ix_capacity_units_stale", "region_id", "facility_id", "stale_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    facility_id: Mapped[int]
    region_id: Mapped[int]
    facility_open: Mapped[bool]
    kind_id: Mapped[int] = mapped_column(ForeignKey("capacity_kinds.id"), index=True)
    total: Mapped[int]
    available: Mapped[int]
    # Persons per room, for kinds counted in rooms.
    room_size: Mapped[int | None]
    # Optimistic concurrency: every change names the version it saw.
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # updated_at + the facility's stale_after_hours, kept here so that "stale"
    # is one indexed comparison with `now` on every database.
    stale_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # SQLAlchemy adds "WHERE version = <the version loaded>" to every UPDATE of
    # a unit and raises StaleDataError when another writer changed it first.
    __mapper_args__ = {"version_id_col": version}

    facility: Mapped["Facility"] = relationship(  # noqa: F821
        back_populates="units",
        primaryjoin="CapacityUnit.facility_id == Facility.id",
        foreign_keys="CapacityUnit.facility_id",
    )
    kind: Mapped[CapacityKind] = relationship(lazy="joined")
    updated_by: Mapped["User | None"] = relationship()  # noqa: F821

    def is_stale(self, now: datetime) -> bool:
        return self.stale_at <= now

    def __repr__(self) -> str:
        return f"<CapacityUnit {self.id} {self.available}/{self.total} v{self.version}>"


class CapacityChange(db.Model):
    """Append-only history of every change to a unit, and every confirmation."""

    __tablename__ = "capacity_changes"
    __table_args__ = (
        # A unit's history page, newest first.
        Index("ix_capacity_changes_unit_id_id", "unit_id", "id"),
        # The daily statistics (app/services/statistics/region_daily.py): a
        # unit's value of a field at a day's start is one step along this...
        Index("ix_capacity_changes_unit_id_field_at", "unit_id", "field", "at", "id"),
        # ...and the day's changes are a range of this.
        Index("ix_capacity_changes_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("capacity_units.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # `set` changes available (or total); `confirm` says the counts are still
    # correct, with before == after.
    action: Mapped[str] = mapped_column(String(16), default="set")
    field: Mapped[str] = mapped_column(String(16), default="available")
    before: Mapped[int]
    after: Mapped[int]
    source: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(String(500))

    unit: Mapped[CapacityUnit] = relationship()
    actor: Mapped["User | None"] = relationship()  # noqa: F821


@event.listens_for(CapacityChange, "before_update")
@event.listens_for(CapacityChange, "before_delete")
def _history_is_append_only(mapper, connection, target):
    raise RuntimeError("capacity history is append-only: rows are never updated or deleted")
