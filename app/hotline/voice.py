"""The hotline's voice webhooks (PRODUCT.md flow B; issue 4, items 3 and 7).

    POST /hotline/voice                 a call comes in: record it, ask for a language
    POST /hotline/voice/menu            the key pressed: emergency numbers, then the
                                        operators on duty (or the voicemail)
    POST /hotline/voice/whisper         an operator picked up: "press 1 to accept"
    POST /hotline/voice/whisper/accept  the operator's key: connect, or hang up their leg
    POST /hotline/voice/dial-result     the operators' dial ended: thanks, or the voicemail
    POST /hotline/voice/recorded        after the voicemail: the call-back offer
    POST /hotline/voice/callback        the caller's key: 1 keeps the number (sealed)
    POST /hotline/voice/status          call and recording status callbacks

The blueprint has checked X-Twilio-Signature before any of these runs. Every
answer is TwiML (text/xml), built with the twilio package, and every URL in
it is absolute, from HOTLINE_PUBLIC_URL; the caller's language travels in the
query string, which the signature covers. A caller's full number is read
from `From` only to derive its hash and masked form, and, after consent, to
seal it; it is never logged, stored in clear or put in a URL.
"""

import logging
from functools import lru_cache, wraps
from urllib.parse import urlencode

from flask import Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from app import clock
from app.hotline import action_url, bp
from app.services.core import validation
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput
from app.services.hotline import callbacks, calls, phones
from app.texts import voice as texts
from app.web import unit_of_work

log = logging.getLogger(__name__)

MENU_TIMEOUT_S = 6
WHISPER_TIMEOUT_S = 8
VOICEMAIL_MAX_S = 120
VOICEMAIL_SILENCE_S = 5
CALLBACK_TIMEOUT_S = 8
ACCEPT_KEY = "1"
CONSENT_KEY = "1"


def _trouble() -> VoiceResponse:
    response = VoiceResponse()
    for lang in texts.LANGUAGES:
        _say(response, lang, "trouble")
    response.hangup()
    return response


def _hang_up() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def _answering(view, fallback, said: str):
    """Answer the view's VoiceResponse (or TwiML text) as text/xml, once what
    it wrote is committed. Should anything fail, the commit included, Twilio
    gets `fallback()` rather than playing "an application error has
    occurred"; the failure is logged and nothing of the request is kept."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        try:
            with unit_of_work.change():
                response = view(*args, **kwargs)
                unit_of_work.commit_now()
        except HTTPException:
            raise
        except Exception:
            log.exception("hotline %s failed; answered with %s", request.path, said)
            response = fallback()
        return Response(str(response), mimetype="text/xml")

    return wrapped


def twiml(view):
    """`_answering`: on failure the caller still hears the emergency numbers."""
    return _answering(view, _trouble, "the emergency numbers")


def twiml_or_hang_up(view):
    """`_answering`: on failure the leg hangs up, saying nothing (a call-back's
    leg to the caller, whose phone someone else may have answered)."""
    return _answering(view, _hang_up, "a hang-up")


def _with_query(path: str, **params) -> str:
    """`path` with `params` (those not None) as its query string."""
    query = urlencode({key: value for key, value in params.items() if value is not None})
    return path + (f"?{query}" if query else "")


def _url(path: str, **params) -> str:
    """An absolute URL for TwiML, from HOTLINE_PUBLIC_URL."""
    return action_url(_with_query(path, **params))


def _say(node, lang: str, key: str, **values) -> None:
    node.say(texts.text(lang, key, **values), language=texts.VOICE_LANGUAGES[lang])


def _lang() -> str:
    return texts.language(request.args.get("lang"))


def _number(value: str | None) -> int | None:
    """A count Twilio sends (seconds, the menu's attempt); None when there is
    none or it is no number: a webhook answers the caller whatever it gets."""
    try:
        return validation.optional_whole_number(value, "number", 0, 10**9 - 1)
    except InvalidInput:
        return None


def _hotline_number() -> str | None:
    """The number operators see calling: the hotline's own, never the caller's.
    TWILIO_FROM_NUMBER, else the number this call was made to (`To` of the
    caller's leg)."""
    return phones.normalise(current_app.config.get("TWILIO_FROM_NUMBER")) or phones.normalise(
        request.form.get("To")
    )


# --- the call comes in ---------------------------------------------------------


@bp.post("/voice")
@twiml
def voice():
    sid = request.form.get("CallSid")
    if sid:
        calls.start(clock.now(), sid=sid, number=request.form.get("From"),
                    hash_key=current_app.config["CALLER_HASH_KEY"], called_number=request.form.get("To"))
    return _menu(attempt=1)


def _menu(attempt: int) -> str:
    return _menu_twiml(current_app.config["HOTLINE_PUBLIC_URL"], attempt)


@lru_cache(maxsize=16)
def _menu_twiml(public_url: str, attempt: int) -> str:
    """1 Nederlands, 2 Français, 3 English, each said in its own language;
    nothing pressed goes on in Dutch. The same for every call: made once."""
    response = VoiceResponse()
    action = public_url.rstrip("/") + _with_query("/hotline/voice/menu", attempt=attempt if attempt > 1 else None)
    gather = response.gather(num_digits=1, timeout=MENU_TIMEOUT_S, action=action, method="POST")
    for lang in texts.LANGUAGES:
        _say(gather, lang, "menu")
    # No key pressed: Twilio goes on here, and the menu answers in Dutch.
    response.redirect(action, method="POST")
    return str(response)


@bp.post("/voice/menu")
@twiml
def menu():
    now = clock.now()
    pressed = request.form.get("Digits", "").strip()
    attempt = _number(request.args.get("attempt")) or 1
    call = calls.get(request.form.get("CallSid"))
    if pressed and pressed not in texts.MENU_DIGITS and attempt < 2:
        # An unknown key: the menu once more, then Dutch.
        if call is not None:
            calls.record_menu_choice(call, pressed, None, now)
        return _menu(attempt=attempt + 1)
    lang = texts.MENU_DIGITS.get(pressed, texts.DEFAULT)
    if call is not None:
        calls.record_menu_choice(call, pressed or "none", lang, now)
    operators = calls.on_duty_operators()
    return _put_through(lang, [operator.phone for operator in operators], request.form.get("CallSid"), call, now)


def _put_through(lang: str, operator_phones: list[str], sid: str | None, call, now) -> VoiceResponse:
    """The emergency numbers, then every operator on duty at once, each with
    a whisper to accept the call (the call has reached the operators' ring:
    unanswered, it is missed); with nobody on duty, the voicemail."""
    response = VoiceResponse()
    _say(response, lang, "emergency")
    hotline_number = _hotline_number()
    if operator_phones and hotline_number is None:
        log.error("no hotline number (TWILIO_FROM_NUMBER) to show operators: call %s goes to the voicemail", sid)
    if not operator_phones or hotline_number is None:
        _voicemail(response, lang)
        return response
    if call is not None:
        calls.record_ring(call, now)
    _say(response, lang, "connecting")
    dial = response.dial(
        timeout=calls.RING_SECONDS,
        caller_id=hotline_number,
        action=_url("/hotline/voice/dial-result", lang=lang),
        method="POST",
    )
    whisper = _url("/hotline/voice/whisper", lang=lang, call=sid)
    for phone in operator_phones:
        dial.number(phone, url=whisper, method="POST")
    return response


# --- the operator's leg -----------------------------------------------------------


def _parent_sid() -> str | None:
    return request.args.get("call") or request.form.get("ParentCallSid")


@bp.post("/voice/whisper")
@twiml
def whisper():
    """Said to the operator who picked up, before the caller is connected:
    only a key press accepts, so a personal voicemail never takes the call."""
    caller_lang = _lang()
    response = VoiceResponse()
    operator = calls.operator_for_phone(request.form.get("To"))
    if operator is None:
        log.warning("whisper for call %s to a phone of no operator on duty: hung up", _parent_sid())
        response.hangup()
        return response
    lang = texts.language(operator.language)
    gather = response.gather(
        num_digits=1,
        timeout=WHISPER_TIMEOUT_S,
        action=_url("/hotline/voice/whisper/accept", lang=caller_lang, call=_parent_sid()),
        method="POST",
    )
    gather.say(
        texts.text(lang, "whisper", language=texts.TEXTS[lang]["language_names"][caller_lang]),
        language=texts.VOICE_LANGUAGES[lang],
        loop=2,
    )
    # Nothing pressed (a voicemail, or nobody): this leg ends, the others ring on.
    response.hangup()
    return response


@bp.post("/voice/whisper/accept")
@twiml
def whisper_accept():
    response = VoiceResponse()
    operator = calls.operator_for_phone(request.form.get("To"))
    if request.form.get("Digits", "").strip() != ACCEPT_KEY or operator is None:
        response.hangup()
        return response
    sid = _parent_sid()
    call = calls.get(sid, for_update=True)
    if call is None:
        log.warning("operator %s accepted call %s, which was never recorded", operator.id, sid)
    elif not calls.accept(call, operator, clock.now()):
        _say(response, texts.language(operator.language), "whisper_taken")
        response.hangup()
        return response
    # An empty answer ends the whisper: the operator and the caller are connected.
    return response


@bp.post("/voice/dial-result")
@twiml
def dial_result():
    lang = _lang()
    call = calls.get(request.form.get("CallSid"))
    # "completed" also when an operator's voicemail picked up and the whisper
    # hung up on it: answered means an operator pressed 1.
    answered = request.form.get("DialCallStatus") == "completed" and (call is None or call.answered_at is not None)
    response = VoiceResponse()
    if answered:
        _say(response, lang, "thanks")
        response.hangup()
    else:
        _voicemail(response, lang)
    return response


# --- voicemail and call-back consent ----------------------------------------------


def _voicemail(response: VoiceResponse, lang: str) -> None:
    after = _url("/hotline/voice/recorded", lang=lang)
    _say(response, lang, "voicemail")
    response.record(
        max_length=VOICEMAIL_MAX_S,
        timeout=VOICEMAIL_SILENCE_S,
        finish_on_key="#",
        play_beep=True,
        action=after,
        method="POST",
        recording_status_callback=_url("/hotline/voice/status"),
        recording_status_callback_method="POST",
    )
    # Nothing recorded (silence): Twilio goes on here, to the same offer.
    response.redirect(after, method="POST")


def _recording(call) -> None:
    url = (request.form.get("RecordingUrl") or "").strip()
    if (
        call is not None
        and url.startswith(("https://", "http://"))
        and len(url) <= 500
        and request.form.get("RecordingStatus", "completed") == "completed"
    ):
        calls.record_recording(call, url, request.form.get("RecordingSid"),
                               _number(request.form.get("RecordingDuration")), clock.now())


@bp.post("/voice/recorded")
@twiml
def recorded():
    lang = _lang()
    call = calls.get(request.form.get("CallSid"))
    _recording(call)
    response = VoiceResponse()
    if phones.normalise(request.form.get("From")) is None:
        _say(response, lang, "callback_withheld")
        response.hangup()
        return response
    gather = response.gather(
        num_digits=1, timeout=CALLBACK_TIMEOUT_S, action=_url("/hotline/voice/callback", lang=lang), method="POST"
    )
    _say(gather, lang, "callback_offer")
    # The number a call-back will show, so that the caller knows it when it rings.
    shown = callbacks.caller_id(current_app.config, call) if call is not None else None
    if shown:
        _say(gather, lang, "callback_from", number=phones.spoken(shown))
    # Nothing pressed is no consent.
    _say(response, lang, "callback_no")
    response.hangup()
    return response


@bp.post("/voice/callback")
@twiml
def callback():
    lang = _lang()
    response = VoiceResponse()
    consent = request.form.get("Digits", "").strip() == CONSENT_KEY
    call = calls.get(request.form.get("CallSid"))
    kept = False
    if consent and call is not None:
        config = current_app.config
        kept = calls.keep_for_callback(
            Actor(user=None, source="voice", ip=request.remote_addr),
            call,
            request.form.get("From"),
            clock.now(),
            hash_key=config["CALLER_HASH_KEY"],
            retention_days=config["CALLBACK_NUMBER_RETENTION_DAYS"],
        )
    if kept:
        _say(response, lang, "callback_yes")
    elif consent and phones.normalise(request.form.get("From")) is None:
        _say(response, lang, "callback_withheld")
    else:
        _say(response, lang, "callback_no")
    response.hangup()
    return response


# --- status callbacks -----------------------------------------------------------


@bp.post("/voice/status")
@twiml
def status():
    """Twilio's call status callback, and the voicemail's recording status
    callback. An unknown CallSid creates nothing: 200 with empty TwiML (Twilio
    ignores the body; a 404 would only fill its debugger with errors)."""
    sid = request.form.get("CallSid")
    call = calls.get(sid)
    if call is None:
        log.info("status callback for unknown call %s ignored", sid)
        return VoiceResponse()
    now = clock.now()
    call_status = request.form.get("CallStatus")
    if call_status:
        calls.record_status(call, call_status, now, duration_s=_number(request.form.get("CallDuration")))
    _recording(call)
    return VoiceResponse()
