"""A contact closes: it is a turn-away when it ends without a place.

`close_contact(actor, call, now, *, preference_km) -> TurnAway | None`, called
when the operator records the call's outcome. The searches an operator's typing
runs on the call page record nothing (search(record=False)), so that a
half-typed postcode is never unmet demand; the contact's turn-away is recorded
here, once, from the call's needs as saved: the recorded search records it
itself when nothing fits (app.services.placement.search). Does not commit.
"""

import logging
from datetime import datetime

from sqlalchemy import exists, select

from app.extensions import db
from app.models import Call, Hold, PlacementRequest, TurnAway
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput
from app.services.hotline import call_records
from app.services.placement.criteria import parse_criteria
from app.services.placement.search import search

log = logging.getLogger(__name__)

# Outcomes that say the contact found a place: no turn-away whatever the search finds.
PLACED_OUTCOMES = ("placed", "held")


def _has_place_or_wait(call: Call) -> bool:
    """A hold (in any state: the contact had a place) or an open request on the waiting list."""
    return bool(db.session.scalar(select(
        exists().where(Hold.call_id == call.id)
        | exists().where(PlacementRequest.call_id == call.id, PlacementRequest.status == "open")
    )))


def close_contact(actor: Actor, call: Call, now: datetime, *, preference_km: float) -> TurnAway | None:
    """The call's outcome is set: when the contact leaves the live list
    without a hold, an open placement request or a turn-away, and its needs
    say who and where, run the recorded search from those needs; its
    turn-away (when nothing fits) is returned, else None."""
    if call.outcome is None or call.outcome in call_records.OPEN_OUTCOMES or call.outcome in PLACED_OUTCOMES:
        return None
    needs = call.needs or {}
    if not (needs.get("client_type") and needs.get("postcode")):
        return None
    if _has_place_or_wait(call) or call_records.turn_away_of(call) is not None:
        return None
    try:
        criteria = parse_criteria(call_records.search_criteria(call))
    except InvalidInput as exc:
        # Saved needs the search refuses (a registry changed since): the
        # outcome is still saved; the explicit "No place found" remains.
        log.info("call %s closed without a search: %s", call.id, exc.message)
        return None
    return search(actor, criteria, now, preference_km=preference_km).turn_away
