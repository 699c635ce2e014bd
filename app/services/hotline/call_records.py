"""The operator console: working a call.

Taking a call, recording what the operator learns (the household's needs,
the safety flags, notes, outcome), and what the console shows beside it (its
SMS, holds, referrals, turn-away). Plain functions taking `now`; they never
commit.
"""

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import Call, CapacityUnit, Hold, Referral, SmsMessage, TurnAway
from app.models.capacity import CLIENT_TYPES
from app.models.facility import GENDERS, LANGUAGES
from app.models.hotline import OUTCOMES
from app.services.core import audit
from app.services.core.access import CALL_WORKERS, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.core.validation import blank, child_ages, codes, whole_number
from app.services.hotline.calls import SMS_CLOSED, SMS_OPEN, WAITING
from app.services.registry import places

log = logging.getLogger(__name__)

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


def search_criteria(call: Call) -> dict:
    """The placement search's criteria (as parse_criteria takes them) from what
    the call holds now: its household and needs, else the caller's language,
    tied to the call. Read when the search runs, never carried in a URL."""
    needs = call.needs or {}
    criteria = {"call_id": str(call.id), "session": f"call-{call.id}"}
    for name in ("client_type", "adults", "gender", "postcode"):
        if needs.get(name) is not None:
            criteria[name] = str(needs[name])
    if needs.get("children"):
        criteria["children"] = ", ".join(str(age) for age in needs["children"])
    if needs.get("needs"):
        criteria["needs"] = list(needs["needs"])
    languages = needs.get("languages") or ([call.language] if call.language else [])
    if languages:
        criteria["languages"] = list(languages)
    return criteria


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


def save_as_typed(actor: Actor, call: Call, data: Mapping, now: datetime) -> tuple[list[str], InvalidInput | None]:
    """The call page's autosave, as the operator types: `update` with
    everything, or, when a household field is not right yet (a half-typed
    postcode), with the rest (safety flags, notes, outcome), so that those are
    never lost. Returns the fields that changed and the household's error."""
    try:
        return update(actor, call, data, now), None
    except InvalidInput as exc:
        if exc.field not in NEEDS_FIELDS:
            raise
        rest = {name: value for name, value in data.items() if name not in NEEDS_FIELDS}
        return update(actor, call, rest, now), exc


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
