"""Small helpers the templates use to show times, freshness, kinds and facilities."""

from datetime import datetime

from flask import current_app
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from app import clock, labels
from app.models import Facility
from app.services.registry.presenters import PresentedFacility, present


def age_text(then: datetime, now: datetime) -> str:
    """'just now', '12 min ago', '7 h ago', '3 days ago'."""
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 60:
        return _("just now")
    minutes = seconds // 60
    if minutes < 60:
        return _("%(n)d min ago", n=minutes)
    hours = minutes // 60
    if hours < 48:
        return _("%(n)d h ago", n=hours)
    return _("%(n)d days ago", n=hours // 24)


def stale_text(then: datetime, now: datetime) -> str:
    """'stale: 7 h' — how long since the last update, for a stale unit."""
    hours = max(0, int((now - then).total_seconds()) // 3600)
    if hours < 48:
        return _("stale: %(n)d h", n=hours)
    return _("stale: %(n)d days", n=hours // 24)


def kind_label(kind) -> str:
    return kind.label(str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]))


def reason_text(reason, *, unmet: bool = False) -> str:
    """A placement result's reason (or unmet preference) in the user's language."""
    table = labels.UNMET_LABELS if unmet else labels.REASON_LABELS
    label = table.get(reason.code)
    return str(label) % {"value": reason.value} if label is not None else reason.code


def local_time(value: datetime | None, format: str = "short") -> str:
    return format_datetime(value, format) if value else ""


def template_globals() -> dict:
    return {"now": clock.now, "kind_label": kind_label, "age_text": age_text, "stale_text": stale_text,
            "get_locale": get_locale, "labels": labels,
            "reason_text": reason_text}


def local_date(value, format: str = "medium") -> str:
    return format_date(value, format) if value else ""


def presented(facility: Facility) -> PresentedFacility:
    """A facility a template reaches through a hold or a referral, as the
    signed-in user may see it: `{% set facility = hold.unit.facility|presented %}`."""
    return present(facility, current_user)


def template_filters() -> dict:
    return {"local_time": local_time, "local_date": local_date, "presented": presented}
