"""Referrals: a contact sent on to a relief point (a facility with slot kinds)
or to an organisation (a police zone, a justice house, a CAW, …).

Who refers: operators, managers, admins and partners. A partner never sees
calls, so a partner's referral carries no `call_id`: one sent is refused
(400), not silently dropped, so a partner system learns it at once.

The status moves along TRANSITIONS; anything else is a conflict (409) naming
the current status:

    proposed → accepted | declined
    accepted → arrived  | declined
    declined, arrived: final

Who moves it: for a referral to a facility, that facility's staff and
admins; for a referral to an organisation (organisations have no users of
their own), operators, managers and admins. Everyone else: 403.
"""

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import CapacityKind, Facility, Organisation, Referral
from app.models.placement import REFERRAL_STATUSES
from app.services.core import audit
from app.services.core.access import CALL_READERS, REFERRERS, Actor, may_update_referral, visible_placement_facility_ids
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.core.validation import record_id, text
from app.services.placement.criteria import linked_call_id

RELIEF_TYPES = ("relief_point", "offender_programme")
TRANSITIONS = {
    "proposed": ("accepted", "declined"),
    "accepted": ("arrived", "declined"),
    "declined": (),
    "arrived": (),
}
# What the receiving facility's page lists: referrals still on their way.
OPEN_STATUSES = ("proposed", "accepted")
NOTE_LIMIT = 2000
STATUS_NOTE_LIMIT = 500


def slot_kinds(facility: Facility) -> list[str]:
    """The codes of the facility's kinds counted in slots (intake_slot,
    offender_slot, or a slot kind an admin added)."""
    return [unit.kind.code for unit in facility.units if unit.kind.counts == "slots"]


def _facility_kind(facility: Facility, kind) -> str:
    kinds = slot_kinds(facility)
    if facility.type not in RELIEF_TYPES or not kinds:
        raise InvalidInput(
            f"{facility.name} is no relief point: referrals go to a relief point or offender programme "
            "with intake or offender slots", field="facility_id")
    if kind is None:
        if len(kinds) == 1:
            return kinds[0]
        raise InvalidInput(f"kind is required here: one of {', '.join(kinds)}", field="kind")
    if kind not in kinds:
        raise InvalidInput(f"kind must be one of {', '.join(kinds)} for {facility.name}", field="kind")
    return kind


def create(
    actor: Actor,
    now: datetime,
    *,
    call_id=None,
    facility_id=None,
    organisation_id=None,
    kind=None,
    note=None,
) -> Referral:
    """Refer a contact to exactly one facility or organisation."""
    if not actor.has_role(*REFERRERS):
        raise Forbidden("referring needs the role operator, manager or partner")
    facility_id = record_id(facility_id, "facility_id")
    organisation_id = record_id(organisation_id, "organisation_id")
    if facility_id is None and organisation_id is None:
        raise InvalidInput("send facility_id or organisation_id", field="facility_id")
    if facility_id is not None and organisation_id is not None:
        raise InvalidInput("send facility_id or organisation_id, not both", field="facility_id")
    if kind is not None and (not isinstance(kind, str) or not kind.strip()):
        raise InvalidInput("kind must be a kind code", field="kind")
    kind = kind.strip() if kind is not None else None
    note = text(note, "note", NOTE_LIMIT)
    call_id = linked_call_id(actor, call_id)

    facility = organisation = None
    if facility_id is not None:
        facility = db.session.get(Facility, facility_id)
        if facility is None:
            raise InvalidInput(f"no facility {facility_id}", field="facility_id")
        kind = _facility_kind(facility, kind)
    else:
        organisation = db.session.get(Organisation, organisation_id)
        if organisation is None:
            raise InvalidInput(f"no organisation {organisation_id}", field="organisation_id")
        if kind is None:
            kind = organisation.kind
        elif kind != organisation.kind:
            raise InvalidInput(f"kind must be {organisation.kind}, the organisation's kind", field="kind")

    referral = Referral(
        created_at=now,
        created_by_id=actor.user_id,
        call_id=call_id,
        facility_id=facility.id if facility else None,
        organisation_id=organisation.id if organisation else None,
        kind=kind,
        note=note,
        status="proposed",
        updated_at=now,
        updated_by_id=actor.user_id,
    )
    db.session.add(referral)
    db.session.flush()
    audit.record(actor, "referral.create", now, referral, facility=referral.facility_id,
                 organisation=referral.organisation_id, kind=kind, call=call_id,
                 by_partner=not actor.has_role(*CALL_READERS))
    return referral


def get(referral_id: int) -> Referral:
    referral = db.session.get(Referral, referral_id)
    if referral is None:
        raise NotFound(f"no referral {referral_id}")
    return referral


def next_statuses(referral: Referral) -> tuple[str, ...]:
    return TRANSITIONS.get(referral.status, ())


def update_status(actor: Actor, referral: Referral, status, now: datetime, note=None) -> Referral:
    """Move the referral to `status` if TRANSITIONS allow it from its current
    status (read under a row lock, so two people pressing at once cannot both
    win). A `note` (why it was declined, say) is added to the referral's note
    on a line of its own and kept in the audit event."""
    if not may_update_referral(actor.user, referral):
        if referral.facility_id is not None:
            raise Forbidden("only the receiving facility's staff update this referral")
        raise Forbidden("referrals to an organisation are updated by operators and managers")
    if not isinstance(status, str) or status not in REFERRAL_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(REFERRAL_STATUSES)}", field="status")
    note = text(note, "note", STATUS_NOTE_LIMIT)
    locked = db.session.scalar(
        select(Referral).where(Referral.id == referral.id).with_for_update(of=Referral)
        .execution_options(populate_existing=True)
    )
    before = locked.status
    if status not in TRANSITIONS[before]:
        raise Conflict(f"this referral is {before}; it cannot become {status}", field="status",
                       current={"referral": locked})
    locked.status = status
    locked.updated_at = now
    locked.updated_by_id = actor.user_id
    if note:
        locked.note = "\n".join(filter(None, [locked.note, f"{status}: {note}"]))
    db.session.flush()
    audit.record(actor, "referral.status", now, locked, before=before, after=status, note=note)
    return locked


def visible(user, *, status: str | None = None, facility_id: int | None = None,
            after_id: int | None = None, limit: int = 100) -> list[Referral]:
    """The referrals `user` may see, by id: all for operators, managers and
    admins; those to their facilities for shelter staff; their own for
    partners."""
    query = select(Referral).options(
        joinedload(Referral.facility), joinedload(Referral.organisation),
        joinedload(Referral.created_by), joinedload(Referral.updated_by),
    )
    facility_ids = visible_placement_facility_ids(user)
    if facility_ids is not None:
        query = query.where(or_(Referral.created_by_id == user.id, Referral.facility_id.in_(facility_ids)))
    if facility_id is not None:
        query = query.where(Referral.facility_id == facility_id)
    if status is not None:
        query = query.where(Referral.status == status)
    query = query.where(Referral.id > (after_id or 0)).order_by(Referral.id).limit(limit)
    return list(db.session.scalars(query))


def incoming(facility: Facility) -> list[Referral]:
    """The referrals on their way to a facility (proposed or accepted), oldest first."""
    return list(db.session.scalars(
        select(Referral)
        .where(Referral.facility_id == facility.id, Referral.status.in_(OPEN_STATUSES))
        .options(joinedload(Referral.created_by))
        .order_by(Referral.created_at, Referral.id)
    ))


def kind_of(referral: Referral):
    """The capacity kind of a facility referral (for its label), or None."""
    if referral.facility is None:
        return None
    return db.session.scalar(select(CapacityKind).where(CapacityKind.code == referral.kind))
