from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime

HOLD_STATUSES = ("active", "confirmed", "released", "expired")
TURN_AWAY_REASONS = ("full", "ineligible", "closed")
REFERRAL_STATUSES = ("proposed", "accepted", "declined", "arrived")


class PlacementSearch(db.Model):
    """One run of the placement search: its criteria (no personal data) and
    what it found. Searches of one contact share a `contact_key`."""

    __tablename__ = "placement_searches"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # "call:<id>" or "session:<token>": the contact this search is part of.
    contact_key: Mapped[str] = mapped_column(String(80), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    criteria: Mapped[dict] = mapped_column(JSON)
    result_count: Mapped[int]

    created_by: Mapped["User | None"] = relationship()  # noqa: F821


class Hold(db.Model):
    """A place reserved for a household on its way."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("persons >= 1", name="persons_positive"),
        CheckConstraint("places >= 1", name="places_positive"),
        # Free places subtract the active holds of a unit that have not expired.
        Index("ix_holds_unit_id_status_expires_at", "unit_id", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("capacity_units.id"))
    persons: Mapped[int]
    # What the hold takes of its unit: persons, or one room or slot.
    places: Mapped[int]
    household: Mapped[str | None] = mapped_column(String(500))
    arrival: Mapped[datetime | None] = mapped_column(UTCDateTime)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    search_id: Mapped[int | None] = mapped_column(ForeignKey("placement_searches.id"))
    note: Mapped[str | None] = mapped_column(Text)
    # How the facility reaches whoever holds the place (their phone, a desk).
    contact: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped["CapacityUnit"] = relationship()  # noqa: F821
    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])  # noqa: F821
    closed_by: Mapped["User | None"] = relationship(foreign_keys=[closed_by_id])  # noqa: F821

    def status_at(self, now: datetime) -> str:
        """The status as of `now`: an active hold past its expiry has expired,
        whether or not a job has marked it yet."""
        if self.status == "active" and self.expires_at <= now:
            return "expired"
        return self.status


class TurnAway(db.Model):
    """A contact that ended without a place: the region's unmet demand.
    Recorded once per contact (the unique `contact_key`)."""

    __tablename__ = "turn_aways"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    contact_key: Mapped[str] = mapped_column(String(80), unique=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    search_id: Mapped[int | None] = mapped_column(ForeignKey("placement_searches.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    criteria: Mapped[dict] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set when the same contact found a place after all (a hold followed).
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    region: Mapped["Region | None"] = relationship()  # noqa: F821


class Referral(db.Model):
    """A contact sent on to a relief point (a facility) or an organisation."""

    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(
            "(facility_id IS NULL) <> (organisation_id IS NULL)", name="facility_or_organisation"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    facility_id: Mapped[int | None] = mapped_column(ForeignKey("facilities.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    facility: Mapped["Facility | None"] = relationship()  # noqa: F821
    organisation: Mapped["Organisation | None"] = relationship()  # noqa: F821
    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])  # noqa: F821
    updated_by: Mapped["User | None"] = relationship(foreign_keys=[updated_by_id])  # noqa: F821
