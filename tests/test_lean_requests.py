"""A request is lean: signing it in (a session or a bearer token) costs one
query, which loads the user's roles and scopes with them; and a read writes
nothing, audit events aside: no statement that writes, not even one that
changes no row (a "last seen", a token's "last used")."""

import re

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.extensions import db
from app.models import User
from app.services.accounts import sessions, users
from tests import factories as make
from tests import world as make_world
from tests.world import ROLES

# What a read may write: the audit of what it showed (a confidential address,
# a voicemail's listening).
AUDIT_INSERT = re.compile(r"\s*INSERT\s+INTO\s+audit_events\b", re.IGNORECASE)
WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|MERGE|UPSERT)\b", re.IGNORECASE)


class Statements:
    """Every statement sent inside `with`, by any engine: the app's requests'
    and the test's own calls (its app context is the app's twin's, with an
    engine of its own: conftest.AppUnderTest)."""

    def __init__(self):
        self.sent: list[str] = []

    def _note(self, conn, cursor, statement, parameters, context, executemany):
        self.sent.append(statement)

    def __enter__(self):
        self.sent.clear()
        event.listen(Engine, "before_cursor_execute", self._note)
        return self

    def __exit__(self, *exc):
        event.remove(Engine, "before_cursor_execute", self._note)

    @property
    def queries(self) -> list[str]:
        """The statements but the transaction's own (BEGIN, which SQLite is sent as a statement)."""
        return [statement for statement in self.sent if not statement.lstrip().upper().startswith("BEGIN")]

    @property
    def writes(self) -> list[str]:
        return [s for s in self.sent if WRITE.match(s) and not AUDIT_INSERT.match(s)]


@pytest.fixture
def statements():
    return Statements()


@pytest.fixture
def recordings_at_twilio(app, monkeypatch, twilio_server, twilio):
    """The voicemail's audio is at the fake Twilio, for those who may hear it."""
    for key, value in twilio_server.config().items():
        monkeypatch.setitem(app.config, key, value)
    twilio.add_recording(make_world.VOICEMAIL_RECORDING)


def get_paths(app, world) -> list[tuple[str, str]]:
    return sorted(
        (rule.endpoint, path)
        for rule in app.url_map.iter_rules() if "GET" in rule.methods and rule.endpoint != "auth.logout"
        for path in make_world.paths(app, rule, world)
    )


@pytest.mark.parametrize("role", ROLES[1:])
def test_no_read_writes_a_statement_but_an_audit_event(app, clock, statements, recordings_at_twilio, role):
    """Every GET route, as each role, by the session cookie and (the API)
    by a bearer token: no statement that writes, whatever it answers."""
    world = make_world.build(clock)
    by_session = make_world.client_of(app, world, role)
    token = {"Authorization": f"Bearer {make.token_for(world.users[role])}"}
    db.session.commit()
    wrote = []
    for endpoint, path in get_paths(app, world):
        for how, client, headers in (("session", by_session, {}), ("token", app.test_client(), token)):
            if how == "token" and not path.startswith("/api/"):
                continue
            with statements:
                response = client.get(path, headers=headers, buffered=True)
            assert response.status_code < 500, f"GET {path} by {how}: {response.status_code}"
            wrote += [f"GET {path} ({endpoint}) by {how}: {statement}" for statement in statements.writes]
    assert not wrote, f"as {role}:\n" + "\n".join(wrote)


def test_a_read_that_polls_or_clicks_writes_nothing(app, client, statements):
    """The session's activity lives in its cookie: a click refreshes it there, not in a row."""
    operator = make.user("operator")
    db.session.commit()
    make.login(client, operator)
    with statements:
        assert client.get("/dashboard/").status_code == 200
        assert client.get("/dashboard/", headers={"X-Opvang-Poll": "1"}).status_code == 200
    assert statements.writes == []
    assert statements.queries  # the listener hears the app's statements


def signed_in_reads(user: User) -> tuple:
    """What every permission check reads of the signed-in user."""
    return (sorted(user.roles), [region.slug for region in user.regions],
            [facility.slug for facility in user.facilities])


@pytest.mark.parametrize("scoped", [False, True])
def test_a_token_is_resolved_by_one_query_with_roles_and_scopes(app, statements, scoped):
    antwerpen, gent = make.region("antwerpen"), make.region("gent")
    refuge = make.facility("refuge", region_slug="gent")
    user = (make.user("manager", "shelter_staff", regions=[antwerpen, gent], facilities_=[refuge]) if scoped
            else make.user("operator"))
    token = make.token_for(user)
    expected = signed_in_reads(user)
    db.session.commit()
    db.session.expunge_all()
    with statements:
        found = users.user_for_token(token)
        reads = signed_in_reads(found)
    assert reads == expected
    assert len(statements.queries) == 1, statements.queries
    assert "api_tokens" in statements.queries[0]


def test_a_revoked_token_or_a_deactivated_user_signs_nobody_in(app, clock):
    kept, revoked = make.user("operator"), make.user("operator")
    kept_token, revoked_token = make.token_for(kept), make.token_for(revoked)
    users.revoke_sessions_and_tokens(make.SETUP, revoked, clock.now())
    db.session.commit()
    assert users.user_for_token(kept_token).id == kept.id
    assert users.user_for_token(revoked_token) is None
    assert users.user_for_token("opv_not-a-token") is None
    users.set_active(make.SETUP, kept, False, clock.now())
    assert users.user_for_token(kept_token) is None


def test_a_session_is_resolved_by_one_query_with_roles_and_scopes(app, clock, statements):
    antwerpen = make.region("antwerpen")
    user = make.user("manager", regions=[antwerpen])
    lifetime = clock.now() - clock.now().replace(year=clock.now().year - 1)
    session_id = sessions.start(user, clock.now(), lifetime)
    user_id, expected = user.id, signed_in_reads(user)
    db.session.commit()
    db.session.expunge_all()
    with statements:
        found = sessions.user_of(session_id, user_id, clock.now(), lifetime)
        reads = signed_in_reads(found)
    assert reads == expected
    assert len(statements.queries) == 1, statements.queries
    # Another user's id with this session's cookie, or the session past its lifetime: nobody.
    assert sessions.user_of(session_id, user_id + 1, clock.now(), lifetime) is None
    clock.advance(days=366)
    assert sessions.user_of(session_id, user_id, clock.now(), lifetime) is None


def test_a_request_signs_in_with_one_query(app, client, statements):
    """The API's request: the token's one query, then the view's own; the
    user's roles and scopes are not read again."""
    manager = make.user("manager", regions=[make.region("antwerpen")])
    token = make.token_for(manager)
    db.session.commit()
    with statements:
        assert client.get("/api/v1/regions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    reading_the_user = [s for s in statements.queries
                        if re.search(r"\bFROM (users|user_roles|user_regions|user_facilities|api_tokens)\b", s)]
    assert len(reading_the_user) == 1, reading_the_user
