"""Retention (PRODUCT.md section 5, rules 2 and 6): data kept only as long as
it is needed, each kind for its own configured time (app/config.py,
"Retention"). Plain functions taking `now`; they never commit. The scheduler
runs `purge` (which erases the kept numbers too); `flask hotline
erase-numbers` runs `erase_expired_numbers` alone.
"""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Text, cast, delete, or_, select, update

from app.extensions import db
from app.models import Call, Hold, OutboxMessage, PlacementSearch, Referral, SmsMessage, TurnAway
from app.models.placement import HOLDING_STATUSES
from app.services.accounts import login_throttle
from app.services.core import audit, rate_limits
from app.services.core.access import SYSTEM

log = logging.getLogger(__name__)


def erase_expired_numbers(now: datetime) -> int:
    """Erase the full numbers (sealed) kept for a call-back or an SMS
    conversation whose `number_erase_at` has passed; how many were erased.

    Only `number_sealed` and `number_kept_for` are cleared: the keyed hash,
    the masked number and `number_erase_at` (when it was due) stay, and so
    does everything else of the contact."""
    result = db.session.execute(
        update(Call)
        .where(
            Call.number_erase_at <= now,
            or_(Call.number_sealed.is_not(None), Call.number_kept_for.is_not(None)),
        )
        .values(number_sealed=None, number_kept_for=None)
        .execution_options(synchronize_session="fetch")
    )
    erased = result.rowcount
    if erased:
        log.info("erased %d kept caller numbers past their retention", erased)
    return erased


# --- the purge ------------------------------------------------------------------

# Outbox rows that are done with: delivered or given up. A row still to send
# (pending, or claimed for sending) is never deleted, whatever its age.
DONE = ("sent", "delivered", "failed", "undeliverable")


def _cutoff(now: datetime, key: str) -> datetime:
    days = current_app.config[key]
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"{key} must be a whole number of days, at least 1 (it is {days!r})")
    return now - timedelta(days=days)


def _rows(statement) -> int:
    return db.session.execute(statement.execution_options(synchronize_session=False)).rowcount


def _not_empty(column):
    """A JSON column holding more than {} (or null): compared as its text,
    which both databases keep as SQLAlchemy wrote it."""
    return cast(column, Text).not_in(("{}", "null"))


def purge(now: datetime) -> dict[str, int]:
    """Remove what is past its retention (app/config.py, "Retention"), and
    nothing else; how many records of each kind were purged. A record exactly
    as old as its window, or younger, is kept. Audit events, the capacity
    history and alerts are never touched."""
    # Every window is checked before anything is removed.
    notes, texts, searches, outbox_done, counters = (
        _cutoff(now, key) for key in ("RETENTION_DAYS_CALL_NOTES", "RETENTION_DAYS_SMS_BODIES",
                                      "RETENTION_DAYS_SEARCHES", "RETENTION_DAYS_OUTBOX",
                                      "RETENTION_DAYS_RATE_COUNTERS")
    )
    counts = {"kept_numbers": erase_expired_numbers(now)}

    # What was noted about a contact, and its risk answers (as sensitive as
    # notes: rule 11); the call's facts, its risk score and level among them,
    # stay for statistics.
    counts["call_notes"] = _rows(
        update(Call)
        .where(Call.started_at < notes,
               or_(Call.notes.is_not(None), _not_empty(Call.needs),
                   _not_empty(Call.risk_answers), Call.risk_override_reason.is_not(None)))
        .values(notes=None, needs={}, risk_answers={}, risk_override_reason=None)
    )
    counts["hold_notes"] = _rows(
        update(Hold)
        .where(Hold.created_at < notes, or_(Hold.status.not_in(HOLDING_STATUSES), Hold.expires_at <= now),
               or_(Hold.household.is_not(None), Hold.note.is_not(None)))
        .values(household=None, note=None)
    )
    counts["referral_notes"] = _rows(
        update(Referral).where(Referral.created_at < notes, Referral.note.is_not(None)).values(note=None)
    )
    counts["turn_away_notes"] = _rows(
        update(TurnAway).where(TurnAway.at < notes, TurnAway.note.is_not(None)).values(note=None)
    )

    # Help-seekers' texts, either way, and the outbox's copies of those sent.
    counts["sms_bodies"] = _rows(
        update(SmsMessage).where(SmsMessage.at < texts, SmsMessage.body != "").values(body="")
    )
    counts["sms_outbox_bodies"] = _rows(
        update(OutboxMessage)
        .where(OutboxMessage.call_id.is_not(None), OutboxMessage.created_at < texts,
               OutboxMessage.status.in_(DONE), OutboxMessage.body != "")
        .values(body="")
    )

    counts["search_criteria"] = _rows(
        update(PlacementSearch).where(PlacementSearch.at < searches, _not_empty(PlacementSearch.criteria))
        .values(criteria={})
    )
    counts["turn_away_criteria"] = _rows(
        update(TurnAway).where(TurnAway.at < searches, _not_empty(TurnAway.criteria)).values(criteria={})
    )

    done = select(OutboxMessage.id).where(
        OutboxMessage.created_at < outbox_done, OutboxMessage.status.in_(DONE)
    )
    # A help-seeker's text keeps its place in the conversation, not its outbox row.
    _rows(update(SmsMessage).where(SmsMessage.outbox_id.in_(done)).values(outbox_id=None))
    counts["outbox"] = _rows(delete(OutboxMessage).where(OutboxMessage.id.in_(done)))

    # Sign-in failure streaks are rate-limit counters too.
    counts["rate_counters"] = rate_limits.purge(now, now - counters) + login_throttle.purge(counters)

    if any(counts.values()):
        audit.record(SYSTEM, "retention.purge", now, **counts)
    return counts
