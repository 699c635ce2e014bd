"""The operator console, driven as people and Twilio drive it: contacts come
in through signed webhooks, operators sign in and click; replies go out
through the real twilio client to a fake Twilio on loopback. Every page,
fragment, CSV and API answer is searched for the caller's full number."""

import csv
import io
import json
import logging
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Call, Hold, OutboxMessage, PlacementSearch, SmsMessage, TurnAway, User
from app.services.hotline import calls
from tests import factories as make
from tests.api import assert_documented
from tests.fake_twilio import FakeTwilio
from tests.twilio_signing import signature

HTMX = {"HX-Request": "true"}
HOTLINE = "+3220000000"
RECORDING = "RE" + "c3" * 16
CALLER = "+32470123456"
CALLER_DIGITS = "470123456"  # the national number: never in any answer or log line
SEEKER = "+32489765432"
SEEKER_DIGITS = "489765432"
MASKED = "+32 4•• •• •• 56"
SEEKER_MASKED = "+32 4•• •• •• 32"
_sids = iter(range(1, 10**6))


@pytest.fixture
def app_config(twilio_server):
    return twilio_server.config(from_number=HOTLINE)


# --- contacts, as Twilio makes them ---------------------------------------------


def signed_post(client, path: str, params: dict):
    """Signed as Twilio signs, with the account's auth token: once Twilio is
    configured (the fake), that is the app's signing token."""
    headers = {"X-Twilio-Signature": signature(path, params, token=FakeTwilio.auth_token)}
    response = client.post(path, data=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response


def new_sid(prefix="CA") -> str:
    return f"{prefix}{next(_sids):032d}"


def voice_call(client, number=CALLER, sid=None, digit="3") -> Call:
    """A call comes in (ringing) and the caller picks a language (3: English)."""
    sid = sid or new_sid()
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "From": number, "To": HOTLINE}
    signed_post(client, "/hotline/voice", {**params, "CallStatus": "ringing"})
    if digit:
        signed_post(client, "/hotline/voice/menu", {**params, "CallStatus": "in-progress", "Digits": digit})
    return the_call(sid)


def callback_consent(client, call: Call, number=CALLER) -> Call:
    """Nobody answered: the caller leaves a voicemail and presses 1 to be called back."""
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": call.sid, "From": number, "To": HOTLINE,
              "CallStatus": "in-progress"}
    signed_post(client, "/hotline/voice/recorded?lang=en",
                {**params, "RecordingUrl": f"https://api.twilio.com/rec/{RECORDING}", "RecordingSid": RECORDING,
                 "RecordingDuration": "14"})
    signed_post(client, "/hotline/voice/callback?lang=en", {**params, "Digits": "1"})
    signed_post(client, "/hotline/voice/status", {**params, "CallStatus": "completed", "CallDuration": "75"})
    return the_call(call.sid)


def sms(client, number=SEEKER, body="Ik heb hulp nodig") -> Call:
    sid = new_sid("SM")
    signed_post(client, "/hotline/sms", {"AccountSid": "AC" + "0" * 32, "From": number, "To": HOTLINE,
                                         "Body": body, "MessageSid": sid, "NumMedia": "0"})
    db.session.rollback()
    return db.session.scalar(select(Call).join(SmsMessage).where(SmsMessage.sid == sid))


def the_call(sid: str) -> Call:
    db.session.rollback()
    return db.session.scalar(select(Call).where(Call.sid == sid))


def count(model, *where) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def record_of(call_id: int) -> tuple:
    """What a save may change, to check that a refused one changed nothing."""
    db.session.rollback()
    call = db.session.get(Call, call_id)
    return (call.needs, call.safe_to_call_back, call.safe_to_leave_message, call.notes, call.outcome,
            call.operator_id, call.status, call.updated_at)


def html_of(response) -> str:
    return response.get_data(as_text=True)


def live_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr class="contact[^"]*" data-call="(\d+)"', html)]


def row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-call="(\d+)"', html)]


@pytest.fixture
def people(app):
    shelter = make.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (8, 3)})
    users = {
        "operator": make.user("operator", phone="+32470000001", name="Olga Operator"),
        "colleague": make.user("operator", phone="+32470000002", name="Carl Colleague"),
        "manager": make.user("manager", regions=[make.region("antwerpen")], name="Mia Manager"),
        "admin": make.user("admin", name="Ada Admin"),
        "partner": make.user("partner"),
        "shelter_staff": make.user("shelter_staff", facilities_=[shelter]),
    }
    db.session.commit()
    return users


# --- permissions ----------------------------------------------------------------------

ROLES = ["anonymous", "operator", "manager", "admin", "partner", "shelter_staff"]
# (method, path, data, {who: status}); partners and shelter staff get 403 everywhere.
ROUTES = [
    ("GET", "/console/", None, {"operator": 200, "manager": 200, "admin": 200}),
    ("GET", "/console/live", None, {"operator": 200, "manager": 200, "admin": 200}),
    ("POST", "/console/duty", {"on": "0"}, {"operator": 200, "manager": 200, "admin": 200}),
    ("GET", "/console/calls/{call}", None, {"operator": 200, "manager": 200, "admin": 200}),
    ("GET", "/console/calls/{call}/conversation", None, {"operator": 200, "manager": 200, "admin": 200}),
    ("GET", "/console/log", None, {"operator": 200, "manager": 200, "admin": 200}),
    ("GET", "/console/log.csv", None, {"operator": 200, "manager": 200, "admin": 200}),
    ("GET", "/api/v1/calls", None, {"operator": 200, "manager": 200, "admin": 200}),
    # Working a call: operators and managers; admins see calls but do not work them.
    ("POST", "/console/calls/{call}", {"notes": "Bang", "outcome": "advice"}, {"operator": 200, "manager": 200}),
    ("POST", "/console/calls/{call}/take", {}, {"operator": 200, "manager": 200}),
    ("POST", "/console/calls/{call}/reply", {"body": "Ben je veilig?"}, {"operator": 201, "manager": 201}),
    ("POST", "/console/calls/{call}/turn-away", {"reason": "full"}, {"operator": 201, "manager": 201}),
]


def written() -> tuple:
    return (count(AuditEvent), count(OutboxMessage), count(SmsMessage), count(TurnAway), count(Call),
            count(User, User.on_duty.is_(True)))


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("method, template, data, allowed", ROUTES, ids=[f"{m} {t}" for m, t, _, _ in ROUTES])
def test_who_may_use_the_console(client, people, twilio, who, method, template, data, allowed):
    contact = sms(client)
    path = template.format(call=contact.id)
    if who != "anonymous":
        make.login(client, people[who])
    before, record = written(), record_of(contact.id)
    response = client.open(path, method=method, data=data, headers=HTMX)
    expected = allowed.get(who, 403)
    if who == "anonymous":
        expected = 401 if path.startswith("/api/") else 302
    assert response.status_code == expected, html_of(response)[:400]
    if who == "anonymous" and expected == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
    if response.status_code in (302, 401, 403):
        assert written() == before and record_of(contact.id) == record
    if response.status_code == 403:  # a clear refusal, saying why
        assert "needs the role" in html_of(response) or "only operators and managers" in html_of(response)


def test_the_console_is_in_the_menu_of_operators_and_managers_only(client, people):
    for who, shown in (("operator", True), ("manager", True), ("partner", False), ("shelter_staff", False)):
        make.login(client, people[who])
        assert ('href="/console/"' in html_of(client.get("/dashboard/"))) is shown, who
        client.post("/logout")


# --- on duty ----------------------------------------------------------------------


def test_an_operator_goes_on_and_off_duty(client, people):
    operator = people["operator"]
    make.login(client, operator)
    page = html_of(client.get("/console/"))
    assert "You are off duty" in page and "Nobody is on duty" in page
    on = client.post("/console/duty", data={"on": "1"}, headers=HTMX)
    assert on.status_code == 200 and "You are on duty" in html_of(on) and "Olga Operator" in html_of(on)
    assert db.session.get(User, operator.id).on_duty is True
    assert count(AuditEvent, AuditEvent.action == "user.on_duty", AuditEvent.object_id == operator.id) == 1
    off = client.post("/console/duty", data={"on": "0"}, headers=HTMX)
    assert off.status_code == 200 and "You are off duty" in html_of(off)
    db.session.rollback()
    assert db.session.get(User, operator.id).on_duty is False


def test_an_operator_without_a_phone_is_told_why_they_cannot_go_on_duty(client, people):
    phoneless = make.user("operator")
    db.session.commit()
    make.login(client, phoneless)
    before = written()
    response = client.post("/console/duty", data={"on": "1"}, headers=HTMX)
    assert response.status_code == 400
    assert "You need a phone number to go on duty" in html_of(response)
    assert html_of(response).lstrip().startswith('<section id="duty"')
    assert written() == before


@pytest.mark.parametrize("who, data", [("manager", {"on": "1"}), ("operator", {"on": "maybe"}), ("operator", {})])
def test_a_bad_duty_switch_is_refused_inline(client, people, who, data):
    make.login(client, people[who])
    before = written()
    response = client.post("/console/duty", data=data, headers=HTMX)
    assert response.status_code == 400 and 'class="error"' in html_of(response)
    assert written() == before


# --- the live list --------------------------------------------------------------------


def test_a_ringing_call_shows_live_with_its_masked_number_and_safety_flags(client, people, clock):
    call = voice_call(client, digit=None)
    make.login(client, people["operator"])
    clock.advance(seconds=42)
    response = client.get("/console/live", headers=HTMX)
    html = html_of(response)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="live"')
    assert 'hx-trigger="every 5s"' in html
    assert live_ids(html) == [call.id]
    assert MASKED in html and CALLER_DIGITS not in html
    assert "ringing 0:42" in html
    assert "Safe to call back:\n? unknown" in html and "Safe to leave a message:\n? unknown" in html
    assert "nobody yet" in html
    # The whole page carries the same list, and links to the call's page.
    page = html_of(client.get("/console/"))
    assert f'href="/console/calls/{call.id}"' in page and MASKED in page


def test_the_live_list_holds_calls_in_progress_callers_waiting_and_open_texts(client, people, clock, twilio):
    ringing = voice_call(client)
    waiting = callback_consent(client, voice_call(client, number="+32470111122"), number="+32470111122")
    ended = voice_call(client, number="+32470111133")
    signed_post(client, "/hotline/voice/status", {"CallSid": ended.sid, "From": "+32470111133", "To": HOTLINE,
                                                  "CallStatus": "no-answer"})
    text = sms(client)
    make.login(client, people["operator"])
    clock.advance(minutes=12)
    html = html_of(client.get("/console/live"))
    assert live_ids(html) == [ringing.id, waiting.id, text.id]
    assert html.count("waiting 12 min") == 2  # the call-back and the unanswered text
    # The refresh interval is configurable.
    assert "every 5s" in html


@pytest.mark.parametrize("app_config", [{"CONSOLE_REFRESH_SECONDS": 9}])
def test_the_refresh_interval_is_configured(client, people, app_config):
    make.login(client, people["operator"])
    assert 'hx-trigger="every 9s"' in html_of(client.get("/console/live"))


def test_an_answered_text_says_so_and_a_texting_seeker_stays_live_past_four_hours(client, people, clock, twilio):
    text = sms(client)
    make.login(client, people["operator"])
    client.post(f"/console/calls/{text.id}/reply", data={"body": "Ben je veilig?"}, headers=HTMX)
    clock.advance(minutes=5)
    assert "answered, 5 min ago" in html_of(client.get("/console/live"))
    for _ in range(3):
        clock.advance(hours=2)
        sms(client, body="Nog iets")
    clock.advance(minutes=1)
    assert live_ids(html_of(client.get("/console/live"))) == [text.id]


# --- a call's page: needs, flags, notes, outcome ----------------------------------------

RECORD = {
    "client_type": "victim", "adults": "1", "children": "4, 9", "gender": "female", "needs": ["", "wheelchair"],
    "languages": ["", "fr", "en"], "postcode": "2000", "safe_to_call_back": "no", "safe_to_leave_message": "yes",
    "notes": "Partner komt om 23u thuis.", "outcome": "",
}


def test_the_call_page_saves_needs_flags_notes_and_outcome(client, people, clock):
    call = voice_call(client)
    make.login(client, people["operator"])
    page = html_of(client.get(f"/console/calls/{call.id}"))
    assert MASKED in page and "English" in page
    # The caller's language is ticked while no languages are recorded.
    assert 'name="languages" value="en" checked' in page
    response = client.post(f"/console/calls/{call.id}", data=RECORD, headers=HTMX)
    html = html_of(response)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="record"')
    assert "Saved." in html
    saved = the_call(call.sid)
    assert saved.needs == {"client_type": "victim", "adults": 1, "children": [4, 9], "gender": "female",
                           "needs": ["wheelchair"], "languages": ["fr", "en"], "postcode": "2000"}
    assert (saved.safe_to_call_back, saved.safe_to_leave_message) == (False, True)
    assert saved.notes == "Partner komt om 23u thuis." and saved.outcome is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "call.update"))
    assert event.object_id == call.id and event.actor_id == people["operator"].id
    assert event.details["fields"] == ["needs", "notes", "safe_to_call_back", "safe_to_leave_message"]
    assert "23u" not in str(event.details)  # notes are audited by name, never by value
    # The page shows what was saved, the flags with words and symbols.
    page = html_of(client.get(f"/console/calls/{call.id}"))
    assert "Safe to call back:\n✗ no" in page and "Safe to leave a message:\n✓ yes" in page
    assert "Partner komt om 23u thuis." in page and 'value="4, 9"' in page
    # Un-ticking every box saves "none"; the same record again changes nothing.
    again = client.post(f"/console/calls/{call.id}", data={**RECORD, "needs": [""]}, headers=HTMX)
    assert again.status_code == 200 and "needs" not in the_call(call.sid).needs
    same = client.post(f"/console/calls/{call.id}", data={**RECORD, "needs": [""]}, headers=HTMX)
    assert "Nothing changed." in html_of(same)


@pytest.mark.parametrize("field, value", [
    ("adults", "0"), ("adults", "two"), ("children", "4, 19"), ("children", "4, x"), ("gender", "robot"),
    ("client_type", "alien"), ("needs", ["", "flying"]), ("languages", ["", "xx"]), ("postcode", "0000"),
    ("postcode", "Atlantis"), ("safe_to_call_back", "maybe"), ("safe_to_leave_message", "perhaps"),
    ("outcome", "won"), ("notes", "x" * 5001), ("adults", "31"),
])
def test_bad_input_is_refused_inline_and_nothing_is_saved(client, people, field, value):
    call = voice_call(client)
    make.login(client, people["operator"])
    client.post(f"/console/calls/{call.id}", data=RECORD, headers=HTMX)
    before, events = record_of(call.id), count(AuditEvent)
    # A good change (notes, outcome) beside the bad field is not saved either.
    data = {**RECORD, "notes": "changed", "outcome": "advice", field: value}
    response = client.post(f"/console/calls/{call.id}", data=data, headers=HTMX)
    html = html_of(response)
    assert response.status_code == 400
    assert html.lstrip().startswith('<section id="record"') and "Not saved:" in html and 'role="alert"' in html
    assert 'aria-invalid="true"' in html
    assert record_of(call.id) == before and count(AuditEvent) == events
    # What the operator typed is shown back, not lost.
    if field != "notes":
        assert ">changed</textarea>" in html


def test_a_couple_is_two_adults_and_a_household_at_most_thirty(client, people):
    call = voice_call(client)
    make.login(client, people["operator"])
    before = record_of(call.id)
    couple = client.post(f"/console/calls/{call.id}", data={"client_type": "couple", "adults": "1"}, headers=HTMX)
    assert couple.status_code == 400 and "couple" in html_of(couple)
    crowd = client.post(f"/console/calls/{call.id}", data={"adults": "20", "children": ",".join(["5"] * 11)},
                        headers=HTMX)
    assert crowd.status_code == 400 and "at most 30" in html_of(crowd)
    assert record_of(call.id) == before


def test_a_save_without_htmx_goes_back_to_the_page(client, people):
    call = voice_call(client)
    make.login(client, people["operator"])
    response = client.post(f"/console/calls/{call.id}", data={"notes": "kort"})
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == f"/console/calls/{call.id}"
    bad = client.post(f"/console/calls/{call.id}", data={"outcome": "won"}, follow_redirects=True)
    assert "Not saved:" in html_of(bad) and the_call(call.sid).outcome is None


def test_an_unknown_call_is_404(client, people):
    make.login(client, people["operator"])
    assert client.get("/console/calls/999999").status_code == 404
    assert client.post("/console/calls/999999", data={"notes": "x"}).status_code == 404


def test_an_outcome_takes_a_waiting_contact_off_the_live_list_but_a_call_back_to_make(client, people, twilio):
    waiting = callback_consent(client, voice_call(client))
    text = sms(client)
    make.login(client, people["operator"])
    assert live_ids(html_of(client.get("/console/live"))) == [waiting.id, text.id]
    client.post(f"/console/calls/{waiting.id}", data={"outcome": "callback"}, headers=HTMX)
    assert live_ids(html_of(client.get("/console/live"))) == [waiting.id, text.id]
    client.post(f"/console/calls/{waiting.id}", data={"outcome": "advice"}, headers=HTMX)
    client.post(f"/console/calls/{text.id}", data={"outcome": "referred"}, headers=HTMX)
    # Its voicemail waits until someone handles it (tests/test_voicemails.py).
    assert live_ids(html_of(client.get("/console/live"))) == [waiting.id]
    client.post(f"/console/calls/{waiting.id}/voicemail", data={"outcome": "advice"}, headers=HTMX)
    assert live_ids(html_of(client.get("/console/live"))) == []
    assert the_call(text.sid).status == "completed" and the_call(waiting.sid).status == "completed"
    # The help-seeker writes again: the conversation is live again.
    sms(client, body="Hallo?")
    assert live_ids(html_of(client.get("/console/live"))) == [text.id]


# --- taking a call ------------------------------------------------------------------------


def test_an_operator_takes_a_call_and_a_colleague_must_take_it_over_explicitly(client, people, app):
    call = voice_call(client)
    make.login(client, people["operator"])
    taken = client.post(f"/console/calls/{call.id}/take", headers=HTMX)
    assert taken.status_code == 200 and "Olga Operator (you)" in html_of(taken)
    assert the_call(call.sid).operator_id == people["operator"].id
    assert "Olga Operator" in html_of(client.get("/console/live"))

    colleague = app.test_client()
    make.login(colleague, people["colleague"])
    page = html_of(colleague.get(f"/console/calls/{call.id}"))
    assert "Take over from Olga Operator" in page
    before = written()
    refused = colleague.post(f"/console/calls/{call.id}/take", headers=HTMX)  # the page was stale
    assert refused.status_code == 409 and "Olga Operator already has this call" in html_of(refused)
    assert written() == before and the_call(call.sid).operator_id == people["operator"].id
    over = colleague.post(f"/console/calls/{call.id}/take", data={"take_over": "1"}, headers=HTMX)
    assert over.status_code == 200 and the_call(call.sid).operator_id == people["colleague"].id
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "call.take")
                                .order_by(AuditEvent.id)).all()
    assert [(e.actor_id, e.details["previous_operator"]) for e in events] == [
        (people["operator"].id, None), (people["colleague"].id, people["operator"].id)]


def test_an_admin_sees_a_call_but_has_no_buttons_to_work_it(client, people, twilio):
    text = sms(client)
    make.login(client, people["admin"])
    page = html_of(client.get(f"/console/calls/{text.id}"))
    assert SEEKER_MASKED in page and "Ik heb hulp nodig" in page
    for action in ("/take", "/reply", "/turn-away"):
        assert f'action="/console/calls/{text.id}{action}"' not in page
    assert "Operators and managers take and record contacts" in page


# --- earlier contacts ------------------------------------------------------------------------


def test_earlier_contacts_from_the_same_number_are_listed(client, people, clock, twilio):
    first = voice_call(client)
    clock.advance(days=2)
    text = sms(client, number=CALLER)
    other = voice_call(client, number="+32470999988")
    clock.advance(days=1)
    latest = voice_call(client)
    make.login(client, people["operator"])
    html = html_of(client.get(f"/console/calls/{latest.id}"))
    earlier = re.findall(r'<li data-call="(\d+)">', html)
    assert earlier == [str(text.id), str(first.id)]  # newest first; not the other caller's
    assert other.id not in map(int, earlier)
    assert "None: this is the first contact" in html_of(client.get(f"/console/calls/{other.id}"))


def test_a_withheld_number_has_no_earlier_contacts_and_says_so(client, people):
    voice_call(client, number="anonymous")
    withheld = voice_call(client, number="anonymous")
    make.login(client, people["operator"])
    html = html_of(client.get(f"/console/calls/{withheld.id}"))
    assert "The number is withheld: earlier contacts cannot be found." in html
    assert "withheld number" in html and re.findall(r'<li data-call="(\d+)">', html) == []


# --- SMS conversations ------------------------------------------------------------------------


def test_an_operator_answers_a_text_through_twilio(client, people, twilio, clock):
    text = sms(client)
    [auto_reply] = twilio.messages  # the first text's automatic answer
    make.login(client, people["operator"])
    page = html_of(client.get(f"/console/calls/{text.id}"))
    assert "Ik heb hulp nodig" in page and "Automatic reply" in page
    assert 'name="body"' in page and "Safe to leave a message:\n? unknown" in page
    clock.advance(minutes=3)
    response = client.post(f"/console/calls/{text.id}/reply", data={"body": "Ben je nu veilig?"}, headers=HTMX)
    html = html_of(response)
    assert response.status_code == 201 and html.lstrip().startswith('<section id="sms"')
    [sent] = twilio.messages[1:]
    assert (sent.form["To"], sent.form["From"], sent.form["Body"]) == (SEEKER, HOTLINE, "Ben je nu veilig?")
    assert "Ben je nu veilig?" in html and "Olga Operator" in html and ">sent<" in html
    assert '<textarea id="reply-body" name="body" rows="3" maxlength="1600" >' in html  # emptied
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "sms_reply"))
    assert (row.status, row.provider_id is not None, row.recipient) == ("sent", True, None)
    assert count(AuditEvent, AuditEvent.action == "call.number_used",
                 AuditEvent.actor_id == people["operator"].id) == 1
    # The conversation fragment (polled) shows both ways.
    conversation = html_of(client.get(f"/console/calls/{text.id}/conversation"))
    assert conversation.index("Ik heb hulp nodig") < conversation.index("Ben je nu veilig?")
    assert auto_reply.form["To"] == SEEKER


@pytest.mark.parametrize("twilio_answers, shown", [
    (201, "Safety advice sent 11/28/26, 9:03 PM"),
    (500, "Safety advice waiting to be sent since 11/28/26, 9:03 PM"),  # to be tried again
    (400, "Safety advice not sent (11/28/26, 9:03 PM)"),
])
def test_the_operator_sees_whether_the_safety_advice_went_out(client, people, twilio, clock, twilio_answers,
                                                                shown):
    clock.advance(minutes=3)
    if twilio_answers != 201:
        twilio.answer_next(twilio_answers)
    text = sms(client)
    make.login(client, people["operator"])
    html = html_of(client.get(f"/console/calls/{text.id}"))
    advice = re.search(r'<p id="safety-advice"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert shown in " ".join(advice.split())
    assert "asked when it is safe to write back and suggested deleting the conversation" in advice
    # A voice call has no such line.
    assert 'id="safety-advice"' not in html_of(client.get(f"/console/calls/{voice_call(client).id}"))


@pytest.mark.parametrize("status, shown, outbox_status", [
    (500, "Not sent yet, tried again later: Twilio 500", "pending"),
    (400, "Not sent: Twilio 400", "failed"),
])
def test_a_failed_send_shows_in_the_conversation(client, people, twilio, status, shown, outbox_status):
    text = sms(client)
    make.login(client, people["operator"])
    twilio.answer_next(status)
    response = client.post(f"/console/calls/{text.id}/reply", data={"body": "Bel 112 als het dringend is."},
                           headers=HTMX)
    html = html_of(response)
    assert response.status_code == 201
    assert "Bel 112 als het dringend is." in html and shown in html
    row = db.session.scalar(select(OutboxMessage).where(OutboxMessage.purpose == "sms_reply"))
    assert row.status == outbox_status and row.attempts == 1
    assert shown in html_of(client.get(f"/console/calls/{text.id}"))


def test_twilio_down_leaves_the_reply_in_the_outbox_and_the_page_answers(client, people, twilio):
    text = sms(client)
    make.login(client, people["operator"])
    twilio.down = True
    response = client.post(f"/console/calls/{text.id}/reply", data={"body": "Hallo"}, headers=HTMX)
    assert response.status_code == 201 and "Not sent yet, tried again later" in html_of(response)


@pytest.mark.parametrize("body", ["", "   ", "x" * 1601])
def test_an_empty_or_too_long_reply_is_refused_inline(client, people, twilio, body):
    text = sms(client)
    make.login(client, people["operator"])
    before, sent = written(), len(twilio.messages)
    response = client.post(f"/console/calls/{text.id}/reply", data={"body": body}, headers=HTMX)
    assert response.status_code == 400 and "Write a message of at most 1600 characters." in html_of(response)
    assert written() == before and len(twilio.messages) == sent


def test_no_reply_once_the_number_is_no_longer_kept(client, people, twilio, clock):
    text = sms(client)
    make.login(client, people["operator"])
    clock.advance(days=31)
    before = written()
    response = client.post(f"/console/calls/{text.id}/reply", data={"body": "Hallo"}, headers=HTMX)
    assert response.status_code == 409 and "no longer kept" in html_of(response)
    assert written() == before
    assert 'name="body"' not in html_of(client.get(f"/console/calls/{text.id}"))


def test_a_voice_call_has_no_sms_reply(client, people):
    call = callback_consent(client, voice_call(client))
    make.login(client, people["operator"])
    before = written()
    response = client.post(f"/console/calls/{call.id}/reply", data={"body": "Hallo"}, headers=HTMX)
    assert response.status_code == 409 and written() == before


# --- a kept number: a note, the flags, and no button that calls -------------------------------


def test_a_kept_number_is_noted_with_its_erase_date_and_nothing_calls_back(client, people, clock):
    call = callback_consent(client, voice_call(client))
    assert call.number_sealed is not None and call.number_kept_for == "callback"
    make.login(client, people["operator"])
    client.post(f"/console/calls/{call.id}", data={"safe_to_call_back": "no"}, headers=HTMX)
    html = html_of(client.get(f"/console/calls/{call.id}"))
    assert "Their number is kept, encrypted, for it until Dec 28, 2026" in html
    assert "Safe to call back:\n✗ no" in html
    assert "tel:" not in html.split('id="placement-heading"')[0]  # no number to dial, no call button
    assert CALLER_DIGITS not in html and "(14 s)" in html
    assert f'<audio controls preload="none" src="/api/v1/voicemails/{call.id}/audio">' in html
    clock.advance(days=31)
    assert "their number is no longer kept" in html_of(client.get(f"/console/calls/{call.id}"))


# --- from a ringing phone to a held place ---------------------------------------------------


def test_from_call_to_hold_through_the_console(client, people, clock):
    shelter = make.facility("vluchthuis", name="Vluchthuis Antwerpen", type="refuge", children="yes",
                            languages="nl,fr", units={"refuge_place": (6, 2)})
    db.session.commit()
    call = voice_call(client, digit="2")  # French
    operator = people["operator"]
    make.login(client, operator)
    # Click 1: the ringing call in the live list opens its page.
    live = html_of(client.get("/console/live"))
    assert f'href="/console/calls/{call.id}"' in live
    client.post(f"/console/calls/{call.id}/take", headers=HTMX)
    page_before_save = html_of(client.get(f"/console/calls/{call.id}"))
    saved = client.post(f"/console/calls/{call.id}", headers=HTMX, data={
        "client_type": "victim", "adults": "1", "children": "6", "gender": "female", "needs": [""],
        "languages": ["", "fr"], "postcode": "Antwerpen", "safe_to_call_back": "yes",
        "safe_to_leave_message": "no", "notes": "", "outcome": ""})
    assert saved.status_code == 200
    # Click 2: "Search placement" (on the page as it was before Save: it posts
    # the call alone) opens the search pre-filled from the call as saved, and run.
    action, fields = search_placement_form(page_before_save)
    assert fields == {"call_id": str(call.id)}
    results = html_of(client.post(action, data=fields))
    assert "Vluchthuis Antwerpen" in results and f'name="call_id" value="{call.id}"' in results
    assert 'value="Antwerpen"' in results and 'name="session" value="call-' in results
    unit_id = re.search(r'<li class="result[^"]*" data-unit="(\d+)"', results).group(1)
    form = results[results.index(f'id="hold-{unit_id}"'):]
    search_id = re.search(r'name="search_id" value="(\d+)"', form).group(1)
    persons = re.search(r'name="persons" value="(\d+)"', form).group(1)
    assert persons == "2"
    # Click 3: Hold.
    held = client.post("/placement/hold", headers=HTMX, data={
        "unit_id": unit_id, "persons": persons, "search_id": search_id, "call_id": str(call.id)})
    assert held.status_code == 201, html_of(held)
    hold = db.session.scalars(select(Hold)).one()
    assert (hold.call_id, hold.unit.facility_id) == (call.id, shelter.id)
    # The hold shows on the call's page and in the API with the call.
    page = html_of(client.get(f"/console/calls/{call.id}"))
    assert f'<li data-hold="{hold.id}">' in page and "Vluchthuis Antwerpen" in page
    token = make.token_for(operator)
    db.session.commit()
    api = client.get("/api/v1/holds", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert [(h["id"], h["call_id"]) for h in api] == [(hold.id, call.id)]


def search_placement_form(page: str) -> tuple[str, dict]:
    """The call page's "Search placement" form: where it posts, and its fields (no CSRF token)."""
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>((?:(?!</form>).)*?)id="search-placement"', page,
                     re.DOTALL)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    fields.pop("csrf_token", None)
    return unescape(form.group(1)), fields


def test_search_placement_without_a_postcode_opens_the_form_unrun(client, people):
    call = voice_call(client)
    make.login(client, people["operator"])
    page = html_of(client.get(f"/console/calls/{call.id}"))
    assert "Save a postcode first" in page
    action, fields = search_placement_form(page)
    opened = client.post(action, data=fields)
    assert opened.status_code == 200 and f'name="call_id" value="{call.id}"' in html_of(opened)
    assert count(PlacementSearch) == 0


def test_a_partner_cannot_search_for_a_call(client, people):
    call = voice_call(client)
    partner = make.user("partner")
    db.session.commit()
    make.login(client, partner)
    assert client.post("/placement/for-call", data={"call_id": str(call.id)}).status_code == 403
    assert count(PlacementSearch) == 0


def test_no_place_found_records_a_turn_away_for_the_call_once(client, people):
    call = voice_call(client)
    make.login(client, people["operator"])
    bad = client.post(f"/console/calls/{call.id}/turn-away", data={"reason": "bored"}, headers=HTMX)
    assert bad.status_code == 400 and "reason must be one of" in html_of(bad)
    assert count(TurnAway) == 0
    first = client.post(f"/console/calls/{call.id}/turn-away", data={"reason": "full"}, headers=HTMX)
    assert first.status_code == 201 and "Recorded as a turn-away: full" in html_of(first)
    again = client.post(f"/console/calls/{call.id}/turn-away", data={"reason": "closed"}, headers=HTMX)
    assert again.status_code == 200 and "Recorded as a turn-away at" in html_of(again)
    [turn_away] = db.session.scalars(select(TurnAway)).all()
    assert (turn_away.call_id, turn_away.contact_key, turn_away.reason) == (call.id, f"call:{call.id}", "full")
    assert "Recorded as a turn-away at" in html_of(client.get(f"/console/calls/{call.id}"))


def test_referrals_made_for_the_call_are_listed_on_its_page(client, people):
    from app.services.core.access import Actor
    from app.services.placement import referrals

    relief = make.facility("relief", name="Meldpunt Antwerpen", type="relief_point", units={"intake_slot": (4, 2)})
    call = voice_call(client)
    referrals.create(Actor(people["operator"], "web"), make.clock.now(), call_id=call.id, facility_id=relief.id)
    db.session.commit()
    make.login(client, people["operator"])
    html = html_of(client.get(f"/console/calls/{call.id}"))
    assert "Referrals for this contact" in html and "Meldpunt Antwerpen" in html and "Proposed" in html


# --- the call log and its CSV ------------------------------------------------------------------


@pytest.fixture
def logged(client, people, clock, twilio):
    """Calls on two days, by two operators, with outcomes, and an SMS contact."""
    operator, colleague = people["operator"], people["colleague"]
    first = voice_call(client)
    first.operator_id, first.outcome, first.notes = operator.id, "advice", "Geheime notitie 1"
    clock.advance(days=1)
    second = voice_call(client, number="+32470222233")
    second.operator_id, second.outcome = colleague.id, "held"
    third = voice_call(client, number="anonymous")
    text = sms(client)
    db.session.add_all([first, second])
    db.session.commit()
    return {"first": first.id, "second": second.id, "third": third.id, "text": text.id}


@pytest.mark.parametrize("query, expected", [
    ("", ["text", "third", "second", "first"]),
    ("date=2026-11-28", ["first"]),
    ("date=2026-11-29", ["text", "third", "second"]),
    ("outcome=advice", ["first"]),
    ("outcome=none", ["text", "third"]),
    ("operator={colleague}", ["second"]),
    ("channel=sms", ["text"]),
    ("channel=voice&date=2026-11-29&outcome=held", ["second"]),
    ("date=2026-11-27", []),
])
def test_the_call_log_filters_and_its_csv_follows(client, people, logged, query, expected):
    query = query.format(colleague=people["colleague"].id)
    make.login(client, people["manager"])
    page = client.get(f"/console/log?{query}")
    assert page.status_code == 200
    assert row_ids(html_of(page)) == [logged[name] for name in expected]
    export = client.get(f"/console/log.csv?{query}")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(html_of(export))))
    assert [int(row["id"]) for row in rows] == [logged[name] for name in expected]


def test_the_csv_has_masked_numbers_and_no_notes(client, people, logged):
    make.login(client, people["operator"])
    export = html_of(client.get("/console/log.csv"))
    reader = csv.reader(io.StringIO(export))
    header = next(reader)
    assert header == ["id", "sid", "channel", "caller", "language", "status", "started_at", "answered_at",
                      "ended_at", "duration_s", "operator", "safe_to_call_back", "safe_to_leave_message",
                      "callback_requested", "outcome"]
    rows = {int(row[0]): dict(zip(header, row, strict=True)) for row in reader}
    first = rows[logged["first"]]
    assert (first["caller"], first["operator"], first["outcome"], first["safe_to_call_back"]) == (
        MASKED, "Olga Operator", "advice", "unknown")
    assert first["started_at"] == "2026-11-28T21:00:00+01:00"
    assert rows[logged["third"]]["caller"] == "withheld"
    assert "Geheime notitie" not in export and CALLER_DIGITS not in export and SEEKER_DIGITS not in export
    assert "Geheime notitie" in html_of(client.get(f"/console/calls/{logged['first']}"))


def test_a_name_that_looks_like_a_formula_is_defused_in_the_csv(client, people, logged):
    operator = db.session.get(User, people["operator"].id)
    operator.name = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    make.login(client, people["manager"])
    rows = list(csv.DictReader(io.StringIO(html_of(client.get("/console/log.csv?outcome=advice")))))
    assert rows[0]["operator"] == "'=HYPERLINK(\"http://evil\")"


def test_the_call_log_pages(client, people, logged, clock):
    for _ in range(52):
        calls.start(clock.now(), sid=new_sid(), number=None, hash_key="k")
    db.session.commit()
    make.login(client, people["operator"])
    first = html_of(client.get("/console/log?channel=voice"))
    assert len(row_ids(first)) == 50 and "55 contacts" in first and "Page 1 of 2" in first
    assert 'href="/console/log?page=2&amp;channel=voice"' in first or 'channel=voice&amp;page=2' in first
    second = html_of(client.get("/console/log?channel=voice&page=2"))
    assert len(row_ids(second)) == 5


@pytest.mark.parametrize("query, field", [("date=28-11-2026", "date"), ("outcome=won", "outcome"),
                                          ("operator=olga", "operator"), ("channel=fax", "channel")])
def test_a_bad_filter_is_a_clear_400(client, people, logged, query, field):
    make.login(client, people["operator"])
    page = client.get(f"/console/log?{query}")
    assert page.status_code == 400 and field in html_of(page) and 'role="alert"' in html_of(page)
    assert client.get(f"/console/log.csv?{query}").status_code == 400


# --- the API ----------------------------------------------------------------------------------


def test_the_api_lists_calls_with_masked_numbers(client, people, logged, clock):
    token = make.token_for(people["operator"])
    db.session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/v1/calls", headers=auth)
    body = assert_documented(response, "/api/v1/calls")
    assert [call["id"] for call in body] == sorted(logged.values())
    first = next(call for call in body if call["id"] == logged["first"])
    assert first == {
        "id": logged["first"], "sid": first["sid"], "channel": "voice", "caller": MASKED, "language": "en",
        "status": "ringing",
        "started_at": "2026-11-28T21:00:00+01:00", "answered_at": None, "ended_at": None, "duration_s": None,
        "operator": "Olga Operator", "safe_to_call_back": None, "safe_to_leave_message": None, "outcome": "advice",
        "risk_level": None,
    }
    assert "notes" not in first
    since = assert_documented(client.get("/api/v1/calls?since=2026-11-29", headers=auth), "/api/v1/calls")
    assert [call["id"] for call in since] == sorted([logged["second"], logged["third"], logged["text"]])
    exact = client.get("/api/v1/calls", query_string={"since": "2026-11-29T21:00:00+01:00"}, headers=auth)
    assert len(exact.get_json()) == 3
    later = client.get("/api/v1/calls", query_string={"since": "2026-11-29T21:00:01+01:00"}, headers=auth)
    assert later.get_json() == []
    texts = client.get("/api/v1/calls?status=in-progress", headers=auth).get_json()
    assert logged["text"] in [call["id"] for call in texts]
    paged = client.get("/api/v1/calls?limit=2", headers=auth)
    assert len(paged.get_json()) == 2 and 'rel="next"' in paged.headers["Link"]
    after = client.get(f"/api/v1/calls?limit=2&cursor={paged.get_json()[-1]['id']}", headers=auth).get_json()
    assert [call["id"] for call in paged.get_json() + after] == sorted(logged.values())


@pytest.mark.parametrize("query, field", [("status=lost", "status"), ("since=yesterday", "since"),
                                          ("since=2026-11-29T21:00:00", "since"), ("limit=0", "limit")])
def test_the_api_refuses_bad_filters(client, people, query, field):
    token = make.token_for(people["manager"])
    db.session.commit()
    response = client.get(f"/api/v1/calls?{query}", headers={"Authorization": f"Bearer {token}"})
    assert assert_documented(response, "/api/v1/calls")["error"]["field"] == field


@pytest.mark.parametrize("who", ["partner", "shelter_staff"])
def test_partners_and_shelter_staff_get_403_from_the_api(client, people, who):
    token = make.token_for(people[who])
    db.session.commit()
    response = client.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"})
    assert assert_documented(response, "/api/v1/calls")["error"]["code"] == "forbidden"


# --- privacy: no full number anywhere ----------------------------------------------------------


def test_no_full_number_in_any_page_fragment_csv_api_answer_or_log_line(client, people, twilio, clock, caplog):
    caplog.set_level(logging.DEBUG)
    call = callback_consent(client, voice_call(client))
    text = sms(client)
    # The numbers are kept (sealed): the test could fail if they leaked.
    assert call.number_sealed and text.number_sealed
    operator = people["operator"]
    make.login(client, operator)
    token = make.token_for(operator)
    db.session.commit()
    bodies = []

    def keep(response, status=200):
        assert response.status_code == status, html_of(response)[:300]
        bodies.append(html_of(response))

    for contact in (call, text):
        base = f"/console/calls/{contact.id}"
        keep(client.post(f"{base}/take", headers=HTMX))
        keep(client.post(base, data=RECORD, headers=HTMX))
        keep(client.post(base, data={**RECORD, "adults": "x"}, headers=HTMX), 400)
        keep(client.get(base))
        keep(client.get(f"{base}/conversation"))
    keep(client.post(f"/console/calls/{text.id}/reply", data={"body": "Ben je veilig?"}, headers=HTMX), 201)
    twilio.answer_next(400)
    keep(client.post(f"/console/calls/{text.id}/reply", data={"body": "Nog daar?"}, headers=HTMX), 201)
    keep(client.post(f"/console/calls/{call.id}/reply", data={"body": "Hallo"}, headers=HTMX), 409)
    keep(client.post(f"/console/calls/{call.id}/turn-away", data={"reason": "full"}, headers=HTMX), 201)
    for path in ("/console/", "/console/live", "/console/log", "/console/log.csv", "/console/log?channel=sms"):
        keep(client.get(path))
    keep(client.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"}))
    assert {found["caller"] for found in json.loads(bodies[-1])} == {MASKED, SEEKER_MASKED}
    keep(client.get(f"/api/v1/calls?since=2026-11-28&status={text.status}",
                    headers={"Authorization": f"Bearer {token}"}))
    everything = "\n".join(bodies) + "\n" + caplog.text
    for digits in (CALLER_DIGITS, SEEKER_DIGITS):
        assert digits not in everything
        assert digits not in everything.replace(" ", "")
    # The masked form is what shows: on both call pages, the live list, the log and the CSV.
    assert sum(MASKED in body or SEEKER_MASKED in body for body in bodies) >= 7
    # The failed send's error was shown; the messages went to the full number: only Twilio sees it.
    assert any("Not sent: Twilio 400" in body for body in bodies)
    assert {sent.form["To"] for sent in twilio.messages} == {SEEKER}
