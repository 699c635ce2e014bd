"""Masked call-backs (issue 11, part 1): the API and the console start them,
the real `twilio` client asks the fake Twilio over HTTP to ring the
operator, and the two legs are played through the signed webhooks as Twilio
plays them. The caller's number may appear in one place only: the TwiML
answering the operator's key."""

import logging
import threading
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from app.extensions import db
from app.models import AuditEvent, Call, CallbackAttempt
from app.services.core.access import Actor
from app.services.hotline import callbacks
from app.texts import voice as texts
from app.web import simulator, simulator_transport, simulator_twiml
from tests import factories as make
from tests.api import assert_documented, call
from tests.conftest import START
from tests.fake_twilio import FakeTwilio
from tests.twilio_signing import PUBLIC_URL, signature

HOTLINE = "+3220000000"
CALLER_ID = "+3220000099"  # CALLBACK_CALLER_ID: what the call-back shows
CALLER = "+32470123412"
CALLER_DIGITS = "470123412"  # the caller's number without its country code: never to be seen
OTHER = "+32470999988"
OPERATOR_PHONE = "+32470000001"
SID = "CA00000000000000000000000000000001"
LEG = "CA" + "e" * 32  # the operator's leg, when Twilio is not asked (the simulator)
CHILD = "CA" + "f" * 32  # the caller's leg, dialled from the operator's


@pytest.fixture
def app_config(twilio_server):
    return {**twilio_server.config(from_number=HOTLINE), "CALLBACK_CALLER_ID": CALLER_ID}


@pytest.fixture
def operator():
    user = make.user("operator", phone=OPERATOR_PHONE, language="en")
    db.session.commit()
    return user


@pytest.fixture
def token(operator):
    value = make.token_for(operator)
    db.session.commit()
    return value


# --- helpers --------------------------------------------------------------------------


def signed_post(client, path: str, params: dict):
    """As Twilio posts a webhook: signed with the account's auth token (Twilio is configured)."""
    return client.post(path, data=params,
                       headers={"X-Twilio-Signature": signature(path, params, token=FakeTwilio.auth_token)})


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    return ET.fromstring(response.data)


def path_of(url: str) -> str:
    """A webhook URL from the TwiML or the Calls API: under the public URL,
    with the attempt's id only in its query, never a number."""
    assert url.startswith(PUBLIC_URL + "/hotline/callback/"), url
    assert CALLER_DIGITS not in url
    path = url[len(PUBLIC_URL):]
    assert path.split("?")[1].startswith("attempt=") and path.split("?")[1][8:].isdigit(), path
    return path


def waiting_call(client, *, safe_to_call_back=True, safe_to_leave_message=None) -> Call:
    """A voice call whose caller pressed 1 for a call-back in the menu."""
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": SID, "From": CALLER, "To": HOTLINE}
    twiml(signed_post(client, "/hotline/voice", {**params, "CallStatus": "ringing"}))
    twiml(signed_post(client, "/hotline/voice/callback?lang=nl", {**params, "CallStatus": "in-progress",
                                                                   "Digits": "1"}))
    contact = the_call()
    contact.safe_to_call_back = safe_to_call_back
    contact.safe_to_leave_message = safe_to_leave_message
    db.session.commit()
    return contact


def the_call(sid=SID) -> Call:
    db.session.rollback()
    return db.session.scalar(select(Call).where(Call.sid == sid))


def attempts() -> list[CallbackAttempt]:
    db.session.rollback()
    return list(db.session.scalars(select(CallbackAttempt).order_by(CallbackAttempt.id)))


def written() -> tuple:
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(CallbackAttempt)),
            db.session.scalar(select(func.count()).select_from(AuditEvent)),
            [tuple(row) for row in db.session.execute(select(Call.__table__).order_by(Call.id))])


def start(client, token, contact, **body):
    return call(client, "POST", f"/api/v1/calls/{contact.id}/callback", token, json=body)


def operator_leg(attempt_id: int, leg=LEG, **extra) -> dict:
    return {"AccountSid": "AC" + "0" * 32, "CallSid": leg, "From": CALLER_ID, "To": OPERATOR_PHONE,
            "Direction": "outbound-api", "CallStatus": "in-progress", **extra}


def caller_leg(leg=LEG, **extra) -> dict:
    return {"AccountSid": "AC" + "0" * 32, "CallSid": CHILD, "ParentCallSid": leg, "From": CALLER_ID,
            "To": CALLER, "Direction": "outbound-dial", "CallStatus": "in-progress", **extra}


def said(root: ET.Element) -> list[str]:
    return [say.text for say in root.iter("Say")]


class Walk:
    """The two legs of attempt `attempt_id` as Twilio plays them; every URL
    followed comes from the TwiML or the Calls API request."""

    def __init__(self, client, attempt_id: int, whisper_url: str, leg: str = LEG):
        self.client, self.attempt_id, self.leg = client, attempt_id, leg
        self.urls = [whisper_url]
        self.twimls: list[str] = []

    def post(self, url: str, params: dict) -> ET.Element:
        self.urls.append(url)
        response = signed_post(self.client, path_of(url), params)
        self.twimls.append(response.get_data(as_text=True))
        return twiml(response)

    def whisper(self) -> ET.Element:
        return self.post(self.urls[0], operator_leg(self.attempt_id, self.leg))

    def press(self, whisper: ET.Element, digits: str = "1") -> ET.Element:
        return self.post(whisper.find("Gather").get("action"), operator_leg(self.attempt_id, self.leg, Digits=digits))

    def answered(self, accept: ET.Element, answered_by: str | None = None) -> ET.Element:
        number = accept.find("Dial").find("Number")
        params = caller_leg(self.leg, **({"AnsweredBy": answered_by} if answered_by else {}))
        return self.post(number.get("url"), params)

    def dial_ended(self, accept: ET.Element, status: str) -> ET.Element:
        return self.post(accept.find("Dial").get("action"),
                         operator_leg(self.attempt_id, self.leg, DialCallStatus=status, DialCallSid=CHILD))

    def operator_hangs_up(self, status: str = "completed") -> ET.Element:
        return self.post(f"{PUBLIC_URL}{callbacks.STATUS_PATH}?attempt={self.attempt_id}",
                         operator_leg(self.attempt_id, self.leg, CallStatus=status))


def started_walk(client, token, contact, twilio, **body) -> tuple[Walk, dict]:
    response = start(client, token, contact, **body)
    assert response.status_code == 202, response.get_json()
    answer = assert_documented(response, "/api/v1/calls/{call_id}/callback", "post")
    created = twilio.calls_created[-1]
    attempt = db.session.get(CallbackAttempt, answer["id"])
    return Walk(client, answer["id"], created.form["Url"], leg=attempt.operator_leg_sid), answer


# --- the call-back, end to end ------------------------------------------------------------


def test_a_call_back_rings_the_operator_then_the_caller_and_the_number_is_only_in_the_dial(
        app, client, operator, token, twilio, clock, caplog):
    caplog.set_level(logging.DEBUG)
    contact = waiting_call(client)
    engine, contact_id = db.engine, contact.id
    seen_by_twilio = []

    def read_from_twilios_side(request):
        with engine.connect() as connection:
            seen_by_twilio.append(connection.execute(
                select(CallbackAttempt.status).where(CallbackAttempt.call_id == contact_id)).all())

    # When Twilio is asked to ring the operator, the attempt is already committed.
    twilio.on_call_created = read_from_twilios_side

    walk, answer = started_walk(client, token, contact, twilio)
    assert answer["status"] == "calling_operator" and answer["result"] is None
    assert seen_by_twilio == [[("calling_operator",)]]
    [created] = twilio.calls_created
    # The operator's leg: their own phone, showing the configured caller ID.
    assert created.form["To"] == OPERATOR_PHONE and created.form["From"] == CALLER_ID
    assert path_of(created.form["Url"]) == f"{callbacks.WHISPER_PATH}?attempt={answer['id']}"
    assert path_of(created.form["StatusCallback"]) == f"{callbacks.STATUS_PATH}?attempt={answer['id']}"

    whisper = walk.whisper()
    # Bare: what a personal voicemail may keep says nothing about the hotline or the caller.
    assert said(whisper) == [f"Call-back, contact {contact.id}. Press 1."]
    assert whisper.find("Gather").get("numDigits") == "1"
    assert [child.tag for child in whisper] == ["Gather", "Hangup"]

    accept = walk.press(whisper)
    # No message may be left (unknown): the operator is warned, machine detection is on.
    assert said(accept) == [texts.text("en", "callback_no_message")]
    dial = accept.find("Dial")
    assert dial.get("callerId") == CALLER_ID
    number = dial.find("Number")
    assert number.text == CALLER
    assert number.get("machineDetection") == "Enable" and number.get("machineDetectionTimeout") == "5"
    assert attempts()[0].status == "calling_caller"

    assert list(walk.answered(accept, "human")) == []  # nothing said to the caller: connected
    assert attempts()[0].status == "in_progress"
    clock.advance(minutes=4)
    ended = walk.dial_ended(accept, "completed")
    assert said(ended) == ["The call-back has ended."]
    walk.operator_hangs_up()
    walk.operator_hangs_up()  # Twilio repeats a status callback: nothing changes
    [attempt] = attempts()
    assert (attempt.status, attempt.result, attempt.answered_by) == ("ended", "answered", "human")
    assert attempt.ended_at == START + timedelta(minutes=4)

    listed = call(client, "GET", f"/api/v1/calls/{contact.id}/callbacks", token)
    [shown] = assert_documented(listed, "/api/v1/calls/{call_id}/callbacks")
    assert (shown["result"], shown["operator"]) == ("answered", operator.name)

    # The number is in the TwiML that answered the key, and nowhere else.
    assert [CALLER_DIGITS in text for text in walk.twimls] == [False, True, False, False, False, False]
    for request in twilio.requests:
        assert CALLER_DIGITS not in request.path + repr(request.form)
    for url in walk.urls:
        assert CALLER_DIGITS not in url
    assert CALLER_DIGITS not in caplog.text
    assert CALLER_DIGITS not in listed.get_data(as_text=True) + json_answers(client, token, contact)
    make.login(client, operator)
    page = client.get(f"/console/calls/{contact.id}").get_data(as_text=True)
    assert "Answered" in page and CALLER_DIGITS not in page


def json_answers(client, token, contact) -> str:
    return "".join(call(client, "GET", path, token).get_data(as_text=True)
                   for path in ("/api/v1/calls", f"/api/v1/calls/{contact.id}/callbacks"))


def test_with_a_message_allowed_there_is_no_machine_detection(client, token, twilio):
    contact = waiting_call(client, safe_to_leave_message=True)
    walk, _ = started_walk(client, token, contact, twilio)
    accept = walk.press(walk.whisper())
    assert said(accept) == []
    number = accept.find("Dial").find("Number")
    assert number.get("machineDetection") is None and number.text == CALLER


def test_a_machine_is_hung_up_on_and_the_result_is_voicemail(client, token, twilio):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    accept = walk.press(walk.whisper())
    hung_up = walk.answered(accept, "machine_start")
    assert [child.tag for child in hung_up] == ["Hangup"] and said(hung_up) == []
    assert (attempts()[0].status, attempts()[0].result) == ("ended", "voicemail")
    # The dial then ends "completed" (the caller's leg answered): it stays voicemail, said to the operator.
    assert said(walk.dial_ended(accept, "completed")) == [texts.text("en", "callback_voicemail")]
    walk.operator_hangs_up()
    assert attempts()[0].result == "voicemail"


def test_an_unsure_answer_connects_the_operator_who_was_warned(client, operator, token, twilio):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    accept = walk.press(walk.whisper())
    assert "could not tell whether a person answered" in said(accept)[0]
    assert list(walk.answered(accept, "unknown")) == []
    assert (attempts()[0].status, attempts()[0].answered_by) == ("in_progress", "unknown")
    make.login(client, operator)
    assert "could not tell whether a person answered" in client.get(f"/console/calls/{contact.id}").get_data(
        as_text=True)


@pytest.mark.parametrize("pressed", [None, "2"])
def test_an_operator_who_does_not_press_1_ends_it_as_operator_no_answer(client, token, twilio, pressed):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    whisper = walk.whisper()
    if pressed:
        assert [child.tag for child in walk.press(whisper, pressed)] == ["Hangup"]
    walk.operator_hangs_up("completed")
    [attempt] = attempts()
    assert (attempt.status, attempt.result) == ("ended", "operator_no_answer")
    # Twilio asked nothing more: the caller was never dialled.
    assert all(CALLER_DIGITS not in text for text in walk.twimls)


def test_an_operator_phone_that_does_not_answer_ends_it_as_operator_no_answer(client, token, twilio):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    walk.operator_hangs_up("no-answer")
    assert attempts()[0].result == "operator_no_answer"


@pytest.mark.parametrize(("dial_status", "result"), [("no-answer", "no_answer"), ("busy", "busy"),
                                                      ("failed", "failed"), ("canceled", "no_answer")])
def test_the_caller_not_reached_ends_it_with_the_dials_result(client, token, twilio, dial_status, result):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    accept = walk.press(walk.whisper())
    assert said(walk.dial_ended(accept, dial_status)) == [texts.text("en", f"callback_{result}")]
    walk.dial_ended(accept, "completed")  # a repeat changes nothing
    assert attempts()[0].result == result


def test_the_operator_hanging_up_while_the_caller_rings_ends_it_as_no_answer(client, token, twilio):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    walk.press(walk.whisper())
    walk.operator_hangs_up()
    assert attempts()[0].result == "no_answer"


def test_a_key_repeated_by_twilio_dials_again_but_not_after_the_caller_answered(client, token, twilio):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    whisper = walk.whisper()
    first = walk.press(whisper)
    assert walk.press(whisper).find("Dial").find("Number").text == CALLER
    walk.answered(first, "human")
    assert [child.tag for child in walk.press(whisper)] == ["Hangup"]
    assert attempts()[0].status == "in_progress"


def test_a_number_erased_meanwhile_is_not_dialled(client, token, twilio, clock):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    whisper = walk.whisper()
    clock.advance(days=31)  # past CALLBACK_NUMBER_RETENTION_DAYS
    accept = walk.press(whisper)
    assert accept.find("Dial") is None and said(accept) == [texts.text("en", "callback_failed")]
    assert attempts()[0].result == "failed"


def test_a_webhook_for_another_operator_phone_or_leg_is_hung_up(client, token, twilio):
    contact = waiting_call(client)
    walk, answer = started_walk(client, token, contact, twilio)
    path = path_of(walk.urls[0])
    other_phone = twiml(signed_post(client, path, {**operator_leg(answer["id"], walk.leg), "To": OTHER}))
    other_leg = twiml(signed_post(client, path, operator_leg(answer["id"], "CA" + "1" * 32)))
    unknown = twiml(signed_post(client, f"{callbacks.WHISPER_PATH}?attempt=999999", operator_leg(999999)))
    assert [child.tag for child in other_phone] == [child.tag for child in other_leg] == ["Hangup"]
    assert [child.tag for child in unknown] == ["Hangup"]
    assert attempts()[0].status == "calling_operator"


# --- signatures ---------------------------------------------------------------------------

NEW_WEBHOOKS = [callbacks.WHISPER_PATH, callbacks.ACCEPT_PATH, callbacks.ANSWERED_PATH, callbacks.DIAL_RESULT_PATH,
                callbacks.STATUS_PATH]


@pytest.mark.parametrize("path", NEW_WEBHOOKS)
@pytest.mark.parametrize("signed", ["unsigned", "signed for another attempt"])
def test_a_webhook_without_a_valid_signature_is_refused_and_changes_nothing(client, token, twilio, path, signed):
    contact = waiting_call(client)
    walk, answer = started_walk(client, token, contact, twilio)
    walk.press(walk.whisper())
    params = {**caller_leg(walk.leg, AnsweredBy="machine_start"), **operator_leg(answer["id"], walk.leg),
              "Digits": "1", "DialCallStatus": "busy", "CallStatus": "completed"}
    target = f"{path}?attempt={answer['id']}"
    headers = {} if signed == "unsigned" else {
        "X-Twilio-Signature": signature(f"{path}?attempt=999", params, token=FakeTwilio.auth_token)}
    before = written()
    response = client.post(target, data=params, headers=headers)
    assert response.status_code == 403
    assert written() == before


# --- refusals -----------------------------------------------------------------------------


def refused(client, token, contact, code, **body):
    before = written()
    response = start(client, token, contact, **body)
    assert response.status_code == 409, response.get_json()
    assert_documented(response, "/api/v1/calls/{call_id}/callback", "post")
    assert response.get_json()["error"]["code"] == code
    assert written() == before
    return response


def test_no_call_back_without_a_number_kept_for_one(client, token, twilio):
    contact = waiting_call(client)
    contact.number_sealed = contact.number_kept_for = contact.number_erase_at = None
    db.session.commit()
    refused(client, token, contact, "no_consent")
    assert twilio.calls_created == []


def test_an_sms_conversations_number_is_never_called(client, token, twilio):
    contact = make.call(CALLER)
    contact.safe_to_call_back = True
    db.session.commit()
    assert contact.number_kept_for == "sms_conversation" and contact.number_sealed
    refused(client, token, contact, "no_consent")
    assert twilio.calls_created == []


def test_not_safe_to_call_back_is_refused(client, token, twilio):
    contact = waiting_call(client, safe_to_call_back=False)
    refused(client, token, contact, "not_safe_to_call_back", confirm_unknown=True)
    assert twilio.calls_created == []


def test_unknown_asks_for_an_explicit_confirmation(client, token, twilio):
    contact = waiting_call(client, safe_to_call_back=None)
    refused(client, token, contact, "confirm_unknown")
    refused(client, token, contact, "confirm_unknown", confirm_unknown=False)
    assert start(client, token, contact, confirm_unknown=True).status_code == 202
    assert attempts()[0].confirmed_unknown is True


def test_one_open_attempt_at_a_time(client, token, twilio):
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    refused(client, token, contact, "attempt_open")
    walk.operator_hangs_up("no-answer")
    assert start(client, token, contact).status_code == 202


def test_the_database_allows_one_open_attempt_per_contact(client, operator):
    contact = waiting_call(client)
    for _ in range(2):
        db.session.add(CallbackAttempt(call_id=contact.id, operator_id=operator.id, status="calling_operator",
                                       started_at=START))
    with pytest.raises(Exception) as raised:
        db.session.flush()
    assert "unique" in str(raised.value).lower()
    db.session.rollback()


def test_an_attempt_opened_between_the_check_and_the_insert_is_refused_by_the_database(
        client, operator, on_postgres):
    """The race the index is for: another operator's attempt is committed
    after this one's checks read none. On SQLite writers are serialised
    (BEGIN IMMEDIATE), so the checks alone see it; PostgreSQL runs them at once."""
    if not on_postgres:
        pytest.skip("SQLite serialises writers: the race needs PostgreSQL")
    contact = waiting_call(client)
    colleague = make.user("operator", phone=OTHER)
    db.session.commit()
    engine, contact_id, colleague_id = db.engine, contact.id, colleague.id

    def colleague_starts_first(session, flush_context, instances):
        with engine.begin() as connection:
            connection.execute(CallbackAttempt.__table__.insert().values(
                call_id=contact_id, operator_id=colleague_id, status="calling_operator", started_at=START,
                confirmed_unknown=False))

    event.listen(db.session(), "before_flush", colleague_starts_first, once=True)
    with pytest.raises(callbacks.CallbackRefused) as refused_:
        callbacks.start_callback(Actor(user=operator, source="api"), contact, START, confirm_unknown=False,
                                 daily_limit=3)
    assert refused_.value.code == "attempt_open"
    db.session.rollback()
    assert [a.operator_id for a in attempts()] == [colleague_id]


def test_an_attempt_open_past_twilios_longest_call_lost_its_callbacks_and_blocks_no_more(client, token, twilio,
                                                                                         clock):
    contact = waiting_call(client)
    started_walk(client, token, contact, twilio)
    clock.advance(hours=4, seconds=1)
    assert start(client, token, contact).status_code == 202
    assert [(a.status, a.result) for a in attempts()] == [("ended", "failed"), ("calling_operator", None)]


def test_past_the_daily_limit_is_refused_until_a_day_has_passed(app, client, token, twilio, clock):
    app.config["CALLBACK_DAILY_LIMIT"] = 2
    contact = waiting_call(client)
    for _ in range(2):
        walk, _ = started_walk(client, token, contact, twilio)
        walk.operator_hangs_up("no-answer")
        clock.advance(hours=1)
    refused(client, token, contact, "too_many_attempts")
    clock.advance(hours=22, seconds=1)
    assert start(client, token, contact).status_code == 202


def test_sixteen_operators_pressing_call_back_at_once_start_one_attempt(app, client, twilio):
    contact = waiting_call(client)
    contact_id = contact.id
    tokens = []
    for n in range(16):
        user = make.user("operator", phone=f"+3247000{n:04d}")
        db.session.commit()
        tokens.append(make.token_for(user))
    db.session.commit()
    statuses, failures = [], []
    barrier = threading.Barrier(len(tokens))

    def press(token_):
        own_client = app.test_client()
        barrier.wait()
        try:
            response = call(own_client, "POST", f"/api/v1/calls/{contact_id}/callback", token_, json={})
            statuses.append((response.status_code, (response.get_json().get("error") or {}).get("code")))
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(repr(error))

    threads = [threading.Thread(target=press, args=(token_,)) for token_ in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures
    assert sorted(statuses, key=str) == [(202, None)] + [(409, "attempt_open")] * 15
    assert len([a for a in attempts() if a.ended_at is None]) == 1
    assert len(twilio.calls_created) == 1


def test_an_operator_without_a_phone_cannot_call_back(client, twilio):
    contact = waiting_call(client)
    user = make.user("operator")
    db.session.commit()
    token_ = make.token_for(user)
    db.session.commit()
    before = written()
    response = start(client, token_, contact)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "phone"
    assert written() == before


@pytest.mark.parametrize("body", [{"confirm_unknown": "yes"}, {"confirm_unknown": 1}])
def test_bad_input_is_a_400_that_writes_nothing(client, token, twilio, body):
    contact = waiting_call(client, safe_to_call_back=None)
    before = written()
    response = start(client, token, contact, **body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "confirm_unknown"
    assert written() == before
    assert call(client, "POST", f"/api/v1/calls/{contact.id}/callback", token, data="x").status_code == 400
    assert call(client, "POST", f"/api/v1/calls/{contact.id}/callback", token, json=[]).status_code == 400
    # No body at all is {"confirm_unknown": false}.
    assert call(client, "POST", f"/api/v1/calls/{contact.id}/callback", token).get_json()["error"]["code"] == \
        "confirm_unknown"
    assert call(client, "POST", "/api/v1/calls/999999/callback", token, json={}).status_code == 404
    assert call(client, "GET", "/api/v1/calls/999999/callbacks", token).status_code == 404


@pytest.mark.parametrize("roles", [("partner",), ("admin",), ("shelter_staff",)])
def test_only_operators_and_managers_call_back(client, twilio, roles):
    contact = waiting_call(client)
    user = make.user(*roles, phone=OTHER)
    db.session.commit()
    token_ = make.token_for(user)
    db.session.commit()
    before = written()
    for method, path in (("POST", "callback"), ("POST", "consent"), ("GET", "callbacks")):
        response = call(client, method, f"/api/v1/calls/{contact.id}/{path}", token_, json={"callback": True})
        assert response.status_code == 403, path
    assert written() == before


def test_a_manager_on_a_phone_calls_back(client, twilio):
    contact = waiting_call(client)
    manager = make.user("manager", phone=OTHER)
    db.session.commit()
    token_ = make.token_for(manager)
    db.session.commit()
    assert start(client, token_, contact).status_code == 202
    assert twilio.calls_created[0].form["To"] == OTHER


def test_twilio_refusing_to_ring_ends_the_attempt_failed_and_the_next_may_start(client, token, twilio):
    contact = waiting_call(client)
    twilio.answer_next(500)
    response = start(client, token, contact)
    assert response.status_code == 202
    answer = assert_documented(response, "/api/v1/calls/{call_id}/callback", "post")
    assert (answer["status"], answer["result"]) == ("ended", "failed")
    assert (attempts()[0].status, attempts()[0].result) == ("ended", "failed")
    assert start(client, token, contact).status_code == 202


def test_without_a_caller_id_the_operator_is_not_rung(app, client, token, twilio):
    contact = waiting_call(client)
    app.config["CALLBACK_CALLER_ID"] = None
    app.config["TWILIO_FROM_NUMBER"] = ""
    contact.called_number = None
    db.session.commit()
    # Without TWILIO_FROM_NUMBER Twilio is not configured: the attempt waits for the simulator.
    assert start(client, token, contact).status_code == 202
    assert twilio.calls_created == [] and attempts()[0].status == "calling_operator"


def test_the_caller_id_defaults_to_the_hotlines_number(app, client, token, twilio):
    app.config["CALLBACK_CALLER_ID"] = None
    contact = waiting_call(client)
    walk, _ = started_walk(client, token, contact, twilio)
    assert twilio.calls_created[0].form["From"] == HOTLINE
    assert walk.press(walk.whisper()).find("Dial").get("callerId") == HOTLINE


# --- consent given live ------------------------------------------------------------------


def live_call(client) -> Call:
    """A call an operator is talking to, without consent from the menu."""
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": SID, "From": CALLER, "To": HOTLINE, "CallStatus": "ringing"}
    twiml(signed_post(client, "/hotline/voice", params))
    return the_call()


def consent(client, token, contact, **body):
    return call(client, "POST", f"/api/v1/calls/{contact.id}/consent", token,
                json={"callback": True, "note": "agreed: after 18:00", **body})


def test_consent_given_live_reads_the_number_from_twilio_and_keeps_it_sealed(client, token, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    contact = live_call(client)
    twilio.call_numbers[SID] = CALLER
    response = consent(client, token, contact)
    assert response.status_code == 200, response.get_json()
    assert_documented(response, "/api/v1/calls/{call_id}/consent", "post")
    [read] = [r for r in twilio.requests if r.method == "GET"]
    assert read.path.endswith(f"/Calls/{SID}.json")
    contact = the_call()
    assert contact.number_kept_for == "callback" and contact.callback_requested
    assert CALLER_DIGITS not in contact.number_sealed
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "call.callback_consent"))
    assert event.details["note"] == "agreed: after 18:00" and event.details["given"] == "live"
    assert CALLER_DIGITS not in caplog.text + response.get_data(as_text=True)
    walk, _ = started_walk(client, token, contact, twilio, confirm_unknown=True)
    assert walk.press(walk.whisper()).find("Dial").find("Number").text == CALLER


def test_consent_for_another_number_than_the_callers_keeps_nothing(client, token, twilio):
    contact = live_call(client)
    twilio.call_numbers[SID] = OTHER
    before = written()
    response = consent(client, token, contact)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "number_mismatch"
    assert written() == before


def test_consent_on_an_sms_contact_is_refused(client, token, twilio):
    contact = make.call(CALLER)
    db.session.commit()
    before = written()
    response = consent(client, token, contact)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "sms_contact"
    assert written() == before and twilio.requests == []


def test_consent_on_a_withheld_number_is_refused(client, token, twilio):
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": SID, "From": "anonymous", "To": HOTLINE,
              "CallStatus": "ringing"}
    twiml(signed_post(client, "/hotline/voice", params))
    response = consent(client, token, the_call())
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "withheld"


@pytest.mark.parametrize("problem", ["unknown to twilio", "twilio down", "not configured"])
def test_consent_when_twilio_cannot_say_the_number_keeps_nothing(app, client, token, twilio, problem):
    contact = live_call(client)
    if problem == "twilio down":
        twilio.call_numbers[SID] = CALLER
        twilio.down = True
    elif problem == "not configured":
        app.config["TWILIO_ACCOUNT_SID"] = None
    before = written()
    response = consent(client, token, contact)
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"
    assert_documented(response, "/api/v1/calls/{call_id}/consent", "post")
    assert written() == before


@pytest.mark.parametrize("body", [{"callback": False}, {"note": "x" * 501}, {"note": 5}])
def test_consent_with_bad_input_is_a_400(client, token, twilio, body):
    contact = live_call(client)
    twilio.call_numbers[SID] = CALLER
    before = written()
    assert consent(client, token, contact, **body).status_code == 400
    assert written() == before


# --- the console -------------------------------------------------------------------------


def page(client, contact) -> str:
    return client.get(f"/console/calls/{contact.id}").get_data(as_text=True)


def test_the_call_back_button_shows_only_when_allowed(client, operator, twilio):
    make.login(client, operator)
    contact = waiting_call(client, safe_to_call_back=False)
    html = page(client, contact)
    assert 'id="call-back"' not in html and "marked not safe to call back" in html
    assert 'data-flag="safe_to_call_back" data-value="no"' in html
    contact.safe_to_call_back = None
    db.session.commit()
    html = page(client, contact)
    assert 'id="call-back"' in html and 'name="confirm_unknown"' in html
    contact.safe_to_call_back = True
    db.session.commit()
    html = page(client, contact)
    assert 'id="call-back"' in html and 'name="confirm_unknown"' not in html
    assert CALLER_DIGITS not in html


def test_the_console_calls_back_and_says_refusals(client, operator, twilio):
    make.login(client, operator)
    contact = waiting_call(client, safe_to_call_back=None)
    htmx = {"HX-Request": "true"}
    response = client.post(f"/console/calls/{contact.id}/callback", headers=htmx)
    assert response.status_code == 409
    assert "tick the confirmation" in response.get_data(as_text=True) and attempts() == []
    response = client.post(f"/console/calls/{contact.id}/callback", data={"confirm_unknown": "1"}, headers=htmx)
    assert response.status_code == 202
    html = response.get_data(as_text=True)
    assert "Your phone rings" in html and "Ringing the operator" in html and CALLER_DIGITS not in html
    assert twilio.calls_created[0].form["To"] == OPERATOR_PHONE
    response = client.post(f"/console/calls/{contact.id}/callback", data={"confirm_unknown": "1"}, headers=htmx)
    assert response.status_code == 409 and "under way" in response.get_data(as_text=True)


def test_the_console_records_consent_given_live(client, operator, twilio):
    make.login(client, operator)
    contact = live_call(client)
    assert "Record consent given live" in page(client, contact)
    twilio.call_numbers[SID] = OTHER
    response = client.post(f"/console/calls/{contact.id}/consent", data={"note": "yes"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 409 and "is not the caller" in response.get_data(as_text=True)
    twilio.down = True
    response = client.post(f"/console/calls/{contact.id}/consent", data={"note": "yes"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Twilio could not be asked" in response.get_data(as_text=True)
    twilio.down = False
    twilio.call_numbers[SID] = CALLER
    response = client.post(f"/console/calls/{contact.id}/consent", data={"note": "yes"})
    assert response.status_code == 302
    html = page(client, contact)
    assert "Consent recorded" in html and 'id="call-back"' in html and CALLER_DIGITS not in html


def test_an_sms_contact_has_no_call_back(client, operator, twilio):
    make.login(client, operator)
    contact = make.call(CALLER)
    contact.safe_to_call_back = True
    db.session.commit()
    html = page(client, contact)
    assert 'id="call-back"' not in html and "never called back" in html
    assert "Record consent given live" not in html


# --- the simulator --------------------------------------------------------------------------


@pytest.mark.parametrize(("answer", "result"), [("human", "answered"), ("unknown", "answered"),
                                                 ("machine_start", "voicemail"), ("no-answer", "no_answer"),
                                                 ("busy", "busy")])
def test_the_simulator_plays_both_legs_and_never_prints_the_number(app, client, token, twilio, answer, result):
    contact = waiting_call(client)
    assert start(client, token, contact).status_code == 202
    walk = simulator.simulate_callback(simulator_transport.InProcess(app), contact.id, answer=answer)
    text = "\n".join(simulator_twiml.transcript(walk))
    assert "Call-back, contact" in text and "Dial → +32 4•• •• •• 12" in text
    assert CALLER_DIGITS not in text
    assert (attempts()[0].status, attempts()[0].result) == ("ended", result)


def test_the_simulator_operator_who_ignores_it(app, client, token, twilio):
    contact = waiting_call(client)
    assert start(client, token, contact).status_code == 202
    simulator.simulate_callback(simulator_transport.InProcess(app), contact.id, operator_presses=False)
    assert attempts()[0].result == "operator_no_answer"


def test_the_simulator_command_without_twilio(app, client, operator, runner, twilio):
    app.config["TWILIO_ACCOUNT_SID"] = None  # make run: nothing rings, the simulator plays it
    contact = waiting_call(client)
    make.login(client, operator)
    response = client.post(f"/console/calls/{contact.id}/callback", headers={"HX-Request": "true"})
    assert response.status_code == 202
    assert f"simulate callback {contact.id}" in response.get_data(as_text=True) and twilio.requests == []
    result = runner.invoke(args=["hotline", "simulate", "callback", str(contact.id), "--in-process"])
    assert result.exit_code == 0, result.output
    assert "Press 1" in result.output and CALLER_DIGITS not in result.output
    assert attempts()[0].result == "answered"
    again = runner.invoke(args=["hotline", "simulate", "callback", str(contact.id), "--in-process"])
    assert again.exit_code != 0 and "no call-back under way" in again.output
