"""Fixtures: `app`, `client`, `runner`, a frozen `clock`, and the database.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL
is set. The schema is built once per run by the real migrations, and the app
once per run for each distinct `app_config`. After each test the tables it
changed are emptied and the rows the migrations seeded come back.
"""

import os
import threading
from datetime import UTC, datetime

import pytest
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import exists, insert, literal, select
from werkzeug.serving import make_server

from app import create_app
from app.clock import FrozenClock
from app.extensions import db, writing
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
            # Tests move the clock by hours and days after one sign-in; the
            # session timeouts are tested with their defaults (test_sessions.py).
            "SESSION_ABSOLUTE_HOURS": 10 * 365 * 24,
            "SESSION_IDLE_MINUTES": 10 * 365 * 24 * 60,
            **config,
        }
    )
    app.test_client_class = Client
    return app


def _rows(connection, table) -> list[dict]:
    return [dict(row._mapping) for row in connection.execute(select(table).order_by(*table.primary_key))]


@pytest.fixture(scope="session")
def baseline_rows(database_url):
    """Migrate once; remember the rows the migrations seeded."""
    app = make_app(database_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            rows = {table: _rows(connection, table) for table in db.metadata.sorted_tables}
        db.engine.dispose()
    return {table: table_rows for table, table_rows in rows.items() if table_rows}


def _reset(baseline_rows):
    """Empty the tables that differ from the migrated database and seed them
    again. Which ones is read from the database, not tracked in this process:
    the scheduler processes a test starts write too. Rows are deleted rather
    than truncated: TRUNCATE takes PostgreSQL much longer for small tables
    (it makes new files) and waits for every open transaction on them. A
    transaction rolled back at the end of the test cannot serve either: the
    requests, threads and scheduler processes must see what the test committed.
    Ids go on as before: SQLite reuses the ids of an emptied table, PostgreSQL's
    sequences go on counting."""
    with writing(), db.engine.begin() as connection:
        changed = _changed_tables(connection, baseline_rows)
        for table in reversed(changed):
            connection.execute(table.delete())
        for table in changed:
            if table in baseline_rows:
                connection.execute(insert(table), baseline_rows[table])


def _changed_tables(connection, baseline_rows) -> list:
    """The tables, parents first, that hold other rows than the migrations
    seeded: one query for which tables have rows, and the few seeded tables
    read whole."""
    tables = db.metadata.sorted_tables
    has_rows = connection.execute(
        select(*(exists(select(literal(1)).select_from(table)).label(table.name) for table in tables))
    ).one()._asdict()
    changed = []
    for table in tables:
        if table in baseline_rows:
            if _rows(connection, table) != baseline_rows[table]:
                changed.append(table)
        elif has_rows[table.name]:
            changed.append(table)
    return changed


class AppUnderTest:
    """The app for one configuration, and its twin (same configuration, same
    clock, same database) in whose app context the test code runs. Were it
    the app's own context, Flask would reuse it for every request of the test
    client, and requests would share the test's database session instead of
    having their own as in production."""

    def __init__(self, database_url: str, config: dict):
        self.clock = FrozenClock(START)
        self.app = make_app(database_url, CLOCK=self.clock, **config)
        self.twin = make_app(database_url, CLOCK=self.clock, **config)
        self._built = {each: dict(each.config) for each in (self.app, self.twin)}

    def restore(self) -> None:
        """As built: a test may move the clock or change the configuration."""
        self.clock.at = START
        for each, config in self._built.items():
            each.config.clear()
            each.config.update(config)

    def close_connections(self) -> None:
        for each in self._built:
            with each.app_context():
                db.engine.dispose()


class BuiltApps:
    """The apps built in this run, one per distinct configuration. Only the
    one in use keeps database connections open (PostgreSQL counts them)."""

    def __init__(self, database_url: str):
        self.database_url = database_url
        self.by_config: dict[str, AppUnderTest] = {}
        self.in_use: AppUnderTest | None = None

    def for_config(self, config: dict) -> AppUnderTest:
        key = repr(sorted(config.items()))
        if key not in self.by_config:
            self.by_config[key] = AppUnderTest(self.database_url, config)
        if self.in_use and self.in_use is not self.by_config[key]:
            self.in_use.close_connections()
        self.in_use = self.by_config[key]
        return self.in_use

    def close_connections(self) -> None:
        for each in self.by_config.values():
            each.close_connections()


@pytest.fixture(scope="session")
def built_apps(database_url):
    apps = BuiltApps(database_url)
    yield apps
    apps.close_connections()


@pytest.fixture
def app_config():
    """Override in a test module to change the app's configuration."""
    return {}


@pytest.fixture
def app(built_apps, baseline_rows, app_config):
    """The app under test, built once per run for its configuration and
    restored for each test; test code runs in its twin's app context
    (AppUnderTest)."""
    under_test = built_apps.for_config(app_config)
    under_test.restore()
    with under_test.twin.app_context():
        yield under_test.app
        db.session.remove()
        _reset(baseline_rows)


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
    fake.call_numbers.clear()
    fake.on_call_created = None
    fake.down = False
    fake.delay = 0.0
    fake.forget_recordings()
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
