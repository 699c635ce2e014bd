"""The hotline simulator: Twilio's side of a call or a text, for development
(issue 4, item 6). `flask hotline simulate …` and the development page
/hotline-simulator use it to walk the whole flow without a Twilio account.

It plays Twilio: every webhook is POSTed with the form parameters Twilio
sends and an `X-Twilio-Signature` computed exactly as Twilio computes it (the
app's HOTLINE_SIGNING_TOKEN over HOTLINE_PUBLIC_URL + path + query), and the
next request follows the TwiML the app answered (the `<Gather>` action with
the keys pressed, the `<Dial>`'s `<Number url>` and action, the `<Record>`'s
action and recording status callback). Requests go either over HTTP to a
running app (`OverHttp`) or through the app's test client (`InProcess`):
app.web.simulator_transport. The TwiML answers, the walk and its
transcript: app.web.simulator_twiml.

Nothing here writes to the database itself: the app does, as it would for
Twilio. `sms_reply` reads the reply the app wrote to the outbox (Twilio is
not involved: without Twilio configured the reply stays there; with Twilio
configured the app really sends it, to the number you simulate).
"""

import time

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.extensions import db
from app.models import Call, OutboxMessage
from app.services import demo_history
from app.services.core.errors import InvalidInput
from app.services.hotline import callbacks, phones, sms_commands
from app.web.simulator_transport import SimulatorError, Transport, new_sid
from app.web.simulator_twiml import Reply, Step, Verb, Walk, parse

# The hotline's own number in simulated webhooks (`To`) when TWILIO_FROM_NUMBER
# is not set: the app shows it to operators as the caller ID.
SIMULATED_HOTLINE_NUMBER = demo_history.HOTLINE_NUMBER
SIMULATED_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_CALLER = "+32470123456"
# Most requests a walk makes: a menu that never ends must not loop forever.
MAX_STEPS = 20
# Keys a caller can press.
KEYS = set("0123456789*#")
MAX_KEYS = 5
MAX_BODY = 1600


# --- checks on what the user asked for --------------------------------------------


def caller_number(raw: str | None, field_name: str = "from") -> str:
    """A number as Twilio sends it in `From`: E.164, or "anonymous" when withheld."""
    raw = (raw or "").strip()
    if raw.lower() in phones.WITHHELD:
        return "anonymous"
    number = phones.normalise(raw)
    if number is None:
        raise InvalidInput(f"not a phone number: {raw} (write it as +32470123456, or 'anonymous')",
                           field=field_name)
    return number


def keys(raw: str | None) -> str:
    raw = (raw or "").strip()
    if len(raw) > MAX_KEYS or not set(raw) <= KEYS:
        raise InvalidInput(f"keys are up to {MAX_KEYS} of 0-9, * and #", field="digits")
    return raw


def _shown_number(number: str) -> str:
    return phones.mask(phones.normalise(number))


# --- a call ----------------------------------------------------------------------


class _Call:
    """Twilio's side of one inbound call, step by step."""

    def __init__(self, transport: Transport, number: str, hotline: str):
        self.transport = transport
        self.number = number
        self.hotline = hotline
        self.walk = Walk("call", new_sid("CA"))
        self.started = time.monotonic()

    def params(self, status: str = "in-progress", **extra) -> dict:
        return {"AccountSid": SIMULATED_ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.walk.sid,
                "From": self.number, "To": self.hotline, "Caller": self.number, "Called": self.hotline,
                "Direction": "inbound", "CallStatus": status, **extra}

    def post(self, note, url: str, params: dict, *shown: str) -> Verb:
        if len(self.walk.steps) >= MAX_STEPS:
            raise SimulatorError(f"the call took more than {MAX_STEPS} requests: stopped")
        path = self.transport.path_of(url)
        twiml = parse(self.transport.post(path, params).body)
        self.walk.steps.append(Step(note, path, {key: params[key] for key in shown if key in params}, twiml))
        return twiml

    def duration(self) -> str:
        return str(max(1, round(time.monotonic() - self.started)))


def simulate_call(transport: Transport, *, number: str = DEFAULT_CALLER, hotline: str | None = None,
                  digits: str = "", answer: bool = True, consent: bool = False, hold_open: bool = False) -> Walk:
    """A call from `number` to the hotline, as Twilio would make it.

    `digits` are the keys pressed in the language menu, one per menu (none:
    the caller waits and the menu goes on in Dutch). With operators on duty,
    the first one's phone picks up and presses 1, unless `answer` is False
    (nobody answers: the voicemail). In the voicemail the caller leaves a
    message and presses 1 for a call-back if `consent`. Then the caller hangs
    up (a `completed` status callback), except with `hold_open`: the walk stops
    once an operator took the call (or before the hang-up), so that the call
    stays live in the operator console; `hangup` ends it."""
    number = caller_number(number)
    hotline = caller_number(hotline or SIMULATED_HOTLINE_NUMBER, "to")
    pressed = list(keys(digits))
    call = _Call(transport, number, hotline)
    twiml = call.post(_l("A call comes in from %(number)s.", number=_shown_number(number)),
                      "/hotline/voice", call.params("ringing"), "CallStatus")

    # The language menu, as often as the app asks.
    while (gather := twiml.find("Gather")) is not None and "/hotline/voice/menu" in gather.attrs.get("action", ""):
        if pressed:
            key = pressed.pop(0)
            twiml = call.post(_l("The caller presses %(key)s.", key=key), gather.attrs["action"],
                              call.params(Digits=key), "Digits")
        else:
            redirect = twiml.find("Redirect")
            twiml = call.post(_l("The caller presses nothing."), redirect.text if redirect else gather.attrs["action"],
                              call.params())

    answered = False
    dial = twiml.find("Dial")
    if dial is not None:
        operators = [child for child in dial.children if child.name == "Number"]
        if answer and operators:
            answered = _operator_accepts(call, operators[0])
            if answered and hold_open:
                call.walk.held_open = True
                call.walk.outcome = _l("The call is in progress with the operator: it stays live in the "
                                       "operator console until the caller hangs up.")
                return call.walk
        dial_status = "completed" if answered else "no-answer"
        extra = {"DialCallStatus": dial_status, "DialCallSid": new_sid("CA")}
        if answered:
            extra["DialCallDuration"] = call.duration()
        note = (_l("The operator hangs up: the dial ends.") if answered
                else _l("Nobody answers: the dial ends after its timeout."))
        twiml = call.post(note, dial.attrs["action"], call.params(**extra), "DialCallStatus")

    if twiml.find("Record") is not None:
        _voicemail(call, twiml, consent)

    if hold_open:
        call.walk.held_open = True
        call.walk.outcome = _l("The caller stays on the line: no final status is sent until the caller hangs up.")
        return call.walk
    call.post(_l("The call ends: Twilio's status callback."), "/hotline/voice/status",
              call.params("completed", CallDuration=call.duration()), "CallStatus", "CallDuration")
    if answered:
        call.walk.outcome = _l("Done: the operator took the call.")
    elif dial is None:
        call.walk.outcome = _l("Done: nobody is on duty, so the call went to the voicemail.")
    else:
        call.walk.outcome = _l("Done: nobody answered, so the call went to the voicemail.")
    if consent and not answered:
        call.walk.outcome = _l("%(done)s The caller waits for a call-back.", done=call.walk.outcome)
    return call.walk


def _operator_accepts(call: _Call, operator: Verb) -> bool:
    """The first operator's phone picks up: the whisper, then 1 to accept.
    Whether the app connected the call (an empty answer)."""
    leg = {"AccountSid": SIMULATED_ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": new_sid("CA"),
           "ParentCallSid": call.walk.sid, "From": call.hotline, "To": operator.text,
           "Direction": "outbound-dial", "CallStatus": "in-progress"}
    url = operator.attrs.get("url")
    if not url:
        return True  # no whisper: Twilio connects at once
    whisper = call.post(_l("The operator's phone (%(phone)s) picks up: the whisper.", phone=operator.text),
                        url, leg, "To")
    gather = whisper.find("Gather")
    if gather is None:
        return False
    accepted = call.post(_l("The operator presses 1 to accept."), gather.attrs["action"], {**leg, "Digits": "1"},
                         "Digits")
    # An empty answer connects the two legs; anything else (a colleague took it) hangs up.
    return not accepted.children


def _voicemail(call: _Call, twiml: Verb, consent: bool) -> None:
    record = twiml.find("Record")
    recording_sid = new_sid("RE")
    recording = {
        "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{SIMULATED_ACCOUNT_SID}/Recordings/{recording_sid}",
        "RecordingDuration": "7",
    }
    offer = call.post(_l("The caller leaves a message of 7 seconds and presses #."), record.attrs["action"],
                      call.params(Digits="#", **recording), "RecordingDuration")
    gather = offer.find("Gather")
    if gather is not None and consent:
        call.post(_l("The caller presses 1: they may be called back."), gather.attrs["action"],
                  call.params(Digits="1"), "Digits")
    if record.attrs.get("recordingStatusCallback"):
        call.post(_l("The recording is ready: Twilio's recording status callback."),
                  record.attrs["recordingStatusCallback"],
                  {"AccountSid": SIMULATED_ACCOUNT_SID, "CallSid": call.walk.sid, "RecordingStatus": "completed",
                   "RecordingSource": "RecordVerb", "RecordingChannels": "1", **recording},
                  "RecordingStatus")


def hangup(transport: Transport, sid: str, duration: int | None = None) -> Walk:
    """The caller of a call left open hangs up: Twilio's `completed` status callback."""
    sid = (sid or "").strip()
    if not sid.startswith("CA") or len(sid) > 64:
        raise InvalidInput("a call's SID starts with CA", field="sid")
    walk = Walk("hangup", sid)
    params = {"AccountSid": SIMULATED_ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid,
              "Direction": "inbound", "CallStatus": "completed"}
    if duration is not None:
        params["CallDuration"] = str(duration)
    twiml = parse(transport.post("/hotline/voice/status", params).body)
    walk.steps.append(Step(_l("The caller hangs up: Twilio's status callback."), "/hotline/voice/status",
                           {key: params[key] for key in ("CallStatus", "CallDuration") if key in params}, twiml))
    walk.outcome = _l("Done: call %(sid)s completed.", sid=sid)
    return walk


# --- a call-back --------------------------------------------------------------------

# How the caller's leg of a simulated call-back ends: Twilio's AnsweredBy (a
# person, a machine, unsure) or its DialCallStatus when nobody answers.
CALLBACK_ANSWERS = ("human", "unknown", "machine_start", "no-answer", "busy")


def simulate_callback(transport: Transport, call_id: int, *, operator_presses: bool = True,
                      answer: str = "human") -> Walk:
    """Twilio's side of the call-back under way for contact `call_id` (an
    operator pressed Call back in the console, or POSTed /api/v1/calls/<id>/callback,
    with Twilio not configured): the operator's leg picks up and hears the
    whisper, presses 1 (unless not `operator_presses`: the leg ends), the
    caller's leg is dialled and ends as `answer` says, then the operator hangs
    up. The caller's number, in the `<Dial>` the app answers, is masked in the
    walk: it is never printed. Reads the attempt from the database: this
    command must use the app's."""
    if answer not in CALLBACK_ANSWERS:
        raise InvalidInput(f"answer must be one of {', '.join(CALLBACK_ANSWERS)}", field="answer")
    operator_phone, shown, whisper_url, leg_sid = _callback_under_way(call_id)
    walk = Walk("callback", leg_sid)
    call = _Call(transport, shown, shown)
    call.walk = walk
    leg = {"AccountSid": SIMULATED_ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": leg_sid, "From": shown,
           "To": operator_phone, "Direction": "outbound-api", "CallStatus": "in-progress"}
    status_url = whisper_url.replace(callbacks.WHISPER_PATH, callbacks.STATUS_PATH)
    whisper = call.post(_l("The operator's phone (%(phone)s) picks up: the whisper.", phone=operator_phone),
                        whisper_url, leg, "To")
    gather = whisper.find("Gather")
    if gather is None or not operator_presses:
        call.post(_l("The operator does not press 1: their leg ends."), status_url,
                  {**leg, "CallStatus": "completed"}, "CallStatus")
        walk.outcome = _l("Done: the operator did not answer the call-back.")
        return walk
    accepted = call.post(_l("The operator presses 1."), gather.attrs["action"], {**leg, "Digits": "1"}, "Digits")
    dial = accepted.find("Dial")
    number = dial.find("Number") if dial is not None else None
    if number is None:
        call.post(_l("The operator's leg ends."), status_url, {**leg, "CallStatus": "completed"}, "CallStatus")
        walk.outcome = _l("Done: the caller was not dialled.")
        return walk
    number.text = _shown_number(number.text)  # the one place the app gives it: masked here
    dial_status = "completed"
    if answer in ("no-answer", "busy"):
        dial_status = answer
    else:
        callee = {"AccountSid": SIMULATED_ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": new_sid("CA"),
                  "ParentCallSid": leg_sid, "From": shown, "Direction": "outbound-dial",
                  "CallStatus": "in-progress"}
        if number.attrs.get("machineDetection"):
            callee["AnsweredBy"] = answer
        note = {"human": _l("The caller's phone is answered by a person."),
                "unknown": _l("The caller's phone is answered: machine detection cannot tell by whom."),
                "machine_start": _l("The caller's phone is answered by an answering machine.")}[answer]
        call.post(note, number.attrs["url"], callee, "AnsweredBy")
    call.post(_l("The caller's leg ends: the dial's result."), dial.attrs["action"],
              {**leg, "DialCallStatus": dial_status}, "DialCallStatus")
    call.post(_l("The operator hangs up: Twilio's status callback."), status_url, {**leg, "CallStatus": "completed"},
              "CallStatus")
    walk.outcome = _l("Done: the call-back's result is on the contact's page (%(result)s).",
                      result=_callback_result(call_id))
    return walk


def _callback_under_way(call_id: int) -> tuple[str, str, str, str]:
    """The open attempt's operator phone, the caller ID it shows, its whisper
    URL and the operator's leg's sid; read in an app context of its own."""
    app = current_app._get_current_object()
    with app.app_context():
        contact = db.session.get(Call, call_id)
        attempt = callbacks.open_attempt(contact) if contact is not None else None
        if attempt is None:
            raise SimulatorError(f"no call-back under way for contact {call_id}: press Call back on its page in the "
                                 "console first (or POST /api/v1/calls/<id>/callback)")
        shown = callbacks.caller_id(app.config, contact) or SIMULATED_HOTLINE_NUMBER
        return (attempt.operator.phone, shown, callbacks.webhook_url(app.config, callbacks.WHISPER_PATH, attempt),
                attempt.operator_leg_sid or new_sid("CA"))


def _callback_result(call_id: int) -> str:
    with current_app._get_current_object().app_context():
        contact = db.session.get(Call, call_id)
        attempts = callbacks.attempts_of(contact) if contact is not None else []
        return (attempts[0].result or attempts[0].status) if attempts else "?"


# --- a text ---------------------------------------------------------------------


def simulate_sms(transport: Transport, *, number: str, body: str, hotline: str | None = None) -> Walk:
    """A text from `number` to the hotline, as Twilio delivers it. The app
    answers with an empty TwiML and writes its reply (if any) to the outbox,
    where the walk reads it (`sms_reply`)."""
    number = caller_number(number)
    hotline = caller_number(hotline or SIMULATED_HOTLINE_NUMBER, "to")
    body = (body or "").strip()
    if not body:
        raise InvalidInput("write the text to send", field="body")
    if len(body) > MAX_BODY:
        raise InvalidInput(f"a text is at most {MAX_BODY} characters", field="body")
    sid = new_sid("SM")
    walk = Walk("sms", sid)
    params = {"AccountSid": SIMULATED_ACCOUNT_SID, "ApiVersion": "2010-04-01", "MessageSid": sid, "SmsSid": sid,
              "SmsMessageSid": sid, "SmsStatus": "received", "From": number, "To": hotline, "Body": body,
              "NumMedia": "0", "NumSegments": "1"}
    twiml = parse(transport.post("/hotline/sms", params).body)
    walk.steps.append(Step(_l("A text comes in from %(number)s.", number=_shown_number(number)), "/hotline/sms",
                           {"Body": body}, twiml))
    walk.reply = sms_reply(sid)
    walk.outcome = reply_outcome(walk.reply)
    return walk

def sms_reply(message_sid: str) -> Reply | None:
    """The reply the app wrote to the outbox for the text `message_sid`: a
    command's answer, or the automatic reply that starts a help-seeker's
    conversation. None when the text got none (a later text of a
    conversation), or when this database is not the app's. Read in an app
    context of its own, so that it sees what the app committed and leaves the
    caller's session alone."""
    keys_ = (sms_commands.reply_key(message_sid), f"sms_auto_reply:{message_sid}")
    with current_app._get_current_object().app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key.in_(keys_)))
        if message is None:
            return None
        return Reply(message.recipient_masked, message.body, message.status, message.last_error)


def reply_outcome(reply: Reply | None) -> str:
    """What became of a text's reply, in a sentence."""
    if reply is None:
        return _l("No reply in the outbox (a text within an open conversation gets none; or the app uses "
                  "another database than this command).")
    state = reply.last_error if reply.status == "pending" and reply.last_error else reply.status
    return _l("Reply to %(to)s (%(state)s): %(body)s", to=reply.to, state=state, body=reply.body)
