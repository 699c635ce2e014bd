"""Sign-in throttling: growing waits by address and by e-mail address from an
address, answered 429 with Retry-After, counted in the database by every
worker; no account lock an attacker controls; one answer for every failure,
whether the e-mail address has an account or not."""

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from app.services.accounts import users
from tests import factories as make
from tests.conftest import make_app

ATTACKER = "203.0.113.66"
MANAGER_DESK = "198.51.100.7"


@pytest.fixture
def manager(app):
    user = make.user("manager", email="night.manager@example.org")
    db.session.commit()
    return user


def answer(response) -> str:
    """The message the sign-in page shows."""
    return re.search(r'<p class="error" role="alert">(.*?)</p>', response.get_data(as_text=True)).group(1)


def attempt(client, email, password, address=ATTACKER):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_wrong_passwords_from_elsewhere_do_not_lock_the_night_manager_out(client, manager):
    for n in range(5):
        assert attempt(client, manager.email, "guess", address=f"203.0.113.{n + 1}").status_code == 401
    for _ in range(10):
        attempt(client, manager.email, "guess")
    assert attempt(client, manager.email, make.PASSWORD, address=MANAGER_DESK).status_code == 302


def test_failures_make_that_address_wait_longer_each_time(client, manager, clock, app):
    free = app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]
    for _ in range(free):
        assert attempt(client, manager.email, "guess").status_code == 401
    # Throttled: not even the right password is checked, and no worker sleeps.
    throttled = attempt(client, manager.email, make.PASSWORD)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "60"
    clock.advance(seconds=59)
    assert attempt(client, manager.email, make.PASSWORD).headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert attempt(client, manager.email, "guess").status_code == 401
    assert attempt(client, manager.email, "guess").headers["Retry-After"] == "120"
    clock.advance(minutes=2)
    assert attempt(client, manager.email, "guess").status_code == 401
    assert attempt(client, manager.email, "guess").headers["Retry-After"] == "240"
    clock.advance(minutes=4)
    assert attempt(client, manager.email, make.PASSWORD).status_code == 302


def test_the_wait_is_capped(client, manager, clock, app):
    longest = app.config["LOGIN_THROTTLE_MAX_WAIT_MINUTES"] * 60
    for _ in range(app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]):
        attempt(client, manager.email, "guess")
    waits = []
    for _ in range(10):
        wait = int(attempt(client, manager.email, "guess").headers["Retry-After"])
        waits.append(wait)
        clock.advance(seconds=wait)
        assert attempt(client, manager.email, "guess").status_code == 401
    assert max(waits) == longest and waits[-1] == longest


def test_a_streak_is_forgotten_after_a_quiet_while(client, manager, clock, app):
    free = app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]
    for _ in range(free):
        attempt(client, manager.email, "guess")
    clock.advance(minutes=1 + app.config["LOGIN_THROTTLE_QUIET_MINUTES"])
    for _ in range(free):
        assert attempt(client, manager.email, "guess").status_code == 401


def test_unknown_e_mail_addresses_are_throttled_alike_with_the_same_answer(client, manager, app):
    free = app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]
    unknown = "nobody@example.org"
    for _ in range(free):
        known_failure = attempt(client, manager.email, "guess", address="192.0.2.1")
        unknown_failure = attempt(client, unknown, "guess", address="192.0.2.2")
        assert known_failure.status_code == unknown_failure.status_code == 401
        assert answer(known_failure) == answer(unknown_failure)
    known = attempt(client, manager.email, "guess", address="192.0.2.1")
    not_known = attempt(client, unknown, "guess", address="192.0.2.2")
    assert known.status_code == not_known.status_code == 429
    assert known.headers["Retry-After"] == not_known.headers["Retry-After"]
    assert answer(known) == answer(not_known)
    assert answer(known).startswith("Te veel mislukte pogingen")


def test_one_address_is_throttled_across_e_mail_addresses(client, manager, app):
    for n in range(app.config["LOGIN_FREE_FAILURES_PER_ADDRESS"]):
        assert attempt(client, f"guess{n}@example.org", "guess").status_code == 401
    assert attempt(client, manager.email, make.PASSWORD).status_code == 429
    assert attempt(client, manager.email, make.PASSWORD, address=MANAGER_DESK).status_code == 302


def test_one_message_for_every_failure(client, manager, clock):
    retired = make.user("operator", email="retired@example.org")
    db.session.commit()
    users.set_active(make.SETUP, retired, False, clock.now())
    db.session.commit()
    tries = [("nobody@example.org", "guess"), (manager.email, "guess"), (retired.email, make.PASSWORD)]
    responses = {email: attempt(client, email, password) for email, password in tries}
    assert {response.status_code for response in responses.values()} == {401}
    assert {answer(response) for response in responses.values()} == {"Verkeerd e-mailadres of wachtwoord."}


def test_a_successful_sign_in_forgets_the_accounts_streak(client, manager, app):
    free = app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]
    for _ in range(free - 1):
        attempt(client, manager.email, "guess")
    assert attempt(client, manager.email, make.PASSWORD).status_code == 302
    client.post("/logout")
    for _ in range(free - 1):
        assert attempt(client, manager.email, "guess").status_code == 401


def test_failures_are_counted_in_the_database_across_workers(database_url, app, manager, clock):
    # Two app instances stand for two web workers: the count is shared, and
    # kept although each failure is answered 401.
    worker_a = app.test_client()
    worker_b = make_app(database_url, CLOCK=clock).test_client()
    for n in range(app.config["LOGIN_FREE_FAILURES_PER_ACCOUNT"]):
        assert attempt(worker_a if n % 2 else worker_b, manager.email, "guess").status_code == 401
    assert attempt(worker_a, manager.email, make.PASSWORD).status_code == 429
    assert attempt(worker_b, manager.email, make.PASSWORD).status_code == 429


def test_sign_ins_are_still_audited(client, manager):
    attempt(client, manager.email, "guess")
    attempt(client, manager.email, make.PASSWORD)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-2:] == ["login.failed", "login"]
    assert db.session.get(User, manager.id).last_login_at is not None
