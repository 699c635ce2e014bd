"""Signing in and out, CSRF, cookies, roles (sessions: test_sessions.py; throttling: test_login_throttle.py)."""

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User
from app.services.accounts import users
from tests import factories as make
from tests.conftest import make_app


@pytest.fixture
def operator(app):
    user = make.user("operator", email="op@example.org")
    db.session.commit()
    return user


def test_login_and_logout(client, operator):
    response = make.login(client, operator)
    assert response.location == "/"
    assert client.get("/dashboard/").status_code == 200
    assert client.post("/logout").status_code == 302
    assert client.get("/dashboard/").status_code == 302
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "login" in actions and "logout" in actions


def test_pages_need_a_login_and_send_you_back_after(client, operator):
    response = client.get("/dashboard/?region=antwerpen")
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")
    response = client.post(response.location, data={"email": operator.email, "password": make.PASSWORD})
    assert response.location == "/dashboard/?region=antwerpen"


def test_login_never_redirects_to_another_site(client, operator):
    response = client.post("/login?next=//evil.example/x", data={"email": operator.email, "password": make.PASSWORD})
    assert response.location == "/"


def test_wrong_password_is_refused(client, operator):
    response = client.post("/login", data={"email": "OP@example.org ", "password": "wrong"})
    assert response.status_code == 401
    # Nobody is signed in: the page speaks the default language, Dutch.
    assert "Verkeerd e-mailadres of wachtwoord" in response.get_data(as_text=True)


def test_unknown_address_gets_the_same_answer(client, operator):
    response = client.post("/login", data={"email": "nobody@example.org", "password": "wrong"})
    assert response.status_code == 401
    assert "Verkeerd e-mailadres of wachtwoord" in response.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client, operator):
    response = make.login(client, operator)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_deactivated_users_lose_their_session(client, operator, clock):
    make.login(client, operator)
    users.set_active(make.SETUP, db.session.get(User, operator.id), False, clock.now())
    db.session.commit()
    assert client.get("/dashboard/").status_code == 302
    assert client.post("/login", data={"email": operator.email, "password": make.PASSWORD}).status_code == 401


def test_revoking_ends_sessions_everywhere(client, operator, clock):
    make.login(client, operator)
    users.revoke_sessions_and_tokens(make.SETUP, db.session.get(User, operator.id), clock.now())
    db.session.commit()
    assert client.get("/dashboard/").status_code == 302


def test_wrong_role_is_a_clear_403(client, operator):
    make.login(client, operator)
    response = client.get("/shelter/")
    assert response.status_code == 403
    assert "shelter_staff or admin" in response.get_data(as_text=True)


def test_language_is_remembered_on_the_account(client, operator):
    make.login(client, operator)
    assert "Capacity at a glance" in client.get("/dashboard/").get_data(as_text=True)
    client.post("/language", data={"language": "nl", "next": "/dashboard/"})
    db.session.rollback()
    assert db.session.get(User, operator.id).language == "nl"
    client.post("/logout")
    make.login(client, operator)
    assert "Capaciteit in één oogopslag" in client.get("/dashboard/").get_data(as_text=True)


@pytest.fixture
def csrf_app(database_url, baseline_rows, app):
    return make_app(database_url, WTF_CSRF_ENABLED=True)


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)


def test_cookie_writes_need_the_csrf_token(csrf_app, operator):
    client = csrf_app.test_client()
    assert client.post("/login", data={"email": operator.email, "password": make.PASSWORD}).status_code == 400
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": operator.email, "password": make.PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    # Signed in by cookie: a write without the token is refused, with it accepted.
    assert client.post("/logout").status_code == 400
    page = client.get("/dashboard/").get_data(as_text=True)
    assert client.post("/logout", headers={"X-CSRFToken": _csrf_token(page)}).status_code == 302


def test_cookie_api_calls_need_the_csrf_token_but_bearer_calls_do_not(csrf_app, app, clock):
    facility = make.facility(units={"crisis_bed": (8, 2)})
    staff = make.user("shelter_staff", facilities_=[facility])
    db.session.commit()
    token = make.token_for(staff)
    db.session.commit()
    unit_id = facility.units[0].id
    client = csrf_app.test_client()
    login_token = _csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": staff.email, "password": make.PASSWORD, "csrf_token": login_token})
    response = client.patch(f"/api/v1/units/{unit_id}", json={"available": 3, "version": 1})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf_failed"
    bearer = csrf_app.test_client().patch(f"/api/v1/units/{unit_id}", json={"available": 3, "version": 1},
                                         headers={"Authorization": f"Bearer {token}"})
    assert bearer.status_code == 200


def test_an_api_call_with_neither_token_nor_session_is_unauthenticated_not_a_csrf_failure(csrf_app):
    client = csrf_app.test_client()
    api_rules = [rule for rule in csrf_app.url_map.iter_rules()
                 if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi"]
    called = 0
    for rule in api_rules:
        path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}").format_map(_Ones())
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, json={})
            assert response.status_code == 401, f"{method} {path}: {response.get_data(as_text=True)}"
            assert response.get_json()["error"]["code"] == "unauthenticated"
            called += 1
    assert called > 25
    response = client.put("/api/v1/holds", json={})
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


class _Ones(dict):
    """Every path parameter is 1."""

    def __missing__(self, key):
        return 1
