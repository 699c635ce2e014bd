"""Hotline calls: recording them as Twilio reports them, who is on duty, and
what the operator console lists.

Plain functions taking `now`; they never commit. A caller's full number never
reaches this module except in `keep_for_callback`, which seals it (PRODUCT.md
section 5, rule 2); everything else sees the keyed hash and the masked form.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload, selectinload

from app.extensions import db
from app.models import Call, CapacityUnit, Hold, Referral, SmsMessage, TurnAway, User, UserRole
from app.models.capacity import CLIENT_TYPES
from app.models.facility import GENDERS, LANGUAGES
from app.models.hotline import CALL_STATUSES, CHANNELS, OUTCOMES
from app.services.core import audit
from app.services.core.access import Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.core.validation import blank, child_ages, codes, whole_number
from app.services.hotline import phones
from app.services.registry import places

log = logging.getLogger(__name__)

# Twilio's call statuses as its callbacks send them; "queued" and
# "initiated" come before a call rings and change nothing here.
LIVE_STATUSES = ("ringing", "in-progress")
FINAL_STATUSES = ("completed", "no-answer", "busy", "failed", "canceled")
# Waiting for a call-back: the caller left a voicemail and agreed to be called back.
WAITING = "voicemail"
# An open SMS conversation (app.services.hotline.conversations.OPEN, .CLOSED).
SMS_OPEN, SMS_CLOSED = "in-progress", "completed"
# Twilio ends every call after four hours: a "ringing" call older than that
# lost its last status callback and is not live any more.
LONGEST_CALL = timedelta(hours=4)
# At most ten <Number> nouns fit in one <Dial>.
MAX_DIALLED = 10


def get(sid: str | None, *, for_update: bool = False) -> Call | None:
    """The call with Twilio's CallSid `sid`; `for_update` locks its row until
    the transaction ends (two operators accepting at once)."""
    if not sid:
        return None
    query = select(Call).where(Call.sid == sid)
    return db.session.scalar(query.with_for_update() if for_update else query)


def _insert_call(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(Call.__table__).on_conflict_do_nothing(index_elements=["sid"])


# One statement per dialect, its values passed as parameters: compiled once.
_INSERT_CALL = {dialect: _insert_call(dialect) for dialect in ("postgresql", "sqlite")}


def start(now: datetime, *, sid: str, number: str | None, hash_key: str) -> bool:
    """Record the call Twilio announces with `sid`, once; whether it is new.

    `number` is Twilio's `From`, used here only to derive the keyed hash and
    the masked form; a withheld number has neither a hash nor digits. A
    replayed webhook (Twilio retries with the same CallSid) finds the call
    recorded the first time, also when the two run at once: the unique `sid`
    decides, in one statement (INSERT … ON CONFLICT DO NOTHING).
    """
    normal = phones.normalise(number)
    masked = phones.mask(normal)
    created = db.session.execute(
        _INSERT_CALL[db.engine.dialect.name],
        {
            "sid": sid,
            "channel": "voice",
            "caller_hash": phones.caller_hash(normal, hash_key) if normal else None,
            "caller_masked": masked,
            "status": "ringing",
            "started_at": now,
            "updated_at": now,
            "menu_choices": [],
            "needs": {},
            "callback_requested": False,
        },
    ).rowcount == 1
    if created:
        log.info("call %s from %s", sid, masked)
    return created


def record_menu_choice(call: Call, pressed: str, language: str | None, now: datetime) -> None:
    """What the caller pressed in the language menu ("none" for nothing), and
    the language it chose, if it chose one."""
    call.menu_choices = [*(call.menu_choices or []), pressed]
    if language is not None:
        call.language = language
    call.updated_at = now


def on_duty_operators() -> list[User]:
    """Operators who switched on duty and have a phone to be dialled on."""
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role == "operator", User.on_duty.is_(True), User.active.is_(True),
                   User.phone.is_not(None))
            .order_by(User.id)
            .limit(MAX_DIALLED)
        )
    )


def operator_for_phone(number: str | None) -> User | None:
    """The on-duty operator whose (staff) phone is `number`."""
    normal = phones.normalise(number)
    if normal is None:
        return None
    return db.session.scalar(
        select(User)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "operator", User.on_duty.is_(True), User.active.is_(True), User.phone == normal)
    )


def accept(call: Call, operator: User, now: datetime) -> bool:
    """`operator` pressed 1 in the whisper: the call is theirs, unless a
    colleague took it first (False)."""
    if call.operator_id is not None and call.operator_id != operator.id:
        return False
    call.operator = operator
    if call.answered_at is None:
        call.answered_at = now
    if call.status not in FINAL_STATUSES:
        call.status = "in-progress"
    call.updated_at = now
    log.info("call %s accepted by operator %s", call.sid, operator.id)
    return True


def keep_for_callback(actor: Actor, call: Call, number: str | None, now: datetime, *, hash_key: str,
                      retention_days: int) -> bool:
    """The caller pressed the key that says we may call back: keep their
    number, sealed, until `retention_days` from now; the call waits for a
    call-back. False (nothing kept) for a withheld number, or one that is not
    the number the call came from."""
    normal = phones.normalise(number)
    if normal is None:
        return False
    if call.caller_hash is not None and phones.caller_hash(normal, hash_key) != call.caller_hash:
        log.warning("call %s: call-back consent from another number (%s) ignored", call.sid, phones.mask(normal))
        return False
    first = not call.callback_requested
    call.number_sealed = phones.seal(normal, hash_key)
    call.number_kept_for = "callback"
    call.number_erase_at = now + timedelta(days=retention_days)
    call.callback_requested = True
    call.status = WAITING
    call.updated_at = now
    if first:
        audit.record(actor, "call.number_kept", now, call, kept_for="callback", number=call.caller_masked,
                     erase_at=call.number_erase_at.isoformat())
        log.info("call %s: %s kept (sealed) for a call-back", call.sid, call.caller_masked)
    return True


def record_status(call: Call, status: str, now: datetime, *, duration_s: int | None = None) -> None:
    """A status Twilio reported. Statuses only move forward (callbacks may
    arrive out of order), and a call waiting for a call-back keeps waiting
    when the caller hangs up."""
    if status in FINAL_STATUSES:
        if call.ended_at is None:
            call.ended_at = now
        if duration_s is not None:
            call.duration_s = duration_s
        if call.status in LIVE_STATUSES:
            call.status = status
    elif status in LIVE_STATUSES:
        if call.status in LIVE_STATUSES and LIVE_STATUSES.index(status) >= LIVE_STATUSES.index(call.status):
            call.status = status
    else:
        return
    call.updated_at = now


def record_recording(call: Call, url: str, duration_s: int | None, now: datetime) -> None:
    """The voicemail the caller left (Twilio keeps the audio; we keep its URL)."""
    call.recording_url = url
    if duration_s is not None:
        call.recording_duration_s = duration_s
    call.updated_at = now


# --- for the operator console ---------------------------------------------------


def live(now: datetime, *, sms_window: timedelta | None = None) -> list[Call]:
    """Ringing and in-progress calls, and the callers waiting for a call-back,
    the longest waiting first. With `sms_window`, also the open SMS
    conversations whose last activity is within it (however long ago they
    started)."""
    live_now = [
        Call.status.in_(LIVE_STATUSES) & (Call.started_at > now - LONGEST_CALL),
        (Call.status == WAITING) & Call.callback_requested.is_(True),
    ]
    if sms_window is not None:
        live_now.append((Call.channel == "sms") & (Call.status == SMS_OPEN) & (Call.updated_at > now - sms_window))
    return list(
        db.session.scalars(
            select(Call)
            .where(or_(*live_now))
            .options(selectinload(Call.operator))
            .order_by(Call.started_at, Call.id)
        )
    )


def earlier_contacts(call: Call, limit: int = 50) -> list[Call]:
    """The other contacts from the same number (by its keyed hash), newest
    first; none for a withheld number."""
    if call.caller_hash is None:
        return []
    return list(
        db.session.scalars(
            select(Call)
            .where(Call.caller_hash == call.caller_hash, Call.id != call.id)
            .order_by(Call.started_at.desc(), Call.id.desc())
            .limit(limit)
        )
    )


def set_on_duty(actor: Actor, user: User, on: bool, now: datetime) -> None:
    """Switch `user` on or off duty: on duty, hotline calls ring on their
    phone. Operators switch themselves; admins may switch anyone."""
    if actor.user is None or (actor.user.id != user.id and not actor.has_role("admin")):
        raise Forbidden("only the operator themselves or an admin can switch duty")
    if on:
        if not user.has_role("operator"):
            raise InvalidInput("only operators can go on duty", field="on_duty")
        if not user.phone:
            raise InvalidInput("a phone number is needed to go on duty: calls are put through to it",
                               field="phone")
    if user.on_duty == on:
        return
    user.on_duty = on
    audit.record(actor, "user.on_duty" if on else "user.off_duty", now, user)


# --- the operator console: working a call -------------------------------------------
#
# Who opens the console, its lists and the API's call list: operators, managers
# and admins. Who works a call (takes it, records its needs, flags, notes and
# outcome): operators and managers, as for SMS replies and turn-aways. Partners
# and shelter staff never see a call (PRODUCT.md section 2).

CONSOLE_READERS = ("operator", "manager", "admin")
CALL_WORKERS = ("operator", "manager")
# Call.needs holds the household as the placement search takes it.
NEEDS_FIELDS = ("client_type", "adults", "children", "gender", "needs", "languages", "postcode")
FLAG_FIELDS = ("safe_to_call_back", "safe_to_leave_message")
RECORD_FIELDS = (*NEEDS_FIELDS, *FLAG_FIELDS, "notes", "outcome")
HOUSEHOLD_NEEDS = ("wheelchair", "pets", "high_security")  # as app.services.placement.criteria.NEEDS
MAX_PERSONS = 30
MAX_CHILD_AGE = 17
MAX_NOTES = 5000
# An outcome ends a contact still waiting in the live list (an open SMS
# conversation, a voicemail waiting for a call-back), but for "callback":
# a call-back still to be made keeps it waiting.
OPEN_OUTCOMES = ("callback",)
_FLAGS = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False, "unknown": None, "": None}


def get_by_id(call_id: int) -> Call:
    call = db.session.get(Call, call_id)
    if call is None:
        raise NotFound(f"no call {call_id}")
    return call


def _locked(call: Call) -> Call:
    """`call`, its row locked until the transaction ends, its values fresh."""
    return db.session.scalar(
        select(Call).where(Call.id == call.id).with_for_update(of=Call).execution_options(populate_existing=True)
    )


def take(actor: Actor, call: Call, now: datetime, *, take_over: bool = False) -> Call:
    """The actor takes the call in the console: it is theirs. A call a
    colleague has is a Conflict, unless `take_over` says so explicitly."""
    if not actor.has_role(*CALL_WORKERS):
        raise Forbidden("taking a call needs the role operator or manager")
    call = _locked(call)
    if call.operator_id == actor.user_id:
        return call
    if call.operator_id is not None and not take_over:
        raise Conflict(f"{call.operator.name} already has this call", field="operator")
    previous = call.operator_id
    call.operator = actor.user
    call.updated_at = now
    audit.record(actor, "call.take", now, call, previous_operator=previous)
    log.info("call %s taken by operator %s", call.id, actor.user_id)
    return call


def _choice(value, allowed, field: str) -> str | None:
    if blank(value):
        return None
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


def clean_needs(data: Mapping) -> dict:
    """The household and its needs as the placement search takes them, each
    optional (an operator notes what they learn as the call goes); raises
    InvalidInput naming the first bad field. Blank fields are left out."""
    client_type = _choice(data.get("client_type"), CLIENT_TYPES, "client_type")
    adults = None if blank(data.get("adults")) else whole_number(data.get("adults"), "adults", 1, MAX_PERSONS)
    if client_type == "couple" and adults is not None and adults < 2:
        raise InvalidInput("a couple is at least 2 adults", field="adults")
    children = child_ages(data.get("children"), "children", MAX_CHILD_AGE)
    persons = (adults or (2 if client_type == "couple" else 1)) + len(children)
    if persons > MAX_PERSONS:
        raise InvalidInput(f"a household is at most {MAX_PERSONS} persons, not {persons}",
                           field="children" if children else "adults")
    gender = _choice(data.get("gender"), GENDERS, "gender")
    needs = codes(data.get("needs"), "needs", HOUSEHOLD_NEEDS)
    languages = codes(data.get("languages"), "languages", LANGUAGES)
    postcode = data.get("postcode")
    if blank(postcode):
        postcode = None
    else:
        places.lookup(postcode, field="postcode")  # a place the search will find
        postcode = str(postcode).strip()
    cleaned = {"client_type": client_type, "adults": adults, "children": children, "gender": gender,
               "needs": needs, "languages": languages, "postcode": postcode}
    return {name: value for name, value in cleaned.items() if not blank(value)}


def _flag(value, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    raise InvalidInput(f"{field} must be yes, no or unknown", field=field)


def _notes(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("notes must be text", field="notes")
    if len(value) > MAX_NOTES:
        raise InvalidInput(f"notes are too long (at most {MAX_NOTES} characters)", field="notes")
    return value.strip() or None


def update(actor: Actor, call: Call, data: Mapping, now: datetime) -> list[str]:
    """Record what the operator learnt: any of RECORD_FIELDS (the needs, the
    safety flags, notes, outcome); fields absent are left as they are. Checks
    everything before changing anything (InvalidInput naming the first bad
    field). An outcome other than "callback" ends a contact that waits in the
    live list. Returns the names of the fields that changed (audited by name,
    never by value: notes may hold personal data)."""
    if not actor.has_role(*CALL_WORKERS):
        raise Forbidden("recording a call needs the role operator or manager")
    if not isinstance(data, Mapping):
        raise InvalidInput("send the call's fields as an object", field="body")
    unknown = sorted(str(name) for name in data if name not in RECORD_FIELDS)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]} (a call has {', '.join(RECORD_FIELDS)})", field=unknown[0])
    values = {}
    if any(name in data for name in NEEDS_FIELDS):
        values["needs"] = clean_needs({**(call.needs or {}), **{n: data[n] for n in NEEDS_FIELDS if n in data}})
    for name in FLAG_FIELDS:
        if name in data:
            values[name] = _flag(data[name], name)
    if "notes" in data:
        values["notes"] = _notes(data["notes"])
    if "outcome" in data:
        values["outcome"] = _choice(data["outcome"], OUTCOMES, "outcome")

    changed = sorted(name for name, value in values.items() if getattr(call, name) != value)
    if not changed:
        return []
    for name in changed:
        setattr(call, name, values[name])
    if "outcome" in changed and call.outcome is not None and call.outcome not in OPEN_OUTCOMES:
        _end(call, now)
    call.updated_at = now
    audit.record(actor, "call.update", now, call, fields=changed, outcome=call.outcome)
    return changed


def _end(call: Call, now: datetime) -> None:
    """The contact is dealt with: it leaves the live list (a call still
    ringing or in progress is Twilio's to end)."""
    if call.channel == "sms" and call.status == SMS_OPEN:
        call.status = SMS_CLOSED
        call.ended_at = call.ended_at or now
    elif call.status == WAITING:
        call.status = "completed"


def number_kept_for_callback(call: Call, now: datetime) -> bool:
    """Whether a voice caller's number is kept (sealed) for a call-back."""
    return (call.number_kept_for == "callback" and call.number_sealed is not None
            and call.number_erase_at is not None and call.number_erase_at > now)


def last_messages(call_ids) -> dict[int, SmsMessage]:
    """The last SMS (either way) of each of these contacts."""
    ids = list(call_ids)
    if not ids:
        return {}
    latest = select(func.max(SmsMessage.id)).where(SmsMessage.call_id.in_(ids)).group_by(SmsMessage.call_id)
    return {message.call_id: message for message in db.session.scalars(
        select(SmsMessage).where(SmsMessage.id.in_(latest)))}


def conversation(call: Call) -> list[SmsMessage]:
    """An SMS contact's messages, both ways, oldest first, with their outbox rows."""
    return list(db.session.scalars(
        select(SmsMessage).where(SmsMessage.call_id == call.id)
        .options(joinedload(SmsMessage.outbox), joinedload(SmsMessage.sent_by))
        .order_by(SmsMessage.at, SmsMessage.id)
    ))


def holds_of(call: Call) -> list[Hold]:
    return list(db.session.scalars(
        select(Hold).where(Hold.call_id == call.id)
        .options(joinedload(Hold.unit).joinedload(CapacityUnit.facility), joinedload(Hold.created_by))
        .order_by(Hold.id)
    ))


def referrals_of(call: Call) -> list[Referral]:
    return list(db.session.scalars(
        select(Referral).where(Referral.call_id == call.id)
        .options(joinedload(Referral.facility), joinedload(Referral.organisation))
        .order_by(Referral.id)
    ))


def turn_away_of(call: Call) -> TurnAway | None:
    return db.session.scalar(select(TurnAway).where(TurnAway.contact_key == f"call:{call.id}"))


# --- the call log and the API's list ---------------------------------------------------


@dataclass(frozen=True)
class LogFilters:
    day: date | None = None
    outcome: str | None = None  # an outcome, or "none": not recorded yet
    operator_id: int | None = None
    channel: str | None = None

    def args(self) -> dict:
        """As query arguments, for links to other pages of the same list."""
        values = {"date": self.day.isoformat() if self.day else None, "outcome": self.outcome,
                  "operator": self.operator_id, "channel": self.channel}
        return {name: value for name, value in values.items() if value is not None}


def parse_log_filters(args: Mapping) -> LogFilters:
    """The call log's filters from a query string; InvalidInput naming a bad one."""
    raw_day = (args.get("date") or "").strip()
    try:
        day = date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise InvalidInput("date must be a day like 2026-11-28", field="date") from None
    outcome = (args.get("outcome") or "").strip() or None
    if outcome is not None and outcome not in (*OUTCOMES, "none"):
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)} or none", field="outcome")
    raw_operator = (args.get("operator") or "").strip()
    if raw_operator and not raw_operator.isdigit():
        raise InvalidInput("operator must be a user's id", field="operator")
    channel = (args.get("channel") or "").strip() or None
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    return LogFilters(day=day, outcome=outcome, operator_id=int(raw_operator) if raw_operator else None,
                      channel=channel)


def log_query(filters: LogFilters, zone: ZoneInfo) -> Select:
    """The calls matching `filters`, newest first; `day` is a local day."""
    query = select(Call).options(selectinload(Call.operator))
    if filters.day is not None:
        start = datetime.combine(filters.day, time(0), zone)
        end = datetime.combine(filters.day + timedelta(days=1), time(0), zone)
        query = query.where(Call.started_at >= start, Call.started_at < end)
    if filters.outcome == "none":
        query = query.where(Call.outcome.is_(None))
    elif filters.outcome is not None:
        query = query.where(Call.outcome == filters.outcome)
    if filters.operator_id is not None:
        query = query.where(Call.operator_id == filters.operator_id)
    if filters.channel is not None:
        query = query.where(Call.channel == filters.channel)
    return query.order_by(Call.started_at.desc(), Call.id.desc())


def call_takers() -> list[User]:
    """Operators and managers, for the log's operator filter."""
    return list(db.session.scalars(
        # A subquery rather than DISTINCT: PostgreSQL cannot compare the JSON
        # columns of users for equality.
        select(User).where(User.id.in_(
            select(UserRole.user_id).where(UserRole.role.in_(CALL_WORKERS))))
        .order_by(User.name, User.id)
    ))


def parse_since(raw: str | None, zone: ZoneInfo) -> datetime | None:
    """`since` as the API takes it: a time with its zone, or a day (from its
    midnight in `zone`)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(0), zone)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput("since must be a time like 2026-11-28T21:00:00+01:00, or a day like 2026-11-28",
                           field="since") from None
    if moment.tzinfo is None:
        raise InvalidInput("since needs a time zone, like +01:00", field="since")
    return moment


def listed(*, status: str | None = None, since: datetime | None = None, after_id: int | None = None,
           limit: int = 100) -> list[Call]:
    """Calls by id (the API's list): of `status`, started at or after `since`."""
    if status is not None and status not in CALL_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(CALL_STATUSES)}", field="status")
    query = select(Call).options(selectinload(Call.operator))
    if status is not None:
        query = query.where(Call.status == status)
    if since is not None:
        query = query.where(Call.started_at >= since)
    return list(db.session.scalars(query.where(Call.id > (after_id or 0)).order_by(Call.id).limit(limit)))
