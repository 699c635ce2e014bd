"""Fixtures: `app`, `client`, `runner`, a frozen `clock`, and the database.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL
is set. The schema is built once per run by the real migrations; after each
test every table is emptied and the rows the migrations seeded come back.
"""

import os
import threading
from datetime import UTC, datetime

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import insert, select
from werkzeug.serving import make_server

from app import create_app
from app.clock import FrozenClock
from app.extensions import db
from tests.fake_smtp import FakeSmtpServer, Mailbox
from tests.fake_twilio import FakeTwilio, FakeTwilioServer
from tests.scheduler_process import FAST, SchedulerProcess

# Saturday 28 November 2026, 21:00 in Brussels.
START = datetime(2026, 11, 28, 20, 0, tzinfo=UTC)
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str):
    """Skip for a stated reason, except in CI, where everything must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: nothing may be skipped)", pytrace=False)
    pytest.skip(reason)


def _postgres_answers(url: str) -> str | None:
    import psycopg

    try:
        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.OperationalError as error:
        return str(error).strip().splitlines()[0]
    return None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    problem = _postgres_answers(url)
    if problem:
        unavailable(f"PostgreSQL at TEST_DATABASE_URL does not answer: {problem}")
    import psycopg

    # The test database belongs to the suite: start from an empty schema.
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return url


class Client(FlaskClient):
    """The test client, as a second person at another screen: what the test
    wrote is committed before each request, and what the test reads after it
    comes fresh from the database (a new transaction)."""

    def open(self, *args, **kwargs):
        if has_app_context():
            db.session.commit()
        return super().open(*args, **kwargs)


def make_app(database_url: str, **config):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "CALLER_HASH_KEY": "test-caller-hash-key",
            "HOTLINE_SIGNING_TOKEN": "test-hotline-signing-token",
            "HOTLINE_PUBLIC_URL": "https://hotline.opvang.test",
            "WTF_CSRF_ENABLED": False,
            # Fast hashing: the tests make hundreds of users.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "CLOCK": FrozenClock(START),
            "SERVER_NAME": "localhost",
            **config,
        }
    )
    app.test_client_class = Client
    return app


@pytest.fixture(scope="session")
def baseline_rows(database_url):
    """Migrate once; remember the rows the migrations seeded."""
    app = make_app(database_url)
    with app.app_context():
        upgrade()
        rows = {
            table: [dict(row._mapping) for row in db.session.execute(select(table))]
            for table in db.metadata.sorted_tables
        }
        db.session.remove()
        db.engine.dispose()
    return {table: table_rows for table, table_rows in rows.items() if table_rows}


def _reset(baseline_rows):
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            conn.execute(table.delete())
        for table, rows in baseline_rows.items():
            conn.execute(insert(table), rows)


@pytest.fixture
def app_config():
    """Override in a test module to change the app's configuration."""
    return {}


@pytest.fixture
def app(database_url, baseline_rows, app_config):
    """The app under test.

    Test code itself runs in the app context of a twin (same configuration,
    same clock, same database). Were it the app's own context, Flask would
    reuse it for every request of the test client, and requests would share
    the test's database session instead of having their own as in production.
    """
    clock = FrozenClock(START)
    app = make_app(database_url, CLOCK=clock, **app_config)
    twin = make_app(database_url, CLOCK=clock, **app_config)
    with twin.app_context():
        yield app
        db.session.remove()
        _reset(baseline_rows)
    for each in (app, twin):
        with each.app_context():
            db.engine.dispose()


@pytest.fixture
def clock(app) -> FrozenClock:
    return app.extensions["clock"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def on_postgres(database_url) -> bool:
    return database_url.startswith("postgresql")


@pytest.fixture
def live_server(app):
    """The app served on a free loopback port, as `make run` serves it;
    yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def twilio_server():
    """The fake Twilio API on loopback, for the whole run; a test module
    points the app at it with `app_config` (twilio_server.config())."""
    with FakeTwilioServer() as server:
        yield server


@pytest.fixture
def twilio(twilio_server) -> FakeTwilio:
    """The fake Twilio, with nothing recorded or scripted yet."""
    fake = twilio_server.fake
    fake.requests.clear()
    fake.script.clear()
    fake.down = False
    fake.delay = 0.0
    yield fake
    fake.__dict__.pop("_error", None)  # a test may script its error answers
    fake.delay = 0.0


@pytest.fixture(scope="session")
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback, for the whole run; a test
    module points the app at it with `app_config` (smtp_server.config())."""
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def smtp(smtp_server) -> Mailbox:
    """The fake SMTP server's mailbox, empty, with nothing refused."""
    smtp_server.mailbox.reset()
    yield smtp_server.mailbox
    smtp_server.mailbox.reset()


@pytest.fixture
def start_scheduler(app, database_url, twilio_server, smtp_server, tmp_path):
    """Starts `python -m scheduler` processes on the test's database, with the
    fake Twilio and SMTP server and short intervals (`FAST`; a keyword
    overrides a setting, None removes it). Every process is killed at the end
    of the test, whatever happened, before the database is emptied."""
    started: list[SchedulerProcess] = []

    def start(**settings) -> SchedulerProcess:
        process = SchedulerProcess({
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "CALLER_HASH_KEY": "test-caller-hash-key",
            "HOTLINE_PUBLIC_URL": "https://hotline.opvang.test",
            **twilio_server.config(),
            **smtp_server.config(),
            **FAST,
            **settings,
        }, tmp_path / f"scheduler-{len(started) + 1}.log")
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()
