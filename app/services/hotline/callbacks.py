"""Masked call-backs (PRODUCT.md flow E, section 5 rules 3 and 9; issue 11, part 1).

An operator calls a contact back through Twilio, never from their own phone
with the number in hand: Twilio rings the operator's phone first with a bare
whisper ("call-back, contact 501, press 1"); on the key, the app answers
Twilio's signed request with a `<Dial>` of the caller's number, unsealed
there and only there (app.hotline.callback). The number is never in a URL,
a log line, a page or an API answer.

* `record_live_consent`: the caller agreed on the phone; the operator records
  it (audited), and the app reads the call's number from Twilio's Calls API
  and keeps it sealed for the call-back. An SMS conversation's number is
  never called: consent on an SMS contact is refused.
* `start_callback`: the checks (consent, safety flags, one open attempt per
  contact by the database's partial unique index, a daily limit), then the
  attempt row; the route commits it before `dial_operator` asks Twilio, as
  the outbox claims a message before sending it.
* The webhooks' side: `whisper_for`, `accept`, `caller_answered`,
  `dial_ended`, `operator_leg_ended` move the attempt through
  calling_operator → calling_caller → in_progress → ended, each idempotent
  (Twilio retries).

Plain functions taking `now`; they never commit.
"""

import logging
from datetime import datetime, timedelta

import requests
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from twilio.base.exceptions import TwilioRestException

from app.extensions import db
from app.models import Call, CallbackAttempt
from app.services.core import audit
from app.services.core.access import CALL_WORKERS, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, Unavailable
from app.services.hotline import calls, phones
from app.services.hotline.call_records import number_kept_for_callback

log = logging.getLogger(__name__)

# The webhooks of an attempt (app.hotline.callback), each with only the
# attempt's id in its query string: never a number.
WHISPER_PATH = "/hotline/callback/whisper"
ACCEPT_PATH = "/hotline/callback/accept"
ANSWERED_PATH = "/hotline/callback/answered"
DIAL_RESULT_PATH = "/hotline/callback/dial-result"
STATUS_PATH = "/hotline/callback/status"

ACCEPT_KEY = "1"
# How long the operator's phone rings, and then the caller's.
OPERATOR_RING_SECONDS = 25
CALLER_RING_SECONDS = 30
# Answering machine detection on the caller's leg: decide quickly, and do not
# wait for the beep (nothing is ever left on a machine unless allowed).
MACHINE_DETECTION_TIMEOUT_S = 5
# What Twilio's AnsweredBy says for a machine or a fax.
MACHINE_ANSWERS = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
# An attempt open longer than Twilio lets a call last lost its status
# callbacks: it no longer blocks the next one.
LONGEST_ATTEMPT = calls.LONGEST_CALL
MAX_NOTE = 500
OPEN = ("calling_operator", "calling_caller", "in_progress")


class CallbackRefused(Conflict):
    """A call-back that may not start (or consent that cannot be kept), with
    its code as API.md names it."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _require_worker(actor: Actor, what: str) -> None:
    if not actor.has_role(*CALL_WORKERS):
        raise Forbidden(f"{what} needs the role operator or manager")


# --- consent given live -------------------------------------------------------------


def record_live_consent(actor: Actor, call: Call, now: datetime, note, twilio, *, hash_key: str,
                        retention_days: int) -> None:
    """The caller agreed, on the phone with the operator, to be called back:
    recorded (audited, with the operator's note), and the call's number read
    from Twilio's Calls API (`From` of the call `call.sid`), checked against
    the caller's hash and kept sealed for `retention_days` (calls.keep_for_callback).
    Refused for an SMS contact (its number serves its conversation only) and
    a withheld number; Unavailable when Twilio is not configured or
    does not answer."""
    _require_worker(actor, "recording call-back consent")
    if note is not None and not isinstance(note, str):
        raise InvalidInput("note must be text", field="note")
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise InvalidInput(f"the note is too long (at most {MAX_NOTE} characters)", field="note")
    if call.channel != "voice":
        raise CallbackRefused("sms_contact", "an SMS contact's number is kept for its conversation only: "
                                             "it is never called back")
    if call.caller_hash is None:
        raise CallbackRefused("withheld", "the caller's number is withheld: there is no number to call back")
    if not number_kept_for_callback(call, now):
        number = _number_from_twilio(call, twilio)
        if not calls.keep_for_callback(actor, call, number, now, hash_key=hash_key, retention_days=retention_days):
            raise CallbackRefused("number_mismatch", "Twilio's number for this call is not the caller's: "
                                                     "nothing was kept")
    audit.record(actor, "call.callback_consent", now, call, given="live", note=note)
    log.info("call %s: call-back consent given live, recorded by user %s", call.id, actor.user_id)


def _number_from_twilio(call: Call, twilio) -> str | None:
    if twilio is None:
        raise Unavailable("Twilio is not configured: the call's number cannot be read")
    try:
        # The client keeps the call's `from` as `_from` (`from` is a keyword).
        return twilio.calls(call.sid).fetch()._from
    except TwilioRestException as error:
        raise Unavailable(f"Twilio answered {error.status} reading the call") from None
    except requests.RequestException as error:
        raise Unavailable(f"Twilio unreachable: {type(error).__name__}") from None


# --- starting a call-back -----------------------------------------------------------


def open_attempt(call: Call) -> CallbackAttempt | None:
    return db.session.scalar(select(CallbackAttempt).where(CallbackAttempt.call_id == call.id,
                                                           CallbackAttempt.ended_at.is_(None)))


def attempts_of(call: Call) -> list[CallbackAttempt]:
    """A contact's call-back attempts, newest first, with their operators."""
    return list(db.session.scalars(
        select(CallbackAttempt).where(CallbackAttempt.call_id == call.id)
        .options(joinedload(CallbackAttempt.operator, innerjoin=True).lazyload("*"))
        .order_by(CallbackAttempt.started_at.desc(), CallbackAttempt.id.desc())
    ))


def refusal(call: Call, now: datetime, *, confirm_unknown: bool, daily_limit: int) -> CallbackRefused | None:
    """Why a call-back may not start now (None: it may), without writing:
    the console shows the button only when it may."""
    if call.channel != "voice" or not number_kept_for_callback(call, now):
        return CallbackRefused("no_consent", "the caller's number is not kept for a call-back (no consent, or "
                                             "its retention passed; an SMS conversation's number never counts)")
    if call.safe_to_call_back is False:
        return CallbackRefused("not_safe_to_call_back", "the contact is marked not safe to call back")
    if call.safe_to_call_back is None and not confirm_unknown:
        return CallbackRefused("confirm_unknown", "whether it is safe to call back is unknown: confirm explicitly")
    attempt = open_attempt(call)
    if attempt is not None and attempt.started_at > now - LONGEST_ATTEMPT:
        return CallbackRefused("attempt_open", "a call-back to this contact is under way")
    recent = db.session.scalar(select(func.count()).select_from(CallbackAttempt).where(
        CallbackAttempt.call_id == call.id, CallbackAttempt.started_at > now - timedelta(days=1)))
    if recent >= daily_limit:
        return CallbackRefused("too_many_attempts",
                               f"this contact was called back {recent} times in the last 24 hours "
                               f"(at most {daily_limit})")
    return None


def start_callback(actor: Actor, call: Call, now: datetime, *, confirm_unknown: bool,
                   daily_limit: int) -> CallbackAttempt:
    """An operator (or manager) on a phone starts a call-back: the attempt,
    `calling_operator`, or CallbackRefused with API.md's code. The database
    allows one open attempt per contact (a partial unique index): a second
    one started at the same moment is refused `attempt_open`. The caller
    commits the attempt before asking Twilio (`dial_operator`)."""
    _require_worker(actor, "calling back")
    if not actor.user.phone:
        raise InvalidInput("a phone number is needed to call back: Twilio rings it first", field="phone")
    if not isinstance(confirm_unknown, bool):
        raise InvalidInput("confirm_unknown must be true or false", field="confirm_unknown")
    refused = refusal(call, now, confirm_unknown=confirm_unknown, daily_limit=daily_limit)
    if refused is not None:
        raise refused
    _end_lost(call, now)
    attempt = CallbackAttempt(call_id=call.id, operator_id=actor.user_id, status="calling_operator",
                              confirmed_unknown=call.safe_to_call_back is None, started_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(attempt)
    except IntegrityError:
        log.info("call %s: a second open call-back attempt refused by the database", call.id)
        raise CallbackRefused("attempt_open", "a call-back to this contact is under way") from None
    audit.record(actor, "call.callback_start", now, call, attempt=attempt.id,
                 confirmed_unknown=attempt.confirmed_unknown)
    log.info("call %s: call-back attempt %s started by user %s", call.id, attempt.id, actor.user_id)
    return attempt


def _end_lost(call: Call, now: datetime) -> None:
    """An attempt open past LONGEST_ATTEMPT lost its status callbacks: it ends failed."""
    attempt = open_attempt(call)
    if attempt is not None:
        log.warning("call-back attempt %s lost its status callbacks: ended as failed", attempt.id)
        _end(attempt, "failed", now)


def caller_id(config, call: Call) -> str | None:
    """The number a call-back shows: CALLBACK_CALLER_ID, else the hotline's
    (TWILIO_FROM_NUMBER, else the number the caller dialled)."""
    return (phones.normalise(config.get("CALLBACK_CALLER_ID")) or phones.normalise(config.get("TWILIO_FROM_NUMBER"))
            or phones.normalise(call.called_number))


def webhook_url(config, path: str, attempt: CallbackAttempt) -> str:
    """An attempt's webhook, absolute from HOTLINE_PUBLIC_URL: only the attempt's id in its query."""
    return f"{config['HOTLINE_PUBLIC_URL'].rstrip('/')}{path}?attempt={attempt.id}"


def dial_operator(attempt: CallbackAttempt, twilio, config, now: datetime) -> None:
    """Ask Twilio to ring the operator's phone, the whisper as its TwiML URL
    and the leg's status callback; keep the leg's sid. Twilio failing ends
    the attempt `failed`. Without Twilio configured (the embedded default)
    nothing rings: the attempt waits for the simulator (`flask hotline
    simulate callback`), and ends as lost after LONGEST_ATTEMPT."""
    if twilio is None:
        log.info("call-back attempt %s: Twilio is not configured, nothing rings (play it with the simulator)",
                 attempt.id)
        return
    shown = caller_id(config, attempt.call)
    try:
        if shown is None:
            raise ValueError("no caller ID: set CALLBACK_CALLER_ID or TWILIO_FROM_NUMBER")
        leg = twilio.calls.create(
            to=attempt.operator.phone, from_=shown, url=webhook_url(config, WHISPER_PATH, attempt), method="POST",
            status_callback=webhook_url(config, STATUS_PATH, attempt), status_callback_method="POST",
            timeout=OPERATOR_RING_SECONDS,
        )
    except (TwilioRestException, requests.RequestException, ValueError) as error:
        reason = f"Twilio {error.status}" if isinstance(error, TwilioRestException) else type(error).__name__
        log.warning("call-back attempt %s failed: the operator's phone could not be rung (%s)", attempt.id, reason)
        _end(attempt, "failed", now)
        return
    attempt.operator_leg_sid = leg.sid
    log.info("call-back attempt %s: ringing operator %s (leg %s)", attempt.id, attempt.operator_id, leg.sid)


# --- the webhooks' side ---------------------------------------------------------------


def attempt_for_webhook(attempt_id, leg_sid: str | None, *, for_update: bool = True) -> CallbackAttempt | None:
    """The attempt a webhook is about (its id from the signed query string),
    locked; None for an unknown id, or when the operator's leg is another
    than the one Twilio told us it created."""
    try:
        attempt_id = int(attempt_id)
    except (TypeError, ValueError):
        return None
    # The operator and the call come in the same query: every webhook reads them.
    query = select(CallbackAttempt).where(CallbackAttempt.id == attempt_id).options(
        joinedload(CallbackAttempt.operator, innerjoin=True).lazyload("*"),
        joinedload(CallbackAttempt.call, innerjoin=True).lazyload("*"))
    attempt = db.session.scalar(query.with_for_update(of=CallbackAttempt) if for_update else query)
    if attempt is None:
        return None
    if attempt.operator_leg_sid and leg_sid and leg_sid != attempt.operator_leg_sid:
        log.warning("call-back attempt %s: a webhook of another leg (%s) ignored", attempt.id, leg_sid)
        return None
    return attempt


def whisper_allowed(attempt: CallbackAttempt, leg_sid: str | None) -> bool:
    """The operator picked up: the whisper, if the attempt still waits for them."""
    if attempt.status != "calling_operator" or attempt.ended_at is not None:
        return False
    if attempt.operator_leg_sid is None and leg_sid:
        attempt.operator_leg_sid = leg_sid  # Twilio called before dial_operator could keep it
    return True


def accept(attempt: CallbackAttempt, now: datetime, *, hash_key: str, shown: str | None) -> str | None:
    """The operator pressed 1: the caller's number, unsealed for the TwiML
    that dials it (and only for that), and the attempt is `calling_caller`
    (again, should Twilio repeat the request). None when it is not to be
    dialled: the attempt is past dialling, or it ends failed because the
    number is no longer kept or there is no caller ID (`shown`) to call with."""
    if attempt.status not in ("calling_operator", "calling_caller") or attempt.ended_at is not None:
        return None
    call = attempt.call
    number = phones.unseal(call.number_sealed, hash_key) if number_kept_for_callback(call, now) else None
    if number is None or shown is None:
        log.warning("call-back attempt %s failed: %s", attempt.id,
                    "the number is no longer kept" if number is None
                    else "no caller ID (set CALLBACK_CALLER_ID or TWILIO_FROM_NUMBER)")
        _end(attempt, "failed", now)
        return None
    attempt.status = "calling_caller"
    return number


def caller_answered(attempt: CallbackAttempt, answered_by: str | None, leg_sid: str | None, now: datetime) -> bool:
    """The caller's leg was answered; whether to connect the operator. A
    machine (AnsweredBy machine_*, fax) is hung up on: the result is
    `voicemail`. A person, or an unsure answer ("unknown"), connects."""
    if attempt.ended_at is not None or attempt.status not in ("calling_caller", "in_progress"):
        return False
    attempt.answered_by = (answered_by or "")[:24] or None
    attempt.caller_leg_sid = leg_sid
    if answered_by in MACHINE_ANSWERS:
        _end(attempt, "voicemail", now)
        return False
    attempt.status = "in_progress"
    attempt.answered_at = attempt.answered_at or now
    return True


# Twilio's DialCallStatus → the attempt's result.
DIAL_RESULTS = {"completed": "answered", "no-answer": "no_answer", "busy": "busy",
                "failed": "failed", "canceled": "no_answer"}


def dial_ended(attempt: CallbackAttempt, dial_status: str | None, now: datetime) -> str | None:
    """The caller's dial ended (the `<Dial>` action, on the operator's leg):
    the attempt ends with its result (a machine hung up on stays
    `voicemail`); the result, or None when it had ended already."""
    if attempt.ended_at is not None:
        return None
    result = DIAL_RESULTS.get(dial_status or "", "failed")
    if result == "answered" and attempt.answered_at is None:
        result = "no_answer"  # "completed" without the caller's leg answering: nobody picked up
    _end(attempt, result, now)
    return result


def operator_leg_ended(attempt: CallbackAttempt, call_status: str | None, now: datetime) -> None:
    """The operator's leg ended (its status callback; Twilio may repeat it):
    an attempt still open ends: the operator did not answer or press 1
    (operator_no_answer), Twilio failed, or the operator hung up while the
    caller's phone rang (no_answer) or after talking (answered)."""
    if attempt.ended_at is not None or call_status not in calls.FINAL_STATUSES:
        return
    if attempt.status == "calling_operator":
        result = "failed" if call_status == "failed" else "operator_no_answer"
    else:
        result = "answered" if attempt.answered_at is not None else "no_answer"
    _end(attempt, result, now)


def _end(attempt: CallbackAttempt, result: str, now: datetime) -> None:
    attempt.status = "ended"
    attempt.result = result
    attempt.ended_at = now
    log.info("call-back attempt %s ended: %s", attempt.id, result)
