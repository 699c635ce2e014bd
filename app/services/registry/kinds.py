"""Capacity kinds: the admin's list, create and edit."""

import re
from datetime import datetime

from sqlalchemy import func, select

from app.extensions import db
from app.models import CapacityKind, CapacityUnit
from app.models.capacity import CLIENT_TYPES, COUNTS
from app.services.core import audit, validation
from app.services.core.access import Actor
from app.services.core.errors import Conflict, InvalidInput, NotFound

# Codes name columns of the facility file (`<code>_total`), so they stay plain.
CODE = re.compile(r"[a-z][a-z0-9_]*")
LABEL_LANGUAGES = ("nl", "en", "fr")


def get_kind(kind_id: int) -> CapacityKind:
    kind = db.session.get(CapacityKind, kind_id)
    if kind is None:
        raise NotFound(f"no capacity kind {kind_id}")
    return kind


def unit_counts() -> dict[int, int]:
    """How many capacity units each kind has, by kind id."""
    rows = db.session.execute(select(CapacityUnit.kind_id, func.count()).group_by(CapacityUnit.kind_id))
    return {kind_id: n for kind_id, n in rows}


def save(
    actor: Actor,
    now: datetime,
    *,
    kind: CapacityKind | None = None,
    code: str,
    labels: dict,
    counts: str,
    serves: list[str],
    position,
    requires_acceptance: bool = False,
) -> CapacityKind:
    """Create a kind (`kind` None) or update one. What a kind counts cannot
    change while units of it exist: their counts would mean something else.
    `requires_acceptance`: a hold on it waits for the facility's acceptance
    (holds made before a change keep their status)."""
    code = validation.text(code, "code", 32, required=True)
    if not CODE.fullmatch(code):
        raise InvalidInput("code: lowercase letters, digits and underscores, starting with a letter",
                           field="code")
    clean_labels = {
        language: validation.text((labels or {}).get(language), f"label_{language}", 100, required=True)
        for language in LABEL_LANGUAGES
    }
    if counts not in COUNTS:
        raise InvalidInput(f"counts must be one of {', '.join(COUNTS)}", field="counts")
    serves = list(dict.fromkeys(s.strip() for s in serves or () if s and s.strip()))
    unknown = sorted(set(serves) - set(CLIENT_TYPES))
    if unknown or not serves:
        raise InvalidInput(
            f"serves must be among {', '.join(CLIENT_TYPES)}" + (f"; unknown: {', '.join(unknown)}" if unknown else ""),
            field="serves",
        )
    position = validation.whole_number(position, "position", 0, 99999)

    clash = db.session.scalar(select(CapacityKind).where(CapacityKind.code == code))
    if clash is not None and clash is not kind:
        raise Conflict(f"a capacity kind with the code {code} exists", field="code")
    creating = kind is None
    if not creating and kind.counts != counts and unit_counts().get(kind.id):
        raise Conflict(f"{kind.code} is in use by facilities: what it counts cannot change", field="counts")
    if creating:
        kind = CapacityKind()
        db.session.add(kind)
    kind.code = code
    kind.labels = clean_labels
    kind.counts = counts
    kind.serves = [s for s in CLIENT_TYPES if s in serves]
    kind.position = position
    kind.requires_acceptance = bool(requires_acceptance)
    db.session.flush()
    audit.record(actor, "capacity_kind.create" if creating else "capacity_kind.update", now, kind,
                 code=code, counts=counts, serves=kind.serves, position=position,
                 requires_acceptance=kind.requires_acceptance)
    return kind
