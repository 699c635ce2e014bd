"""Who is asking, and may they: sign-in by session or bearer token, the role
checks every blueprint's views use, the CSRF check, the language and time zone
of the request.

A web session is a row on the server (app/services/accounts/sessions.py) whose
random id the signed cookie carries, beside the time of the user's last
activity: the idle timeout is checked, and the time refreshed (at most once a
minute), in the cookie alone, so that a read never writes the database.
Requests that the pages' polling makes send the POLLING_HEADER and do not
count as activity.
"""

from datetime import timedelta
from functools import wraps

from flask import Flask, current_app, request, session
from flask_login import current_user, login_user, logout_user

from app import clock
from app.extensions import csrf, login_manager
from app.models import User
from app.services.accounts import sessions, users
from app.services.core import validation
from app.services.core.access import Actor
from app.services.core.errors import Forbidden, InvalidInput, Unauthenticated


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        # A request that carries a bearer token is authenticated by it alone.
        if bearer_token():
            return None
        try:
            user_id = validation.whole_number(user_id, "user", 1, validation.MAX_ID)
        except InvalidInput:
            return None
        session_id, active_at = session.get(SESSION_ID), session.get(ACTIVE_AT)
        if not isinstance(session_id, str) or not isinstance(active_at, int | float):
            return None
        now = clock.now()
        if now.timestamp() - active_at > _idle_timeout().total_seconds():
            return None
        user = sessions.user_of(session_id, user_id, now, _lifetime())
        # Activity moves the cookie's time on at most once a minute: within
        # it, rewriting (and signing) the cookie would tell the idle timeout
        # nothing it needs, and an idle session ends at most a minute early.
        if (user is not None and not request.headers.get(POLLING_HEADER)
                and now.timestamp() - active_at >= ACTIVITY_STEP.total_seconds()):
            session[ACTIVE_AT] = now.timestamp()
        return user

    @login_manager.request_loader
    def load_user_from_token(req) -> User | None:
        token = bearer_token()
        return users.user_for_token(token) if token else None

    @login_manager.unauthorized_handler
    def unauthorized():
        raise Unauthenticated("sign in, or send a valid bearer token")

    @app.before_request
    def check_csrf():
        # Cookie-authenticated writes need the CSRF token. Bearer calls cannot
        # be forged by another site (a browser cannot add the header across
        # origins); Twilio webhooks are signed instead (`csrf.exempt`).
        if not app.config["WTF_CSRF_ENABLED"] or bearer_token():
            return
        # An API call without a session has nothing another site could forge
        # on its behalf: let the view answer 401, not a CSRF error.
        if request.path.startswith("/api/") and not current_user.is_authenticated:
            return
        csrf.protect(apply_exemptions=True)


# The session cookie's keys: the server-side session's id, and the time
# (seconds since the epoch) of the user's last activity.
SESSION_ID = "web_session"
ACTIVE_AT = "active_at"
# Sent by the pages' polling elements (`hx-headers`): their requests are not activity.
POLLING_HEADER = "X-Opvang-Poll"
# How finely the cookie records the last activity.
ACTIVITY_STEP = timedelta(minutes=1)


def _lifetime() -> timedelta:
    return timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])


def _idle_timeout() -> timedelta:
    return timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])


def sign_in(user: User) -> None:
    """Start a web session for `user` (authenticated already)."""
    now = clock.now()
    login_user(user)
    session[SESSION_ID] = sessions.start(user, now, _lifetime())
    session[ACTIVE_AT] = now.timestamp()


def sign_out() -> None:
    """End this browser's web session: its cookie, copied or not, no longer signs anyone in."""
    session_id = session.pop(SESSION_ID, None)
    session.pop(ACTIVE_AT, None)
    if isinstance(session_id, str):
        sessions.end(session_id)
    logout_user()


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("language") in languages:
        return session["language"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


def roles_required(*roles: str):
    """Only signed-in users holding one of `roles` get through; others get a
    401 (not signed in) or a 403 (signed in, wrong role)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if roles and not current_user.has_role(*roles):
                raise Forbidden(f"this needs the role {' or '.join(roles)}")
            return view(*args, **kwargs)

        return wrapped

    return decorator


login_required = roles_required()


def current_actor(source: str = "web") -> Actor:
    user = current_user if current_user.is_authenticated else None
    if bearer_token() and source == "web":
        source = "api"
    return Actor(user=user, source=source, ip=request.remote_addr)
