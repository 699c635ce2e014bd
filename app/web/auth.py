"""Who is asking, and may they: sign-in by session or bearer token, the role
checks every blueprint's views use, the CSRF check, the language and time zone
of the request."""

from functools import wraps

from flask import Flask, current_app, request, session
from flask_login import current_user

from app.extensions import csrf, db, login_manager
from app.models import User
from app.services.accounts import users
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
    def load_user(session_id: str) -> User | None:
        # A request that carries a bearer token is authenticated by it alone.
        if bearer_token():
            return None
        user_id, _, epoch = session_id.partition(":")
        try:
            user_id = validation.whole_number(user_id, "user", 1, validation.MAX_ID)
            epoch = validation.whole_number(epoch, "epoch", 0, validation.MAX_ID)
        except InvalidInput:
            return None
        user = db.session.get(User, user_id)
        if user is None or user.session_epoch != epoch:
            return None
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
