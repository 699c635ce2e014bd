"""Sending the outbox's rows (app.services.delivery.outbox) through Twilio and SMTP.

Delivery never sends a message twice, whichever processes deliver: a sender
first *claims* a row (`claimed_until`, committed before sending), and only
rows that are due and unclaimed, or whose claim has expired, can be claimed.
The scheduler claims batches (`deliver_due`; `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so that concurrent claimers take different rows; SQLite has one
writer at a time anyway); the web paths that send right after their commit
claim their one row (`deliver_now`). A process that dies while sending leaves
its claims behind; they expire and the rows are claimed again, so a message
is never lost, and sent twice at most when the process died between Twilio
accepting it and the row recording that.

Transient failures (Twilio 429 and 5xx, timeouts, connection errors, SMTP
errors) are retried with exponential backoff and jitter, up to
OUTBOX_MAX_ATTEMPTS; permanent ones (an invalid number) fail at once. An
alert notice that fails for good goes to the same user by the other channel.
"""

import logging
import random
import smtplib
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import and_, or_, select, update

from app.extensions import db
from app.models import OutboxMessage
from app.services.delivery.outbox import enqueue
from app.services.hotline import phones, twilio_gateway

log = logging.getLogger(__name__)


def _address(message: OutboxMessage) -> str | None:
    if message.call is None:
        return message.recipient
    # The help-seeker's number, unsealed for this send only.
    sealed = message.call.number_sealed
    return phones.unseal(sealed, current_app.config["CALLER_HASH_KEY"]) if sealed else None


# --- one attempt ----------------------------------------------------------------


@dataclass(frozen=True)
class _Envelope:
    """What sending needs, read from the row before any network traffic."""

    channel: str
    address: str
    subject: str
    body: str
    masked: str


@dataclass(frozen=True)
class _Outcome:
    kind: str  # sent, unconfigured, transient, permanent
    error: str | None = None
    provider_id: str | None = None


def _envelope(message: OutboxMessage) -> _Envelope | None:
    address = _address(message)
    if address is None:
        return None
    return _Envelope(message.channel, address, message.subject or "", message.body, message.recipient_masked)


def _send(config, envelope: _Envelope) -> _Outcome:
    """Send, touching no database."""
    try:
        if envelope.channel == "sms":
            twilio = twilio_gateway.client(config)
            if twilio is None:
                log.info("SMS to %s kept in the outbox (Twilio not configured)", envelope.masked)
                return _Outcome("unconfigured", "Twilio is not configured: kept in the outbox")
            sid = twilio_gateway.send_sms(
                twilio,
                from_=config["TWILIO_FROM_NUMBER"],
                to=envelope.address,
                body=envelope.body,
                status_callback=config["HOTLINE_PUBLIC_URL"].rstrip("/") + "/hotline/sms/status",
            )
            log.info("SMS to %s sent", envelope.masked)
            return _Outcome("sent", provider_id=sid)
        if not config.get("SMTP_HOST"):
            log.info("e-mail to %s kept in the outbox (SMTP not configured)", envelope.masked)
            return _Outcome("unconfigured", "SMTP is not configured: kept in the outbox")
        _send_mail(config, envelope.address, envelope.subject, envelope.body)
    except twilio_gateway.SendFailure as failure:
        log.warning("SMS to %s failed: %s", envelope.masked, failure.message)
        return _Outcome("transient" if failure.transient else "permanent", failure.message)
    except smtplib.SMTPRecipientsRefused as error:
        # The server refused the address: 5xx for good (no such mailbox), 4xx for now.
        codes = [code for code, _ in error.recipients.values()]
        permanent = bool(codes) and all(code >= 500 for code in codes)
        log.warning("e-mail to %s refused: %s", envelope.masked, codes)
        return _Outcome("permanent" if permanent else "transient", f"SMTP: recipient refused ({codes})")
    except (OSError, smtplib.SMTPException) as error:
        log.warning("e-mail to %s failed: %s", envelope.masked, error)
        return _Outcome("transient", f"SMTP: {type(error).__name__}: {error}")
    log.info("e-mail to %s sent", envelope.masked)
    return _Outcome("sent")


_jitter = random.Random()


def retry_delay(attempts: int, config) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: doubling from
    OUTBOX_RETRY_BASE_SECONDS up to OUTBOX_RETRY_MAX_SECONDS, with jitter (a
    random half of it), so that messages failed together do not all retry
    together."""
    delay = min(config["OUTBOX_RETRY_MAX_SECONDS"], config["OUTBOX_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1))
    return timedelta(seconds=delay * (0.5 + _jitter.random() / 2))


def _record(message: OutboxMessage, outcome: _Outcome | None, now: datetime) -> None:
    """Write an attempt's outcome (None: no address to send to) in its row."""
    config = current_app.config
    message.attempts += 1
    message.updated_at = now
    if outcome is None:
        message.status, message.last_error = "undeliverable", "no number or address is kept for this recipient"
        return
    if outcome.kind == "sent":
        message.status, message.sent_at, message.last_error = "sent", now, None
        if outcome.provider_id:
            message.provider_id = outcome.provider_id
        return
    message.last_error = outcome.error[:500]
    if outcome.kind == "unconfigured":
        return  # stays pending, in the outbox page
    if outcome.kind == "transient" and message.attempts < config["OUTBOX_MAX_ATTEMPTS"]:
        message.status = "pending"
        message.next_attempt_at = now + retry_delay(message.attempts, config)
        return
    message.status = "failed"
    if outcome.kind == "transient":
        message.last_error = f"{outcome.error} (given up after {message.attempts} attempts)"[:500]
    fall_back(message, now)


def deliver(message: OutboxMessage, now: datetime) -> None:
    """One attempt to send `message`; its row records the outcome: sent;
    pending with its next attempt after a transient failure; failed after a
    permanent one or too many attempts. Without Twilio or SMTP configured,
    the message stays pending, in the outbox page and the log (masked).

    This sends inside the caller's transaction and ignores claims: delivery
    runs use `deliver_due` and `deliver_now`."""
    envelope = _envelope(message)
    _record(message, _send(current_app.config, envelope) if envelope else None, now)


def _send_mail(config, to: str, subject: str, body: str) -> None:
    mail = EmailMessage()
    mail["From"] = config["MAIL_FROM"]
    mail["To"] = to
    mail["Subject"] = subject
    mail.set_content(body)
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
        if config.get("SMTP_USER"):
            smtp.starttls()
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(mail)


# --- the other channel ----------------------------------------------------------

# Marks the dedup key of a message sent instead of a failed one; such a
# message never falls back again.
FALLBACK_MARK = "~fallback-"
SMS_MAX_BODY = 1600


def _is_alert_notice(message: OutboxMessage) -> bool:
    return message.alert_id is not None or message.purpose.startswith("alert")


def fall_back(message: OutboxMessage, now: datetime) -> OutboxMessage | None:
    """An alert notice that failed for good goes to its user by the other
    channel (SMS → e-mail, e-mail → SMS) when the user has one: a new row with
    its own dedup key. None when there is no other channel, when the same
    notice was written for that channel already, or for other messages."""
    user = message.user
    if user is None or not _is_alert_notice(message) or FALLBACK_MARK in (message.dedup_key or ""):
        return None
    other = "email" if message.channel == "sms" else "sms"
    address = user.email if other == "email" else user.phone
    if not address:
        return None
    # The same notice, written in the same transaction for the other channel.
    told = db.session.scalar(select(OutboxMessage.id).where(
        OutboxMessage.user_id == user.id, OutboxMessage.channel == other,
        OutboxMessage.alert_id == message.alert_id, OutboxMessage.purpose == message.purpose,
        OutboxMessage.created_at == message.created_at,
    ).limit(1))
    key = f"{message.dedup_key or f'outbox-{message.id}'}{FALLBACK_MARK}{other}"
    if len(key) > OutboxMessage.dedup_key.type.length:
        key = f"outbox-{message.id}{FALLBACK_MARK}{other}"
    if told is not None or db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)):
        return None
    if other == "email":
        subject, body = message.subject or (message.body.splitlines() or [""])[0][:100], message.body
    else:
        subject, body = None, message.body[:SMS_MAX_BODY]
    instead = enqueue(now, channel=other, purpose=message.purpose, body=body, user=user, subject=subject,
                      dedup_key=key, alert_id=message.alert_id)
    log.info("%s %d to %s failed: sent as %s %d to %s instead", message.channel, message.id,
             message.recipient_masked, other, instead.id, instead.recipient_masked)
    return instead


# --- claims and delivery runs -----------------------------------------------------
# These drive their own transactions (they commit): a claim must be committed
# before the send, and an outcome right after it, one message at a time.


def _due(now: datetime):
    return and_(
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def _claim_until(now: datetime) -> datetime:
    return now + timedelta(seconds=current_app.config["OUTBOX_CLAIM_SECONDS"])


def configured_channels(config) -> list[str]:
    """The channels that can send: the others' messages wait in the outbox
    (the embedded default) instead of using up their attempts."""
    channels = ["sms"] if twilio_gateway.client(config) is not None else []
    return channels + (["email"] if config.get("SMTP_HOST") else [])


def claim_batch(now: datetime, limit: int, claimer: str) -> list[int]:
    """Claim up to `limit` due messages (oldest due first) until now + the
    claim time; their ids. The caller commits the claim before sending."""
    channels = configured_channels(current_app.config)
    if not channels:
        return []
    ids = list(db.session.scalars(
        select(OutboxMessage.id)
        .where(_due(now), OutboxMessage.channel.in_(channels))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite has one writer at a time
    ))
    if ids:
        db.session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(claimed_until=_claim_until(now))
            .execution_options(synchronize_session=False)
        )
        log.debug("%s claimed %d outbox messages", claimer, len(ids))
    return ids


def claim(message_id: int, now: datetime, claimer: str) -> bool:
    """Claim one message if it is due and nobody holds it."""
    claimed = db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id, _due(now))
        .values(claimed_until=_claim_until(now)).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not claimed:
        log.debug("%s: outbox message %d is not due or claimed by another", claimer, message_id)
    return claimed


def release(message_ids: list[int]) -> None:
    """Give claims up unused, so the next run takes the rows at once."""
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == "pending")
        .values(claimed_until=None).execution_options(synchronize_session=False)
    )


def send_claimed(message_id: int, now: datetime) -> str | None:
    """Send one message this process claimed, and record the outcome; the
    message's status after it. No transaction is open while sending (on
    SQLite a writer's transaction would hold the write lock). Commits."""
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.status != "pending":
        db.session.commit()
        return None
    envelope = _envelope(message)
    db.session.commit()
    outcome = _send(current_app.config, envelope) if envelope else None
    message = db.session.get(OutboxMessage, message_id)
    if message is None:  # deleted meanwhile
        db.session.commit()
        return None
    _record(message, outcome, now)
    message.claimed_until = None
    status = message.status
    db.session.commit()
    return status


def deliver_now(message_id: int, now: datetime, claimer: str = "web") -> str | None:
    """One attempt to send a message just committed (a web request's reply),
    under the same claim as the scheduler's runs, so that the two never both
    send it. None when it was not due or someone else holds it. Commits."""
    claimed = claim(message_id, now, claimer)
    db.session.commit()
    return send_claimed(message_id, now) if claimed else None


def deliver_due(now: datetime, limit: int | None = None, *, claimer: str = "scheduler") -> dict[str, int]:
    """A delivery run (the scheduler's job): claim a batch of due messages,
    send them one by one, each outcome committed on its own. Sending stops
    once half the claim time is used, so that no message is sent on an
    expired claim; the rest is released for the next run. How many ended in
    each status. Commits."""
    config = current_app.config
    budget = config["OUTBOX_CLAIM_SECONDS"] / 2
    started = time.monotonic()
    ids = claim_batch(now, limit or config["OUTBOX_BATCH_SIZE"], claimer)
    db.session.commit()
    counts: Counter[str] = Counter()
    for index, message_id in enumerate(ids):
        if time.monotonic() - started > budget:
            release(ids[index:])
            db.session.commit()
            counts["released"] += len(ids) - index
            break
        try:
            counts[send_claimed(message_id, now) or "skipped"] += 1
        except Exception:  # noqa: BLE001 - one message's trouble never stops the others
            db.session.rollback()
            log.exception("delivering outbox message %d failed; it is taken up again when its claim expires",
                          message_id)
            counts["error"] += 1
    return dict(counts)


# Twilio's MessageStatus → the outbox's status, and how far along each is:
# a callback that arrives late never moves a message back.
PROVIDER_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "delivered",
                     "undelivered": "failed", "failed": "failed"}
_PROGRESS = {"pending": 0, "sending": 0, "sent": 1, "delivered": 2, "failed": 2, "undeliverable": 2}


def record_provider_status(provider_id: str, provider_status: str, error_code: str | None,
                           now: datetime) -> OutboxMessage | None:
    """A delivery report (Twilio's status callback) for the message Twilio
    knows as `provider_id`; None, and nothing changed, for an unknown one."""
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.provider_id == provider_id))
    if message is None:
        return None
    status = PROVIDER_STATUSES.get((provider_status or "").lower())
    if status is None or _PROGRESS[status] < _PROGRESS.get(message.status, 0):
        return message
    message.status, message.updated_at = status, now
    if status == "failed":
        message.last_error = f"Twilio: {provider_status}" + (f", error {error_code}" if error_code else "")
        fall_back(message, now)
    log.info("%s %d to %s: %s", message.channel, message.id, message.recipient_masked, provider_status)
    return message
