"""Turn-aways: contacts that ended without a place, once per contact.

`record` (a search that found nothing, or an operator's record), `withdraw`
(a hold followed), `reopen` (that hold ended without a place after all);
`record_turn_away` (an operator's explicit record); `per_region_and_day`
(the manager's view), `turn_aways_on` (the list).
"""

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import PlacementSearch, Region, TurnAway
from app.models.placement import TURN_AWAY_REASONS
from app.services.core import audit
from app.services.core.access import TURN_AWAY_READERS, TURN_AWAY_RECORDERS, Actor, turn_away_region_ids
from app.services.core.errors import Forbidden, InvalidInput
from app.services.placement.criteria import SESSION, linked_call_id


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


def withdraw(key: str, now: datetime, *, recorded_by_id: int | None = None) -> None:
    """The contact found a place after all: its turn-away no longer counts.
    With `recorded_by_id`, only if that user recorded it."""
    statement = update(TurnAway).where(TurnAway.contact_key == key, TurnAway.withdrawn_at.is_(None))
    if recorded_by_id is not None:
        statement = statement.where(TurnAway.recorded_by_id == recorded_by_id)
    db.session.execute(
        statement
        .values(withdrawn_at=now)
        .execution_options(synchronize_session=False)
    )


def reopen(actor: Actor, now: datetime, *, key: str, reason: str, criteria: dict, region_id: int | None,
           call_id: int | None = None, search_id: int | None = None) -> TurnAway:
    """The contact's hold ended without a place after all (declined, no-show,
    expired, lapsed): it is unmet demand again. Its withdrawn turn-away counts
    once more (on its own day, with its own reason); without one, one is
    recorded now with `reason`."""
    turn_away = record(actor, now, key=key, reason=reason, criteria=criteria, region_id=region_id,
                       call_id=call_id, search_id=search_id)
    if turn_away.withdrawn_at is not None:
        turn_away.withdrawn_at = None
        audit.record(actor, "turn_away.reopen", now, turn_away)
    return turn_away


# --- reports and an operator's record --------------------------------------------


def _day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start, end


def turn_aways_on(region_ids: set[int] | None, day: date, zone: ZoneInfo, *, after_id: int | None = None,
                  limit: int = 100) -> list[TurnAway]:
    """The turn-aways not withdrawn of `day` (local), in `region_ids` (None:
    every region, and those without one), by id."""
    start, end = _day_bounds(day, zone)
    query = select(TurnAway).where(TurnAway.at >= start, TurnAway.at < end, TurnAway.withdrawn_at.is_(None))
    if region_ids is not None:
        query = query.where(TurnAway.region_id.in_(region_ids))
    query = query.where(TurnAway.id > (after_id or 0)).order_by(TurnAway.id).limit(limit)
    return list(db.session.scalars(query))


def turn_away_regions(user) -> set[int] | None:
    """The regions whose turn-aways `user` may list: None (all) for operators
    and admins, their own regions for managers; Forbidden for anyone else
    (partners and shelter staff never list them)."""
    if user is None or not user.has_role(*TURN_AWAY_READERS):
        raise Forbidden("turn-aways are for operators, managers and admins")
    return turn_away_region_ids(user)


@dataclass(frozen=True)
class DayCount:
    region_id: int | None
    day: date
    count: int
    by_reason: dict[str, int] = field(default_factory=dict)


def per_region_and_day(region_ids: set[int] | None, since: date, until: date, now: datetime,
                       zone: ZoneInfo | None = None) -> list[DayCount]:
    """Turn-aways per region and local day from `since` to `until` (both
    included): the regions' unmet demand. Those withdrawn by `now` (a hold
    followed) do not count. Ordered by day, then region id (None last)."""
    if zone is None:
        from app.clock import local_zone

        zone = local_zone()
    if until < since:
        raise InvalidInput("until must not be before since", field="until")
    start, _ = _day_bounds(since, zone)
    _, end = _day_bounds(until, zone)
    query = select(TurnAway.region_id, TurnAway.at, TurnAway.reason).where(
        TurnAway.at >= start, TurnAway.at < end, TurnAway.at <= now,
        or_(TurnAway.withdrawn_at.is_(None), TurnAway.withdrawn_at > now),
    )
    if region_ids is not None:
        query = query.where(TurnAway.region_id.in_(region_ids))
    counts: dict[tuple[int | None, date], dict[str, int]] = {}
    for region_id, at, reason in db.session.execute(query):
        reasons = counts.setdefault((region_id, at.astimezone(zone).date()), {})
        reasons[reason] = reasons.get(reason, 0) + 1
    return [
        DayCount(region_id, day, sum(reasons.values()), reasons)
        for (region_id, day), reasons in sorted(counts.items(), key=lambda item: (
            item[0][1], item[0][0] is None, item[0][0] or 0))
    ]


def record_turn_away(actor: Actor, now: datetime, *, reason, call_id=None, session=None, region=None,
                     note=None) -> tuple[TurnAway, bool]:
    """An operator records that a contact ended without a place. Once per
    contact (the call, else the search session): a second record of the same
    contact returns the first, and False. Without a region, the region (and
    criteria) of the contact's last search are taken. Returns (turn-away,
    created)."""
    if not actor.has_role(*TURN_AWAY_RECORDERS):
        raise Forbidden("recording a turn-away needs the role operator or manager")
    if reason not in TURN_AWAY_REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(TURN_AWAY_REASONS)}", field="reason")
    call_id = linked_call_id(actor, call_id)
    if session in (None, ""):
        session = None
    elif not isinstance(session, str) or not SESSION.fullmatch(session):
        raise InvalidInput("session must be 1 to 64 visible characters without spaces", field="session")
    region_id = None
    if region not in (None, ""):
        if not isinstance(region, str):
            raise InvalidInput("region must be a region's slug", field="region")
        region_id = db.session.scalar(select(Region.id).where(Region.slug == region))
        if region_id is None:
            raise InvalidInput(f"unknown region {region!r}", field="region")
    if note is not None and (not isinstance(note, str) or len(note) > 2000):
        raise InvalidInput("note must be text of at most 2000 characters", field="note")
    note = note.strip() or None if note else None

    if call_id is None and session is None:
        key = f"manual:{secrets.token_hex(8)}"  # its own contact
    else:
        key = contact_key(call_id=call_id, session=session)
    existing = db.session.scalar(select(TurnAway).where(TurnAway.contact_key == key))
    if existing is not None:
        return existing, False
    last = db.session.scalar(
        select(PlacementSearch).where(PlacementSearch.contact_key == key).order_by(PlacementSearch.id.desc()).limit(1)
    )
    turn_away = record(
        actor, now, key=key, reason=reason, criteria=last.criteria if last else {},
        region_id=region_id if region_id is not None else (last.region_id if last else None),
        call_id=call_id, search_id=last.id if last else None, note=note,
    )
    # A recording racing this one may have won: then it is theirs.
    return turn_away, turn_away.recorded_by_id == actor.user_id and turn_away.at == now
