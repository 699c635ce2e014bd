"""The outbox: every outbound SMS and e-mail is a row written in the same
transaction as the decision to send it, then delivered. Nothing is lost when
Twilio or the mail server is down; the row says what happened."""

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Call, OutboxMessage, User
from app.services import phones, twilio_gateway

log = logging.getLogger(__name__)


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
) -> OutboxMessage:
    """Write a message to send: to a user (their phone or e-mail by channel),
    to the help-seeker of `call` (their sealed number), or to `recipient`."""
    if call is not None:
        recipient, masked = None, call.caller_masked
    else:
        if recipient is None and user is not None:
            recipient = user.phone if channel == "sms" else user.email
        if not recipient:
            raise ValueError(f"no {channel} address for this message")
        masked = phones.mask(recipient) if channel == "sms" else recipient
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
        status="pending",
        next_attempt_at=now,
        updated_at=now,
    )
    db.session.add(message)
    db.session.flush()
    return message


def _address(message: OutboxMessage) -> str | None:
    if message.call is None:
        return message.recipient
    # The help-seeker's number, unsealed for this send only.
    sealed = message.call.number_sealed
    return phones.unseal(sealed, current_app.config["CALLER_HASH_KEY"]) if sealed else None


def deliver(message: OutboxMessage, now: datetime) -> None:
    """One attempt to send `message`; its row records the outcome. Without
    Twilio or SMTP configured, the message stays pending, in the outbox page
    and the log (masked)."""
    config = current_app.config
    message.attempts += 1
    message.updated_at = now
    address = _address(message)
    if address is None:
        message.status, message.last_error = "undeliverable", "no number or address is kept for this recipient"
        return
    try:
        if message.channel == "sms":
            twilio = twilio_gateway.client(config)
            if twilio is None:
                message.last_error = "Twilio is not configured: kept in the outbox"
                log.info("SMS to %s kept in the outbox (Twilio not configured)", message.recipient_masked)
                return
            message.provider_id = twilio_gateway.send_sms(
                twilio,
                from_=config["TWILIO_FROM_NUMBER"],
                to=address,
                body=message.body,
                status_callback=config["HOTLINE_PUBLIC_URL"].rstrip("/") + "/hotline/sms/status",
            )
        else:
            if not config.get("SMTP_HOST"):
                message.last_error = "SMTP is not configured: kept in the outbox"
                log.info("e-mail to %s kept in the outbox (SMTP not configured)", message.recipient_masked)
                return
            _send_mail(config, address, message.subject or "", message.body)
    except twilio_gateway.SendFailure as failure:
        message.status = "pending" if failure.transient else "failed"
        message.last_error = failure.message
        log.warning("SMS to %s failed: %s", message.recipient_masked, failure.message)
        return
    except (OSError, smtplib.SMTPException) as error:
        message.status, message.last_error = "pending", f"SMTP: {error}"
        log.warning("e-mail to %s failed: %s", message.recipient_masked, error)
        return
    message.status, message.sent_at, message.last_error = "sent", now, None
    log.info("%s to %s sent", message.channel, message.recipient_masked)


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
    log.info("%s %d to %s: %s", message.channel, message.id, message.recipient_masked, provider_status)
    return message
