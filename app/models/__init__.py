"""The data model. Importing this package registers every table."""

from app.models.alerts import Alert, AlertEvent, AlertRule
from app.models.audit import AuditEvent
from app.models.capacity import CapacityChange, CapacityKind, CapacityUnit
from app.models.facility import Facility
from app.models.geography import Organisation, Region
from app.models.hotline import Call, CallbackAttempt, OutboxMessage, RateCounter, SmsMessage
from app.models.placement import Hold, PlacementOffer, PlacementRequest, PlacementSearch, Referral, TurnAway
from app.models.risk import RiskItem, RiskScale
from app.models.scheduling import JobRun, SchedulerLease
from app.models.statistics import HotlineDay, PurgeHorizon, RegionKindDay, StatisticDay
from app.models.user import ApiToken, LoginFailures, User, UserRole, WebSession

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertRule",
    "ApiToken",
    "AuditEvent",
    "Call",
    "CallbackAttempt",
    "CapacityChange",
    "CapacityKind",
    "CapacityUnit",
    "Facility",
    "Hold",
    "HotlineDay",
    "JobRun",
    "LoginFailures",
    "Organisation",
    "OutboxMessage",
    "PlacementOffer",
    "PlacementRequest",
    "PlacementSearch",
    "PurgeHorizon",
    "Referral",
    "RegionKindDay",
    "RateCounter",
    "RiskItem",
    "RiskScale",
    "SchedulerLease",
    "Region",
    "SmsMessage",
    "StatisticDay",
    "TurnAway",
    "User",
    "UserRole",
    "WebSession",
]
