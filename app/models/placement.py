from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime

# `requested` only on a kind that requires the facility's acceptance.
HOLD_STATUSES = ("requested", "active", "confirmed", "released", "expired")
# The statuses whose holds take their places until expires_at (a requested
# hold's is its accept_by): one indexed condition wherever places are summed.
HOLDING_STATUSES = ("requested", "active")
# How a hold ended (PRODUCT.md, "Hold outcome"). Those that put the contact
# back into the unmet demand: REOPENING_OUTCOMES.
HOLD_OUTCOMES = ("admitted", "declined", "no_show", "elsewhere", "cancelled", "expired", "lapsed")
REOPENING_OUTCOMES = ("declined", "no_show", "expired", "lapsed")
RELEASE_OUTCOMES = ("declined", "no_show", "elsewhere", "cancelled")
DECLINE_REASONS = ("not_eligible", "no_room", "safety", "other")
TURN_AWAY_REASONS = ("full", "ineligible", "closed")
REFERRAL_STATUSES = ("proposed", "accepted", "declined", "arrived")
REQUEST_STATUSES = ("open", "placed", "withdrawn", "expired")
OFFER_STATUSES = ("open", "taken", "declined", "expired", "withdrawn")
RISK_LEVELS = ("standard", "elevated", "high")


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
        # A requested hold lapses at accept_by: its expires_at is accept_by
        # until the facility accepts, so "held" stays one indexed condition.
        CheckConstraint("status <> 'requested' OR accept_by IS NOT NULL", name="requested_has_accept_by"),
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
    # For how long the hold runs once accepted (a requested hold's
    # expires_at is its accept_by meanwhile).
    minutes: Mapped[int | None]
    # Set while (and after) a hold waits for the facility's acceptance.
    accept_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # How it ended (HOLD_OUTCOMES) and, when declined, why (DECLINE_REASONS).
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_reason: Mapped[str | None] = mapped_column(String(16))
    # The waiting-list request this hold is for: confirming it places the request.
    request_id: Mapped[int | None] = mapped_column(ForeignKey("placement_requests.id"), index=True)

    unit: Mapped["CapacityUnit"] = relationship()  # noqa: F821
    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])  # noqa: F821
    closed_by: Mapped["User | None"] = relationship(foreign_keys=[closed_by_id])  # noqa: F821

    def status_at(self, now: datetime) -> str:
        """The status as of `now`: an active (or requested) hold past its
        expiry (or accept_by) has expired, whether or not a job has marked it yet."""
        if self.status in ("active", "requested") and self.expires_at <= now:
            return "expired"
        return self.status


class PlacementRequest(db.Model):
    """The waiting list: a household's criteria filed when nothing fits, open
    until placed, withdrawn or expired. Ordered by risk level, then waiting time."""

    __tablename__ = "placement_requests"
    __table_args__ = (Index("ix_placement_requests_status_region_id", "status", "region_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_reason: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    search_id: Mapped[int | None] = mapped_column(ForeignKey("placement_searches.id"))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    # The search criteria as Criteria.stored() keeps them: never danger places.
    criteria: Mapped[dict] = mapped_column(JSON)
    # The contact's level when filed, kept current while the contact's changes.
    risk_level: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    # The facilities the search's danger places left out when it was filed
    # (ids only: the places themselves are never stored), and when that was:
    # a facility added or moved since is "not checked against the danger place".
    excluded_facility_ids: Mapped[list] = mapped_column(JSON, default=list)
    danger_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped["Call | None"] = relationship()  # noqa: F821
    region: Mapped["Region | None"] = relationship()  # noqa: F821
    created_by: Mapped["User | None"] = relationship(foreign_keys=[created_by_id])  # noqa: F821
    offers: Mapped[list["PlacementOffer"]] = relationship(back_populates="request", order_by="PlacementOffer.id")


class PlacementOffer(db.Model):
    """A freed place offered to one open request, to the desk (every operator
    on duty), for a while. At most one open offer per request; the places of
    a unit's open offers are never offered again while open."""

    __tablename__ = "placement_offers"
    __table_args__ = (
        CheckConstraint("places >= 1", name="offer_places_positive"),
        Index("ix_placement_offers_status_expires_at", "status", "expires_at"),
        Index("ix_placement_offers_unit_id_status", "unit_id", "status"),
        Index("uq_placement_offers_one_open_per_request", "request_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("placement_requests.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("capacity_units.id"))
    places: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="open")
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"))

    request: Mapped[PlacementRequest] = relationship(back_populates="offers")
    unit: Mapped["CapacityUnit"] = relationship()  # noqa: F821


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
