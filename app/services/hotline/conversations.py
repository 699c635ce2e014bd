"""SMS contacts with help-seekers: a text from a number nobody registered.

A help-seeker's texts form one contact (a Call with channel "sms") while the
conversation's last message, either way, is less than SMS_CONVERSATION_HOURS
old; a later text starts a new contact. Because the help-seeker started a
conversation that is answered by SMS, their full number is kept, sealed, on
the contact (PRODUCT.md section 5, rule 2) until CALLBACK_NUMBER_RETENTION_DAYS
after their last text; it is never displayed, and each use of it (a reply) is
audited. The first text of a conversation gets an automatic reply
(SMS_AUTO_REPLY): neutral, since someone else may read the phone, it asks when
it is safe to write back and suggests deleting the conversation. It is in the
language of that first text when its words tell (app.texts.sms.language_of),
else in all three; the contact takes that language.
"""

import logging
import string
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from app.config import Defaults
from app.extensions import db
from app.models import Call, OutboxMessage, SmsMessage
from app.services.core import audit
from app.services.core.access import CALL_WORKERS, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.delivery import outbox
from app.services.hotline import phones
from app.texts import sms as sms_texts

log = logging.getLogger(__name__)

# An SMS contact waiting for (or in) an answer is live in the console like a
# call in progress; an earlier one is completed when a new one starts.
OPEN = "in-progress"
CLOSED = "completed"
KEPT_FOR = "sms_conversation"
# Twilio's limit for one outbound message body.
MAX_BODY = 1600
AUTO_REPLY_ACTOR = Actor(user=None, source="sms")
# The outbox purpose of the automatic reply: the console shows from its row
# that the safety advice went out (safety_advice).
AUTO_REPLY_PURPOSE = "sms_auto_reply"
AUTO_REPLY_PLACEHOLDERS = {"hours"}


def _window() -> timedelta:
    return timedelta(hours=current_app.config["SMS_CONVERSATION_HOURS"])


def _erase_at(now: datetime) -> datetime:
    return now + timedelta(days=current_app.config["CALLBACK_NUMBER_RETENTION_DAYS"])


def last_message_at(call: Call) -> datetime:
    at = db.session.scalar(select(func.max(SmsMessage.at)).where(SmsMessage.call_id == call.id))
    return at or call.started_at


def open_conversation(caller_hash: str | None, now: datetime) -> Call | None:
    """The caller's SMS contact whose last message is within the window."""
    if caller_hash is None:
        return None
    call = db.session.scalar(
        select(Call).where(Call.channel == "sms", Call.caller_hash == caller_hash).order_by(Call.id.desc()).limit(1)
    )
    if call is None or now - last_message_at(call) >= _window():
        return None
    return call


def receive(number: str | None, body: str, message_sid: str, now: datetime) -> OutboxMessage | None:
    """Record a help-seeker's text (`number` normalised, None when withheld).
    The automatic reply to write to the outbox, if this text starts a
    conversation; None otherwise, and for a replay of a text already recorded."""
    if db.session.scalar(select(SmsMessage.id).where(SmsMessage.sid == message_sid)) is not None:
        log.info("SMS %s is a replay: ignored", message_sid)
        return None
    key = current_app.config["CALLER_HASH_KEY"]
    hashed = phones.caller_hash(number, key) if number else None
    call = open_conversation(hashed, now)
    starts = call is None
    if starts:
        _close_earlier(hashed, now)
        call = Call(
            sid=message_sid, channel="sms", caller_hash=hashed, caller_masked=phones.mask(number),
            status=OPEN, started_at=now, updated_at=now, menu_choices=[], needs={}, callback_requested=False,
            language=sms_texts.language_of(body),
        )
        db.session.add(call)
    elif call.status != OPEN:
        # Closed by an operator, but the help-seeker wrote again: live again.
        call.status, call.ended_at = OPEN, None
    if number:
        # Kept to answer this conversation, until the retention after the last text.
        if call.number_sealed is None:
            call.number_sealed = phones.seal(number, key)
        call.number_kept_for, call.number_erase_at = KEPT_FOR, _erase_at(now)
    call.updated_at = now
    db.session.add(SmsMessage(call=call, direction="in", body=body or "", sid=message_sid, at=now))
    db.session.flush()
    log.info("SMS from %s %s contact %d", call.caller_masked, "started" if starts else "joined", call.id)
    if not starts or not number:
        return None
    body = auto_reply(current_app.config["SMS_AUTO_REPLY"], call.language, current_app.config["HOTLINE_HOURS"])
    sms = _send(AUTO_REPLY_ACTOR, call, body, now, purpose=AUTO_REPLY_PURPOSE,
                dedup_key=f"{AUTO_REPLY_PURPOSE}:{call.sid}")
    return sms.outbox


def auto_reply(texts: dict[str, str], language: str | None, hours: str) -> str:
    """The automatic reply in `language`; in every language, one a line, when
    the help-seeker's language is not known."""
    languages = [language] if language in sms_texts.LANGUAGES else sms_texts.LANGUAGES
    return "\n".join(texts[lang].format(hours=hours) for lang in languages)


def checked_auto_replies(configured, hours: str) -> dict[str, str]:
    """SMS_AUTO_REPLY as the app uses it, checked when the app starts: the
    configured texts over the defaults (a language left out keeps its
    default). ValueError saying what is wrong: an unknown language, a text
    that is empty, uses a placeholder other than {hours}, or makes the reply
    in all three languages longer than one SMS may be."""
    if not isinstance(configured, dict):
        raise ValueError('SMS_AUTO_REPLY must be a mapping of language to text, e.g. {"nl": "...", "fr": "..."}')
    unknown = sorted(set(configured) - set(sms_texts.LANGUAGES), key=str)
    if unknown:
        raise ValueError(f"SMS_AUTO_REPLY: unknown language {unknown[0]!r} (languages: "
                         f"{', '.join(sms_texts.LANGUAGES)})")
    texts = {**Defaults.SMS_AUTO_REPLY, **configured}
    for lang in sms_texts.LANGUAGES:
        text = texts[lang]
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"SMS_AUTO_REPLY[{lang!r}] must be a text that is not empty")
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError:
            raise ValueError(f"SMS_AUTO_REPLY[{lang!r}]: a brace without its pair (write {{{{ for a brace)") from None
        if not names <= AUTO_REPLY_PLACEHOLDERS:
            raise ValueError(f"SMS_AUTO_REPLY[{lang!r}]: the only placeholder is {{hours}}, not "
                             f"{{{sorted(names - AUTO_REPLY_PLACEHOLDERS)[0]}}}")
    longest = len(auto_reply(texts, None, hours))
    if longest > MAX_BODY:
        raise ValueError(f"SMS_AUTO_REPLY: in all three languages the reply is {longest} characters, "
                         f"at most {MAX_BODY}")
    return texts


def safety_advice(call: Call) -> OutboxMessage | None:
    """The outbox row of the automatic reply to this SMS contact: whether (and
    when) the safety advice went out."""
    return db.session.scalar(
        select(OutboxMessage).where(OutboxMessage.call_id == call.id, OutboxMessage.purpose == AUTO_REPLY_PURPOSE)
        .order_by(OutboxMessage.id).limit(1)
    )


def _close_earlier(caller_hash: str | None, now: datetime) -> None:
    if caller_hash is None:
        return
    earlier = db.session.scalars(
        select(Call).where(Call.channel == "sms", Call.caller_hash == caller_hash, Call.status == OPEN)
    )
    for call in earlier:
        call.status, call.ended_at, call.updated_at = CLOSED, last_message_at(call), now


def number_kept(call: Call, now: datetime) -> bool:
    """Whether this contact's full number may still be used to answer it."""
    return (
        call.channel == "sms"
        and call.number_kept_for == KEPT_FOR
        and call.number_sealed is not None
        and call.number_erase_at is not None
        and call.number_erase_at > now
    )


def reply(actor: Actor, call: Call, body: str, now: datetime) -> SmsMessage:
    """An operator's (or manager's) SMS to the help-seeker of `call`: written
    to the outbox (deliver `.outbox` after the commit) and to the
    conversation. A use of the full number, so audited. Conflict when the
    number is no longer kept."""
    if not actor.has_role(*CALL_WORKERS):
        raise Forbidden("only operators and managers answer help-seekers")
    text = (body or "").strip() if isinstance(body, str) else None
    if not text:
        raise InvalidInput("write a message", field="body")
    if len(text) > MAX_BODY:
        raise InvalidInput(f"the message is too long (at most {MAX_BODY} characters)", field="body")
    if not number_kept(call, now):
        raise Conflict("this contact's number is no longer kept: it cannot be answered by SMS")
    return _send(actor, call, text, now, purpose="sms_reply")


def _send(actor: Actor, call: Call, body: str, now: datetime, *, purpose: str,
          dedup_key: str | None = None) -> SmsMessage:
    message = outbox.enqueue(now, channel="sms", call=call, purpose=purpose, body=body, dedup_key=dedup_key)
    sms = SmsMessage(call=call, direction="out", body=body, outbox=message, at=now, sent_by_id=actor.user_id)
    db.session.add(sms)
    call.updated_at = now
    db.session.flush()
    audit.record(actor, "call.number_used", now, call, purpose=purpose, outbox_id=message.id)
    return sms
