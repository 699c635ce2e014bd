from datetime import datetime

from sqlalchemy import exists, select

from app.extensions import db
from app.models import AuditEvent
from app.services.core.access import Actor


def record(
    actor: Actor,
    action: str,
    now: datetime,
    obj=None,
    **details,
) -> AuditEvent:
    """Write an audit event: who (`actor`) did `action` to `obj`, when, from where."""
    event = AuditEvent(
        at=now,
        actor_id=actor.user_id,
        action=action,
        object_type=obj.__tablename__ if obj is not None else None,
        object_id=obj.id if obj is not None else None,
        ip=actor.ip,
        details={"source": actor.source, **details},
    )
    db.session.add(event)
    return event


def recorded_after(actor: Actor, action: str, obj, after: datetime) -> bool:
    """Whether `actor` did `action` to `obj` later than `after`, by the audit events."""
    return db.session.scalar(select(exists().where(
        AuditEvent.actor_id == actor.user_id,
        AuditEvent.action == action,
        AuditEvent.object_type == obj.__tablename__,
        AuditEvent.object_id == obj.id,
        AuditEvent.at > after,
    )))
