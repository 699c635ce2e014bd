"""How an alert reads on the managers' pages: its timeline with who was told
by what, and what a refused acknowledgement means, in the user's language."""

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _

from app.models import Alert, AlertEvent, OutboxMessage
from app.models.alerts import ALERT_CHANNELS
from app.presenters import local_time
from app.services.alerts import episodes, evaluation
from app.services.delivery import sending


@dataclass
class TimelineEntry:
    event: AlertEvent
    # The outbox rows of the notice this event sent, each with its delivery
    # status; a notice sent by the other channel after one failed for good
    # follows the failed one.
    told: list[OutboxMessage] = field(default_factory=list)

    @property
    def held_until(self) -> datetime | None:
        """The end of the quiet hours a notice waited for."""
        value = (self.event.details or {}).get("held_until")
        return datetime.fromisoformat(value) if value else None


def timeline(alert: Alert) -> list[TimelineEntry]:
    """The alert's events, oldest first, each with the outbox rows of the
    notice it wrote: for the (user, channel) pairs the event lists as told."""
    by_key = {message.dedup_key: message for message in episodes.notices(alert) if message.dedup_key}
    entries = []
    for event in alert.events:
        details = event.details or {}
        # A fired alert at its critical level at once sends the critical notice.
        notice = "critical" if event.event == "fired" and details.get("critical") else event.event
        entry = TimelineEntry(event)
        for user_id, channel in details.get("told", []):
            key = evaluation.dedup_key(alert.id, notice, details.get("n", 0), user_id, channel)
            others = [f"{key}{sending.FALLBACK_MARK}{other}" for other in ALERT_CHANNELS if other != channel]
            entry.told.extend(by_key[each] for each in (key, *others) if each in by_key)
        entries.append(entry)
    return entries


def is_fallback(message: OutboxMessage) -> bool:
    return sending.FALLBACK_MARK in (message.dedup_key or "")


def ack_refusal(alert: Alert) -> str:
    """Why the acknowledgement was refused (409), from the alert as it is now."""
    if alert.state == "resolved":
        return _("Alert %(code)s is resolved already: there is nothing to acknowledge.", code=alert.code)
    if alert.state == "pending":
        return _("Alert %(code)s has not fired yet: there is nothing to acknowledge.", code=alert.code)
    who = alert.acknowledged_by.name if alert.acknowledged_by else _("someone else")
    return _("Alert %(code)s was acknowledged already by %(name)s at %(time)s.", code=alert.code, name=who,
             time=local_time(alert.acknowledged_at))
