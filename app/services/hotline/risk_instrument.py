"""The risk instrument as an admin edits it: its items (labels, weight,
critical, child at risk, active, order) and its scale (thresholds, and
whether it is the region's validated instrument or the demonstration set).

An item is never deleted: deactivating it keeps the answers contacts already
gave but leaves it out of every new score (app.services.hotline.risk).
Everything is checked before anything changes; plain functions taking `now`
that never commit.
"""

import re
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import RiskItem, RiskScale
from app.services.core import audit, validation
from app.services.core.access import RISK_INSTRUMENT_EDITORS, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound

# Keys name the answers stored on calls and the console's form fields, so
# they stay plain (as the shipped ones: "threats_to_kill").
KEY = re.compile(r"[a-z][a-z0-9_]*")
LABEL_LANGUAGES = ("nl", "fr", "en")
MAX_LABEL = 300
MAX_WEIGHT = 100
MAX_THRESHOLD = 10000


def _check_editor(actor: Actor) -> None:
    if not actor.has_role(*RISK_INSTRUMENT_EDITORS):
        raise Forbidden("editing the risk instrument needs the role admin")


def all_items() -> list[RiskItem]:
    """Every item, active or not, in the console's order."""
    return list(db.session.scalars(select(RiskItem).order_by(RiskItem.position, RiskItem.id)))


def get_item(item_id: int) -> RiskItem:
    item = db.session.get(RiskItem, item_id)
    if item is None:
        raise NotFound(f"no risk item {item_id}")
    return item


def scale() -> RiskScale:
    return db.session.scalar(select(RiskScale).order_by(RiskScale.id).limit(1))


def save_item(
    actor: Actor,
    now: datetime,
    *,
    item: RiskItem | None = None,
    key,
    labels: dict,
    weight,
    critical: bool,
    child_at_risk: bool,
    active: bool,
    position,
) -> RiskItem:
    """Create an item (`item` None) or update one. Its key is fixed once
    made: the answers already given are stored under it."""
    _check_editor(actor)
    if item is None:
        key = validation.text(key, "key", 64, required=True)
        if not KEY.fullmatch(key):
            raise InvalidInput("key: lowercase letters, digits and underscores, starting with a letter",
                               field="key")
        if db.session.scalar(select(RiskItem.id).where(RiskItem.key == key)) is not None:
            raise Conflict(f"a risk item with the key {key} exists", field="key")
    clean_labels = {
        language: validation.text((labels or {}).get(language), f"label_{language}", MAX_LABEL, required=True)
        for language in LABEL_LANGUAGES
    }
    weight = validation.whole_number(weight, "weight", 0, MAX_WEIGHT)
    position = validation.whole_number(position, "position", 0, 99999)

    creating = item is None
    if creating:
        item = RiskItem(key=key)
        db.session.add(item)
    item.labels = clean_labels
    item.weight = weight
    item.critical = bool(critical)
    item.child_at_risk = bool(child_at_risk)
    item.active = bool(active)
    item.position = position
    db.session.flush()
    audit.record(actor, "risk_item.create" if creating else "risk_item.update", now, item, key=item.key,
                 weight=weight, critical=item.critical, child_at_risk=item.child_at_risk, active=item.active,
                 position=position)
    return item


def save_scale(actor: Actor, now: datetime, *, name, elevated_at, high_at, validated: bool) -> RiskScale:
    """The scale's name and thresholds (high_at > elevated_at >= 1), and
    whether it is the region's validated instrument: until it is, screens say
    "demonstration, not validated"."""
    _check_editor(actor)
    name = validation.text(name, "name", 200, required=True)
    elevated_at = validation.whole_number(elevated_at, "elevated_at", 1, MAX_THRESHOLD)
    high_at = validation.whole_number(high_at, "high_at", 1, MAX_THRESHOLD)
    if high_at <= elevated_at:
        raise InvalidInput("high_at must be above elevated_at", field="high_at")
    current = scale()
    current.name = name
    current.elevated_at = elevated_at
    current.high_at = high_at
    current.demonstration = not validated
    db.session.flush()
    audit.record(actor, "risk_scale.update", now, current, name=name, elevated_at=elevated_at, high_at=high_at,
                 demonstration=current.demonstration)
    return current
