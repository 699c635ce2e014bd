"""Web sessions: one row per signed-in browser, so that signing out ends that
session (a copied cookie stops working) and a new password ends them all.

The browser's signed cookie carries the session's random id; only its SHA-256
is stored, so that the table alone lets nobody in. The idle timeout lives in
the cookie (app/web/auth.py): reading a page never writes here.
"""

import hashlib
import secrets
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import User, WebSession


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(user: User, now: datetime, lifetime: timedelta) -> str:
    """A new session for `user`; its id, for the cookie. The user's sessions
    past their lifetime are cleared away on the way."""
    db.session.execute(
        delete(WebSession).where(WebSession.user_id == user.id, WebSession.created_at <= now - lifetime)
    )
    session_id = secrets.token_urlsafe(32)
    db.session.add(WebSession(id_hash=_hash(session_id), user_id=user.id, created_at=now))
    return session_id


def signed_in_user() -> Select:
    """`select(User)` for the user a request is signed in as, their roles and
    scopes (regions, facilities) joined in, which every permission check of
    the request reads: one query instead of one for the user and one for
    each of those (the relationships' own loading)."""
    return select(User).options(joinedload(User.role_rows), joinedload(User.regions), joinedload(User.facilities))


def user_of(session_id: str, user_id: int, now: datetime, lifetime: timedelta) -> User | None:
    """The active user whose live session this is, or None (signed out,
    ended by a new password, older than `lifetime`): one query, by the
    session's primary key."""
    return db.session.scalars(
        _user_by_session(), {"id_hash": _hash(session_id), "user_id": user_id, "since": now - lifetime}
    ).unique().one_or_none()


@cache
def _user_by_session() -> Select:
    # Built once: building it took as long as running it, on every request.
    return (signed_in_user()
            .join(WebSession, WebSession.user_id == User.id)
            .where(WebSession.id_hash == bindparam("id_hash"), WebSession.user_id == bindparam("user_id"),
                   WebSession.created_at > bindparam("since"), User.active))


def end(session_id: str) -> None:
    db.session.execute(delete(WebSession).where(WebSession.id_hash == _hash(session_id)))


def end_all(user: User) -> None:
    """Sign `user` out in every browser (API tokens are revoked apart)."""
    db.session.execute(delete(WebSession).where(WebSession.user_id == user.id))
