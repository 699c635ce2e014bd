from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime

FACILITY_TYPES = ("crisis_centre", "refuge", "relief_point", "offender_programme")
GENDERS = ("female", "male", "x")
# Facility.language_mask has bit i set for LANGUAGES[i]: add new codes at the end only.
LANGUAGES = ("nl", "fr", "en", "de", "ar", "tr", "pl", "ro", "es", "ru", "uk")


class Facility(db.Model):
    """A site with capacity: crisis centre, refuge, relief point, offender programme."""

    __tablename__ = "facilities"
    # The target of the units' key on (facility, region, intake switch):
    # see CapacityUnit. The public point's indexes serve the placement
    # search's lat/lon box, in a region and everywhere; with the preferences
    # in them, the search tells from the index alone whether a facility may
    # score within its radius, and reads only those rows (bench/placement.py).
    __table_args__ = (
        UniqueConstraint("id", "region_id", "open_for_intake"),
        Index("ix_facilities_region_public_point", "region_id", "public_lat", "public_lon", "language_mask",
              "high_security", "pets"),
        Index("ix_facilities_public_point", "public_lat", "public_lon", "language_mask", "high_security", "pets"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)

    municipality: Mapped[str] = mapped_column(String(120))
    postcode: Mapped[str] = mapped_column(String(4))
    # Where the facility is. For a confidential one these never leave the
    # server except to its own staff and admins (PRODUCT.md section 5, rule 1).
    street: Mapped[str | None] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    confidential: Mapped[bool] = mapped_column(default=False)
    # Where distances to the facility are measured from: its own coordinates,
    # or its municipality's centre when it is confidential or has none
    # (facilities.public_point; kept by facilities.save). Only this point, never
    # lat/lon, may decide which facilities a search finds and in what order.
    public_lat: Mapped[float] = mapped_column(Float)
    public_lon: Mapped[float] = mapped_column(Float)
    intake_phone: Mapped[str | None] = mapped_column(String(32))

    # {"always": bool, "weekly": {"mon": [["08:00", "20:00"]], ...}}, local time.
    intake_hours: Mapped[dict] = mapped_column(JSON)
    open_for_intake: Mapped[bool] = mapped_column(default=True)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    stale_after_hours: Mapped[int] = mapped_column(default=12)

    # Eligibility.
    genders: Mapped[list] = mapped_column(JSON)
    children: Mapped[bool] = mapped_column(default=False)
    max_children: Mapped[int | None]
    max_child_age: Mapped[int | None]
    # The usual refuge rule: boys only up to this age (None: as max_child_age).
    max_boy_age: Mapped[int | None]
    wheelchair: Mapped[bool] = mapped_column(default=False)
    pets: Mapped[bool] = mapped_column(default=False)
    high_security: Mapped[bool] = mapped_column(default=False)
    languages: Mapped[list] = mapped_column(JSON)
    # The languages again, as bits (LANGUAGES): for the placement search's SQL.
    language_mask: Mapped[int]

    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When its public point was last set (created or moved): a waiting-list
    # request checked against a danger place before this has not checked it.
    located_at: Mapped[datetime] = mapped_column(UTCDateTime)

    region: Mapped["Region"] = relationship(back_populates="facilities")  # noqa: F821
    organisation: Mapped["Organisation | None"] = relationship()  # noqa: F821
    units: Mapped[list["CapacityUnit"]] = relationship(  # noqa: F821
        back_populates="facility",
        order_by="CapacityUnit.kind_id",
        primaryjoin="Facility.id == CapacityUnit.facility_id",
        foreign_keys="CapacityUnit.facility_id",
    )

    def __repr__(self) -> str:
        return f"<Facility {self.slug}>"
