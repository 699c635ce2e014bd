"""Alert episodes as people see them: listing, reading, acknowledging (flow C).

    acknowledge(actor, alert, now) -> Alert
        Stops the repeats and the escalation of a firing alert. Forbidden for
        someone it is not for; Conflict when the alert is pending (not fired
        yet), already acknowledged (the message says by whom) or resolved:
        the API answers 409, the SMS `OK code` a polite reply. Race-safe: of
        two at once, one acknowledges and the other gets the Conflict.
    get_alert(alert_id) -> Alert           NotFound when there is none
    alerts_for(actor, state=None, limit=50, before_id=None) -> [Alert]
        Newest first; admins see all, managers their regions' alerts and
        the hotline's (which belong to no region).
    notices(alert) -> [OutboxMessage]      who was told by what, with status

The episodes themselves are opened, fired and closed by the evaluation
(app.services.alerts.evaluation).
"""

from datetime import datetime

from sqlalchemy import select, update

from app.extensions import db
from app.models import Alert, AlertEvent, OutboxMessage
from app.models.alerts import ALERT_STATES
from app.services.core import audit
from app.services.core.access import ALERT_READERS, Actor, alert_region_ids, may_acknowledge_alert
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound


def get_alert(alert_id) -> Alert:
    alert = db.session.get(Alert, alert_id) if isinstance(alert_id, int) else None
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def alerts_for(actor: Actor, state: str | None = None, *, limit: int = 50,
               before_id: int | None = None) -> list[Alert]:
    """The alerts this actor may see, newest first (`before_id` pages on)."""
    user = actor.user
    if user is None or not user.active or not user.has_role(*ALERT_READERS):
        raise Forbidden("alerts are for managers and admins")
    if state is not None and state not in ALERT_STATES:
        raise InvalidInput(f"state must be one of {', '.join(ALERT_STATES)}", field="state")
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    region_ids = alert_region_ids(user)
    if region_ids is not None:
        # The hotline's alerts (no region) are every manager's.
        query = query.where(Alert.region_id.in_(region_ids) | Alert.region_id.is_(None))
    if state is not None:
        query = query.where(Alert.state == state)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return list(db.session.scalars(query))


def notices(alert: Alert) -> list[OutboxMessage]:
    return list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.alert_id == alert.id).order_by(OutboxMessage.id)))


# --- who ----------------------------------------------------------------------


def acknowledge(actor: Actor, alert: Alert, now: datetime) -> Alert:
    """Acknowledge a firing alert: no more repeats or escalation. Its
    resolution is still announced to everyone who was told."""
    if not may_acknowledge_alert(actor.user, alert):
        raise Forbidden("this alert is for the managers of its region")
    _refuse_if_closed(alert)
    # Only one of two acknowledgements at once gets through: the row is
    # changed only while it is firing and unacknowledged.
    changed = db.session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.state == "firing", Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=actor.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(alert)
    if not changed:
        _refuse_if_closed(alert)
        raise Conflict("this alert cannot be acknowledged now", current={"alert": alert})
    db.session.add(AlertEvent(alert_id=alert.id, at=now, event="acknowledged", free=alert.free,
                              actor_id=actor.user_id, details={"source": actor.source}))
    audit.record(actor, "alert.acknowledge", now, alert)
    return alert


def _refuse_if_closed(alert: Alert) -> None:
    if alert.state == "resolved":
        raise Conflict(f"alert {alert.id} is resolved already", current={"alert": alert})
    if alert.state == "pending":
        raise Conflict(f"alert {alert.id} has not fired: there is nothing to acknowledge yet", current={"alert": alert})
    if alert.acknowledged_at is not None:
        who = alert.acknowledged_by.name if alert.acknowledged_by else "someone"
        raise Conflict(f"alert {alert.id} was acknowledged already by {who}", current={"alert": alert})
