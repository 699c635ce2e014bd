"""A call-back's webhooks (PRODUCT.md flow E, rules 3 and 9; issue 11, part 1).

    POST /hotline/callback/whisper?attempt=ID      the operator's phone answered: "call-back,
                                                   contact 501, press 1"
    POST /hotline/callback/accept?attempt=ID       the operator's key: dial the caller
    POST /hotline/callback/answered?attempt=ID     the caller's leg answered (the <Number> url,
                                                   after answering machine detection)
    POST /hotline/callback/dial-result?attempt=ID  the caller's dial ended: its result to the operator
    POST /hotline/callback/status?attempt=ID       the operator's leg ended (its status callback)

The blueprint has checked X-Twilio-Signature before any of these runs; the
query string carries only the attempt's id. The caller's number is unsealed
in `accept` alone, into the `<Number>` of the TwiML that answers Twilio's
signed request: never in a URL, a log line or anything stored in clear.
Each webhook is idempotent (app.services.hotline.callbacks): Twilio retries.
"""

import logging

from flask import current_app, request
from twilio.twiml.voice_response import VoiceResponse

from app import clock
from app.hotline import action_url, bp
from app.hotline.voice import WHISPER_TIMEOUT_S, twiml, twiml_or_hang_up
from app.services.hotline import callbacks, phones
from app.texts import voice as texts

log = logging.getLogger(__name__)

# The results said to the operator when the dial ends (texts "callback_<result>").
SAID_RESULTS = ("answered", "no_answer", "busy", "voicemail", "failed")


def _attempt(leg_sid: str | None):
    return callbacks.attempt_for_webhook(request.args.get("attempt"), leg_sid)


def _url(path: str, attempt) -> str:
    return action_url(f"{path}?attempt={attempt.id}")


def _on_operator_phone(attempt) -> bool:
    """The request is about the leg to the attempt's operator (Twilio's `To`)."""
    return phones.normalise(request.form.get("To")) == phones.normalise(attempt.operator.phone)


def _operator_says(response, attempt, key: str, **values) -> None:
    lang = texts.language(attempt.operator.language)
    response.say(texts.text(lang, key, **values), language=texts.VOICE_LANGUAGES[lang])


def _hang_up() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


@bp.post("/callback/whisper")
@twiml
def callback_whisper():
    """The operator's phone answered: the bare whisper; only their key goes on,
    so that a personal voicemail never starts the call-back."""
    attempt = _attempt(request.form.get("CallSid"))
    if attempt is None or not _on_operator_phone(attempt) or not callbacks.whisper_allowed(
            attempt, request.form.get("CallSid")):
        return _hang_up()
    response = VoiceResponse()
    lang = texts.language(attempt.operator.language)
    gather = response.gather(num_digits=1, timeout=WHISPER_TIMEOUT_S, action=_url(callbacks.ACCEPT_PATH, attempt),
                             method="POST")
    gather.say(texts.text(lang, "callback_whisper", contact=attempt.call_id), language=texts.VOICE_LANGUAGES[lang],
               loop=2)
    # Nothing pressed: the leg ends, and its status callback ends the attempt (operator_no_answer).
    response.hangup()
    return response


@bp.post("/callback/accept")
@twiml
def callback_accept():
    """The operator pressed 1: dial the caller, showing CALLBACK_CALLER_ID.
    Unless a message may be left, answering machine detection decides
    quickly and the caller's leg hangs up on a machine (callback_answered)."""
    attempt = _attempt(request.form.get("CallSid"))
    if (attempt is None or not _on_operator_phone(attempt)
            or request.form.get("Digits", "").strip() != callbacks.ACCEPT_KEY):
        return _hang_up()
    config = current_app.config
    shown = callbacks.caller_id(config, attempt.call)
    number = callbacks.accept(attempt, clock.now(), hash_key=config["CALLER_HASH_KEY"], shown=shown)
    response = VoiceResponse()
    if number is None:
        if attempt.result == "failed":
            _operator_says(response, attempt, "callback_failed")
        response.hangup()
        return response
    leave_no_message = attempt.call.safe_to_leave_message is not True
    if leave_no_message:
        _operator_says(response, attempt, "callback_no_message")
    dial = response.dial(caller_id=shown, timeout=callbacks.CALLER_RING_SECONDS,
                         action=_url(callbacks.DIAL_RESULT_PATH, attempt), method="POST")
    detection = ({"machine_detection": "Enable", "machine_detection_timeout": callbacks.MACHINE_DETECTION_TIMEOUT_S}
                 if leave_no_message else {})
    dial.number(number, url=_url(callbacks.ANSWERED_PATH, attempt), method="POST", **detection)
    log.info("call-back attempt %s: dialling the caller (machine detection %s)", attempt.id,
             "on" if leave_no_message else "off")
    return response


@bp.post("/callback/answered")
@twiml_or_hang_up
def callback_answered():
    """Said on the caller's leg, before the operator is connected: nothing
    (connect), or a hang-up on an answering machine. Whatever fails here
    hangs up without a word: someone else may hold the caller's phone."""
    attempt = _attempt(request.form.get("ParentCallSid"))
    if attempt is None or not callbacks.caller_answered(attempt, request.form.get("AnsweredBy"),
                                                        request.form.get("CallSid"), clock.now()):
        return _hang_up()
    return VoiceResponse()


@bp.post("/callback/dial-result")
@twiml
def callback_dial_result():
    """The caller's dial ended: the attempt's result, said to the operator."""
    attempt = _attempt(request.form.get("CallSid"))
    if attempt is None:
        return _hang_up()
    callbacks.dial_ended(attempt, request.form.get("DialCallStatus"), clock.now())
    response = VoiceResponse()
    if attempt.result in SAID_RESULTS:
        _operator_says(response, attempt, f"callback_{attempt.result}")
    response.hangup()
    return response


@bp.post("/callback/status")
@twiml
def callback_status():
    """The operator's leg ended (or another status Twilio reports, ignored)."""
    attempt = _attempt(request.form.get("CallSid"))
    if attempt is not None:
        callbacks.operator_leg_ended(attempt, request.form.get("CallStatus"), clock.now())
    return VoiceResponse()
