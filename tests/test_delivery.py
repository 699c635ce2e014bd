"""Outbox delivery: claims, retries with backoff, permanent failures and the
other channel, e-mail through a real SMTP server (aiosmtpd), the web path
and the scheduler never both sending, the retry button; and the scheduler as
a real process delivering through the real twilio client to the fake Twilio,
when Twilio errs, is down, and when the scheduler is killed mid-batch."""

import re
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.extensions import db, writing
from app.models import AuditEvent, JobRun, OutboxMessage
from app.services.delivery import outbox, sending
from tests import factories as make
from tests.scheduler_process import real_now, wait_until

MANAGER_PHONE = "+32470555501"


@pytest.fixture
def app_config(twilio_server, smtp_server):
    return {**twilio_server.config(), **smtp_server.config(), "OUTBOX_RETRY_BASE_SECONDS": 30,
            "OUTBOX_RETRY_MAX_SECONDS": 600, "OUTBOX_MAX_ATTEMPTS": 4}


def count(model=OutboxMessage, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def rows() -> list[OutboxMessage]:
    db.session.commit()  # what other sessions and processes committed since
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def queue(now, n=3, *, prefix="Notice", channel="sms", purpose="alert", user=None) -> list[int]:
    """`n` messages to send, committed; their ids."""
    messages = []
    for i in range(n):
        target = {"user": user} if user else {
            "recipient": f"+3247000{i:04d}" if channel == "sms" else f"person{i}@example.org"}
        messages.append(outbox.enqueue(now, channel=channel, purpose=purpose, body=f"{prefix} {i}",
                                       subject=f"{prefix} {i}" if channel == "email" else None,
                                       dedup_key=f"test:{prefix}:{channel}:{i}", **target))
    ids = [m.id for m in messages]
    db.session.commit()
    return ids


# --- claims -------------------------------------------------------------------------


def test_a_claim_takes_due_unclaimed_rows_and_expires(app, clock, twilio):
    now = clock.now()
    due = queue(now, 3)
    later = outbox.enqueue(now + timedelta(minutes=5), channel="sms", purpose="alert", body="Later",
                           recipient="+32470009999")
    done = outbox.enqueue(now, channel="sms", purpose="alert", body="Done", recipient="+32470009998")
    done.status = "sent"
    db.session.commit()

    claimed = sending.claim_batch(now, 10, "test")
    db.session.commit()
    assert claimed == due  # oldest due first; not the later one, not the sent one
    assert {m.id: m.claimed_until for m in rows() if m.id in due} == {i: now + timedelta(seconds=120) for i in due}
    assert sending.claim_batch(now, 10, "another") == []  # held
    assert sending.claim_batch(now + timedelta(seconds=119), 10, "another") == []
    # The claimer died: its claims expire and the rows are claimed again.
    db.session.rollback()
    assert sending.claim_batch(now + timedelta(seconds=121), 10, "another") == due
    assert sending.claim_batch(now + timedelta(minutes=6), 10, "third") == due + [later.id]
    assert twilio.messages == []


def test_a_limit_leaves_the_rest_for_the_next_claim(app, clock):
    now = clock.now()
    ids = queue(now, 5)
    assert sending.claim_batch(now, 2, "a") == ids[:2]
    assert sending.claim_batch(now, 2, "b") == ids[2:4]
    assert sending.claim_batch(now, 2, "c") == ids[4:]


def test_concurrent_claimers_take_different_rows(app, clock, on_postgres):
    """On PostgreSQL the first claimer keeps its rows locked (uncommitted)
    while the second claims: SKIP LOCKED passes them by. SQLite has one
    writer at a time: the second claims after the first committed."""
    now = clock.now()
    ids = queue(now, 6)
    claimed: dict[str, list[int]] = {}
    first_claimed, second_done = threading.Event(), threading.Event()

    def claimer(name: str, limit: int, before=None, after=None):
        with app.app_context(), writing():
            if before:
                before.wait(10)
            claimed[name] = sending.claim_batch(now, limit, name)
            if after:
                after.set()
            if on_postgres and name == "first":
                second_done.wait(10)  # hold the row locks while the second claims
            db.session.commit()
            if name == "second":
                second_done.set()

    threads = [threading.Thread(target=claimer, args=("first", 4, None, first_claimed)),
               threading.Thread(target=claimer, args=("second", 6, first_claimed))]
    if not on_postgres:
        threads[0].start()
        threads[0].join(10)
        threads = threads[1:]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    assert len(claimed["first"]) == 4
    assert set(claimed["first"]).isdisjoint(claimed["second"])
    assert sorted(claimed["first"] + claimed["second"]) == ids


# --- delivery runs ----------------------------------------------------------------


def test_a_run_sends_due_messages_once_and_clears_the_claims(app, clock, twilio):
    now = clock.now()
    ids = queue(now, 3)
    assert sending.deliver_due(now) == {"sent": 3}
    assert [(m.status, m.attempts, m.claimed_until, m.sent_at) for m in rows()] == [("sent", 1, None, now)] * 3
    assert twilio.sends_per_body() == {"Notice 0": 1, "Notice 1": 1, "Notice 2": 1}
    assert [m.form["To"] for m in twilio.messages] == ["+32470000000", "+32470000001", "+32470000002"]
    assert all(m.provider_id.startswith("SM") for m in rows())
    assert sending.deliver_due(now + timedelta(minutes=5)) == {}  # nothing twice
    assert len(twilio.messages) == 3 and len(ids) == 3


def test_a_transient_failure_is_retried_with_backoff_and_jitter(app, clock, twilio):
    now = clock.now()
    [message_id] = queue(now, 1)
    twilio.answer_next(500)
    assert sending.deliver_due(now) == {"pending": 1}
    [row] = rows()
    assert (row.status, row.attempts, row.claimed_until) == ("pending", 1, None)
    assert "500" in row.last_error
    # 30 s doubled per attempt, of which a random half: 15–30 s.
    assert now + timedelta(seconds=15) <= row.next_attempt_at <= now + timedelta(seconds=30)
    assert sending.deliver_due(now + timedelta(seconds=14)) == {}  # not yet
    assert sending.deliver_due(row.next_attempt_at) == {"sent": 1}
    assert twilio.sends_per_body() == {"Notice 0": 2}  # a 500, then a 201: sent once
    assert rows()[0].status == "sent" and message_id == row.id


def test_the_backoff_doubles_up_to_its_maximum(app):
    config = {"OUTBOX_RETRY_BASE_SECONDS": 30, "OUTBOX_RETRY_MAX_SECONDS": 600}
    for attempts, full in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (20, 600)]:
        delays = {sending.retry_delay(attempts, config).total_seconds() for _ in range(50)}
        assert all(full / 2 <= delay <= full for delay in delays), (attempts, delays)
        assert len(delays) > 1  # jitter: not all at once


@pytest.mark.parametrize("status", [429, 503])
def test_after_the_last_attempt_a_transient_failure_is_final(app, clock, twilio, status):
    now = clock.now()
    queue(now, 1, purpose="command_reply")
    for attempt in range(1, 5):
        twilio.answer_next(status)
        sending.deliver_due(now)
        [row] = rows()
        assert row.attempts == attempt
        now = row.next_attempt_at if row.status == "pending" else now
    assert row.status == "failed" and "given up after 4 attempts" in row.last_error
    assert count() == 1  # not an alert: no other channel
    assert sending.deliver_due(now + timedelta(days=1)) == {}


def test_twilio_unreachable_is_transient(app, clock, twilio):
    current_app.config["TWILIO_API_BASE"] = "http://127.0.0.1:9"  # nobody listens
    queue(clock.now(), 1)
    assert sending.deliver_due(clock.now()) == {"pending": 1}
    assert rows()[0].last_error == "Twilio unreachable: ConnectionError"


def test_unconfigured_channels_wait_in_the_outbox(app, clock, twilio, smtp):
    current_app.config.update(TWILIO_ACCOUNT_SID=None, SMTP_HOST=None)
    queue(clock.now(), 2)
    queue(clock.now(), 1, channel="email")
    assert sending.deliver_due(clock.now()) == {}
    assert [(m.status, m.attempts, m.claimed_until) for m in rows()] == [("pending", 0, None)] * 3
    current_app.config["SMTP_HOST"] = "127.0.0.1"
    assert sending.deliver_due(clock.now()) == {"sent": 1}
    assert [m.status for m in rows()] == ["pending", "pending", "sent"] and len(smtp.messages) == 1


def test_a_run_stops_sending_at_half_its_claim_time_and_releases_the_rest(app, clock, twilio):
    current_app.config["OUTBOX_CLAIM_SECONDS"] = 0.2
    twilio.delay = 0.15
    queue(clock.now(), 4)
    assert sending.deliver_due(clock.now()) == {"sent": 1, "released": 3}
    assert [(m.status, m.claimed_until) for m in rows()] == [("sent", None)] + [("pending", None)] * 3
    twilio.delay = 0
    current_app.config["OUTBOX_CLAIM_SECONDS"] = 120
    assert sending.deliver_due(clock.now()) == {"sent": 3}


# --- permanent failures and the other channel --------------------------------------


@pytest.fixture
def manager(app):
    user = make.user("manager", phone=MANAGER_PHONE, email="manager@example.org", language="nl")
    db.session.commit()
    return user


def alert_sms(now, user, body="Antwerpen: 1 crisisbed vrij (drempel 3). OK 7", key="alert:1:fired:sms"):
    message = outbox.enqueue(now, channel="sms", purpose="alert", body=body, user=user, dedup_key=key)
    db.session.commit()
    return message.id


def test_an_invalid_number_fails_at_once_and_the_alert_goes_by_email(app, clock, twilio, smtp, manager):
    now = clock.now()
    sms_id = alert_sms(now, manager)
    twilio.answer_next(400)  # Twilio 21211: not a valid number
    assert sending.deliver_due(now) == {"failed": 1}
    failed, instead = rows()
    assert (failed.id, failed.status, failed.attempts) == (sms_id, "failed", 1)
    assert "400" in failed.last_error
    assert (instead.channel, instead.recipient, instead.user_id, instead.status, instead.dedup_key) == (
        "email", "manager@example.org", manager.id, "pending", "alert:1:fired:sms~fallback-email")
    assert instead.body == failed.body and instead.subject == failed.body
    assert sending.deliver_due(now) == {"sent": 1}
    [mail] = smtp.to("manager@example.org")
    assert mail["Subject"] == "Antwerpen: 1 crisisbed vrij (drempel 3). OK 7"
    assert mail.get_content().strip() == failed.body
    assert len(twilio.messages) == 1  # never retried


def test_a_refused_mailbox_fails_and_the_alert_goes_by_sms(app, clock, twilio, smtp, manager):
    now = clock.now()
    outbox.enqueue(now, channel="email", purpose="alert", subject="Tekort Antwerpen", body="1 crisisbed vrij",
                   user=manager, dedup_key="alert:1:fired:email")
    db.session.commit()
    smtp.unknown.add("manager@example.org")
    assert sending.deliver_due(now) == {"failed": 1}
    failed, instead = rows()
    assert failed.status == "failed" and "550" in failed.last_error
    assert (instead.channel, instead.recipient, instead.dedup_key) == (
        "sms", MANAGER_PHONE, "alert:1:fired:email~fallback-sms")
    assert sending.deliver_due(now) == {"sent": 1}
    assert [(m.form["To"], m.form["Body"]) for m in twilio.messages] == [(MANAGER_PHONE, "1 crisisbed vrij")]


def test_no_other_channel_when_there_is_none_or_it_was_told_already(app, clock, twilio, smtp):
    now = clock.now()
    both = make.user("manager", phone="+32470555503", email="both@example.org")
    no_phone = make.user("manager", email="nophone@example.org")
    staff = make.user("shelter_staff", phone="+32470555504", email="staff@example.org")
    # The same notice by SMS and e-mail: the SMS fails, the e-mail tells.
    alert_sms(now, both, key="alert:2:fired:sms")
    outbox.enqueue(now, channel="email", purpose="alert", subject="S", body="Same notice", user=both,
                   dedup_key="alert:2:fired:email")
    # An e-mail refused, to a user without a phone.
    outbox.enqueue(now, channel="email", purpose="alert", subject="S", body="No phone", user=no_phone)
    # Not an alert: a command's reply.
    outbox.enqueue(now, channel="sms", purpose="command_reply", body="Not an alert", user=staff)
    db.session.commit()
    twilio.answer_next(400, 400)
    smtp.unknown.add("nophone@example.org")
    sending.deliver_due(now)
    assert [(m.channel, m.status) for m in rows()] == [("sms", "failed"), ("email", "sent"), ("email", "failed"),
                                                        ("sms", "failed")]
    assert sending.deliver_due(now + timedelta(days=1)) == {}  # no new row


def test_a_fallback_that_fails_does_not_fall_back_again(app, clock, twilio, smtp, manager):
    now = clock.now()
    alert_sms(now, manager)
    twilio.answer_next(400)
    smtp.unknown.add("manager@example.org")
    sending.deliver_due(now)
    sending.deliver_due(now)
    assert [(m.channel, m.status) for m in rows()] == [("sms", "failed"), ("email", "failed")]
    assert sending.deliver_due(now + timedelta(days=1)) == {}


def test_a_failed_delivery_report_sends_the_alert_by_email(app, clock, twilio, manager):
    now = clock.now()
    alert_sms(now, manager)
    sending.deliver_due(now)
    [sent] = rows()
    sending.record_provider_status(sent.provider_id, "undelivered", "30005", now)
    sending.record_provider_status(sent.provider_id, "failed", "30005", now)  # twice: one e-mail
    db.session.commit()
    assert [(m.channel, m.status) for m in rows()] == [("sms", "failed"), ("email", "pending")]


# --- e-mail ------------------------------------------------------------------------------


def test_email_goes_through_smtp(app, clock, smtp):
    queue(clock.now(), 2, channel="email", prefix="Dagoverzicht")
    assert sending.deliver_due(clock.now()) == {"sent": 2}
    mail = smtp.to("person1@example.org")[0]
    assert (mail["From"], mail["Subject"], mail.get_content().strip()) == (
        "opvang@opvang.test", "Dagoverzicht 1", "Dagoverzicht 1")


def test_an_smtp_error_is_transient(app, clock, smtp):
    now = clock.now()
    queue(now, 1, channel="email")
    smtp.defer_next = 1
    assert sending.deliver_due(now) == {"pending": 1}
    [row] = rows()
    assert row.attempts == 1 and "451" in row.last_error
    assert sending.deliver_due(row.next_attempt_at) == {"sent": 1}
    assert len(smtp.messages) == 1


def test_a_mail_server_that_does_not_answer_is_transient(app, clock, smtp):
    current_app.config["SMTP_PORT"] = 9  # nobody listens
    queue(clock.now(), 1, channel="email")
    assert sending.deliver_due(clock.now()) == {"pending": 1}
    assert rows()[0].last_error.startswith("SMTP: ConnectionRefusedError")


# --- the web path and the scheduler never both send -------------------------------------


def test_the_web_path_does_not_send_what_the_scheduler_claimed(app, clock, twilio):
    now = clock.now()
    [message_id] = queue(now, 1)
    assert sending.claim_batch(now, 10, "scheduler") == [message_id]
    db.session.commit()
    assert sending.deliver_now(message_id, now) is None
    assert twilio.messages == [] and rows()[0].status == "pending"


def test_a_slow_web_send_and_a_delivery_run_send_once(app, clock, twilio):
    """The web request claims its reply and sends it slowly; a delivery run
    meanwhile passes it by. No transaction is open while sending, so the run
    does not wait for the web request either."""
    now = clock.now()
    [message_id] = queue(now, 1)
    twilio.delay = 1.0
    results = []

    def web():
        with app.app_context(), writing():
            results.append(sending.deliver_now(message_id, now))

    thread = threading.Thread(target=web)
    thread.start()
    wait_until(lambda: twilio.messages, what="the web send")
    db.session.commit()  # no read snapshot from before the web request's claim
    started = time.monotonic()
    with writing():
        assert sending.deliver_due(now) == {}
    assert time.monotonic() - started < 0.8
    thread.join(10)
    assert results == ["sent"] and len(twilio.messages) == 1


# --- the retry button ---------------------------------------------------------------------


@pytest.fixture
def failed(app, clock, twilio, manager):
    message_id = alert_sms(clock.now(), manager, key=None)
    twilio.answer_next(400)
    sending.deliver_due(clock.now())
    return db.session.get(OutboxMessage, message_id)


@pytest.mark.parametrize("role", ["operator", "manager", "admin"])
def test_a_failed_message_is_retried_from_the_outbox_page(client, clock, twilio, failed, role):
    user = make.user(role)
    make.login(client, user)
    page = client.get("/outbox/?status=failed").get_data(as_text=True)
    assert f'action="/outbox/{failed.id}/retry"' in page and "Retry now" in page
    clock.advance(minutes=10)
    response = client.post(f"/outbox/{failed.id}/retry", data={"status": "failed"})
    assert response.status_code == 302 and response.location.endswith("/outbox/?status=failed")
    db.session.commit()
    row = db.session.get(OutboxMessage, failed.id)
    assert (row.status, row.next_attempt_at, row.attempts) == ("pending", clock.now(), 1)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "outbox.retry"))
    assert (event.actor_id, event.object_id, event.details["status"]) == (user.id, failed.id, "failed")
    assert sending.deliver_due(clock.now()).get("sent") == 2  # it, and its e-mail fallback left pending
    assert twilio.sends_per_body()[row.body] == 2


def test_a_pending_message_is_sent_now(client, clock, twilio):
    [message_id] = queue(clock.now(), 1)
    twilio.answer_next(503)
    sending.deliver_due(clock.now())
    make.login(client, make.user("operator"))
    assert "Next attempt at" in client.get("/outbox/").get_data(as_text=True)
    client.post(f"/outbox/{message_id}/retry")
    assert sending.deliver_due(clock.now()) == {"sent": 1}


def test_a_sent_message_is_not_sent_again(client, clock, twilio):
    [message_id] = queue(clock.now(), 1)
    sending.deliver_due(clock.now())
    make.login(client, make.user("operator"))
    assert f"/outbox/{message_id}/retry" not in client.get("/outbox/").get_data(as_text=True)
    before = (rows()[0].updated_at, rows()[0].status, count(AuditEvent))
    response = client.post(f"/outbox/{message_id}/retry", follow_redirects=True)
    assert "is not sent again" in response.get_data(as_text=True)
    assert (rows()[0].updated_at, rows()[0].status, count(AuditEvent)) == before


@pytest.mark.parametrize("role", ["partner", "shelter_staff"])
def test_only_operators_managers_and_admins_retry(client, clock, failed, role):
    make.login(client, make.user(role))
    before = (failed.status, failed.next_attempt_at, count(AuditEvent))
    assert client.post(f"/outbox/{failed.id}/retry").status_code == 403
    db.session.commit()
    assert (db.session.get(OutboxMessage, failed.id).status, failed.next_attempt_at, count(AuditEvent)) == before


def test_retrying_an_unknown_message_or_by_get(client, failed):
    make.login(client, make.user("operator"))
    events = count(AuditEvent)
    assert client.post("/outbox/999999/retry").status_code == 404
    assert client.get(f"/outbox/{failed.id}/retry").status_code == 405
    db.session.commit()
    assert db.session.get(OutboxMessage, failed.id).status == "failed" and count(AuditEvent) == events


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_retry_needs_the_csrf_token(database_url, baseline_rows, app, failed):
    from tests.conftest import make_app

    client = make_app(database_url, WTF_CSRF_ENABLED=True).test_client()
    operator = make.user("operator")
    db.session.commit()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": operator.email, "password": make.PASSWORD, "csrf_token": token})
    assert client.post(f"/outbox/{failed.id}/retry").status_code == 400
    db.session.commit()
    assert db.session.get(OutboxMessage, failed.id).status == "failed"
    page = client.get("/outbox/").get_data(as_text=True)
    token = csrf_token(page)
    assert client.post(f"/outbox/{failed.id}/retry", data={"csrf_token": token}).status_code == 302
    db.session.commit()
    assert db.session.get(OutboxMessage, failed.id).status == "pending"


# --- the scheduler process --------------------------------------------------------------


def all_sent(ids):
    def check():
        return all(m.status == "sent" for m in rows() if m.id in ids)
    return check


def test_the_scheduler_process_delivers_through_twilio(start_scheduler, twilio, smtp):
    ids = queue(real_now(), 3) + queue(real_now(), 2, channel="email")
    scheduler = start_scheduler()
    wait_until(all_sent(ids), what="delivery", logs=[scheduler])
    assert twilio.sends_per_body() == {"Notice 0": 1, "Notice 1": 1, "Notice 2": 1}
    assert {m["To"] for m in smtp.messages} == {"person0@example.org", "person1@example.org"}
    assert all(m.form["StatusCallback"] == "https://hotline.opvang.test/hotline/sms/status" for m in twilio.messages)
    # The run is recorded and logged just after its last send is committed.
    scheduler.wait_for_log("job deliver_outbox: {'sent'")
    db.session.rollback()
    assert db.session.get(JobRun, "deliver_outbox").runs >= 1


def test_twilio_answering_500_then_201_delivers_once(start_scheduler, twilio):
    twilio.answer_next(500)
    [message_id] = queue(real_now(), 1)
    scheduler = start_scheduler()
    wait_until(all_sent([message_id]), what="delivery", logs=[scheduler])
    [row] = rows()
    assert (row.attempts, row.last_error) == (2, None)
    assert twilio.sends_per_body() == {"Notice 0": 2}  # a 500, then one 201


def test_twilio_down_for_a_while_loses_nothing(start_scheduler, twilio):
    twilio.down = True
    ids = queue(real_now(), 4)
    scheduler = start_scheduler()
    wait_until(lambda: all(m.attempts >= 2 for m in rows()), what="retries while down", logs=[scheduler])
    assert all(m.status == "pending" and "503" in m.last_error for m in rows())
    twilio.down = False
    wait_until(all_sent(ids), what="delivery once Twilio is back", logs=[scheduler])
    assert twilio.sends_per_body() == {f"Notice {i}": 1 for i in range(4)}


def test_a_scheduler_killed_mid_batch_and_another_deliver_everything_once(start_scheduler, twilio):
    """Twilio takes 0.3 s per message. The first scheduler is killed
    (SIGKILL) after its second send: the rest of its batch stays claimed
    until the claims expire (4 s); the second scheduler takes the lease over
    and delivers them. Only the message in flight may go twice."""
    twilio.delay = 0.3
    ids = queue(real_now(), 8)
    first = start_scheduler(OUTBOX_BATCH_SIZE=8)
    wait_until(lambda: len(twilio.messages) >= 2, what="the first sends", logs=[first])
    first.kill()
    killed_after = len(twilio.messages)
    assert killed_after < 8
    claimed = [m for m in rows() if m.status == "pending"]
    assert claimed and all(m.claimed_until is not None for m in claimed)  # its claims outlive it
    second = start_scheduler(OUTBOX_BATCH_SIZE=8)
    wait_until(all_sent(ids), what="delivery by the second scheduler", logs=[first, second])
    sends = twilio.sends_per_body()
    assert set(sends) == {f"Notice {i}" for i in range(8)}
    assert sum(n - 1 for n in sends.values()) <= 1, sends  # at most the one in flight twice
    assert "took the lease" in second.log()
    assert Counter(m.attempts for m in rows())[1] >= 7
