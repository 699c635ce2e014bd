"""The data model. Importing this package registers every table."""

from app.models.audit import AuditEvent
from app.models.capacity import CapacityChange, CapacityKind, CapacityUnit
from app.models.facility import Facility
from app.models.geography import Organisation, Region
from app.models.hotline import Call, OutboxMessage, RateCounter, SmsMessage
from app.models.placement import Hold, PlacementSearch, Referral, TurnAway
from app.models.user import ApiToken, User, UserRole

__all__ = [
    "ApiToken",
    "AuditEvent",
    "Call",
    "CapacityChange",
    "CapacityKind",
    "CapacityUnit",
    "Facility",
    "Hold",
    "Organisation",
    "OutboxMessage",
    "PlacementSearch",
    "Referral",
    "RateCounter",
    "Region",
    "SmsMessage",
    "TurnAway",
    "User",
    "UserRole",
]
