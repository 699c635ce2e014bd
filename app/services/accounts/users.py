"""Users, passwords, login throttling and API tokens."""

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import Select, bindparam, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models import ApiToken, Facility, Region, User, UserRole
from app.models.alerts import ALERT_CHANNELS
from app.models.user import ROLES
from app.services.accounts import login_throttle, sessions
from app.services.core import audit, validation
from app.services.core.access import Actor, may_give_roles
from app.services.core.errors import Conflict, InvalidInput, NotFound

USER_LANGUAGES = ("nl", "en", "fr")
MIN_PASSWORD_LENGTH = 10


class LoginRefused(Exception):
    def __init__(self, message: str, retry_after: timedelta | None = None):
        super().__init__(message)
        # Set when the attempt was throttled: how long until the next may be checked.
        self.retry_after = retry_after


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def get_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalise_email(email)))


def save_user(
    actor: Actor,
    now: datetime,
    *,
    user: User | None = None,
    email: str,
    name: str,
    roles: list[str],
    region_slugs: list[str] = (),
    facility_slugs: list[str] = (),
    phone: str | None = None,
    language: str = "nl",
    password: str | None = None,
    alert_channels: list[str] | None = None,
) -> User:
    """Create a user (`user` None) or update one, validating every field.
    `alert_channels` (among sms, email; empty: no alert notices) None keeps
    them as they are (both for a new user). An admin cannot take their own
    admin role away (access.may_give_roles)."""
    email = validation.email(email, "email", required=True)
    if not name or not name.strip():
        raise InvalidInput("a name is required", field="name")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown or not roles:
        raise InvalidInput(
            f"roles must be among {', '.join(ROLES)}" + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            field="roles",
        )
    if not may_give_roles(actor, user, roles):
        raise InvalidInput("you cannot remove your own admin role", field="roles")
    phone = validation.phone(phone, "phone")
    if language not in USER_LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(USER_LANGUAGES)}", field="language")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if alert_channels is not None:
        unknown = sorted(set(alert_channels) - set(ALERT_CHANNELS))
        if unknown:
            raise InvalidInput(f"alert channels must be among {', '.join(ALERT_CHANNELS)}; unknown: "
                               f"{', '.join(unknown)}", field="alert_channels")
    regions = _by_slug(Region, region_slugs, "regions")
    facilities = _by_slug(Facility, facility_slugs, "facilities")

    clash = db.session.scalar(select(User).where(User.email == email))
    if clash is not None and clash is not user:
        raise Conflict(f"a user with e-mail {email} exists", field="email")
    if phone:
        clash = db.session.scalar(select(User).where(User.phone == phone))
        if clash is not None and clash is not user:
            raise Conflict("another user has this phone number", field="phone")

    creating = user is None
    if creating:
        user = User(created_at=now)
        db.session.add(user)
    user.email = email
    user.name = name.strip()
    user.phone = phone
    user.language = language
    user.role_rows = [UserRole(role=role) for role in sorted(set(roles))]
    user.regions = regions
    user.facilities = facilities
    if alert_channels is not None:
        user.alert_channels = [channel for channel in ALERT_CHANNELS if channel in alert_channels]
    if password is not None:
        user.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
        # A new password ends every web session (whoever knew the old one is
        # out); API tokens have their own revocation.
        sessions.end_all(user)
    db.session.flush()
    audit.record(
        actor,
        "user.create" if creating else "user.update",
        now,
        user,
        roles=sorted(set(roles)),
        regions=[r.slug for r in regions],
        facilities=[f.slug for f in facilities],
        alert_channels=list(user.alert_channels or []),
    )
    return user


def _by_slug(model, slugs, field: str) -> list:
    slugs = [s for s in dict.fromkeys(slugs) if s]
    if not slugs:
        return []
    found = db.session.scalars(select(model).where(model.slug.in_(slugs))).all()
    missing = sorted(set(slugs) - {row.slug for row in found})
    if missing:
        raise InvalidInput(f"unknown {field}: {', '.join(missing)}", field=field)
    return sorted(found, key=lambda row: slugs.index(row.slug))


def set_active(actor: Actor, user: User, active: bool, now: datetime) -> None:
    user.active = active
    if not active:
        # Deactivation ends every session and token at once.
        revoke_sessions_and_tokens(actor, user, now)
    audit.record(actor, "user.activate" if active else "user.deactivate", now, user)


def revoke_sessions_and_tokens(actor: Actor, user: User, now: datetime) -> int:
    sessions.end_all(user)
    revoked = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    ).rowcount
    audit.record(actor, "user.revoke_tokens", now, user, tokens=revoked)
    return revoked


def authenticate(email: str, password: str, now: datetime, *, ip: str | None) -> User:
    """The user with these credentials, or LoginRefused.

    While a streak of failures from `ip` (or for `email` from `ip`) makes
    attempts wait (login_throttle), the attempt is refused unchecked, with how
    long to wait; unknown e-mail addresses are throttled alike. Otherwise a
    wrong e-mail address, a wrong password and a deactivated account are one
    and the same refusal, and each counts as a failure.
    """
    email = normalise_email(email)
    user = get_user_by_email(email)
    actor = Actor(user, "web", ip)
    wait = login_throttle.retry_after(email, ip, now)
    if wait is not None:
        audit.record(actor, "login.throttled", now, user, email=email)
        raise LoginRefused("too many failed attempts", retry_after=wait)
    if user is None or not user.active or not user.password_hash:
        # Hash anyway, so that an unknown address takes as long as a known one.
        check_password_hash(_DUMMY_HASH, password or "")
        accepted = False
    else:
        accepted = check_password_hash(user.password_hash, password or "")
    if not accepted:
        login_throttle.count_failure(email, ip, now)
        audit.record(actor, "login.failed", now, user, email=email)
        raise LoginRefused("wrong e-mail address or password")
    login_throttle.forget_account(email, ip)
    user.last_login_at = now
    audit.record(actor, "login", now, user)
    return user


_DUMMY_HASH = generate_password_hash("not a real password")


def _token_hash(token: str) -> str:
    # Tokens are 256 random bits: a plain SHA-256 is enough to store them.
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(actor: Actor, user: User, now: datetime) -> str:
    """Make an API token for `user` and return it; only its hash is kept."""
    if not user.active:
        raise Conflict(f"{user.email} is deactivated")
    token = "opv_" + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(user=user, token_hash=_token_hash(token), prefix=token[:10], created_at=now)
    )
    audit.record(actor, "token.create", now, user)
    return token


def user_for_token(token: str) -> User | None:
    """The active user whose unrevoked token this is, or None: one query, by
    the token hash's unique index (sessions.signed_in_user)."""
    return db.session.scalars(_user_by_token(), {"token_hash": _token_hash(token)}).unique().one_or_none()


@cache
def _user_by_token() -> Select:
    # Built once: building it took as long as running it, on every request.
    return (sessions.signed_in_user()
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None), User.active))


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user
