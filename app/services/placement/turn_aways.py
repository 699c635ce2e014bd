"""Turn-aways: contacts that ended without a place, once per contact."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import TurnAway
from app.models.placement import TURN_AWAY_REASONS
from app.services.core import audit
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput


def contact_key(*, call_id: int | None = None, session: str | None = None, search_id: int | None = None) -> str:
    """What makes searches one contact: the call, else the operator's search
    session, else the one search."""
    if call_id is not None:
        return f"call:{call_id}"
    if session:
        return f"session:{session}"
    return f"search:{search_id}"


def record(
    actor: Actor,
    now: datetime,
    *,
    key: str,
    reason: str,
    criteria: dict,
    region_id: int | None,
    call_id: int | None = None,
    search_id: int | None = None,
    note: str | None = None,
) -> TurnAway:
    """Record the contact `key` as turned away, unless it already is (then
    that record is returned, unchanged)."""
    if reason not in TURN_AWAY_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(TURN_AWAY_REASONS)}", field="reason")
    existing = db.session.scalar(select(TurnAway).where(TurnAway.contact_key == key))
    if existing is not None:
        return existing
    turn_away = TurnAway(at=now, contact_key=key, reason=reason, criteria=criteria, region_id=region_id,
                         call_id=call_id, search_id=search_id, note=note, recorded_by_id=actor.user_id)
    try:
        # The unique contact key settles a race between two recordings.
        with db.session.begin_nested():
            db.session.add(turn_away)
    except IntegrityError:
        return db.session.scalar(select(TurnAway).where(TurnAway.contact_key == key))
    audit.record(actor, "turn_away.record", now, turn_away, reason=reason)
    return turn_away


def withdraw(key: str, now: datetime) -> None:
    """The contact found a place after all: its turn-away no longer counts."""
    db.session.execute(
        update(TurnAway)
        .where(TurnAway.contact_key == key, TurnAway.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )
