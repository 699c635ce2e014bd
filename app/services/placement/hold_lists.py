"""The lists of holds the pages show: a facility's incoming holds (for its
staff), and a holder's own or all active holds (for operators, managers and
partners). Reads only; `holds` changes them."""

from datetime import datetime, timedelta

from sqlalchemy import Select, and_, case, or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import CapacityUnit, Facility, Hold, User
from app.services.registry.capacity import holding

# How long an expired hold stays on its facility's page, marked expired: the
# household may still arrive, and staff may still confirm it if a place is free.
RECENTLY_EXPIRED = timedelta(hours=12)


def _with_details(query: Select) -> Select:
    return query.options(
        joinedload(Hold.unit).joinedload(CapacityUnit.facility),
        joinedload(Hold.unit).joinedload(CapacityUnit.kind),
        joinedload(Hold.created_by),
    )


def incoming(facility: Facility, now: datetime, *, expired_within: timedelta = RECENTLY_EXPIRED) -> list[Hold]:
    """The facility's requested holds (waiting for its answer), soonest
    accept_by first, then its active holds, soonest expiry first, then those
    that expired or lapsed within `expired_within` (marked by the job or not),
    latest first."""
    expired = and_(
        Hold.status.in_(("requested", "active", "expired")), Hold.expires_at <= now,
        Hold.expires_at > now - expired_within,
    )
    query = (
        select(Hold)
        .join(CapacityUnit, CapacityUnit.id == Hold.unit_id)
        .where(CapacityUnit.facility_id == facility.id, or_(holding(now), expired))
        .order_by(Hold.expires_at, Hold.id)
    )
    rows = list(db.session.scalars(_with_details(query)).unique())
    requested = [hold for hold in rows if hold.status_at(now) == "requested"]
    active = [hold for hold in rows if hold.status_at(now) == "active"]
    ended = [hold for hold in rows if hold.status_at(now) == "expired"]
    return requested + active + ended[::-1]


def own_active(user: User, now: datetime) -> list[Hold]:
    """The holds `user` made that take their places (active, or requested
    and waiting for the facility), soonest expiry first."""
    query = select(Hold).where(Hold.created_by_id == user.id, holding(now)).order_by(Hold.expires_at, Hold.id)
    return list(db.session.scalars(_with_details(query)).unique())


def all_active_query(user: User, now: datetime) -> Select:
    """Every hold taking its places (active or requested), `user`'s own first, then soonest expiry first: for
    `db.paginate`. Only for those who may see every hold (operators, managers)."""
    own_first = case((Hold.created_by_id == user.id, 0), else_=1)
    query = select(Hold).where(holding(now)).order_by(own_first, Hold.expires_at, Hold.id)
    return _with_details(query)
