"""The scheduler's jobs, in one place: `python -m scheduler` runs each of
these every `interval` seconds (a configuration key) while it holds the lease.

A job is a plain service function taking `now`, named "module:function"; the
runner gives it an app context and a writing transaction, commits after it and
records how it went (JobRun). Its return value, if any, is logged (a list as
its length). Adding a job is adding one line here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module


@dataclass(frozen=True)
class Job:
    id: str
    target: str  # "app.services.module:function", a function taking `now`
    interval: str  # the configuration key of its interval, in seconds

    @property
    def function(self) -> Callable[[datetime], object]:
        module, _, name = self.target.partition(":")
        return getattr(import_module(module), name)


JOBS: tuple[Job, ...] = (
    Job("evaluate_alerts", "app.services.alerts.evaluation:evaluate", "ALERT_EVALUATION_SECONDS"),
    Job("deliver_outbox", "app.services.delivery.sending:deliver_due", "OUTBOX_DELIVERY_SECONDS"),
    Job("expire_holds", "app.services.placement.hold_expiry:expire_and_notify", "HOLD_EXPIRY_SECONDS"),
    Job("expire_requests", "app.services.placement.requests:expire_overdue", "PLACEMENT_REQUEST_EXPIRY_SECONDS"),
    Job("expire_offers", "app.services.placement.offers:expire_offers", "PLACEMENT_OFFER_EXPIRY_SECONDS"),
    Job("offer_at_intake_opening", "app.services.placement.offers:intake_opened",
        "PLACEMENT_INTAKE_OPENING_SECONDS"),
    Job("remind_stale", "app.services.registry.stale_reminders:remind_stale", "STALE_REMINDER_SECONDS"),
    Job("daily_digest", "app.services.alerts.digest:daily_digest", "DIGEST_SECONDS"),
    Job("daily_statistics", "app.services.statistics.daily:run", "STATS_DAILY_SECONDS"),
    Job("purge_retention", "app.services.scheduling.retention:purge", "RETENTION_PURGE_SECONDS"),
    Job("delete_recordings", "app.services.scheduling.retention:delete_expired_recordings", "RETENTION_PURGE_SECONDS"),
)
