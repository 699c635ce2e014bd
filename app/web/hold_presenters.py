"""How a hold reads on a page: its expiry relative to the clock, how it
ended or whom it waits for, and what a refused confirm, release, accept or
extend means, in the user's language. Template
globals for every page: the shelter page, 'My holds' and the call record list holds."""

import math
from datetime import datetime

from flask_babel import format_datetime, format_time
from flask_babel import gettext as _
from flask_login import current_user

from app import labels
from app.clock import local_zone
from app.extensions import db
from app.models import Call, Hold
from app.presenters import kind_label
from app.services.core import access
from app.services.placement import holds


def duration_text(minutes: int) -> str:
    """'35 min', '2 h', '1 h 5 min'."""
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return _("%(n)d min", n=minutes)
    if not minutes:
        return _("%(n)d h", n=hours)
    return _("%(h)d h %(m)d min", h=hours, m=minutes)


def expiry_text(hold: Hold, now: datetime) -> str:
    """'expires in 35 min' (rounded up), 'expired 10 min ago', 'expired just now'."""
    seconds = (hold.expires_at - now).total_seconds()
    if seconds > 0:
        return _("expires in %(time)s", time=duration_text(math.ceil(seconds / 60)))
    minutes = int(-seconds // 60)
    if minutes < 1:
        return _("expired just now")
    return _("expired %(time)s ago", time=duration_text(minutes))


def held_by_partner(hold: Hold) -> bool:
    """Made by a partner (police, justice) rather than the hotline: shown as theirs."""
    return access.is_partner(hold.created_by)


def refusal_text(action: str, hold: Hold, now: datetime) -> str:
    """Why `action` (confirm, release, extend) was refused (409), from the
    hold's state now. The service decided; this says it to the user."""
    status = hold.status_at(now)
    if status == "requested":
        return _("This hold waits for the facility's acceptance: it cannot be confirmed or extended yet.")
    if status == "active" and action == "accept":
        return _("This hold was already accepted.")
    if status == "confirmed":
        return _("This hold was already confirmed: the household has arrived.")
    if status == "released":
        return _("This hold was already released.")
    if status == "expired":
        if action == "confirm":
            return _("This hold has expired and no place is free now (%(free)d free), so it cannot be confirmed.",
                     free=holds.free_places(hold.unit, now))
        if action == "extend":
            return _("This hold has expired and cannot be extended: make a new one.")
        if hold.outcome == "lapsed" or hold.status == "requested":
            return _("This hold was not accepted in time and has lapsed: its place is free again.")
        return _("This hold has already expired: its place is free again.")
    unit = hold.unit
    return _(
        "The count shows %(available)d available, fewer than this hold takes (%(places)d): correct the count first.",
        available=unit.available, places=hold.places,
    )


def done_text(action: str, hold: Hold, now: datetime, *, minutes: int = 0) -> str:
    """What a confirm, release, accept, decline or extend did."""
    household = hold.household or _("the household")
    if action == "confirm":
        return _("Arrival confirmed for %(household)s. %(kind)s: %(available)d available now.",
                 household=household, kind=kind_label(hold.unit.kind), available=hold.unit.available)
    if action == "accept":
        return _("Accepted for %(household)s: %(expiry)s.", household=household, expiry=expiry_text(hold, now))
    if action == "decline":
        return _("Declined for %(household)s: the place is free again and the operator is told.",
                 household=household)
    if action == "release":
        return _("Hold released for %(household)s: the place is free again.", household=household)
    return _("Extended by %(minutes)d min: %(expiry)s.", minutes=minutes, expiry=expiry_text(hold, now))


def outcome_text(hold: Hold) -> str | None:
    """How an ended hold ended ('declined by the facility: not eligible'); None while open."""
    if hold.outcome is None:
        return None
    text = str(labels.HOLD_OUTCOME_LABELS.get(hold.outcome, hold.outcome))
    if hold.outcome_reason:
        reason = labels.DECLINE_REASON_LABELS.get(hold.outcome_reason, hold.outcome_reason)
        return _("%(outcome)s: %(reason)s", outcome=text, reason=str(reason).lower())
    return text


def waiting_text(hold: Hold, now: datetime) -> str:
    """A requested hold: 'waiting for the facility until 21:40'."""
    return _("waiting for the facility until %(time)s", time=moment_text(hold.accept_by, now))


def risk_contact(hold: Hold) -> Call | None:
    """The call whose risk badge the hold's row carries: the hold's contact,
    for those who see calls (never a partner or a facility's staff: rule 11)."""
    if hold.call_id is None or not access.may_see_risk_level(current_user):
        return None
    return db.session.get(Call, hold.call_id)


def moment_text(value: datetime, now: datetime) -> str:
    """A time of day for today ('21:40'), with the date for another day."""
    zone = local_zone()
    if value.astimezone(zone).date() == now.astimezone(zone).date():
        return format_time(value, "short")
    return format_datetime(value, "short")


def template_globals() -> dict:
    return {"expiry_text": expiry_text, "held_by_partner": held_by_partner, "moment_text": moment_text,
            "outcome_text": outcome_text, "waiting_text": waiting_text, "duration_text": duration_text,
            "risk_contact": risk_contact}
