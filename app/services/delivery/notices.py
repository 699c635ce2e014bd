"""Notices the scheduler's jobs send to registered users, each exactly once.

A notice is an outbox row with a dedup key (unique in the outbox): a job that
runs again, or a second scheduler racing the first, finds the key taken and
writes nothing. Delivery is app/services/delivery/sending.py's.
"""

from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import OutboxMessage, User
from app.services.delivery import outbox


def channel_for(user: User) -> str:
    """By SMS to a user with a phone, else by e-mail."""
    return "sms" if user.phone else "email"


def already_sent(key: str) -> bool:
    return db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)) is not None


def send_once(now: datetime, *, key: str, user: User, channel: str, purpose: str, body: str,
              subject: str | None = None) -> OutboxMessage | None:
    """Write the notice `key` to the outbox, unless it is there already
    (then None, and nothing written)."""
    if already_sent(key):
        return None
    try:
        with db.session.begin_nested():
            return outbox.enqueue(now, channel=channel, purpose=purpose, body=body, user=user,
                                  subject=subject if channel == "email" else None, dedup_key=key)
    except IntegrityError:  # written meanwhile by another transaction
        return None


def page_url(path: str) -> str:
    """A page of the app as its users reach it (HOTLINE_PUBLIC_URL is the
    app's public address)."""
    return current_app.config["HOTLINE_PUBLIC_URL"].rstrip("/") + path
