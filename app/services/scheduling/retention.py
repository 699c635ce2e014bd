"""Retention (PRODUCT.md section 5, rules 2 and 6): data kept only as long as
it is needed, each kind for its own configured time (app/config.py,
"Retention"). Plain functions taking `now`; they never commit, but for the
recordings' (below), which ask Twilio outside any transaction. The scheduler
runs `purge` (which erases the kept numbers too) and
`delete_expired_recordings`; `flask hotline erase-numbers` runs
`erase_expired_numbers` alone, `flask hotline sweep-recordings`
`sweep_orphaned_recordings`.
"""

import logging
import time
from collections import Counter
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Text, cast, delete, func, or_, select, update

from app.extensions import db
from app.models import Call, Hold, OutboxMessage, PlacementSearch, Referral, SmsMessage, TurnAway
from app.models.placement import HOLDING_STATUSES
from app.models.statistics import PurgeHorizon
from app.services.accounts import login_throttle
from app.services.core import audit, rate_limits
from app.services.core.access import SYSTEM
from app.services.core.errors import Unavailable
from app.services.hotline import twilio_gateway

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
WINDOWS = ("RETENTION_DAYS_CALL_NOTES", "RETENTION_DAYS_SMS_BODIES", "RETENTION_DAYS_SEARCHES",
           "RETENTION_DAYS_OUTBOX", "RETENTION_DAYS_RATE_COUNTERS")


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
    history, alerts and the daily statistics are never touched."""
    # Every window is checked before anything is removed.
    cutoffs = {key: _cutoff(now, key) for key in WINDOWS}
    notes, texts, searches, outbox_done, counters = cutoffs.values()
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

    for key, cutoff in cutoffs.items():
        _record_horizon(key, cutoff)
    if any(counts.values()):
        audit.record(SYSTEM, "retention.purge", now, **counts)
    return counts


def _record_horizon(key: str, purged_before: datetime) -> None:
    """What was recorded before `purged_before` is purged for the window
    `key`: the daily statistics' rebuild reads it (and so never writes zeros
    over figures computed while the detail was there). Only moves forward:
    a window made longer brings nothing back."""
    horizon = db.session.get(PurgeHorizon, key)
    if horizon is None:
        db.session.add(PurgeHorizon(detail=key, purged_before=purged_before))
    elif horizon.purged_before < purged_before:
        horizon.purged_before = purged_before


# --- the voicemails' recordings, at Twilio ------------------------------------------
# These drive their own transactions (they commit), as the outbox's delivery
# does: the sids are read and that transaction ended before Twilio is asked
# (on SQLite a writer's transaction holds the write lock), and what Twilio
# deleted is written after. A recording's sid is cleared only once Twilio
# answered the DELETE with 204 (deleted) or 404 (gone already): whatever else
# happens, the sid stays and the next run tries again, so no recording is
# ever forgotten at Twilio (PRODUCT.md section 3, "Voicemail").

RECORDINGS_PER_RUN = 200
# A run stops asking Twilio after this long (a slow Twilio must not hold up
# the scheduler's other jobs); the rest waits for the next run.
RECORDINGS_RUN_SECONDS = 30


def delete_expired_recordings(now: datetime, limit: int = RECORDINGS_PER_RUN) -> dict[str, int]:
    """Delete at Twilio the recordings of voicemails left more than
    RETENTION_DAYS_RECORDINGS ago, handled or not, the oldest first; how many
    were deleted and how many are kept for the next run. Commits."""
    cutoff = _cutoff(now, "RETENTION_DAYS_RECORDINGS")
    due = db.session.execute(
        select(Call.id, Call.recording_sid)
        .where(Call.recording_sid.is_not(None), func.coalesce(Call.voicemail_at, Call.started_at) < cutoff)
        .order_by(func.coalesce(Call.voicemail_at, Call.started_at), Call.id)
        .limit(limit)
    ).all()
    db.session.commit()
    if not due:
        return {}
    twilio = twilio_gateway.client(current_app.config)
    if twilio is None:
        log.warning("%d recordings past their retention kept: Twilio is not configured", len(due))
        return {"recordings_deleted": 0, "recordings_kept": len(due)}
    started = time.monotonic()
    deleted: list[tuple[int, str]] = []
    for index, (call_id, sid) in enumerate(due):
        if time.monotonic() - started > RECORDINGS_RUN_SECONDS:
            log.info("%d recordings past their retention left for the next run", len(due) - index)
            break
        try:
            twilio_gateway.delete_recording(twilio, sid)
        except twilio_gateway.RecordingFailure as failure:
            log.warning("recording %s of call %d not deleted (%s): kept, tried again on the next run",
                        sid, call_id, failure.message)
            if failure.unreachable:
                break  # nor would the others be
            continue
        deleted.append((call_id, sid))
    for call_id, sid in deleted:
        db.session.execute(
            update(Call).where(Call.id == call_id, Call.recording_sid == sid).values(recording_sid=None)
            .execution_options(synchronize_session=False)
        )
    if deleted:
        audit.record(SYSTEM, "retention.recordings_deleted", now, count=len(deleted),
                     calls=[call_id for call_id, _ in deleted])
        log.info("deleted %d recordings at Twilio past their retention", len(deleted))
    db.session.commit()
    return {"recordings_deleted": len(deleted), "recordings_kept": len(due) - len(deleted)}


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start:start + size]


def sweep_orphaned_recordings(now: datetime) -> dict[str, int]:
    """Once (`flask hotline sweep-recordings`): the recordings the purge
    orphaned when it blanked their links without deleting them. Lists the
    account's recordings at Twilio older than RETENTION_DAYS_RECORDINGS and
    deletes those of our calls that no call refers to any more; a recording
    a call still refers to is left to `delete_expired_recordings`, one of a
    call Opvang does not know (another use of the account) is left alone.
    How many of each. Commits."""
    cutoff = _cutoff(now, "RETENTION_DAYS_RECORDINGS")
    twilio = twilio_gateway.client(current_app.config)
    if twilio is None:
        raise Unavailable("Twilio is not configured: there are no recordings to sweep")
    try:
        found = list(twilio_gateway.recordings_before(twilio, cutoff))
    except twilio_gateway.RecordingFailure as failure:
        raise Unavailable(f"the recordings cannot be listed at Twilio ({failure.message})") from None
    referenced, ours = set(), set()
    for chunk in _chunks([recording.sid for recording in found]):
        referenced.update(db.session.scalars(select(Call.recording_sid).where(Call.recording_sid.in_(chunk))))
    for chunk in _chunks(sorted({recording.call_sid for recording in found if recording.call_sid})):
        ours.update(db.session.scalars(select(Call.sid).where(Call.sid.in_(chunk))))
    db.session.commit()
    counts = Counter(listed=len(found), deleted=0, failed=0, referenced=0, not_ours=0)
    for recording in found:
        if recording.sid in referenced:
            counts["referenced"] += 1
        elif recording.call_sid not in ours:
            counts["not_ours"] += 1
        else:
            try:
                twilio_gateway.delete_recording(twilio, recording.sid)
                counts["deleted"] += 1
            except twilio_gateway.RecordingFailure as failure:
                log.warning("orphaned recording %s not deleted (%s)", recording.sid, failure.message)
                counts["failed"] += 1
    if counts["deleted"]:
        audit.record(SYSTEM, "retention.recordings_swept", now, **counts)
    db.session.commit()
    return dict(counts)
