from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import UTCDateTime

CHANNELS = ("voice", "sms")
CALL_STATUSES = ("ringing", "in-progress", "voicemail", "completed", "no-answer", "busy", "failed", "canceled")
OUTCOMES = ("placed", "held", "referred", "advice", "callback", "dropped", "emergency")
# Why a full number is kept (sealed): the caller agreed to a call-back, or
# started an SMS conversation that is answered by SMS.
NUMBER_KEPT_FOR = ("callback", "sms_conversation")
VOICEMAIL_STATUSES = ("unheard", "handled")
# What handling a voicemail settled, which is not the contact's outcome
# (OUTCOMES: placed, held, … are known once the caller is reached): the caller
# is to be called back, the message asked for advice that was given (by the
# call-back's operator or another contact), it was passed to the emergency
# services, or there was nothing to act on (silence, a wrong number).
VOICEMAIL_OUTCOMES = ("callback", "advice", "emergency", "no_action")
# A call-back attempt: the operator's phone rings first (the whisper), then the caller's.
CALLBACK_STATUSES = ("calling_operator", "calling_caller", "in_progress", "ended")
CALLBACK_RESULTS = ("answered", "no_answer", "busy", "voicemail", "operator_no_answer", "failed")
OUTBOX_CHANNELS = ("sms", "email")
OUTBOX_STATUSES = ("pending", "sending", "sent", "delivered", "failed", "undeliverable")


class Call(db.Model):
    """One hotline contact, by voice or SMS."""

    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_status_started_at", "status", "started_at"),
        # The hotline's figures read a period of calls; the missed-calls alert, a window of rings.
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_rang_at", "rang_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Twilio's CallSid, or the first MessageSid of an SMS conversation.
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    # None for a withheld number.
    caller_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_masked: Mapped[str] = mapped_column(String(32))
    number_sealed: Mapped[str | None] = mapped_column(Text)
    number_kept_for: Mapped[str | None] = mapped_column(String(16))
    number_erase_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    menu_choices: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[int | None]
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    safe_to_call_back: Mapped[bool | None]
    safe_to_leave_message: Mapped[bool | None]
    callback_requested: Mapped[bool] = mapped_column(default=False)
    # The household and its needs, as the placement search takes them.
    needs: Mapped[dict] = mapped_column(JSON, default=dict)
    outcome: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str | None] = mapped_column(Text)
    # Risk screening (app.services.hotline.risk): the answers by item key
    # ("yes" | "no" | "unknown"), as sensitive as the notes and purged with them.
    risk_answers: Mapped[dict] = mapped_column(JSON, default=dict)
    risk_score: Mapped[int | None]
    # What the answers give; None while a critical item is unanswered ("not screened").
    risk_computed_level: Mapped[str | None] = mapped_column(String(16))
    # The level that counts: an operator's override (with its reason), else the computed one.
    risk_level: Mapped[str | None] = mapped_column(String(16), index=True)
    risk_override_reason: Mapped[str | None] = mapped_column(Text)
    recording_duration_s: Mapped[int | None]
    # The hotline number the caller dialled (Twilio's `To`): the hotline's figures are per number.
    called_number: Mapped[str | None] = mapped_column(String(32))
    # When the call reached the operators' ring (the <Dial>): answered, or else missed.
    rang_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The voicemail: Twilio's RecordingSid (cleared once Twilio has deleted the
    # recording), when it was left (kept for the figures), and its handling.
    recording_sid: Mapped[str | None] = mapped_column(String(64), index=True)
    voicemail_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voicemail_status: Mapped[str | None] = mapped_column(String(16), index=True)
    voicemail_outcome: Mapped[str | None] = mapped_column(String(16))
    voicemail_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voicemail_handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    operator: Mapped["User | None"] = relationship(foreign_keys=[operator_id])  # noqa: F821
    voicemail_handled_by: Mapped["User | None"] = relationship(foreign_keys=[voicemail_handled_by_id])  # noqa: F821
    messages: Mapped[list["SmsMessage"]] = relationship(back_populates="call", order_by="SmsMessage.id")


class CallbackAttempt(db.Model):
    """An operator's call-back to a contact (PRODUCT.md rule 9): Twilio rings the
    operator's phone, then, on their key, the caller's number kept for a
    call-back. Written (committed) before Twilio is asked to call; the database
    allows one open attempt per contact."""

    __tablename__ = "callback_attempts"
    __table_args__ = (
        Index("uq_callback_attempts_open_call", "call_id", unique=True,
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
        Index("ix_callback_attempts_operator_started_at", "operator_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    operator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(24))
    # How it ended (CALLBACK_RESULTS); None while open.
    result: Mapped[str | None] = mapped_column(String(24))
    # Twilio's CallSid of the operator's leg, and of the caller's leg once dialled.
    operator_leg_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    caller_leg_sid: Mapped[str | None] = mapped_column(String(64))
    # Twilio's answering machine detection on the caller's leg (human, machine_start, unknown, …).
    answered_by: Mapped[str | None] = mapped_column(String(24))
    # The operator confirmed a call-back with `safe to call back` unknown.
    confirmed_unknown: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    call: Mapped[Call] = relationship()
    operator: Mapped["User"] = relationship()  # noqa: F821


class SmsMessage(db.Model):
    """A text in an SMS conversation with a help-seeker, either way."""

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in, out
    body: Mapped[str] = mapped_column(Text)
    # Twilio's MessageSid of an incoming text; outgoing ones go through the outbox.
    sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    call: Mapped[Call] = relationship(back_populates="messages")
    outbox: Mapped["OutboxMessage | None"] = relationship()
    sent_by: Mapped["User | None"] = relationship()  # noqa: F821


class OutboxMessage(db.Model):
    """Every outbound SMS and e-mail: written in the transaction that decides
    to send it, delivered after, never lost, never sent twice."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(8))
    # A registered user's phone or e-mail; NULL when the recipient is the
    # help-seeker of `call_id`, whose number is read (unsealed) only to send.
    recipient: Mapped[str | None] = mapped_column(String(254))
    recipient_masked: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    # The alert this notice is about: its timeline says who was told by what.
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # What it is for (sms_reply, sms_auto_reply, command_reply, alert, …).
    purpose: Mapped[str] = mapped_column(String(32))
    # Unique per message that must go out once (alerts, issue 5).
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped["User | None"] = relationship()  # noqa: F821
    call: Mapped[Call | None] = relationship()


class RateCounter(db.Model):
    """Counts events per key and window in the database, so that every web
    worker sees the same count (e.g. failed webhook signatures per address)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(default=0)
