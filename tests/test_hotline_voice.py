"""The hotline's voice webhooks, driven as Twilio drives them: signed POSTs,
answers parsed as TwiML (element names and attributes, not strings), and
the database and the log read afterwards for what was kept."""

import logging
import threading
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import AuditEvent, Call, RateCounter, User
from app.services.core.access import Actor
from app.services.core.errors import Forbidden, InvalidInput
from app.services.hotline import callbacks, calls, phones
from app.texts import voice as texts
from tests import factories as make
from tests.conftest import START
from tests.twilio_signing import PUBLIC_URL, TOKEN, signature, signed_post

HOTLINE = "+3220000000"
CALLER = "+32470123412"
CALLER_DIGITS = "470123412"  # the caller's number without country code: never to be seen
MASKED = "+32 4•• •• •• 12"
KEY = "test-caller-hash-key"
SID = "CA00000000000000000000000000000001"
RECORDING = "RE" + "a1" * 16
OPERATOR_PHONES = ("+32470000001", "+32470000002")


@pytest.fixture
def app_config():
    return {"TWILIO_FROM_NUMBER": HOTLINE}


# --- helpers --------------------------------------------------------------------


def twiml(response) -> ET.Element:
    """The answer, checked to be TwiML, parsed."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "Response"
    return root


def tags(element) -> list[str]:
    return [child.tag for child in element]


def path_of(url: str) -> str:
    """The path and query Twilio would call for an absolute TwiML URL; every
    URL must start with HOTLINE_PUBLIC_URL."""
    assert url.startswith(PUBLIC_URL + "/hotline/voice"), url
    return url[len(PUBLIC_URL):]


def call_params(sid=SID, **extra) -> dict:
    return {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "From": CALLER, "To": HOTLINE, "Direction": "inbound",
            **extra}


def incoming(client, sid=SID, **extra) -> ET.Element:
    return twiml(signed_post(client, "/hotline/voice", call_params(sid, CallStatus="ringing", **extra)))


def press(client, url: str, digits: str | None, sid=SID, **extra) -> ET.Element:
    params = call_params(sid, CallStatus="in-progress", **extra)
    if digits is not None:
        params["Digits"] = digits
    return twiml(signed_post(client, path_of(url), params))


def the_call(sid=SID) -> Call:
    db.session.rollback()
    return db.session.scalar(select(Call).where(Call.sid == sid))


def on_duty_operator(phone, language="en", **fields):
    user = make.user("operator", phone=phone, language=language, **fields)
    calls.set_on_duty(Actor(user=user, source="web"), user, True, START)
    db.session.commit()
    return user


def menu_to(client, digit: str | None, sid=SID) -> ET.Element:
    """Call in and press `digit` (None: press nothing, as Twilio then follows the Redirect)."""
    root = incoming(client, sid)
    gather = root.find("Gather")
    url = gather.get("action") if digit is not None else root.find("Redirect").text
    return press(client, url, digit, sid)


def database_text() -> str:
    """Every value of every row of every table, as text."""
    db.session.rollback()
    values = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            values.extend(str(value) for value in row)
    return "\n".join(values)


def snapshot() -> tuple:
    db.session.rollback()
    return (
        [tuple(row) for row in db.session.execute(select(Call.__table__).order_by(Call.id))],
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
    )


# --- texts ------------------------------------------------------------------------


def test_every_text_exists_in_every_language():
    keys = set(texts.TEXTS["nl"])
    for lang in texts.LANGUAGES:
        assert set(texts.TEXTS[lang]) == keys, lang
        assert set(texts.TEXTS[lang]["language_names"]) == set(texts.LANGUAGES)
        assert all(value for value in texts.TEXTS[lang].values())
    assert set(texts.MENU_DIGITS.values()) == set(texts.LANGUAGES) == set(texts.VOICE_LANGUAGES)
    assert texts.language("de") == texts.language(None) == "nl"


# --- signatures -------------------------------------------------------------------

# Each route with parameters that would change something if they were accepted.
ROUTES = {
    "/hotline/voice": call_params("CA" + "9" * 32, CallStatus="ringing"),
    "/hotline/voice/menu": call_params(Digits="2"),
    "/hotline/voice/whisper?lang=nl&call=" + SID: {"CallSid": "CA" + "7" * 32, "ParentCallSid": SID,
                                                   "From": HOTLINE, "To": OPERATOR_PHONES[0]},
    "/hotline/voice/whisper/accept?lang=nl&call=" + SID: {"CallSid": "CA" + "7" * 32, "ParentCallSid": SID,
                                                          "From": HOTLINE, "To": OPERATOR_PHONES[0], "Digits": "1"},
    "/hotline/voice/dial-result?lang=nl": call_params(DialCallStatus="no-answer"),
    "/hotline/voice/recorded?lang=nl": call_params(RecordingUrl="https://api.twilio.com/rec/RE1",
                                                   RecordingDuration="12"),
    "/hotline/voice/callback?lang=nl": call_params(Digits="1"),
    "/hotline/voice/status": call_params(CallStatus="completed", CallDuration="42"),
}
# Routes whose signed request changes the database (the others only answer).
CHANGING = {"/hotline/voice", "/hotline/voice/menu", "/hotline/voice/whisper/accept?lang=nl&call=" + SID,
            "/hotline/voice/recorded?lang=nl", "/hotline/voice/callback?lang=nl", "/hotline/voice/status"}


def bad_requests(path: str, params: dict) -> dict:
    other_path = "/hotline/voice/status" if path != "/hotline/voice/status" else "/hotline/voice"
    # A parameter changed after signing: the key pressed, or the call.
    tampered = dict(params)
    if "Digits" in params:
        tampered["Digits"] = "3"
    else:
        tampered["CallSid"] = "CA" + "8" * 32
    return {
        "unsigned": ({}, params),
        "wrong token": ({"X-Twilio-Signature": signature(path, params, token="not-the-token")}, params),
        "another host": ({"X-Twilio-Signature": signature(path, params, public_url="https://evil.example")}, params),
        "another path": ({"X-Twilio-Signature": signature(other_path, params)}, params),
        "another query": ({"X-Twilio-Signature": signature(path.split("?")[0] + "?lang=fr", params)}, params),
        "tampered": ({"X-Twilio-Signature": signature(path, params)}, tampered),
    }


@pytest.fixture
def call_in_progress(client):
    """A call that chose Dutch, with an operator on duty."""
    on_duty_operator(OPERATOR_PHONES[0])
    menu_to(client, "1")
    return the_call()


@pytest.mark.parametrize("kind", ["unsigned", "wrong token", "another host", "another path", "another query",
                                  "tampered"])
@pytest.mark.parametrize("path", list(ROUTES))
def test_a_request_without_a_valid_signature_is_refused_and_changes_nothing(client, call_in_progress, path, kind):
    headers, params = bad_requests(path, ROUTES[path])[kind]
    before = snapshot()
    response = client.post(path, data=params, headers=headers)
    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("path", list(ROUTES))
def test_the_same_request_signed_is_answered(client, call_in_progress, path):
    before = snapshot()
    root = twiml(signed_post(client, path, ROUTES[path]))
    assert root.tag == "Response"
    # The refusals above could have failed: signed, these requests do change the database.
    assert (snapshot() != before) == (path in CHANGING)


@pytest.mark.parametrize("public_url", [PUBLIC_URL, PUBLIC_URL + ":443"])
def test_twilio_may_sign_the_url_with_its_port_or_without(client, public_url):
    """Twilio signs the URL as it called it, the port written or not: both are its signature."""
    params = call_params()
    headers = {"X-Twilio-Signature": signature("/hotline/voice", params, public_url=public_url)}
    assert client.post("/hotline/voice", data=params, headers=headers).status_code == 200
    headers = {"X-Twilio-Signature": signature("/hotline/voice", params, public_url=PUBLIC_URL + ":8443")}
    assert client.post("/hotline/voice", data=params, headers=headers).status_code == 403


def test_twenty_bad_signatures_a_minute_from_one_address_turn_to_429_but_twilio_gets_through(client, clock):
    params = call_params()
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for _ in range(20):
        assert client.post("/hotline/voice", data=params, environ_base=attacker).status_code == 403
    assert client.post("/hotline/voice", data=params, environ_base=attacker).status_code == 429
    # Another address is not limited, and a valid signature from the same one is answered.
    assert client.post("/hotline/voice", data=params, environ_base={"REMOTE_ADDR": "198.51.100.1"}).status_code == 403
    root = twiml(signed_post(client, "/hotline/voice", params, environ_base=attacker))
    assert tags(root) == ["Gather", "Redirect"]
    assert the_call() is not None
    # A minute later the address starts again from nothing.
    clock.advance(minutes=1)
    assert client.post("/hotline/voice", data=params, environ_base=attacker).status_code == 403


# --- the call comes in ---------------------------------------------------------------


def test_a_call_is_recorded_by_hash_and_mask_and_offered_three_languages(client, clock):
    root = incoming(client)
    assert tags(root) == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == PUBLIC_URL + "/hotline/voice/menu"
    assert gather.get("method") == "POST"
    assert tags(gather) == ["Say", "Say", "Say"]
    assert [say.get("language") for say in gather] == ["nl-BE", "fr-BE", "en-GB"]
    assert [say.text for say in gather] == [texts.text(lang, "menu") for lang in ("nl", "fr", "en")]
    # Nothing pressed: the menu's own URL, without digits, which means Dutch.
    assert root.find("Redirect").text == PUBLIC_URL + "/hotline/voice/menu"

    call = the_call()
    assert call.channel == "voice"
    assert call.caller_hash == phones.caller_hash(CALLER, KEY)
    assert call.caller_masked == MASKED
    assert call.status == "ringing"
    assert call.started_at == START
    assert call.number_sealed is None and call.language is None and call.menu_choices == []


@pytest.mark.parametrize("withheld", ["anonymous", "Restricted", "", "+266696687"])
def test_a_withheld_number_is_welcome(client, withheld):
    root = twiml(signed_post(client, "/hotline/voice", call_params(From=withheld, CallStatus="ringing")))
    assert tags(root) == ["Gather", "Redirect"]
    call = the_call()
    assert call.caller_hash is None
    assert call.caller_masked == "withheld"


def test_a_replayed_webhook_makes_no_second_call(client):
    first = incoming(client)
    again = incoming(client)
    assert ET.tostring(first) == ET.tostring(again)
    assert db.session.scalar(select(func.count()).select_from(Call)) == 1


def test_simultaneous_replays_make_one_call(app):
    threads_n = 12
    results, failures = [], []
    barrier = threading.Barrier(threads_n)

    def worker():
        own = app.test_client()
        barrier.wait()
        try:
            response = signed_post(own, "/hotline/voice", call_params(CallStatus="ringing"))
            results.append((response.status_code, tags(ET.fromstring(response.data))))
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(repr(error))

    db.session.commit()
    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    assert results == [(200, ["Gather", "Redirect"])] * threads_n
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Call).where(Call.sid == SID)) == 1


# --- the language menu -------------------------------------------------------------------


@pytest.mark.parametrize("digit, lang, voice", [("1", "nl", "nl-BE"), ("2", "fr", "fr-BE"), ("3", "en", "en-GB")])
def test_each_language_hears_the_emergency_numbers_and_rings_the_operators_on_duty(client, digit, lang, voice):
    first = on_duty_operator(OPERATOR_PHONES[0], language="nl")
    second = on_duty_operator(OPERATOR_PHONES[1], language="fr")
    off_duty = make.user("operator", phone="+32470000003")
    make.user("shelter_staff", phone="+32470000004")  # not an operator
    gone = on_duty_operator("+32470000005")
    gone.active = False
    db.session.commit()

    root = menu_to(client, digit)
    assert tags(root) == ["Say", "Say", "Dial"]
    emergency, connecting, dial = root
    assert emergency.get("language") == connecting.get("language") == voice
    assert emergency.text == texts.text(lang, "emergency")
    assert "112" in emergency.text and "101" in emergency.text
    assert connecting.text == texts.text(lang, "connecting")

    assert dial.get("callerId") == HOTLINE
    assert dial.get("timeout") == "20"
    assert dial.get("action") == f"{PUBLIC_URL}/hotline/voice/dial-result?lang={lang}"
    assert tags(dial) == ["Number", "Number"]
    assert [number.text for number in dial] == [first.phone, second.phone]
    assert off_duty.phone not in [number.text for number in dial]
    for number in dial:
        assert number.get("url") == f"{PUBLIC_URL}/hotline/voice/whisper?lang={lang}&call={SID}"
        assert number.get("method") == "POST"

    call = the_call()
    assert call.language == lang
    assert call.menu_choices == [digit]


def test_nothing_pressed_goes_on_in_dutch(client):
    on_duty_operator(OPERATOR_PHONES[0])
    root = menu_to(client, None)
    assert tags(root) == ["Say", "Say", "Dial"]
    assert {say.get("language") for say in root.findall("Say")} == {"nl-BE"}
    assert root.find("Dial").get("action").endswith("?lang=nl")
    call = the_call()
    assert call.language == "nl"
    assert call.menu_choices == ["none"]


def test_an_unknown_key_repeats_the_menu_once_then_goes_on_in_dutch(client):
    on_duty_operator(OPERATOR_PHONES[0])
    root = incoming(client)
    again = press(client, root.find("Gather").get("action"), "9")
    assert tags(again) == ["Gather", "Redirect"]
    gather = again.find("Gather")
    assert gather.get("numDigits") == "1"
    assert [say.get("language") for say in gather] == ["nl-BE", "fr-BE", "en-GB"]
    assert gather.get("action") == PUBLIC_URL + "/hotline/voice/menu?attempt=2"
    assert the_call().language is None

    dutch = press(client, gather.get("action"), "7")
    assert tags(dutch) == ["Say", "Say", "Dial"]
    assert dutch.find("Say").get("language") == "nl-BE"
    call = the_call()
    assert call.language == "nl"
    assert call.menu_choices == ["9", "7"]


def test_an_unknown_key_then_a_language_takes_that_language(client):
    root = incoming(client)
    again = press(client, root.find("Gather").get("action"), "*")
    english = press(client, again.find("Gather").get("action"), "3")
    assert english.find("Say").get("language") == "en-GB"
    assert the_call().language == "en"


def test_with_nobody_on_duty_the_caller_goes_straight_to_the_voicemail(client):
    make.user("operator", phone=OPERATOR_PHONES[0])  # not on duty
    root = menu_to(client, "2")
    assert tags(root) == ["Say", "Say", "Record", "Redirect"]
    emergency, voicemail, record, redirect = root
    assert emergency.text == texts.text("fr", "emergency")
    assert voicemail.text == texts.text("fr", "voicemail")
    assert voicemail.get("language") == "fr-BE"
    assert record.get("maxLength") == "120"
    assert record.get("action") == PUBLIC_URL + "/hotline/voice/recorded?lang=fr"
    assert record.get("recordingStatusCallback") == PUBLIC_URL + "/hotline/voice/status"
    assert redirect.text == PUBLIC_URL + "/hotline/voice/recorded?lang=fr"
    assert root.find("Dial") is None


def test_the_dial_shows_the_number_called_when_no_hotline_number_is_configured(app, client):
    on_duty_operator(OPERATOR_PHONES[0])
    app.config["TWILIO_FROM_NUMBER"] = None
    dial = menu_to(client, "1").find("Dial")
    assert dial.get("callerId") == HOTLINE != CALLER
    # With no number at all to show, the operators are not dialled with the caller's.
    root = press(client, incoming(client, "CA" + "2" * 32).find("Gather").get("action"), "1",
                 sid="CA" + "2" * 32, To="")
    assert root.find("Dial") is None and root.find("Record") is not None


# --- the operator's whisper ------------------------------------------------------------


def whisper_params(to, **extra):
    return {"CallSid": "CA" + "7" * 32, "ParentCallSid": SID, "From": HOTLINE, "To": to, "Direction": "outbound-dial",
            **extra}


def test_the_whisper_asks_the_operator_in_their_language_to_press_1(client):
    operator = on_duty_operator(OPERATOR_PHONES[0], language="nl")
    dial = menu_to(client, "2").find("Dial")
    url = dial.find("Number").get("url")
    root = twiml(signed_post(client, path_of(url), whisper_params(operator.phone)))
    assert tags(root) == ["Gather", "Hangup"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC_URL}/hotline/voice/whisper/accept?lang=fr&call={SID}"
    [say] = gather
    assert say.get("language") == "nl-BE"
    assert say.text == texts.text("nl", "whisper", language="Frans")


def test_the_whisper_hangs_up_on_a_phone_that_is_no_operator_on_duty(client):
    on_duty_operator(OPERATOR_PHONES[0])
    url = menu_to(client, "1").find("Dial").find("Number").get("url")
    root = twiml(signed_post(client, path_of(url), whisper_params("+32470999999")))
    assert tags(root) == ["Hangup"]


def accept_url(client, digit="1") -> str:
    url = menu_to(client, digit).find("Dial").find("Number").get("url")
    operator_phone = OPERATOR_PHONES[0]
    root = twiml(signed_post(client, path_of(url), whisper_params(operator_phone)))
    return root.find("Gather").get("action")


def test_pressing_1_connects_the_operator_and_records_who_took_the_call(client, clock):
    operator = on_duty_operator(OPERATOR_PHONES[0])
    url = accept_url(client)
    clock.advance(seconds=30)
    root = twiml(signed_post(client, path_of(url), whisper_params(operator.phone, Digits="1")))
    assert tags(root) == []  # the whisper ends: the two are connected
    call = the_call()
    assert call.operator_id == operator.id
    assert call.answered_at == START + timedelta(seconds=30)
    assert call.status == "in-progress"


@pytest.mark.parametrize("digits", ["2", "", "*"])
def test_another_key_or_none_hangs_up_the_operators_leg(client, digits):
    operator = on_duty_operator(OPERATOR_PHONES[0])
    url = accept_url(client)
    root = twiml(signed_post(client, path_of(url), whisper_params(operator.phone, Digits=digits)))
    assert tags(root) == ["Hangup"]
    call = the_call()
    assert call.operator_id is None and call.answered_at is None and call.status == "ringing"


def test_a_second_operator_cannot_take_a_call_already_taken(client):
    first = on_duty_operator(OPERATOR_PHONES[0])
    second = on_duty_operator(OPERATOR_PHONES[1], language="fr")
    url = accept_url(client)
    twiml(signed_post(client, path_of(url), whisper_params(first.phone, Digits="1")))
    root = twiml(signed_post(client, path_of(url), whisper_params(second.phone, Digits="1")))
    assert tags(root) == ["Say", "Hangup"]
    assert root.find("Say").get("language") == "fr-BE"
    assert the_call().operator_id == first.id


def test_an_operator_who_went_off_duty_cannot_accept(client):
    operator = on_duty_operator(OPERATOR_PHONES[0])
    url = accept_url(client)
    calls.set_on_duty(Actor(user=operator, source="web"), operator, False, START)
    db.session.commit()
    root = twiml(signed_post(client, path_of(url), whisper_params(operator.phone, Digits="1")))
    assert tags(root) == ["Hangup"]
    assert the_call().operator_id is None


# --- after the dial ------------------------------------------------------------------------


def test_an_answered_call_is_thanked(client):
    operator = on_duty_operator(OPERATOR_PHONES[0])
    dial = menu_to(client, "3").find("Dial")
    url = twiml(signed_post(client, path_of(dial.find("Number").get("url")), whisper_params(operator.phone)))
    twiml(signed_post(client, path_of(url.find("Gather").get("action")), whisper_params(operator.phone, Digits="1")))
    root = press(client, dial.get("action"), None, DialCallStatus="completed", DialCallDuration="300")
    assert tags(root) == ["Say", "Hangup"]
    assert root.find("Say").get("language") == "en-GB"
    assert root.find("Say").text == texts.text("en", "thanks")


@pytest.mark.parametrize("dial_status", ["no-answer", "busy", "failed", "canceled", "completed"])
def test_an_unanswered_call_goes_to_the_voicemail(client, dial_status):
    # "completed" without an operator pressing 1: a personal voicemail picked up.
    on_duty_operator(OPERATOR_PHONES[0])
    dial = menu_to(client, "2").find("Dial")
    root = press(client, dial.get("action"), None, DialCallStatus=dial_status)
    assert tags(root) == ["Say", "Record", "Redirect"]
    assert root.find("Say").text == texts.text("fr", "voicemail")
    record = root.find("Record")
    assert record.get("action") == PUBLIC_URL + "/hotline/voice/recorded?lang=fr"
    assert record.get("recordingStatusCallback") == PUBLIC_URL + "/hotline/voice/status"
    assert int(record.get("maxLength")) <= 120


def voicemail_left(client, lang_digit="1", **recording) -> ET.Element:
    root = menu_to(client, lang_digit)
    return press(client, root.find("Record").get("action"), None, **recording)


def test_after_the_voicemail_the_caller_is_offered_a_call_back_by_keypress(client):
    root = voicemail_left(client, "3", RecordingUrl=f"https://api.twilio.com/2010-04-01/Recordings/{RECORDING}",
                          RecordingDuration="17")
    assert tags(root) == ["Gather", "Say", "Hangup"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == PUBLIC_URL + "/hotline/voice/callback?lang=en"
    call = the_call()
    # The offer says which number a call-back will show (the hotline's, here).
    shown = callbacks.caller_id(client.application.config, call)
    assert shown == phones.normalise(client.application.config.get("TWILIO_FROM_NUMBER") or HOTLINE)
    assert [(say.get("language"), say.text) for say in gather] == [
        ("en-GB", texts.text("en", "callback_offer")),
        ("en-GB", texts.text("en", "callback_from", number=phones.spoken(shown))),
    ]
    # Nothing pressed is no consent.
    assert root.find("Say").text == texts.text("en", "callback_no")
    # The sid (from the link, as Twilio sent no RecordingSid) is kept; the link is not.
    assert call.recording_sid == RECORDING
    assert (call.voicemail_at, call.voicemail_status) == (START, "unheard")
    assert call.recording_duration_s == 17
    assert call.number_sealed is None


def test_consent_seals_the_number_for_a_call_back(client, clock):
    root = voicemail_left(client, "1")
    answer = press(client, root.find("Gather").get("action"), "1")
    assert tags(answer) == ["Say", "Hangup"]
    assert answer.find("Say").text == texts.text("nl", "callback_yes")

    call = the_call()
    assert call.callback_requested is True
    assert call.status == "voicemail"
    assert call.number_kept_for == "callback"
    assert call.number_erase_at == START + timedelta(days=30)
    assert phones.unseal(call.number_sealed, KEY) == CALLER
    # Sealed: not readable in any column of any table.
    assert CALLER_DIGITS not in database_text()
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "call.number_kept")).all()
    assert (event.object_type, event.object_id, event.actor_id) == ("calls", call.id, None)
    assert event.details["kept_for"] == "callback"
    assert event.details["number"] == MASKED

    # The caller hangs up: the call still waits for its call-back.
    twiml(signed_post(client, "/hotline/voice/status", call_params(CallStatus="completed", CallDuration="95")))
    call = the_call()
    assert call.status == "voicemail" and call.duration_s == 95 and call.ended_at == START
    assert [c.sid for c in calls.live(START)] == [SID]


@pytest.mark.parametrize("digits", ["2", "0", "#"])
def test_no_consent_seals_nothing(client, digits):
    root = voicemail_left(client, "2")
    answer = press(client, root.find("Gather").get("action"), digits)
    assert tags(answer) == ["Say", "Hangup"]
    assert answer.find("Say").text == texts.text("fr", "callback_no")
    call = the_call()
    assert call.number_sealed is None and call.number_kept_for is None and call.number_erase_at is None
    assert call.callback_requested is False
    assert call.status == "ringing"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "call.number_kept")) == 0


def test_a_withheld_caller_is_told_we_cannot_call_back(client):
    root = twiml(signed_post(client, "/hotline/voice", call_params(From="anonymous")))
    menu = press(client, root.find("Gather").get("action"), "3", From="anonymous")
    after = press(client, menu.find("Record").get("action"), None, From="anonymous")
    assert tags(after) == ["Say", "Hangup"]
    assert after.find("Say").text == texts.text("en", "callback_withheld")
    # Even a "1" sent anyway keeps nothing.
    answer = press(client, PUBLIC_URL + "/hotline/voice/callback?lang=en", "1", From="anonymous")
    assert answer.find("Say").text == texts.text("en", "callback_withheld")
    assert the_call().number_sealed is None


def test_consent_from_another_number_than_the_call_came_from_keeps_nothing(client):
    root = voicemail_left(client, "1")
    press(client, root.find("Gather").get("action"), "1", From="+32470999999")
    call = the_call()
    assert call.number_sealed is None and call.callback_requested is False


# --- status callbacks -----------------------------------------------------------------


def status(client, sid=SID, **params):
    return twiml(signed_post(client, "/hotline/voice/status", {"CallSid": sid, **params}))


def test_status_callbacks_follow_the_call(client, clock):
    incoming(client)
    status(client, CallStatus="in-progress")
    assert the_call().status == "in-progress"
    clock.advance(minutes=3)
    root = status(client, CallStatus="completed", CallDuration="180")
    assert tags(root) == []
    call = the_call()
    assert (call.status, call.duration_s, call.ended_at) == ("completed", 180, START + timedelta(minutes=3))
    # A late, out-of-order callback does not reopen the call.
    status(client, CallStatus="ringing")
    status(client, CallStatus="in-progress")
    assert the_call().status == "completed"


@pytest.mark.parametrize("final", ["no-answer", "busy", "failed", "canceled"])
def test_every_final_status_is_recorded(client, final):
    incoming(client)
    status(client, CallStatus=final, CallDuration="0")
    call = the_call()
    assert call.status == final and call.duration_s == 0 and call.ended_at == START


def test_the_recording_status_callback_keeps_the_recording(client):
    incoming(client)
    status(client, RecordingUrl=f"https://api.twilio.com/2010-04-01/Recordings/{RECORDING}",
           RecordingDuration="44", RecordingStatus="completed", RecordingSid=RECORDING)
    call = the_call()
    assert call.recording_sid == RECORDING and call.recording_duration_s == 44
    assert call.status == "ringing"
    other = "RE" + "b2" * 16
    status(client, RecordingUrl=f"https://api.twilio.com/2010-04-01/Recordings/{other}", RecordingSid=other,
           RecordingStatus="failed")
    assert the_call().recording_sid == RECORDING


def test_a_status_for_an_unknown_call_creates_nothing(client):
    root = status(client, sid="CA" + "5" * 32, CallStatus="completed", CallDuration="10")
    assert tags(root) == []
    assert db.session.scalar(select(func.count()).select_from(Call)) == 0


@pytest.mark.parametrize("params", [
    {"CallStatus": "completed", "CallDuration": "abc"},
    {"CallStatus": "exploded"},
    {"CallStatus": "completed", "CallDuration": "9" * 40},
    {"RecordingUrl": "javascript:alert(1)", "RecordingDuration": "-3"},
    {},
])
def test_odd_status_callbacks_are_answered_and_keep_nothing_odd(client, params):
    incoming(client)
    status(client, **params)
    call = the_call()
    assert call.duration_s is None and call.recording_sid is None and call.voicemail_at is None
    assert call.status in ("ringing", "completed")


def test_a_failure_inside_still_gives_the_caller_the_emergency_numbers(client, monkeypatch):
    from flask import has_request_context

    real_commit = Session.commit

    def failing_commit(self):
        if has_request_context():
            raise OperationalError("COMMIT", {}, Exception("the database is down"))
        return real_commit(self)

    monkeypatch.setattr(Session, "commit", failing_commit)
    root = incoming(client)
    monkeypatch.undo()
    assert tags(root) == ["Say", "Say", "Say", "Hangup"]
    assert [say.get("language") for say in root.findall("Say")] == ["nl-BE", "fr-BE", "en-GB"]
    assert all("112" in say.text for say in root.findall("Say"))
    assert db.session.scalar(select(func.count()).select_from(Call)) == 0


# --- privacy ---------------------------------------------------------------------------


def test_the_full_number_is_never_logged_answered_or_stored_in_clear(client, caplog):
    caplog.set_level(logging.DEBUG)
    operator = on_duty_operator(OPERATOR_PHONES[0])
    answers = []

    def keep(root):
        answers.append(ET.tostring(root, encoding="unicode"))
        return root

    root = keep(incoming(client))
    dial = keep(press(client, root.find("Gather").get("action"), "1")).find("Dial")
    assert dial.get("callerId") == HOTLINE
    whisper = keep(twiml(signed_post(client, path_of(dial.find("Number").get("url")), whisper_params(operator.phone))))
    keep(twiml(signed_post(client, path_of(whisper.find("Gather").get("action")), whisper_params(operator.phone,
                                                                                                Digits="2"))))
    voicemail = keep(press(client, dial.get("action"), None, DialCallStatus="no-answer"))
    offer = keep(press(client, voicemail.find("Record").get("action"), None))
    keep(press(client, offer.find("Gather").get("action"), "1"))
    keep(status(client, CallStatus="completed", CallDuration="60"))

    assert the_call().callback_requested is True
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert MASKED in logged
    assert CALLER_DIGITS not in logged
    assert CALLER_DIGITS not in caplog.text
    assert all(CALLER_DIGITS not in answer for answer in answers)
    assert CALLER_DIGITS not in database_text()


# --- for the operator console ----------------------------------------------------------------


def test_live_lists_ringing_in_progress_and_waiting_for_a_call_back(client, clock):
    operator = on_duty_operator(OPERATOR_PHONES[0])
    stale = "CA" + "1" * 31 + "0"
    incoming(client, stale)  # its last status callback never came
    clock.advance(hours=5)
    ringing, taken, waiting, done = ("CA" + str(n) * 32 for n in (2, 3, 4, 5))
    menus = {}
    for sid in (ringing, taken, waiting, done):
        clock.advance(minutes=1)
        menus[sid] = incoming(client, sid).find("Gather").get("action")
    dial = press(client, menus[taken], "1", sid=taken).find("Dial")
    whisper = twiml(signed_post(client, path_of(dial.find("Number").get("url")), whisper_params(operator.phone)))
    twiml(signed_post(client, path_of(whisper.find("Gather").get("action")),
                      whisper_params(operator.phone, Digits="1", ParentCallSid=taken)))
    assert the_call(taken).operator_id == operator.id
    press(client, PUBLIC_URL + "/hotline/voice/callback?lang=nl", "1", sid=waiting)
    status(client, sid=done, CallStatus="completed")
    status(client, sid=waiting, CallStatus="completed")

    # Ringing and unanswered contacts (the call-back nobody has made) lead the list.
    live = calls.live(clock.now())
    assert [call.sid for call in live] == [ringing, waiting, taken]
    assert [call.status for call in live] == ["ringing", "voicemail", "in-progress"]
    assert live[2].operator.id == operator.id


def test_earlier_contacts_are_found_by_the_keyed_hash(client, clock):
    first, second, other, hidden, hidden2 = ("CA" + str(n) * 32 for n in (1, 2, 3, 4, 5))
    incoming(client, first)
    clock.advance(days=2)
    incoming(client, second)
    twiml(signed_post(client, "/hotline/voice", call_params(other, From="+32470999999")))
    twiml(signed_post(client, "/hotline/voice", call_params(hidden, From="anonymous")))
    twiml(signed_post(client, "/hotline/voice", call_params(hidden2, From="anonymous")))
    assert [c.sid for c in calls.earlier_contacts(the_call(second))] == [first]
    assert [c.sid for c in calls.earlier_contacts(the_call(first))] == [second]
    assert calls.earlier_contacts(the_call(other)) == []
    assert calls.earlier_contacts(the_call(hidden)) == []


def test_going_on_duty_needs_a_phone(app):
    no_phone = make.user("operator")
    db.session.commit()
    with pytest.raises(InvalidInput) as error:
        calls.set_on_duty(Actor(user=no_phone, source="web"), no_phone, True, START)
    assert error.value.field == "phone"
    db.session.rollback()
    assert db.session.get(User, no_phone.id).on_duty is False


def test_duty_is_switched_by_the_operator_or_an_admin_and_audited(app):
    operator = make.user("operator", phone=OPERATOR_PHONES[0])
    colleague = make.user("operator", phone=OPERATOR_PHONES[1])
    admin = make.user("admin")
    staff = make.user("shelter_staff", phone="+32470000009")
    db.session.commit()
    with pytest.raises(Forbidden):
        calls.set_on_duty(Actor(user=colleague, source="web"), operator, True, START)
    with pytest.raises(InvalidInput):
        calls.set_on_duty(Actor(user=staff, source="web"), staff, True, START)
    assert operator.on_duty is False and staff.on_duty is False

    calls.set_on_duty(Actor(user=operator, source="web"), operator, True, START)
    calls.set_on_duty(Actor(user=admin, source="web"), operator, False, START)
    calls.set_on_duty(Actor(user=operator, source="web"), operator, True, START)
    db.session.commit()
    assert operator.on_duty is True
    assert [op.id for op in calls.on_duty_operators()] == [operator.id]
    actions = db.session.scalars(select(AuditEvent.action).where(
        AuditEvent.object_type == "users", AuditEvent.object_id == operator.id,
        AuditEvent.action.like("user.%_duty")).order_by(AuditEvent.id)).all()
    assert actions == ["user.on_duty", "user.off_duty", "user.on_duty"]


def test_signing_helper_matches_the_configuration(app):
    assert app.config["HOTLINE_PUBLIC_URL"] == PUBLIC_URL
    assert app.config["HOTLINE_SIGNING_TOKEN"] == TOKEN


def test_without_trusted_proxies_x_forwarded_for_is_ignored(client):
    # Anyone can send the header: by default (TRUSTED_PROXIES = 0) it cannot pick the limit's key.
    for forwarded_for in ("198.51.100.1", "198.51.100.2"):
        client.post("/hotline/voice", data=call_params(), environ_base={"REMOTE_ADDR": "203.0.113.9"},
                    headers={"X-Forwarded-For": forwarded_for})
    db.session.rollback()
    assert [(row.key, row.count) for row in db.session.scalars(select(RateCounter))] == [
        ("webhook-signature:203.0.113.9", 2)]


def test_a_call_counts_missed_once_its_ring_is_over_unanswered_and_a_menu_hang_up_apart(app):
    now = START
    rows = {
        "ringing": dict(rang_at=now - timedelta(seconds=5)),
        "missed_over": dict(rang_at=now - timedelta(seconds=calls.RING_SECONDS + 1)),
        "missed_ended": dict(rang_at=now - timedelta(seconds=5), ended_at=now),
        "answered": dict(rang_at=now - timedelta(seconds=60), answered_at=now - timedelta(seconds=50), ended_at=now),
        "menu": dict(ended_at=now),
        "voicemail_only": dict(voicemail_at=now, ended_at=now),
    }
    for sid, fields in rows.items():
        db.session.add(Call(sid=sid, channel="voice", caller_masked="+32 4•• •• •• 12", status="completed",
                            started_at=now - timedelta(minutes=2), updated_at=now, **fields))
    db.session.flush()

    def matching(criterion):
        return set(db.session.scalars(select(Call.sid).where(criterion)))

    assert matching(calls.missed(now)) == {"missed_over", "missed_ended"}
    assert matching(calls.menu_hangup()) == {"menu"}
    assert db.session.scalar(select(func.count()).select_from(Call)) == 6
    db.session.rollback()
