from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db


class Region(db.Model):
    """A care region; managers and alert rules are scoped to regions."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))

    facilities: Mapped[list["Facility"]] = relationship(back_populates="region")  # noqa: F821

    def __repr__(self) -> str:
        return f"<Region {self.slug}>"


ORGANISATION_KINDS = ("caw", "crisis_centre", "justice_house", "police_zone", "child_protection", "other")


class Organisation(db.Model):
    """A provider or referrer: a CAW, a crisis centre, a justice house, a police zone."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(200))

    region: Mapped[Region | None] = relationship()

    def __repr__(self) -> str:
        return f"<Organisation {self.slug}>"
