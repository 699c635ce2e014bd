"""Hotline calls: recording them as Twilio reports them, who is on duty, and
what the operator console lists live.

Plain functions taking `now`; they never commit. A caller's full number never
reaches this module except in `keep_for_callback`, which seals it (PRODUCT.md
section 5, rule 2); everything else sees the keyed hash and the masked form.

The operator's record of a call: app.services.hotline.call_records; the call
log and the API's list: app.services.hotline.call_log.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Call, User, UserRole
from app.models.hotline import VOICEMAIL_STATUSES
from app.services.core import audit
from app.services.core.access import Actor, may_go_on_duty, may_switch_duty
from app.services.core.errors import Forbidden, InvalidInput
from app.services.hotline import phones, twilio_gateway
from app.services.hotline.risk import LEVEL_RANK

log = logging.getLogger(__name__)

# Twilio's call statuses as its callbacks send them; "queued" and
# "initiated" come before a call rings and change nothing here.
LIVE_STATUSES = ("ringing", "in-progress")
FINAL_STATUSES = ("completed", "no-answer", "busy", "failed", "canceled")
# Waiting for a call-back: the caller left a voicemail and agreed to be called back.
WAITING = "voicemail"
# A voicemail waits in the live list until an operator handled it (app.services.hotline.voicemails).
UNHEARD, HANDLED = VOICEMAIL_STATUSES
# An open SMS conversation (app.services.hotline.conversations.OPEN, .CLOSED).
SMS_OPEN, SMS_CLOSED = "in-progress", "completed"
# Twilio ends every call after four hours: a "ringing" call older than that
# lost its last status callback and is not live any more.
LONGEST_CALL = timedelta(hours=4)
# At most ten <Number> nouns fit in one <Dial>.
MAX_DIALLED = 10
# How long the operators' phones ring before the caller goes to the voicemail.
RING_SECONDS = 20


def missed(now: datetime):
    """SQL criterion: the call reached the operators' ring and nobody accepted
    it (its ring is over: the call ended, or rang longer than RING_SECONDS)."""
    return (Call.rang_at.is_not(None) & Call.answered_at.is_(None)
            & (Call.ended_at.is_not(None) | (Call.rang_at <= now - timedelta(seconds=RING_SECONDS))))


def menu_hangup():
    """SQL criterion: a voice call that ended in the menu, before the
    operators' ring and without a voicemail (counted apart from the missed)."""
    return ((Call.channel == "voice") & Call.rang_at.is_(None) & Call.voicemail_at.is_(None)
            & Call.ended_at.is_not(None))


def get(sid: str | None, *, for_update: bool = False) -> Call | None:
    """The call with Twilio's CallSid `sid`; `for_update` locks its row until
    the transaction ends (two operators accepting at once)."""
    if not sid:
        return None
    query = select(Call).where(Call.sid == sid)
    return db.session.scalar(query.with_for_update() if for_update else query)


def _insert_call(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Call.__table__).on_conflict_do_nothing(index_elements=["sid"])


# One statement per dialect, its values passed as parameters: compiled once.
_INSERT_CALL = {dialect: _insert_call(dialect) for dialect in ("postgresql", "sqlite")}


def start(now: datetime, *, sid: str, number: str | None, hash_key: str, called_number: str | None = None) -> bool:
    """Record the call Twilio announces with `sid`, once; whether it is new.

    `number` is Twilio's `From`, used here only to derive the keyed hash and
    the masked form; a withheld number has neither a hash nor digits.
    `called_number` is Twilio's `To`: the hotline number dialled. A
    replayed webhook (Twilio retries with the same CallSid) finds the call
    recorded the first time, also when the two run at once: the unique `sid`
    decides, in one statement (INSERT … ON CONFLICT DO NOTHING).
    """
    normal = phones.normalise(number)
    masked = phones.mask(normal)
    created = db.session.execute(
        _INSERT_CALL[db.engine.dialect.name],
        {
            "sid": sid,
            "channel": "voice",
            "caller_hash": phones.caller_hash(normal, hash_key) if normal else None,
            "caller_masked": masked,
            "called_number": phones.normalise(called_number),
            "status": "ringing",
            "started_at": now,
            "updated_at": now,
            "menu_choices": [],
            "needs": {},
            "callback_requested": False,
        },
    ).rowcount == 1
    if created:
        log.info("call %s from %s", sid, masked)
    return created


def record_menu_choice(call: Call, pressed: str, language: str | None, now: datetime) -> None:
    """What the caller pressed in the language menu ("none" for nothing), and
    the language it chose, if it chose one."""
    call.menu_choices = [*(call.menu_choices or []), pressed]
    if language is not None:
        call.language = language
    call.updated_at = now


def on_duty():
    """SQL criterion on User: an active operator who switched on duty and has
    a phone to be dialled on (whom a call rings; what the alerts count)."""
    return (User.on_duty.is_(True) & User.active.is_(True) & User.phone.is_not(None)
            & User.role_rows.any(UserRole.role == "operator"))


def on_duty_operators() -> list[User]:
    """Operators who switched on duty and have a phone to be dialled on."""
    return list(db.session.scalars(select(User).where(on_duty()).order_by(User.id).limit(MAX_DIALLED)))


def operator_for_phone(number: str | None) -> User | None:
    """The on-duty operator whose (staff) phone is `number`."""
    normal = phones.normalise(number)
    if normal is None:
        return None
    return db.session.scalar(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "operator", User.on_duty.is_(True), User.active.is_(True), User.phone == normal)
    )


def accept(call: Call, operator: User, now: datetime) -> bool:
    """`operator` pressed 1 in the whisper: the call is theirs, unless a
    colleague took it first (False)."""
    if call.operator_id is not None and call.operator_id != operator.id:
        return False
    call.operator = operator
    if call.answered_at is None:
        call.answered_at = now
    if call.status not in FINAL_STATUSES:
        call.status = "in-progress"
    call.updated_at = now
    log.info("call %s accepted by operator %s", call.sid, operator.id)
    return True


def keep_for_callback(actor: Actor, call: Call, number: str | None, now: datetime, *, hash_key: str,
                      retention_days: int) -> bool:
    """The caller pressed the key that says we may call back: keep their
    number, sealed, until `retention_days` from now; the call waits for a
    call-back. False (nothing kept) for a withheld number, or one that is not
    the number the call came from."""
    normal = phones.normalise(number)
    if normal is None:
        return False
    if call.caller_hash is not None and phones.caller_hash(normal, hash_key) != call.caller_hash:
        log.warning("call %s: call-back consent from another number (%s) ignored", call.sid, phones.mask(normal))
        return False
    first = not call.callback_requested
    call.number_sealed = phones.seal(normal, hash_key)
    call.number_kept_for = "callback"
    call.number_erase_at = now + timedelta(days=retention_days)
    call.callback_requested = True
    call.status = WAITING
    call.updated_at = now
    if first:
        audit.record(actor, "call.number_kept", now, call, kept_for="callback", number=call.caller_masked,
                     erase_at=call.number_erase_at.isoformat())
        log.info("call %s: %s kept (sealed) for a call-back", call.sid, call.caller_masked)
    return True


def record_status(call: Call, status: str, now: datetime, *, duration_s: int | None = None) -> None:
    """A status Twilio reported. Statuses only move forward (callbacks may
    arrive out of order), and a call waiting for a call-back keeps waiting
    when the caller hangs up."""
    if status in FINAL_STATUSES:
        if call.ended_at is None:
            call.ended_at = now
        if duration_s is not None:
            call.duration_s = duration_s
        if call.status in LIVE_STATUSES:
            call.status = status
    elif status in LIVE_STATUSES:
        if call.status in LIVE_STATUSES and LIVE_STATUSES.index(status) >= LIVE_STATUSES.index(call.status):
            call.status = status
    else:
        return
    call.updated_at = now


def record_ring(call: Call, now: datetime) -> None:
    """The call reached the operators' ring (once: the first time counts)."""
    if call.rang_at is None:
        call.rang_at = now
        call.updated_at = now


def record_recording(call: Call, url: str, sid: str | None, duration_s: int | None, now: datetime) -> None:
    """The voicemail the caller left: Twilio keeps the audio, we keep its sid
    (Twilio's RecordingSid, else the one in its URL `url`, which is not kept:
    the audio is reached only through the app, PRODUCT.md section 5, rule 10);
    it waits unheard."""
    sid = sid if sid and twilio_gateway.RECORDING_SID.fullmatch(sid) else None
    found = sid or twilio_gateway.RECORDING_SID.search(url)
    if found is not None:
        call.recording_sid = found if isinstance(found, str) else found.group(0)
    if duration_s is not None:
        call.recording_duration_s = duration_s
    if call.voicemail_at is None:
        call.voicemail_at = now
        call.voicemail_status = UNHEARD
    call.updated_at = now


# --- for the operator console ---------------------------------------------------


def _live_order(call: Call) -> tuple:
    """Ringing calls first (they ring for seconds; a voicemail can wait), then
    the other contacts nobody has answered yet (no operator), then by risk
    level (high; elevated and not screened; standard: app.services.hotline.
    risk.LEVEL_RANK); the list is already the longest waiting first."""
    ringing = call.status == "ringing"
    unanswered = ringing or call.operator_id is None
    return (not ringing, not unanswered, LEVEL_RANK[call.risk_level])


def live(now: datetime, *, sms_window: timedelta | None = None) -> list[Call]:
    """Ringing and in-progress calls, the callers waiting for a call-back,
    and every voicemail nobody has handled yet (with or without the caller's
    consent to a call-back), unanswered first, then by risk level, then the
    longest waiting first (_live_order). With `sms_window`, also the open SMS
    conversations whose last activity is within it (however long ago they
    started)."""
    live_now = [
        Call.status.in_(LIVE_STATUSES) & (Call.started_at > now - LONGEST_CALL),
        (Call.status == WAITING) & Call.callback_requested.is_(True),
        Call.voicemail_status == UNHEARD,
    ]
    if sms_window is not None:
        live_now.append((Call.channel == "sms") & (Call.status == SMS_OPEN) & (Call.updated_at > now - sms_window))
    rows = db.session.scalars(
        select(Call)
        .where(or_(*live_now))
        .options(selectinload(Call.operator))
        .order_by(Call.started_at, Call.id)
    )
    return sorted(rows, key=_live_order)


def earlier_contacts(call: Call, limit: int = 50) -> list[Call]:
    """The other contacts from the same number (by its keyed hash), newest
    first; none for a withheld number."""
    if call.caller_hash is None:
        return []
    return list(
        db.session.scalars(
            select(Call)
            .where(Call.caller_hash == call.caller_hash, Call.id != call.id)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(limit)
        )
    )


def set_on_duty(actor: Actor, user: User, on: bool, now: datetime) -> None:
    """Switch `user` on or off duty: on duty, hotline calls ring on their
    phone. Operators switch themselves; admins may switch anyone."""
    if not may_switch_duty(actor, user):
        raise Forbidden("only the operator themselves or an admin can switch duty")
    if on:
        if not may_go_on_duty(user):
            raise InvalidInput("only operators can go on duty", field="on_duty")
        if not user.phone:
            raise InvalidInput("a phone number is needed to go on duty: calls are put through to it",
                               field="phone")
    if user.on_duty == on:
        return
    user.on_duty = on
    audit.record(actor, "user.on_duty" if on else "user.off_duty", now, user)
