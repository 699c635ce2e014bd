from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import exists, insert, select

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


def record_each(actor: Actor, action: str, now: datetime, model, changes: Iterable[tuple[int, dict]]) -> None:
    """Write the audit events of one `action` done to many rows of `model`,
    each with its details (`changes`: (id, details) pairs), in one insert:
    as `record` would one by one."""
    rows = [{"at": now, "actor_id": actor.user_id, "action": action, "object_type": model.__tablename__,
             "object_id": object_id, "ip": actor.ip, "details": {"source": actor.source, **details}}
            for object_id, details in changes]
    if rows:
        db.session.connection().execute(insert(AuditEvent.__table__), rows)


def recorded_after(actor: Actor, action: str, obj, after: datetime) -> bool:
    """Whether `actor` did `action` to `obj` later than `after`, by the audit events."""
    return db.session.scalar(select(exists().where(
        AuditEvent.actor_id == actor.user_id,
        AuditEvent.action == action,
        AuditEvent.object_type == obj.__tablename__,
        AuditEvent.object_id == obj.id,
        AuditEvent.at > after,
    )))
