"""The outbox: every outbound SMS and e-mail is a row written in the same
transaction as the decision to send it, then delivered (app.services.delivery.sending).
Nothing is lost when Twilio or the mail server is down; the row says what happened.

Here: writing the rows (`enqueue`, `enqueue_many`), and the outbox page's
list and retry.
"""

from datetime import datetime

from sqlalchemy import Select, insert, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Call, OutboxMessage, User
from app.models.hotline import OUTBOX_STATUSES
from app.services.core import audit
from app.services.core.access import OUTBOX_USERS, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.hotline import phones


def enqueue(
    now: datetime,
    *,
    channel: str,
    purpose: str,
    body: str,
    user: User | None = None,
    call: Call | None = None,
    recipient: str | None = None,
    subject: str | None = None,
    dedup_key: str | None = None,
    alert_id: int | None = None,
) -> OutboxMessage:
    """Write a message to send: to a user (their phone or e-mail by channel),
    to the help-seeker of `call` (their sealed number), or to `recipient`."""
    if call is not None:
        recipient, masked = None, call.caller_masked
    else:
        recipient, masked = _recipient(channel, user, recipient)
    message = OutboxMessage(
        created_at=now,
        channel=channel,
        recipient=recipient,
        recipient_masked=masked,
        user=user,
        call=call,
        subject=subject,
        body=body,
        purpose=purpose,
        dedup_key=dedup_key,
        alert_id=alert_id,
        status="pending",
        next_attempt_at=now,
        updated_at=now,
    )
    db.session.add(message)
    db.session.flush()
    return message


def enqueue_many(now: datetime, messages: list[dict]) -> None:
    """Write many messages to users in one statement (an alert run's
    notices); each a dict of `enqueue`'s keywords with `user`, and
    `next_attempt_at` when it is to wait. Their ids are not read back."""
    rows = []
    for fields in messages:
        fields = dict(fields)
        user = fields.pop("user")
        recipient, masked = _recipient(fields["channel"], user, None)
        rows.append({"created_at": now, "recipient": recipient, "recipient_masked": masked, "user_id": user.id,
                     "status": "pending", "next_attempt_at": now, "updated_at": now, **fields})
    if rows:
        # Core, not the ORM's bulk insert: no per-row bookkeeping for rows the
        # session never loads.
        db.session.connection().execute(insert(OutboxMessage.__table__), rows)


def _recipient(channel: str, user: User | None, recipient: str | None) -> tuple[str, str]:
    """The number or address to send to (the user's, by channel, unless
    given), and how pages show it."""
    if recipient is None and user is not None:
        recipient = user.phone if channel == "sms" else user.email
    if not recipient:
        raise ValueError(f"no {channel} address for this message")
    return recipient, phones.mask(recipient) if channel == "sms" else recipient


# --- the outbox page --------------------------------------------------------------

RETRYABLE = ("pending", "failed")


def get(message_id: int) -> OutboxMessage:
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("no such message")
    return message


def listing(status: str | None = None) -> Select:
    """Messages newest first, of `status` if given: the outbox page and the API."""
    if status is not None and status not in OUTBOX_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(OUTBOX_STATUSES)}", field="status")
    query = select(OutboxMessage).options(selectinload(OutboxMessage.user)).order_by(OutboxMessage.id.desc())
    return query if status is None else query.where(OutboxMessage.status == status)


def listed(*, status: str | None = None, before_id: int | None = None, limit: int = 100) -> list[OutboxMessage]:
    """The API's list: `listing`, paged on by `before_id`."""
    query = listing(status)
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    return list(db.session.scalars(query.limit(limit)))


def retry(actor: Actor, message: OutboxMessage, now: datetime) -> OutboxMessage:
    """Send a failed or waiting message at the next delivery run: due now,
    one more attempt (a message being sent right now is not sent twice: its
    claim holds)."""
    if not actor.has_role(*OUTBOX_USERS):
        raise Forbidden("only operators, managers and admins retry messages")
    if message.status not in RETRYABLE:
        raise Conflict(f"a message that is {message.status} is not sent again", field="status",
                       current={"notification": message})
    previous = message.status
    message.status, message.next_attempt_at, message.updated_at = "pending", now, now
    audit.record(actor, "outbox.retry", now, message, status=previous, attempts=message.attempts)
    return message
