"""How a contact's waiting time and state read in the console."""

from datetime import datetime

from flask_babel import gettext as _

from app.models import Call, SmsMessage


def _seconds(since: datetime | None, now: datetime) -> int:
    return max(0, int((now - since).total_seconds())) if since else 0


def stopwatch(seconds: int) -> str:
    """0:42, 12:05, 1:02:03."""
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def minutes_text(seconds: int) -> str:
    """12 min, 3 h 05 min."""
    minutes = seconds // 60
    if minutes < 60:
        return _("%(n)d min", n=minutes)
    return _("%(h)d h %(m)02d min", h=minutes // 60, m=minutes % 60)


def waiting_text(call: Call, now: datetime, last: SmsMessage | None = None) -> str:
    """"ringing 0:42", "in progress 3:10", "waiting 12 min" (for a call-back,
    for an answer to a text, or for a voicemail to be heard), "answered 5 min
    ago"."""
    if call.channel == "sms":
        if call.status != "in-progress":
            return ""  # closed: nobody waits
        # The automatic reply to a first text answers nobody: the help-seeker still waits.
        if last is not None and last.direction == "out" and last.sent_by_id is not None:
            return _("answered, %(time)s ago", time=minutes_text(_seconds(last.at, now)))
        return _("waiting %(time)s", time=minutes_text(_seconds(last.at if last else call.started_at, now)))
    if call.status == "ringing":
        return _("ringing %(time)s", time=stopwatch(_seconds(call.started_at, now)))
    if call.status == "in-progress":
        return _("in progress %(time)s", time=stopwatch(_seconds(call.answered_at or call.started_at, now)))
    if call.status == "voicemail":
        return _("waiting %(time)s", time=minutes_text(_seconds(call.ended_at or call.started_at, now)))
    if call.voicemail_status == "unheard":
        # A voicemail left without consent to a call-back: it waits to be heard.
        return _("waiting %(time)s", time=minutes_text(_seconds(call.voicemail_at, now)))
    return ""


def caller_text(call: Call) -> str:
    """The masked number; never the full one (PRODUCT.md section 5, rule 2)."""
    return call.caller_masked if call.caller_hash is not None else _("withheld number")


def call_duration(call: Call) -> str:
    return stopwatch(call.duration_s) if call.duration_s is not None else ""


def seconds_text(seconds: float) -> str:
    """34 s, 2 min 05 s, 3 h 05 min: how long until an answer or a call-back."""
    whole = round(seconds)
    if whole < 60:
        return _("%(n)d s", n=whole)
    if whole < 3600:
        return _("%(m)d min %(s)02d s", m=whole // 60, s=whole % 60)
    return minutes_text(whole)


def call_fate(row) -> str:
    """What became of a call, from its figures (app.services.hotline.figures.CallFigures)."""
    fates = []
    if row.answered:
        fates.append(_("answered"))
    if row.missed:
        fates.append(_("missed"))
    if row.menu_hangup:
        fates.append(_("hung up in the menu"))
    if row.voicemail:
        fates.append(_("voicemail"))
    return ", ".join(fates) or _("in progress")
