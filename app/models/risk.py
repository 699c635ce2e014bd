from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

RISK_ANSWERS = ("yes", "no", "unknown")


class RiskItem(db.Model):
    """One item of the risk screening instrument, as an admin configures it:
    a region uses the instrument it is licensed for (the shipped items are a
    demonstration set, RiskScale.demonstration)."""

    __tablename__ = "risk_items"
    __table_args__ = (CheckConstraint("weight >= 0", name="weight_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    # {"nl": ..., "fr": ..., "en": ...}
    labels: Mapped[dict] = mapped_column(JSON)
    weight: Mapped[int]
    # While a critical item is unanswered the contact is "not screened".
    critical: Mapped[bool] = mapped_column(default=False)
    # "yes" prompts a referral to a child-protection organisation.
    child_at_risk: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    def label(self, locale: str) -> str:
        return self.labels.get(locale) or self.labels.get("en") or self.key


class RiskScale(db.Model):
    """The instrument's thresholds (one row): a score at or above
    `high_at` is high, at or above `elevated_at` elevated, else standard."""

    __tablename__ = "risk_scale"
    __table_args__ = (CheckConstraint("high_at > elevated_at AND elevated_at >= 1", name="thresholds_ordered"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    elevated_at: Mapped[int]
    high_at: Mapped[int]
    # Shown on screen as "demonstration, not validated" until an admin
    # replaces the shipped items with the region's instrument.
    demonstration: Mapped[bool] = mapped_column(default=True)
