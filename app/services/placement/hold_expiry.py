"""The scheduler's hold expiry: overdue holds are marked expired, requested
holds the facility left unanswered lapse, and whoever made each one is told
(issue 5, item 6; issue 10, item 5).

Reads already treat an overdue hold as expired (Hold.status_at); marking it
makes lists and the history say so, frees its places for the waiting list,
reopens its contact's turn-away, and the notice (app/services/placement/
hold_notices.py) tells the operator or partner that the place is no longer theirs.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import CapacityUnit, Hold
from app.services.core import audit
from app.services.core.access import SYSTEM
from app.services.placement import holds


def expire_and_notify(now: datetime) -> dict:
    """Mark the overdue holds expired or lapsed (holds.expire_overdue), then
    end each (holds.after_end: places freed, turn-away reopened, its maker
    told). A hold already marked is never marked or announced again.
    Returns how many were expired (lapsed included) and notified."""
    expired = holds.expire_overdue(now)
    if not expired:
        return {"expired": 0, "notified": 0}
    loaded = db.session.scalars(
        select(Hold)
        .where(Hold.id.in_([hold.id for hold in expired]))
        .options(joinedload(Hold.unit).joinedload(CapacityUnit.facility), joinedload(Hold.created_by))
        .order_by(Hold.id)
        .execution_options(populate_existing=True)
    ).unique()
    notified = 0
    for hold in loaded:
        action = "hold.lapse" if hold.outcome == "lapsed" else "hold.expire"
        audit.record(SYSTEM, action, now, hold, unit=hold.unit_id, places=hold.places)
        notified += holds.after_end(SYSTEM, hold, now) is not None
    return {"expired": len(expired), "notified": notified}
