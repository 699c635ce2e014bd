"""Web sessions end when they should: at logout (that session only, a copied
cookie included), at a new password (all of the user's), after their absolute
lifetime and after idling (polling is not activity); reads stay reads; cookies
are Secure but in development; HSTS over https."""

import pytest
from sqlalchemy import event

from app import create_app
from app.config import Defaults
from app.extensions import db
from app.models import User
from app.services.accounts import users
from app.web.auth import POLLING_HEADER
from tests import factories as make

POLL = {POLLING_HEADER: "1"}


@pytest.fixture
def app_config():
    # The suite's apps keep sessions for years (conftest.make_app); these tests, for the defaults.
    return {"SESSION_ABSOLUTE_HOURS": Defaults.SESSION_ABSOLUTE_HOURS,
            "SESSION_IDLE_MINUTES": Defaults.SESSION_IDLE_MINUTES}


@pytest.fixture
def operator(app):
    user = make.user("operator", email="op@example.org")
    db.session.commit()
    return user


def signed_in(client) -> bool:
    response = client.get("/dashboard/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def copy_of(app, client):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_logout_ends_that_session_and_a_copied_cookie_with_it(app, client, operator):
    make.login(client, operator)
    thief = copy_of(app, client)
    assert signed_in(thief)
    client.post("/logout")
    assert not signed_in(client)
    assert not signed_in(thief)


def test_logout_leaves_the_users_other_sessions(app, operator):
    desk, phone = app.test_client(), app.test_client()
    make.login(desk, operator)
    make.login(phone, operator)
    desk.post("/logout")
    assert not signed_in(desk)
    assert signed_in(phone)


def test_a_new_password_ends_every_web_session_but_not_api_tokens(app, client, operator, clock):
    make.login(client, operator)
    thief = copy_of(app, client)
    token = make.token_for(operator)
    db.session.commit()
    user = db.session.get(User, operator.id)
    users.save_user(make.SETUP, clock.now(), user=user, email=user.email, name=user.name,
                    roles=sorted(user.roles), password="a brand new password")
    db.session.commit()
    assert not signed_in(client)
    assert not signed_in(thief)
    assert client.get("/api/v1/facilities", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    make.login(client, operator, password="a brand new password")
    assert signed_in(client)


def test_an_admin_setting_a_password_signs_the_user_out(app, client, operator):
    admin = make.user("admin")
    db.session.commit()
    make.login(client, operator)
    admin_client = app.test_client()
    make.login(admin_client, admin)
    response = admin_client.post(f"/admin/users/{operator.id}", data={
        "email": operator.email, "name": operator.name, "roles": ["operator"], "language": "en",
        "password": "set by the admin", "alert_channels": ["sms", "email"]})
    assert response.status_code == 303
    assert not signed_in(client)
    assert signed_in(admin_client)


def test_a_session_ends_after_its_absolute_lifetime_however_active(client, operator, clock, app):
    make.login(client, operator)
    hours = app.config["SESSION_ABSOLUTE_HOURS"]
    for _ in range(hours * 2 - 1):
        clock.advance(minutes=30)
        assert signed_in(client)
    clock.advance(minutes=30)
    assert not signed_in(client)


def test_idling_ends_a_session_and_polling_is_not_activity(client, operator, clock, app):
    idle = app.config["SESSION_IDLE_MINUTES"]
    make.login(client, operator)
    clock.advance(minutes=idle - 5)
    assert signed_in(client)  # a click: active again
    clock.advance(minutes=idle - 5)
    # The page polls on its own: that keeps nobody signed in.
    assert client.get("/console/live", headers=POLL).status_code == 200
    clock.advance(minutes=10)
    assert client.get("/console/live", headers=POLL).status_code == 302  # to the sign-in page
    assert not signed_in(client)


def test_activity_rewrites_the_cookie_at_most_once_a_minute(client, operator, clock, app):
    """A click within the minute leaves the cookie as it is (no Set-Cookie); the
    next minute's moves its time on, which keeps the session alive."""
    idle = app.config["SESSION_IDLE_MINUTES"]
    make.login(client, operator)
    assert signed_in(client)  # the first page puts its CSRF token in the cookie
    clock.advance(seconds=30)
    assert "Set-Cookie" not in client.get("/dashboard/").headers
    clock.advance(seconds=30)
    assert "Set-Cookie" in client.get("/dashboard/").headers
    clock.advance(minutes=idle - 1)
    assert signed_in(client)


def test_the_pages_polling_elements_say_so(client, operator):
    make.login(client, operator)
    for page in ("/dashboard/", "/console/"):
        html = client.get(page).get_data(as_text=True)
        assert f'hx-headers=\'{{"{POLLING_HEADER}": "1"}}\'' in html, page


def test_reading_a_page_writes_nothing(app, client, operator):
    make.login(client, operator)
    writes = []

    def note_writes(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note_writes)
    try:
        assert client.get("/dashboard/").status_code == 200
        assert client.get("/console/live").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note_writes)
    assert writes == []


def test_cookies_are_secure_by_default(client, operator):
    response = make.login(client, operator)
    assert "Secure" in response.headers["Set-Cookie"]


def test_cookies_are_not_secure_in_development_only(monkeypatch, database_url):
    assert create_app({"DATABASE_URL": database_url}).config["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("OPVANG_DEVELOPMENT", "1")
    development = create_app({"DATABASE_URL": database_url}).config
    assert development["SESSION_COOKIE_SECURE"] is False and development["REMEMBER_COOKIE_SECURE"] is False


def test_hsts_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert client.get("/login", base_url="https://localhost").headers["Strict-Transport-Security"].startswith(
        "max-age=")
