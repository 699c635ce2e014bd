"""The hotline simulator (`flask hotline simulate …`, the development page
/hotline-simulator) and the retention of kept numbers (`flask hotline
erase-numbers`).

The simulator plays Twilio against the real app: in-process through the test
client, and over HTTP against a live server on loopback. What it leaves in
the database is read back afterwards, as the app wrote it.
"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import clock as app_clock
from app.extensions import db
from app.models import AuditEvent, Call, CapacityChange, CapacityUnit, Facility, OutboxMessage, SmsMessage, User
from app.services import demo
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput
from app.services.hotline import calls, phones
from app.services.scheduling import retention
from app.web import simulator, simulator_transport, simulator_twiml
from tests import factories
from tests.conftest import START
from tests.twilio_signing import PUBLIC_URL, TOKEN
from tests.twilio_signing import signature as twilio_signature

CALLER = "+32470123456"
CALLER_DIGITS = "470123456"
OPERATOR = "operator@demo.opvang.be"
OPERATOR_PHONE = "+32470000005"
REFUGE_PHONE = "+32470000004"
KEY = "test-caller-hash-key"


# --- helpers --------------------------------------------------------------------


@pytest.fixture
def demo_data(app):
    """The demo data, committed (the simulated webhooks run in sessions of their own)."""
    result = demo.load(app_clock.now())
    db.session.commit()
    return result


@pytest.fixture
def on_duty(demo_data):
    """The demo operator, on duty."""
    operator = db.session.scalar(select(User).where(User.email == OPERATOR))
    calls.set_on_duty(Actor(user=operator, source="web"), operator, True, START)
    db.session.commit()
    return operator


@pytest.fixture
def in_process(app):
    return simulator_transport.InProcess(app)


def the_call(sid: str) -> Call | None:
    db.session.rollback()
    return db.session.scalar(select(Call).where(Call.sid == sid))


def paths(walk) -> list[str]:
    return [step.path.split("?")[0] for step in walk.steps]


def refuge_unit() -> CapacityUnit:
    db.session.rollback()
    facility = db.session.scalar(select(Facility).where(Facility.slug == "vluchthuis-gent"))
    return next(unit for unit in facility.units if unit.kind.code == "refuge_place")


def rows() -> dict:
    """What the simulator could have made the app write."""
    db.session.rollback()
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Call, SmsMessage, OutboxMessage, CapacityChange, AuditEvent)}


# --- a call, in-process ---------------------------------------------------------------


def test_a_call_walks_the_menu_the_dial_the_operators_accept_and_the_status(in_process, on_duty):
    walk = simulator.simulate_call(in_process, number=CALLER, digits="2")

    assert paths(walk) == ["/hotline/voice", "/hotline/voice/menu", "/hotline/voice/whisper",
                           "/hotline/voice/whisper/accept", "/hotline/voice/dial-result", "/hotline/voice/status"]
    # The answers, parsed: the menu, then French and a dial to the operator on duty.
    assert [verb.name for verb in walk.steps[0].twiml.children] == ["Gather", "Redirect"]
    put_through = walk.steps[1].twiml
    assert [verb.attrs.get("language") for verb in put_through.children if verb.name == "Say"] == ["fr-BE"] * 2
    dial = put_through.find("Dial")
    assert [number.text for number in dial.children] == [OPERATOR_PHONE]
    assert dial.attrs["callerId"] == simulator.SIMULATED_HOTLINE_NUMBER
    assert walk.steps[3].twiml.children == []  # the operator pressed 1: connected
    assert not walk.held_open

    call = the_call(walk.sid)
    assert call.language == "fr" and call.menu_choices == ["2"]
    assert call.operator_id == on_duty.id and call.answered_at == START
    assert call.status == "completed" and call.ended_at == START and call.duration_s >= 1
    assert call.caller_masked == phones.mask(CALLER) and call.number_sealed is None


def test_the_transcript_reads_as_twiml_and_never_shows_the_callers_number(in_process, on_duty):
    walk = simulator.simulate_call(in_process, number=CALLER, digits="1")
    text = "\n".join(simulator_twiml.transcript(walk, in_process))
    assert "Say (nl-BE): Welkom bij de hulplijn" in text
    assert f"Dial → {OPERATOR_PHONE}" in text
    assert "The operator presses 1 to accept." in text
    assert "Done: the operator took the call." in text
    assert CALLER_DIGITS not in text
    assert PUBLIC_URL not in text  # URLs are shown as the paths Twilio calls


def test_a_call_held_open_stays_live_until_the_caller_hangs_up(in_process, on_duty, clock):
    walk = simulator.simulate_call(in_process, number=CALLER, hold_open=True)
    assert walk.held_open
    assert paths(walk)[-1] == "/hotline/voice/whisper/accept"
    call = the_call(walk.sid)
    assert call.status == "in-progress" and call.operator_id == on_duty.id and call.ended_at is None
    assert call in calls.live(app_clock.now())

    clock.advance(minutes=5)
    ended = simulator.hangup(in_process, walk.sid, duration=300)
    assert paths(ended) == ["/hotline/voice/status"]
    call = the_call(walk.sid)
    assert call.status == "completed" and call.duration_s == 300 and call.ended_at == START + timedelta(minutes=5)
    assert call not in calls.live(app_clock.now())


def test_with_nobody_on_duty_the_caller_leaves_a_voicemail_and_consents(in_process, demo_data):
    walk = simulator.simulate_call(in_process, number=CALLER, digits="3", consent=True)
    assert paths(walk) == ["/hotline/voice", "/hotline/voice/menu", "/hotline/voice/recorded",
                           "/hotline/voice/callback", "/hotline/voice/status", "/hotline/voice/status"]
    assert walk.steps[1].twiml.find("Record") is not None
    call = the_call(walk.sid)
    assert call.language == "en" and call.operator_id is None
    assert call.status == "voicemail" and call.callback_requested
    assert call.number_kept_for == "callback" and phones.unseal(call.number_sealed, KEY) == CALLER
    assert call.recording_sid.startswith("RE") and call.recording_duration_s == 7
    assert call.voicemail_status == "unheard"


def test_no_answer_sends_the_caller_to_the_voicemail_without_consent_nothing_is_kept(in_process, on_duty):
    walk = simulator.simulate_call(in_process, number=CALLER, answer=False)
    assert "/hotline/voice/whisper" not in paths(walk)
    assert walk.steps[2].shown == {"DialCallStatus": "no-answer"}
    call = the_call(walk.sid)
    assert call.operator_id is None and call.status == "completed"
    assert call.number_sealed is None and not call.callback_requested


def test_an_unknown_key_then_a_language(in_process, demo_data):
    walk = simulator.simulate_call(in_process, number="anonymous", digits="91")
    assert [step.shown.get("Digits") for step in walk.steps[1:3]] == ["9", "1"]
    assert walk.steps[2].path == "/hotline/voice/menu?attempt=2"
    call = the_call(walk.sid)
    assert call.menu_choices == ["9", "1"] and call.language == "nl"
    assert call.caller_hash is None and call.caller_masked == "withheld"


@pytest.mark.parametrize("kwargs, field", [
    ({"number": "hello"}, "from"),
    ({"number": "+32 12"}, "from"),
    ({"number": CALLER, "digits": "12345x"}, "digits"),
    ({"number": CALLER, "digits": "123456"}, "digits"),
    ({"number": CALLER, "hotline": "not a number"}, "to"),
])
def test_bad_input_is_refused_before_anything_is_sent(in_process, demo_data, kwargs, field):
    before = rows()
    with pytest.raises(InvalidInput) as refused:
        simulator.simulate_call(in_process, **kwargs)
    assert refused.value.field == field
    assert rows() == before


@pytest.mark.parametrize("sid", ["", "SM123", "CA" + "1" * 70])
def test_hangup_needs_a_call_sid(in_process, sid):
    with pytest.raises(InvalidInput):
        simulator.hangup(in_process, sid)


def test_hanging_up_an_unknown_call_changes_nothing(in_process, demo_data):
    before = rows()
    simulator.hangup(in_process, simulator_transport.new_sid("CA"))
    assert rows() == before


# --- signatures -------------------------------------------------------------------


def test_the_simulators_signature_is_twilios():
    params = {"CallSid": "CA1", "From": CALLER, "Digits": "2"}
    assert (simulator_transport.signature(TOKEN, PUBLIC_URL + "/hotline/voice/menu?attempt=2", params)
            == twilio_signature("/hotline/voice/menu?attempt=2", params))


@pytest.mark.parametrize("token, public_url", [
    ("not-the-token", PUBLIC_URL),
    (TOKEN, "https://another.example"),
])
def test_a_wrong_token_or_public_url_is_refused_and_stores_nothing(app, demo_data, token, public_url):
    transport = simulator_transport.InProcess(app)
    transport.token, transport.public_url = token, public_url
    before = rows()
    with pytest.raises(simulator_transport.SimulatorError, match="refused \\(403\\)"):
        simulator.simulate_call(transport, number=CALLER)
    with pytest.raises(simulator_transport.SimulatorError, match="refused \\(403\\)"):
        simulator.simulate_sms(transport, number=REFUGE_PHONE, body="VRIJ 3")
    assert rows() == before


def test_a_twiml_url_outside_the_public_url_is_not_followed(in_process):
    with pytest.raises(simulator_transport.SimulatorError, match="outside HOTLINE_PUBLIC_URL"):
        in_process.path_of("https://evil.example/hotline/voice/menu")


# --- a text, in-process -------------------------------------------------------------


def test_vrij_3_from_the_demo_refuge_staff_changes_the_count_and_the_reply_is_in_the_outbox(in_process, demo_data):
    unit = refuge_unit()
    assert unit.available != 3
    walk = simulator.simulate_sms(in_process, number=REFUGE_PHONE, body="VRIJ 3")

    assert paths(walk) == ["/hotline/sms"]
    assert walk.steps[0].twiml.children == []  # replies go through the outbox
    unit = refuge_unit()
    assert unit.available == 3
    change = db.session.scalar(select(CapacityChange).where(CapacityChange.unit_id == unit.id)
                               .order_by(CapacityChange.id.desc()).limit(1))
    assert change.source == "sms" and change.after == 3
    assert walk.reply.to == phones.mask(REFUGE_PHONE)
    assert "Vluchthuis Gent" in walk.reply.body and "3" in walk.reply.body
    assert walk.reply.status == "pending" and "not configured" in walk.reply.last_error
    assert walk.reply.body in simulator_twiml.transcript(walk)[-1]


def test_a_help_seekers_first_text_gets_the_automatic_reply_and_a_second_none(in_process, demo_data):
    first = simulator.simulate_sms(in_process, number=CALLER, body="Ik heb hulp nodig")
    assert first.reply is not None and "112" in first.reply.body
    assert first.reply.to == phones.mask(CALLER)
    second = simulator.simulate_sms(in_process, number=CALLER, body="Mag ik bellen?")
    assert second.reply is None
    assert "No reply in the outbox" in "\n".join(simulator_twiml.transcript(second))
    call = the_call(first.sid)
    assert call.channel == "sms" and len(call.messages) == 3  # two in, one out


@pytest.mark.parametrize("kwargs, field", [
    ({"number": "12", "body": "VRIJ 3"}, "from"),
    ({"number": REFUGE_PHONE, "body": "  "}, "body"),
    ({"number": REFUGE_PHONE, "body": "x" * 1601}, "body"),
])
def test_a_bad_text_is_refused_before_anything_is_sent(in_process, demo_data, kwargs, field):
    before = rows()
    with pytest.raises(InvalidInput) as refused:
        simulator.simulate_sms(in_process, **kwargs)
    assert refused.value.field == field
    assert rows() == before


# --- the command line -----------------------------------------------------------------


def test_the_cli_in_process_walks_a_call_and_prints_each_step(runner, on_duty):
    result = runner.invoke(args=["hotline", "simulate", "call", "--from", CALLER, "--digits", "2", "--in-process"])
    assert result.exit_code == 0, result.output
    assert "Say (fr-BE): Si vous" in result.output
    assert f"Dial → {OPERATOR_PHONE}" in result.output
    assert "POST /hotline/voice/status  CallStatus=completed" in result.output
    assert CALLER_DIGITS not in result.output
    sid = result.output.split()[1]
    assert the_call(sid).status == "completed"


def test_the_cli_holds_a_call_open_and_hangs_it_up(runner, on_duty):
    result = runner.invoke(args=["hotline", "simulate", "call", "--hold-open", "--in-process"])
    assert result.exit_code == 0, result.output
    sid = result.output.split()[1]
    assert f"hotline simulate hangup {sid} --in-process" in result.output
    assert the_call(sid).status == "in-progress"
    result = runner.invoke(args=["hotline", "simulate", "hangup", sid, "--in-process"])
    assert result.exit_code == 0, result.output
    assert the_call(sid).status == "completed"


@pytest.mark.parametrize("args, message", [
    (["call", "--from", "hello"], "not a phone number"),
    (["call", "--digits", "abc"], "keys are up to"),
    (["sms", "--from", REFUGE_PHONE, " "], "write the text"),
    (["hangup", "SM123"], "starts with CA"),
    (["call", "--url", "ftp://127.0.0.1"], "not an http(s) URL"),
])
def test_the_cli_refuses_bad_input_and_writes_nothing(runner, demo_data, args, message):
    before = rows()
    result = runner.invoke(args=["hotline", "simulate", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert rows() == before


def test_the_cli_says_when_the_app_is_not_running(runner):
    # A port that was free a moment ago: nothing listens there.
    server = make_server("127.0.0.1", 0, lambda environ, start: [])
    port = server.server_port
    server.server_close()
    result = runner.invoke(args=["hotline", "simulate", "call", "--url", f"http://127.0.0.1:{port}"])
    assert result.exit_code == 1
    assert "could not reach" in result.output and "is the app running" in result.output


# --- against a live server ------------------------------------------------------------


def test_the_cli_drives_a_live_server_over_http(runner, live_server, on_duty):
    """As a new user would with `make run` in one terminal: the webhooks travel
    over HTTP, signed for HOTLINE_PUBLIC_URL (here another host than the
    server's address, as behind a proxy)."""
    result = runner.invoke(args=["hotline", "simulate", "call", "--url", live_server, "--digits", "1",
                                 "--hold-open"])
    assert result.exit_code == 0, result.output
    assert f"→ {live_server}" in result.output
    assert f"Dial → {OPERATOR_PHONE}" in result.output
    sid = result.output.split()[1]
    call = the_call(sid)
    assert call.status == "in-progress" and call.operator_id == on_duty.id and call.language == "nl"

    result = runner.invoke(args=["hotline", "simulate", "hangup", sid, "--url", live_server])
    assert result.exit_code == 0, result.output
    assert the_call(sid).status == "completed"

    result = runner.invoke(args=["hotline", "simulate", "sms", "--url", live_server, "--from", REFUGE_PHONE,
                                 "VRIJ 3"])
    assert result.exit_code == 0, result.output
    assert refuge_unit().available == 3
    assert f"Reply to {phones.mask(REFUGE_PHONE)}" in result.output and "Vluchthuis Gent" in result.output


def test_a_live_server_with_another_signing_token_refuses_the_simulator(app, live_server, demo_data):
    app.config["HOTLINE_SIGNING_TOKEN"] = "another-installation"
    before = rows()
    transport = simulator_transport.OverHttp(live_server, PUBLIC_URL, TOKEN)
    with pytest.raises(simulator_transport.SimulatorError, match="refused \\(403\\)"):
        simulator.simulate_call(transport, number=CALLER)
    assert rows() == before


# --- the development page -------------------------------------------------------------


@pytest.fixture
def page_on(app):
    app.config["HOTLINE_SIMULATOR_PAGE"] = True


def login_as(client, *roles):
    user = factories.user(*roles)
    db.session.commit()
    factories.login(client, user)
    return user


PAGE_REQUESTS = [
    ("get", "/hotline-simulator", {}),
    ("post", "/hotline-simulator/call", {"from": CALLER}),
    ("post", "/hotline-simulator/sms", {"sms_from": REFUGE_PHONE, "body": "VRIJ 3"}),
    ("post", "/hotline-simulator/hangup", {"sid": "CA" + "1" * 32}),
]


@pytest.mark.parametrize("method, path, data", PAGE_REQUESTS)
def test_the_page_is_absent_outside_development(app, client, demo_data, method, path, data):
    assert not app.debug and not app.config["HOTLINE_SIMULATOR_PAGE"]
    login_as(client, "admin")
    before = rows()
    response = getattr(client, method)(path, data=data)
    assert response.status_code == 404
    assert rows() == before


def test_the_page_is_there_in_debug_mode(app, client):
    app.debug = True
    login_as(client, "operator")
    assert client.get("/hotline-simulator").status_code == 200


@pytest.mark.parametrize("method, path, data", PAGE_REQUESTS)
def test_the_page_is_for_operators_and_admins_only(client, page_on, demo_data, method, path, data):
    before = rows()
    anonymous = getattr(client, method)(path, data=data)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert rows() == before
    login_as(client, "shelter_staff")
    before = rows()
    assert getattr(client, method)(path, data=data).status_code == 403
    assert rows() == before


@pytest.mark.parametrize("role", ["operator", "admin"])
def test_the_page_offers_a_call_and_a_text(client, page_on, role):
    login_as(client, role)
    page = client.get("/hotline-simulator").get_data(as_text=True)
    assert 'action="/hotline-simulator/call"' in page and 'action="/hotline-simulator/sms"' in page
    assert '<label for="from">' in page and '<label for="body">' in page


def test_the_page_places_a_call_held_open_and_hangs_it_up(client, page_on, on_duty):
    login_as(client, "operator")
    response = client.post("/hotline-simulator/call", data={"from": CALLER, "digits": "3", "hold_open": "1"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Say (en-GB)" in html and f"Dial → {OPERATOR_PHONE}" in html
    # The transcript shows the caller masked (the form keeps what was typed).
    transcript = html[html.index('<section id="transcript"'):]
    assert phones.mask(CALLER) in transcript and CALLER_DIGITS not in transcript
    call = db.session.scalar(select(Call).order_by(Call.id.desc()).limit(1))
    assert call.status == "in-progress" and call.language == "en" and call.operator_id == on_duty.id
    assert f'name="sid" value="{call.sid}"' in html

    response = client.post("/hotline-simulator/hangup", data={"sid": call.sid}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<section id="transcript"')
    assert the_call(call.sid).status == "completed"


def test_the_page_sends_vrij_3_as_the_demo_refuge_staff(client, page_on, demo_data):
    login_as(client, "operator")
    response = client.post("/hotline-simulator/sms", data={"sms_from": REFUGE_PHONE, "body": "VRIJ 3"})
    assert response.status_code == 200
    assert refuge_unit().available == 3
    assert "Vluchthuis Gent" in response.get_data(as_text=True)


@pytest.mark.parametrize("path, data, field", [
    ("/hotline-simulator/call", {"from": "hello"}, "from"),
    ("/hotline-simulator/call", {"from": CALLER, "digits": "x"}, "digits"),
    ("/hotline-simulator/sms", {"sms_from": "12", "body": "VRIJ 3"}, "sms_from"),
    ("/hotline-simulator/sms", {"sms_from": REFUGE_PHONE, "body": ""}, "body"),
    ("/hotline-simulator/hangup", {"sid": "nonsense"}, None),
])
def test_the_page_explains_bad_input_and_writes_nothing(client, page_on, demo_data, path, data, field):
    login_as(client, "operator")
    before = rows()
    response = client.post(path, data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="simulator-error"' in html
    if field:
        assert f'id="{field}"' in html and 'aria-invalid="true"' in html
    assert rows() == before


# --- retention -------------------------------------------------------------------------


def kept_call(sid: str, kept_for: str | None, erase_at, number=CALLER) -> Call:
    call = Call(sid=sid, channel="voice" if kept_for != "sms_conversation" else "sms",
                caller_hash=phones.caller_hash(number, KEY), caller_masked=phones.mask(number),
                number_sealed=phones.seal(number, KEY) if kept_for else None, number_kept_for=kept_for,
                number_erase_at=erase_at, status="voicemail" if kept_for == "callback" else "completed",
                started_at=START - timedelta(days=40), updated_at=START - timedelta(days=40), menu_choices=["1"],
                language="nl", needs={"adults": 1}, callback_requested=kept_for == "callback", notes="note",
                recording_sid="RE" + "1" * 32)
    db.session.add(call)
    return call


def call_rows() -> dict:
    db.session.rollback()
    return {row.sid: dict(row._mapping) for row in db.session.execute(select(Call.__table__))}


def test_expired_numbers_are_erased_and_nothing_else(app, clock):
    now = app_clock.now()
    kept_call("CAexpired-callback", "callback", now - timedelta(days=1))
    kept_call("CAexpired-sms", "sms_conversation", now - timedelta(seconds=1))
    kept_call("CAdue-now", "callback", now)
    kept_call("CAfuture", "callback", now + timedelta(seconds=1))
    kept_call("CAnever-kept", None, None)
    db.session.commit()
    before = call_rows()

    assert retention.erase_expired_numbers(now) == 3
    db.session.commit()
    after = call_rows()
    for sid in ("CAexpired-callback", "CAexpired-sms", "CAdue-now"):
        assert after[sid]["number_sealed"] is None and after[sid]["number_kept_for"] is None
        unchanged = {key: value for key, value in before[sid].items()
                     if key not in ("number_sealed", "number_kept_for")}
        assert {key: after[sid][key] for key in unchanged} == unchanged
    assert after["CAfuture"] == before["CAfuture"]
    assert phones.unseal(after["CAfuture"]["number_sealed"], KEY) == CALLER
    assert after["CAnever-kept"] == before["CAnever-kept"]

    # Again: nothing left to erase.
    assert retention.erase_expired_numbers(now) == 0
    clock.advance(seconds=1)
    assert retention.erase_expired_numbers(app_clock.now()) == 1


def test_a_kept_numbers_retention_runs_from_the_consent(in_process, demo_data, clock, app):
    walk = simulator.simulate_call(in_process, number=CALLER, consent=True)
    days = app.config["CALLBACK_NUMBER_RETENTION_DAYS"]
    clock.advance(days=days, seconds=-1)
    assert retention.erase_expired_numbers(app_clock.now()) == 0
    clock.advance(seconds=1)
    assert retention.erase_expired_numbers(app_clock.now()) == 1
    db.session.commit()
    call = the_call(walk.sid)
    assert call.number_sealed is None and call.caller_hash is not None and call.callback_requested


def test_the_erase_numbers_command(runner, app):
    now = app_clock.now()
    kept_call("CAold", "callback", now - timedelta(hours=1))
    kept_call("CAnew", "callback", now + timedelta(days=1))
    db.session.commit()
    result = runner.invoke(args=["hotline", "erase-numbers"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "erased 1 kept caller numbers"
    after = call_rows()
    assert after["CAold"]["number_sealed"] is None and after["CAnew"]["number_sealed"] is not None
