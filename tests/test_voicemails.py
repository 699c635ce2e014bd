"""The voicemail queue (PRODUCT.md flow E; section 5, rule 10): voicemails
left through the signed voice webhooks, waiting in the console's live list
until handled, listed and handled through the API, heard through the app
(the real credentials against the fake Twilio over HTTP, each listening
audited), and deleted at Twilio past their retention (the sid cleared only
on 204 or 404), with the one-off sweep of the recordings the purge orphaned."""

import socket
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, insert, select

from app.extensions import db
from app.models import AuditEvent, Call
from app.services.core.access import Actor
from app.services.hotline import voicemails
from app.services.scheduling import retention
from app.web.simulator_transport import new_sid
from tests import factories as make
from tests.api import assert_documented, call
from tests.conftest import START
from tests.fake_twilio import FakeTwilio
from tests.twilio_signing import signature

HOTLINE = "+3220000000"
CALLER = "+32470123456"
CALLER_DIGITS = "470123456"  # never in any answer
MASKED = "+32 4•• •• •• 56"
HTMX = {"HX-Request": "true"}
AUDIO = b"ID3\x03\x00 the caller's message, as Twilio keeps it"


@pytest.fixture
def app_config(twilio_server):
    return twilio_server.config(from_number=HOTLINE)


@pytest.fixture
def people(app):
    users = {
        "operator": make.user("operator", phone="+32470000001", name="Olga Operator"),
        "colleague": make.user("operator", phone="+32470000002", name="Carl Colleague"),
        "manager": make.user("manager", regions=[make.region("antwerpen")], name="Mia Manager"),
        "admin": make.user("admin", name="Ada Admin"),
        "partner": make.user("partner"),
        "shelter_staff": make.user("shelter_staff", facilities_=[make.facility("crisis-antwerpen")]),
    }
    db.session.commit()
    return users


@pytest.fixture
def tokens(people) -> dict[str, str]:
    issued = {role: make.token_for(user) for role, user in people.items()}
    db.session.commit()
    return issued


# --- helpers --------------------------------------------------------------------


def signed_post(client, path: str, params: dict):
    """Signed as Twilio signs: with the account's auth token (the fake's),
    which is the app's signing token once Twilio is configured."""
    response = client.post(path, data=params,
                           headers={"X-Twilio-Signature": signature(path, params, token=FakeTwilio.auth_token)})
    assert response.status_code == 200, path
    return response


def recording_url(sid: str) -> str:
    return f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/{sid}"


def leave_voicemail(client, *, number=CALLER, consent=False, duration="14") -> Call:
    """A call nobody answers: the caller (English) leaves a voicemail, says
    whether we may call back, and hangs up, as Twilio reports it."""
    sid, recording = new_sid("CA"), new_sid("RE")
    params = {"AccountSid": "AC" + "0" * 32, "CallSid": sid, "From": number, "To": HOTLINE}
    signed_post(client, "/hotline/voice", {**params, "CallStatus": "ringing"})
    signed_post(client, "/hotline/voice/menu", {**params, "CallStatus": "in-progress", "Digits": "3"})
    signed_post(client, "/hotline/voice/recorded?lang=en", {
        **params, "CallStatus": "in-progress", "RecordingUrl": recording_url(recording), "RecordingSid": recording,
        "RecordingDuration": duration})
    if consent:
        signed_post(client, "/hotline/voice/callback?lang=en", {**params, "CallStatus": "in-progress", "Digits": "1"})
    signed_post(client, "/hotline/voice/status", {**params, "CallStatus": "completed", "CallDuration": "60"})
    return the_call(sid)


def the_call(sid: str) -> Call:
    db.session.rollback()
    return db.session.scalar(select(Call).where(Call.sid == sid))


def events(action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def written() -> tuple:
    """The calls as stored, and how many audit events: what a refusal must leave alone."""
    db.session.rollback()
    return ([tuple(row) for row in db.session.execute(select(Call.__table__).order_by(Call.id))],
            db.session.scalar(select(func.count()).select_from(AuditEvent)))


def signed_in(app, user):
    """A browser of its own, signed in as `user`."""
    browser = app.test_client()
    make.login(browser, user)
    return browser


def live_ids(client) -> list[int]:
    html = client.get("/console/live", headers=HTMX).get_data(as_text=True)
    return [int(part.split('"', 1)[0]) for part in html.split('data-call="')[1:]]


def closed_port() -> int:
    """A loopback port nothing listens on: Twilio, unreachable."""
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        return free.getsockname()[1]


# --- the queue in the live list ----------------------------------------------------------


def test_every_voicemail_waits_in_the_live_list_until_handled(client, people, twilio):
    without = leave_voicemail(client)
    with_consent = leave_voicemail(client, number="+32470999888", consent=True)
    assert (without.voicemail_status, without.status, without.callback_requested) == ("unheard", "completed", False)
    make.login(client, people["operator"])
    assert live_ids(client) == [without.id, with_consent.id]
    html = client.get("/console/live", headers=HTMX).get_data(as_text=True)
    assert html.count("unheard voicemail") == 2

    response = client.post(f"/console/calls/{without.id}/voicemail", data={"outcome": "no_action"}, headers=HTMX)
    assert response.status_code == 200 and "Nothing to act on" in response.get_data(as_text=True)
    assert live_ids(client) == [with_consent.id]
    # Handled, a voicemail with consent still waits for its call-back, as any call-back does.
    client.post(f"/console/calls/{with_consent.id}/voicemail", data={"outcome": "callback"}, headers=HTMX)
    assert live_ids(client) == [with_consent.id]
    assert "unheard voicemail" not in client.get("/console/live", headers=HTMX).get_data(as_text=True)


def test_the_call_page_plays_the_voicemail_through_the_app(app, client, people, twilio):
    left = leave_voicemail(client)
    make.login(client, people["operator"])
    response = client.get(f"/console/calls/{left.id}")
    html = response.get_data(as_text=True)
    # Nothing is fetched until the operator presses play: each play is a listening.
    assert f'<audio controls preload="none" src="/api/v1/voicemails/{left.id}/audio"></audio>' in html
    assert "(14 s)" in html and "Not handled yet" in html
    assert twilio.recording_requests("GET") == [] and events("voicemail.listened") == []
    # The page's policy lets the audio come from the app itself (media-src falls back to default-src).
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy.get("media-src", policy["default-src"]) == "'self'"

    # An admin reads calls, but hears no voicemail.
    html = signed_in(app, people["admin"]).get(f"/console/calls/{left.id}").get_data(as_text=True)
    assert "<audio" not in html and "Only operators and managers hear voicemails." in html
    assert 'name="outcome"' not in html.split('id="voicemail"')[1].split("</section>")[0]


def test_a_voicemail_handled_in_the_console_says_by_whom_and_a_second_try_is_a_conflict(app, client, people,
                                                                                        twilio):
    left = leave_voicemail(client)
    signed_in(app, people["colleague"]).post(f"/console/calls/{left.id}/voicemail", data={"outcome": "advice"},
                                             headers=HTMX)
    make.login(client, people["operator"])
    before = written()
    response = client.post(f"/console/calls/{left.id}/voicemail", data={"outcome": "callback"}, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "Someone handled this voicemail already." in html
    assert "by Carl Colleague: Advice given" in html
    assert written() == before
    page = client.get(f"/console/calls/{left.id}").get_data(as_text=True)
    assert "by Carl Colleague: Advice given" in page and 'id="voicemail-outcome"' not in page


@pytest.mark.parametrize("role, data, status", [
    ("operator", {"outcome": "placed"}, 400),  # a contact's outcome, not a voicemail's
    ("operator", {}, 400),
    ("admin", {"outcome": "advice"}, 403),
    ("partner", {"outcome": "advice"}, 403),
])
def test_the_console_refuses_a_bad_handling_and_writes_nothing(client, people, twilio, role, data, status):
    left = leave_voicemail(client)
    make.login(client, people[role])
    before = written()
    response = client.post(f"/console/calls/{left.id}/voicemail", data=data, headers=HTMX)
    assert response.status_code == status
    if status == 400:
        assert "Choose what the voicemail needed." in response.get_data(as_text=True)
    assert written() == before


# --- the API: the list and the handling -----------------------------------------------------


def test_the_api_lists_the_queue_by_status_the_longest_waiting_first(client, people, tokens, twilio, clock):
    first = leave_voicemail(client, duration="31")
    clock.advance(minutes=5)
    second = leave_voicemail(client, number="+32470999888", consent=True)
    clock.advance(minutes=5)
    third = leave_voicemail(client, number="anonymous")
    signed_post(client, "/hotline/voice", {"CallSid": new_sid("CA"), "From": CALLER, "To": HOTLINE,
                                           "CallStatus": "ringing"})  # no voicemail: not listed
    voicemails.handle(Actor(user=people["operator"], source="web"), the_call(second.sid), "callback", clock.now())
    db.session.commit()

    response = call(client, "GET", "/api/v1/voicemails", tokens["operator"])
    body = assert_documented(response, "/api/v1/voicemails")
    assert [v["id"] for v in body] == [first.id, second.id, third.id]
    assert body[0] == {"id": first.id, "call_id": first.id, "caller": MASKED, "language": "en", "duration_s": 31,
                       "left_at": "2026-11-28T21:00:00+01:00", "status": "unheard", "risk_level": None}
    assert body[2]["caller"] == "withheld"
    unheard = assert_documented(call(client, "GET", "/api/v1/voicemails?status=unheard", tokens["manager"]),
                                "/api/v1/voicemails")
    assert [v["id"] for v in unheard] == [first.id, third.id]
    handled = call(client, "GET", "/api/v1/voicemails?status=handled", tokens["admin"]).get_json()
    assert [(v["id"], v["status"]) for v in handled] == [(second.id, "handled")]
    # Paged as every list.
    page = call(client, "GET", "/api/v1/voicemails?limit=2", tokens["operator"])
    assert [v["id"] for v in page.get_json()] == [first.id, second.id]
    assert f"cursor={second.id}" in page.headers["Link"]


@pytest.mark.parametrize("role, query, status", [
    ("operator", "?status=heard", 400),
    ("partner", "", 403),
    ("shelter_staff", "", 403),
    (None, "", 401),
])
def test_the_list_is_refused_clearly(client, tokens, role, query, status):
    response = call(client, "GET", f"/api/v1/voicemails{query}", tokens.get(role))
    assert_documented(response, "/api/v1/voicemails")
    assert response.status_code == status and response.get_json()["error"]["message"]


def test_handling_records_the_outcome_once_and_audits_it(client, people, tokens, twilio, clock):
    left = leave_voicemail(client)
    clock.advance(minutes=20)
    response = call(client, "POST", f"/api/v1/voicemails/{left.id}/handled", tokens["manager"],
                    json={"outcome": "emergency"})
    body = assert_documented(response, "/api/v1/voicemails/{voicemail_id}/handled", "post")
    assert (body["id"], body["status"]) == (left.id, "handled")
    handled = the_call(left.sid)
    assert (handled.voicemail_outcome, handled.voicemail_handled_at, handled.voicemail_handled_by_id) == (
        "emergency", START + timedelta(minutes=20), people["manager"].id)
    [event] = events("voicemail.handled")
    assert (event.actor_id, event.object_type, event.object_id, event.details["outcome"]) == (
        people["manager"].id, "calls", left.id, "emergency")

    before = written()
    again = call(client, "POST", f"/api/v1/voicemails/{left.id}/handled", tokens["operator"],
                 json={"outcome": "advice"})
    assert_documented(again, "/api/v1/voicemails/{voicemail_id}/handled", "post")
    assert again.status_code == 409 and "handled already (emergency)" in again.get_json()["error"]["message"]
    assert written() == before


@pytest.mark.parametrize("role, body, status", [
    ("operator", {"outcome": "placed"}, 400),
    ("operator", {"outcome": None}, 400),
    ("operator", ["advice"], 400),
    ("admin", {"outcome": "advice"}, 403),
    ("partner", {"outcome": "advice"}, 403),
    ("shelter_staff", {"outcome": "advice"}, 403),
    (None, {"outcome": "advice"}, 401),
])
def test_a_bad_or_unauthorised_handling_is_refused_and_writes_nothing(client, tokens, twilio, role, body, status):
    left = leave_voicemail(client)
    before = written()
    response = call(client, "POST", f"/api/v1/voicemails/{left.id}/handled", tokens.get(role), json=body)
    assert_documented(response, "/api/v1/voicemails/{voicemail_id}/handled", "post")
    assert response.status_code == status and response.get_json()["error"]["message"]
    if status == 400:
        assert response.get_json()["error"]["field"] in ("outcome", "body")
    assert written() == before


def test_a_call_without_a_voicemail_has_none_to_handle_or_hear(client, tokens, twilio):
    sid = new_sid("CA")
    signed_post(client, "/hotline/voice", {"CallSid": sid, "From": CALLER, "To": HOTLINE, "CallStatus": "ringing"})
    plain = the_call(sid)
    for method, path in (("POST", f"/api/v1/voicemails/{plain.id}/handled"),
                         ("GET", f"/api/v1/voicemails/{plain.id}/audio"), ("GET", "/api/v1/voicemails/999999/audio")):
        response = call(client, method, path, tokens["operator"], json={"outcome": "advice"})
        assert response.status_code == 404, path
    assert twilio.requests == []


# --- the audio, through the app ---------------------------------------------------------------


def test_the_audio_streams_through_the_app_with_the_accounts_credentials(client, people, tokens, twilio):
    left = leave_voicemail(client)
    twilio.add_recording(left.recording_sid, AUDIO, call_sid=left.sid)
    response = call(client, "GET", f"/api/v1/voicemails/{left.id}/audio", tokens["operator"])
    assert response.status_code == 200 and response.data == AUDIO
    assert response.mimetype == "audio/mpeg" and response.headers["Cache-Control"] == "no-store"
    # The real twilio credentials, checked by the fake (it answers 401 to anything else).
    [fetched] = twilio.recording_requests("GET")
    assert fetched.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Recordings/{left.recording_sid}.mp3"
    assert fetched.account == twilio.account_sid

    # The console's player asks the same URL with the operator's session.
    make.login(client, people["manager"])
    assert client.get(f"/api/v1/voicemails/{left.id}/audio").data == AUDIO
    listened = events("voicemail.listened")
    assert [(e.actor_id, e.object_type, e.object_id, e.details["recording"]) for e in listened] == [
        (people["operator"].id, "calls", left.id, left.recording_sid),
        (people["manager"].id, "calls", left.id, left.recording_sid)]
    # Listening is not handling.
    assert the_call(left.sid).voicemail_status == "unheard"


def test_a_listening_is_audited_whoever_writes_while_twilio_answers(client, people, tokens, twilio):
    """Two players (or a player asking twice) at once: on SQLite a reader's
    transaction cannot write once another writer has committed, so the audit
    is written in a writer's transaction begun after Twilio answered."""
    left = leave_voicemail(client)
    twilio.add_recording(left.recording_sid, AUDIO)
    other = db.engine  # another connection than the request's

    def another_listener_commits():
        with other.begin() as connection:
            connection.execute(insert(AuditEvent).values(at=START, action="voicemail.listened", details={}))

    twilio.while_serving_audio = another_listener_commits
    response = call(client, "GET", f"/api/v1/voicemails/{left.id}/audio", tokens["operator"])
    assert response.status_code == 200 and response.data == AUDIO
    assert [event.actor_id for event in events("voicemail.listened")] == [None, people["operator"].id]


def test_wrong_credentials_are_refused_by_twilio_and_nothing_is_audited(app, client, tokens, twilio, monkeypatch):
    left = leave_voicemail(client)
    twilio.add_recording(left.recording_sid, AUDIO)
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", "not-the-token")
    response = call(client, "GET", f"/api/v1/voicemails/{left.id}/audio", tokens["operator"])
    assert response.status_code == 503 and AUDIO not in response.data
    assert events("voicemail.listened") == []


@pytest.mark.parametrize("role, status", [("admin", 403), ("partner", 403), ("shelter_staff", 403), (None, 401)])
def test_only_operators_and_managers_hear_a_voicemail(client, tokens, twilio, role, status):
    left = leave_voicemail(client)
    twilio.add_recording(left.recording_sid, AUDIO)
    before = written()
    response = call(client, "GET", f"/api/v1/voicemails/{left.id}/audio", tokens.get(role))
    assert response.status_code == status and response.get_json()["error"]["message"]
    assert AUDIO not in response.data and twilio.recording_requests("GET") == []
    assert written() == before


@pytest.mark.parametrize("trouble, status", [("500", 503), ("down", 503), ("404", 404), ("unreachable", 503)])
def test_a_recording_twilio_cannot_give_is_a_clear_error_and_no_listening(app, client, tokens, twilio, monkeypatch,
                                                                        trouble, status):
    left = leave_voicemail(client)
    twilio.add_recording(left.recording_sid, AUDIO)
    if trouble == "down":
        twilio.down = True
    elif trouble == "unreachable":
        monkeypatch.setitem(app.config, "TWILIO_API_BASE", f"http://127.0.0.1:{closed_port()}")
    else:
        twilio.answer_next(int(trouble))
    response = call(client, "GET", f"/api/v1/voicemails/{left.id}/audio", tokens["operator"])
    assert_documented(response, "/api/v1/voicemails/{voicemail_id}/audio")
    assert response.status_code == status and response.get_json()["error"]["message"]
    assert events("voicemail.listened") == []


def test_no_page_or_api_answer_carries_a_twilio_link(client, people, tokens, twilio):
    left = leave_voicemail(client, consent=True)
    url = recording_url(left.recording_sid)
    make.login(client, people["operator"])
    # Buffered: the streamed CSV is read to its end and closed, as a browser would.
    answers = [client.get(path, buffered=True) for path in ("/console/", "/console/live", f"/console/calls/{left.id}",
                                             "/console/log", "/console/log.csv")]
    answers += [call(client, "GET", path, tokens["operator"]) for path in (
        "/api/v1/voicemails", "/api/v1/calls")]
    answers.append(call(client, "POST", f"/api/v1/voicemails/{left.id}/handled", tokens["operator"],
                        json={"outcome": "callback"}))
    for answer in answers:
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200, answer.request.path
        assert "twilio.com" not in text and url not in text and CALLER_DIGITS not in text, answer.request.path
    # Nor is the link kept anywhere.
    db.session.rollback()
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            assert not any("twilio.com" in str(value) for value in row), table.name


# --- retention: deleted at Twilio, the sid cleared on 204 or 404 only -------------------------


def aged_voicemails(client, twilio, clock, people) -> dict[str, Call]:
    """Voicemails left 31 days ago (one handled, one not), exactly 30 days ago
    and 29 days ago, each kept at the fake Twilio; the clock is now."""
    left = {"old_handled": leave_voicemail(client), "old_unheard": leave_voicemail(client, number="+32470999888")}
    clock.advance(days=1)
    left["edge"] = leave_voicemail(client, number="+32470999777")
    clock.advance(days=1)
    left["young"] = leave_voicemail(client, number="+32470999666")
    voicemails.handle(Actor(user=people["operator"], source="web"), the_call(left["old_handled"].sid), "advice",
                      clock.now())
    db.session.commit()
    for voicemail in left.values():
        twilio.add_recording(voicemail.recording_sid, AUDIO, call_sid=voicemail.sid)
    clock.at = START + timedelta(days=31)
    return left


def test_retention_deletes_the_recordings_past_their_window_at_twilio(client, people, twilio, clock):
    left = aged_voicemails(client, twilio, clock, people)
    sids = {name: voicemail.recording_sid for name, voicemail in left.items()}
    counts = retention.delete_expired_recordings(clock.now())
    assert counts == {"recordings_deleted": 2, "recordings_kept": 0}
    deleted = {r.path.rsplit("/", 1)[1] for r in twilio.recording_requests("DELETE")}
    assert deleted == {f"{sids[name]}.json" for name in ("old_handled", "old_unheard")}
    assert set(twilio.recordings) == {sids["edge"], sids["young"]}
    for name, voicemail in left.items():
        after = the_call(voicemail.sid)
        assert (after.recording_sid is None) == name.startswith("old"), name
        # The voicemail itself stays: when it was left (the figures), its handling, its place in the queue.
        assert after.voicemail_at == voicemail.voicemail_at
    assert the_call(left["old_unheard"].sid).voicemail_status == "unheard"
    [event] = events("retention.recordings_deleted")
    assert event.details["count"] == 2 and sorted(event.details["calls"]) == sorted(
        [left["old_handled"].id, left["old_unheard"].id])
    # Nothing more to do; a deleted recording is not heard any more.
    assert retention.delete_expired_recordings(clock.now()) == {}
    assert len(twilio.recording_requests("DELETE")) == 2
    make.login(client, people["operator"])
    assert client.get(f"/api/v1/voicemails/{left['old_unheard'].id}/audio").status_code == 404
    assert "recordings are deleted after their retention" in client.get(
        f"/console/calls/{left['old_unheard'].id}").get_data(as_text=True)


@pytest.mark.parametrize("trouble", ["500", "429", "down", "unreachable"])
def test_a_failed_delete_keeps_the_sid_and_the_next_run_tries_again(app, client, people, twilio, clock, monkeypatch,
                                                                   trouble):
    left = aged_voicemails(client, twilio, clock, people)
    sids = {name: voicemail.recording_sid for name, voicemail in left.items()}
    with monkeypatch.context() as failing:
        if trouble == "down":
            twilio.down = True
        elif trouble == "unreachable":
            failing.setitem(current_app.config, "TWILIO_API_BASE", f"http://127.0.0.1:{closed_port()}")
        else:
            twilio.answer_next(int(trouble))
        counts = retention.delete_expired_recordings(clock.now())
    twilio.down = False
    if trouble in ("500", "429"):
        # One answered with an error; the other was deleted.
        assert counts == {"recordings_deleted": 1, "recordings_kept": 1}
    else:
        assert counts == {"recordings_deleted": 0, "recordings_kept": 2}
    kept = [name for name in ("old_handled", "old_unheard") if the_call(left[name].sid).recording_sid]
    assert len(kept) == 2 - counts["recordings_deleted"]
    # The next run, Twilio well again, deletes what is left.
    again = retention.delete_expired_recordings(clock.now())
    assert again == {"recordings_deleted": len(kept), "recordings_kept": 0}
    assert all(the_call(left[name].sid).recording_sid is None for name in ("old_handled", "old_unheard"))
    assert set(twilio.recordings) == {sids["edge"], sids["young"]}


def test_a_recording_gone_at_twilio_already_clears_its_sid(client, people, twilio, clock):
    left = aged_voicemails(client, twilio, clock, people)
    del twilio.recordings[left["old_unheard"].recording_sid]  # deleted in Twilio's console, say
    assert retention.delete_expired_recordings(clock.now()) == {"recordings_deleted": 2, "recordings_kept": 0}
    assert the_call(left["old_unheard"].sid).recording_sid is None


def test_without_twilio_the_recordings_are_kept_for_later(client, people, twilio, clock):
    left = aged_voicemails(client, twilio, clock, people)
    current_app.config["TWILIO_ACCOUNT_SID"] = None
    assert retention.delete_expired_recordings(clock.now()) == {"recordings_deleted": 0, "recordings_kept": 2}
    assert the_call(left["old_unheard"].sid).recording_sid is not None and twilio.recording_requests("DELETE") == []


def test_the_window_is_configured(client, people, twilio, clock):
    left = aged_voicemails(client, twilio, clock, people)
    current_app.config["RETENTION_DAYS_RECORDINGS"] = 29
    assert retention.delete_expired_recordings(clock.now())["recordings_deleted"] == 3
    assert the_call(left["young"].sid).recording_sid is not None
    current_app.config["RETENTION_DAYS_RECORDINGS"] = 0
    with pytest.raises(ValueError, match="RETENTION_DAYS_RECORDINGS"):
        retention.delete_expired_recordings(clock.now())


# --- the one-off sweep of the recordings the purge orphaned -----------------------------------


def test_the_sweep_deletes_only_old_recordings_of_our_calls_that_no_call_refers_to(client, runner, people, twilio,
                                                                                  clock):
    orphaned = [leave_voicemail(client, number=f"+3247099900{n}") for n in range(3)]
    referred = leave_voicemail(client, number="+32470999555")
    # What the purge did until now: it forgot the recordings of these calls without deleting them.
    for voicemail in orphaned:
        the_call(voicemail.sid).recording_sid = None
    db.session.commit()
    old = START - timedelta(days=40)
    for voicemail in orphaned:
        twilio.add_recording(new_sid("RE"), call_sid=voicemail.sid, created_at=old)
    twilio.add_recording(referred.recording_sid, call_sid=referred.sid, created_at=old)
    stranger = twilio.add_recording(new_sid("RE"), call_sid=new_sid("CA"), created_at=old)  # not our call
    young = twilio.add_recording(new_sid("RE"), call_sid=orphaned[0].sid, created_at=START - timedelta(days=2))
    twilio.recordings_page_size = 2  # Twilio's list comes in pages

    result = runner.invoke(args=["hotline", "sweep-recordings"])
    assert result.exit_code == 0, result.output
    assert ("5 recordings at Twilio older than 30 days: 3 deleted, 0 failed (run again), 1 still referred to by a "
            "call (deleted by the scheduler's delete_recordings job), 1 of calls Opvang does not know (left alone)"
            ) in result.output
    assert set(twilio.recordings) == {referred.recording_sid, stranger.sid, young.sid}
    listed = [r for r in twilio.requests if r.path.endswith("/Recordings.json")]
    assert len(listed) == 3  # pages of 2, 2 and 1
    [event] = events("retention.recordings_swept")
    assert (event.details["deleted"], event.details["listed"]) == (3, 5)


def test_a_sweep_that_fails_says_so(client, runner, twilio, clock):
    voicemail = leave_voicemail(client)
    the_call(voicemail.sid).recording_sid = None
    db.session.commit()
    twilio.add_recording(new_sid("RE"), call_sid=voicemail.sid, created_at=START - timedelta(days=40))
    twilio.answer_next(200, 500)  # the list, then the delete
    result = runner.invoke(args=["hotline", "sweep-recordings"])
    assert result.exit_code == 1 and "0 deleted, 1 failed (run again)" in result.output
    assert len(twilio.recordings) == 1

    twilio.down = True
    result = runner.invoke(args=["hotline", "sweep-recordings"])
    assert result.exit_code == 1 and "cannot be listed at Twilio" in result.output
