"""SMS commands from registered phones (PRODUCT.md section 6).

`VRIJ n` / `FREE n` / `LIBRE n` [kind] [facility code] sets what a unit has
available, exactly as the web does (capacity.set_available: the same
validation, history with source `sms`, audit); `STATUS` [code] answers the
counts; `HELP` / `HULP` / `AIDE` explains. Anything else gets the help text and
changes nothing. Every text gets exactly one reply, through the outbox, keyed
by the text's MessageSid so that a replayed webhook changes nothing twice and
sends no second reply.

`OK code` acknowledges alert `code` (alerts.acknowledge, source `sms`): for
the managers of the alert's region (every manager for a hotline alert),
admins and the users its rule names. An
unknown code, or one of an alert that is not the sender's, gets the same
polite reply and changes nothing; so does an alert already acknowledged or
resolved (the reply says so).
"""

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from app.clock import local_zone
from app.extensions import db
from app.models import Alert, CapacityKind, CapacityUnit, Facility, OutboxMessage, User
from app.services.alerts import episodes
from app.services.core import validation
from app.services.core.access import ALERT_READERS, Actor, can_update_facility, may_acknowledge_alert
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.delivery import outbox
from app.services.hotline import phones
from app.services.registry import capacity
from app.texts import alerts as alert_texts
from app.texts import sms

log = logging.getLogger(__name__)

VERBS = {
    "vrij": "set", "free": "set", "libre": "set", "libres": "set",
    "status": "status", "statut": "status",
    "help": "help", "hulp": "help", "aide": "help", "?": "help",
    "ok": "ack",
}
COUNT = re.compile(r"[-+]?[0-9]{1,6}")
PURPOSE = "command_reply"


@dataclass
class Command:
    verb: str  # set, status, ack, help, unknown
    count: str | None = None
    words: list[str] = field(default_factory=list)


def parse(body: str | None) -> Command:
    """The command in a text: case, accents of the verb and extra spaces do
    not matter; a trailing full stop or exclamation mark neither."""
    tokens = [token.strip(".,;:!") or token for token in (body or "").casefold().split()]
    if not tokens:
        return Command("unknown")
    verb = VERBS.get(tokens[0], "unknown")
    if verb == "set":
        return Command("set", tokens[1] if len(tokens) > 1 else None, tokens[2:])
    return Command(verb, None, tokens[1:])


def sender(number: str | None) -> User | None:
    """The user whose phone sent a text (active or not), or None: a help-seeker."""
    if number is None:
        return None
    return db.session.scalar(select(User).where(User.phone == number))


def reply_key(message_sid: str) -> str:
    return f"{PURPOSE}:{message_sid}"


def handle(user: User, body: str, message_sid: str, now: datetime) -> OutboxMessage | None:
    """Carry out a registered user's text and write its reply to the outbox
    (delivered by the caller after the commit). None when this MessageSid was
    handled before: a replay changes nothing and sends nothing."""
    key = reply_key(message_sid)
    if db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key)) is not None:
        log.info("SMS %s from %s is a replay: ignored", message_sid, phones.mask(user.phone))
        return None
    lang = sms.language(user.language)
    if not user.active:
        # A deactivated account changes nothing and learns nothing.
        reply, verb = sms.text(lang, "inactive"), "refused"
    else:
        command = parse(body)
        verb = command.verb
        reply = _execute(user, command, lang, now)
    log.info("SMS command %s from %s (user %d)", verb, phones.mask(user.phone), user.id)
    return outbox.enqueue(now, channel="sms", purpose=PURPOSE, body=reply, user=user, dedup_key=key)


class _Refusal(Exception):
    """A command that changes nothing; its reply."""

    def __init__(self, reply: str):
        super().__init__(reply)
        self.reply = reply


def _execute(user: User, command: Command, lang: str, now: datetime) -> str:
    actor = Actor(user=user, source="sms")
    try:
        if command.verb == "set":
            return _set(actor, command, lang, now)
        if command.verb == "status":
            return _status(user, command.words, lang, now)
        if command.verb == "ack":
            return _acknowledge(actor, command.words, lang, now)
        return _help(user, lang)
    except _Refusal as refusal:
        return refusal.reply


# --- facilities and kinds ---------------------------------------------------


def _own_facilities(user: User) -> list[Facility]:
    return [facility for facility in user.facilities if can_update_facility(user, facility)]


def _codes(user: User) -> str:
    return ", ".join(facility.slug for facility in _own_facilities(user)) or "-"


def _facility_by_code(token: str) -> Facility | None:
    """The facility a code names: its id, or else its slug."""
    try:
        facility_id = validation.record_id(token, "code")
    except InvalidInput:
        return db.session.scalar(select(Facility).where(Facility.slug == token))
    return db.session.get(Facility, facility_id)


def _named_facility(user: User, token: str, lang: str) -> Facility | None:
    """The facility a code names, if the user may update it; a refusal when it
    is someone else's (answered as an unknown code: nothing is revealed)."""
    facility = _facility_by_code(token)
    if facility is None:
        return None
    if not can_update_facility(user, facility):
        raise _Refusal(sms.text(lang, "unknown_code", word=token, codes=_codes(user)))
    return facility


def _only_facility(user: User, lang: str) -> Facility:
    own = _own_facilities(user)
    if not own:
        raise _Refusal(sms.text(lang, "no_facility"))
    if len(own) > 1:
        raise _Refusal(sms.text(lang, "need_code", example=own[0].slug, codes=_codes(user)))
    return own[0]


def _key(words: str) -> str:
    """A kind's name as compared: no case, accents, spaces or punctuation."""
    plain = unicodedata.normalize("NFKD", words.casefold())
    return re.sub(r"[^a-z0-9]", "", "".join(c for c in plain if not unicodedata.combining(c)))


def _kind_keys(kind: CapacityKind) -> set[str]:
    names = [kind.code, *kind.labels.values(), *sms.KIND_ALIASES.get(kind.code, ())]
    for forms in sms.KIND_NAMES.get(kind.code, {}).values():
        names.extend(forms)
    keys = {_key(name) for name in names if name}
    # Plurals of labels an admin gave a new kind: "beds", "bedden".
    keys |= {key + "s" for key in keys} | {key + "en" for key in keys}
    return keys - {""}


def _kind(words: list[str]) -> CapacityKind | None:
    if not words:
        return None
    wanted = _key(" ".join(words))
    for kind in capacity.all_kinds():
        if wanted in _kind_keys(kind):
            return kind
    return None


def _kinds_list(facility: Facility, lang: str) -> str:
    return ", ".join(sms.kind_name(unit.kind, lang, 1) for unit in _units(facility))


def _units(facility: Facility) -> list[CapacityUnit]:
    return sorted(facility.units, key=lambda unit: (unit.kind.position, unit.kind.id))


def _target(user: User, words: list[str], lang: str) -> tuple[Facility, CapacityKind | None]:
    """Which facility and kind the words after the count name: a kind (one or
    more words), a facility code, or both, the code first or last."""
    if not words:
        return _only_facility(user, lang), None
    kind = _kind(words)
    if kind is not None:
        return _only_facility(user, lang), kind
    for code, rest in ((words[-1], words[:-1]), (words[0], words[1:])):
        facility = _named_facility(user, code, lang)
        if facility is None:
            continue
        kind = _kind(rest)
        if rest and kind is None:
            break
        return facility, kind
    word = " ".join(words)
    own = _own_facilities(user)
    if len(own) == 1:
        raise _Refusal(sms.text(lang, "unknown_word", word=word, facility=own[0].name,
                                      kinds=_kinds_list(own[0], lang)))
    if not own:
        raise _Refusal(sms.text(lang, "no_facility"))
    raise _Refusal(sms.text(lang, "unknown_code", word=word, codes=_codes(user)))


# --- the commands -----------------------------------------------------------


def _set(actor: Actor, command: Command, lang: str, now: datetime) -> str:
    if command.count is None or not COUNT.fullmatch(command.count):
        raise _Refusal(sms.text(lang, "no_count"))
    facility, kind = _target(actor.user, command.words, lang)
    units = _units(facility)
    if not units:
        raise _Refusal(sms.text(lang, "status_empty", facility=facility.name))
    if kind is None:
        unit = units[0]
    else:
        unit = next((unit for unit in units if unit.kind_id == kind.id), None)
        if unit is None:
            raise _Refusal(sms.text(lang, "kind_not_here", facility=facility.name,
                                          kind=sms.kind_name(kind, lang), kinds=_kinds_list(facility, lang)))
    count = int(command.count)
    try:
        _set_with_one_retry(actor, unit, count, now)
    except InvalidInput:
        raise _Refusal(sms.text(lang, "bad_count", facility=facility.name, total=unit.total,
                                      kind=sms.kind_name(unit.kind, lang, unit.total))) from None
    except Forbidden:
        raise _Refusal(sms.text(lang, "no_facility")) from None
    except Conflict:
        raise _Refusal(sms.text(lang, "conflict", facility=facility.name, count=unit.available,
                                      kind=sms.kind_name(unit.kind, lang, unit.available),
                                      free=sms.free_word(lang, unit.available))) from None
    return sms.text(lang, "set", facility=facility.name, count=unit.available, total=unit.total,
                          kind=sms.kind_name(unit.kind, lang, unit.available),
                          free=sms.free_word(lang, unit.available))


def _set_with_one_retry(actor: Actor, unit: CapacityUnit, count: int, now: datetime) -> None:
    """The sender saw no version: set against the current one, and when
    someone else wrote in between, read again and try once more."""
    try:
        capacity.set_available(actor, unit, count, unit.version, now)
    except Conflict:
        db.session.refresh(unit)
        capacity.set_available(actor, unit, count, unit.version, now)


def _status(user: User, words: list[str], lang: str, now: datetime) -> str:
    if words:
        facility = _named_facility(user, " ".join(words), lang)
        if facility is None:
            raise _Refusal(sms.text(lang, "unknown_code", word=" ".join(words), codes=_codes(user)))
        facilities = [facility]
    else:
        facilities = _own_facilities(user)
        if not facilities:
            raise _Refusal(sms.text(lang, "no_facility"))
    figures = capacity.UnitFigures([unit for facility in facilities for unit in facility.units], now)
    return "\n".join(_status_line(facility, figures, lang) for facility in facilities)


def _status_line(facility: Facility, figures: capacity.UnitFigures, lang: str) -> str:
    parts = []
    for unit in _units(facility):
        counts = figures(unit)
        part = sms.text(lang, "status_unit", count=counts.available, total=counts.total,
                              kind=sms.kind_name(unit.kind, lang, counts.available),
                              free=sms.free_word(lang, counts.available))
        if counts.held:
            part += f" ({sms.text(lang, 'status_held', held=counts.held)})"
        parts.append(part)
    if not parts:
        return sms.text(lang, "status_empty", facility=facility.name)
    closed = f" ({sms.text(lang, 'status_closed')})" if not facility.open_for_intake else ""
    separator = " :" if lang == "fr" else ":"
    return f"{facility.name}{closed}{separator} " + ", ".join(parts)


def _acknowledge(actor: Actor, words: list[str], lang: str, now: datetime) -> str:
    code = words[0].lstrip("#").upper() if words else ""
    if not code:
        raise _Refusal(sms.text(lang, "ack_no_code"))
    # The open alert of that code, else the latest that had it.
    alert = db.session.scalar(select(Alert).where(Alert.code == code)
                              .order_by(Alert.open_key.is_(None), Alert.id.desc()).limit(1))
    # Not there, or not the sender's: the same reply, nothing revealed.
    if alert is None or not may_acknowledge_alert(actor.user, alert) or alert.state == "pending":
        raise _Refusal(sms.text(lang, "ack_unknown", code=code))
    try:
        episodes.acknowledge(actor, alert, now)
    except Forbidden:
        raise _Refusal(sms.text(lang, "ack_unknown", code=code)) from None
    except Conflict:
        if alert.state == "resolved":
            raise _Refusal(sms.text(lang, "ack_resolved", code=code)) from None
        if alert.acknowledged_at is not None:
            by = alert.acknowledged_by
            raise _Refusal(sms.text(
                lang, "ack_already", code=code, name=by.name if by else "-",
                time=alert.acknowledged_at.astimezone(local_zone()).strftime("%H:%M"))) from None
        raise _Refusal(sms.text(lang, "ack_unknown", code=code)) from None
    return sms.text(lang, "ack_done", code=code,
                    region=alert_texts.scope(alert.region.name if alert.region else None, lang))


def _help(user: User, lang: str) -> str:
    reply = sms.text(lang, "help")
    own = _own_facilities(user)
    if len(own) > 1:
        reply += sms.text(lang, "help_codes", example=own[0].slug, codes=_codes(user))
    if user.has_role(*ALERT_READERS):
        reply += sms.text(lang, "help_ok")
    return reply
