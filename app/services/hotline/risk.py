"""Risk screening on a contact (PRODUCT.md, "Risk screening"; flow D).

While the operator talks they answer the instrument's items yes, no or
unknown; the score is the sum of the weights of the "yes" answers and the
scale's thresholds give the level. Two rules keep a score from looking safer
than it is:

* while any critical item is unanswered the contact is "not screened" (the
  computed level is None), never "standard";
* a critical item answered "unknown" counts as answered (the operator asked,
  the caller could not say) but adds nothing to the score: the operator sees
  it and may raise the level by professional judgement.

An operator's override (a level with a reason) wins over the computed level.
The answers are as sensitive as notes (section 5, rule 11): operators and
managers only, purged with the notes (app.services.scheduling.retention),
never audited, never in SMS, e-mail, exports or partner views.

Plain functions taking `now`; they never commit.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Call, Organisation, PlacementRequest, RiskItem, RiskScale
from app.models.placement import RISK_LEVELS
from app.models.risk import RISK_ANSWERS
from app.services.core import audit
from app.services.core.access import RISK_SCREENERS, Actor
from app.services.core.errors import Forbidden, InvalidInput
from app.services.core.validation import text

# The live list's and the waiting list's order: high first; not screened
# ranks with elevated (a critical item still unanswered may hide the worst,
# so never behind standard); standard last.
LEVEL_RANK = {"high": 0, "elevated": 1, None: 1, "standard": 2}
HIGH_SECURITY = "high_security"  # as app.services.hotline.call_records.HOUSEHOLD_NEEDS
MAX_REASON = 1000


@dataclass(frozen=True)
class Assessment:
    score: int
    computed_level: str | None  # None: not screened
    answered: int
    total: int
    missing_critical: list[str]


def instrument() -> tuple[list[RiskItem], RiskScale]:
    """The active items in their order, and the scale."""
    items = list(db.session.scalars(
        select(RiskItem).where(RiskItem.active.is_(True)).order_by(RiskItem.position, RiskItem.id)))
    return items, db.session.scalar(select(RiskScale).order_by(RiskScale.id).limit(1))


def level_for(score: int, scale: RiskScale) -> str:
    if score >= scale.high_at:
        return "high"
    if score >= scale.elevated_at:
        return "elevated"
    return "standard"


def assess(answers: Mapping, items: list[RiskItem], scale: RiskScale) -> Assessment:
    """The score and level these answers give (answers to items no longer
    active are ignored)."""
    given = {item.key: answers.get(item.key) for item in items}
    score = sum(item.weight for item in items if given[item.key] == "yes")
    missing = [item.key for item in items if item.critical and given[item.key] not in RISK_ANSWERS]
    return Assessment(
        score=score,
        computed_level=None if missing else level_for(score, scale),
        answered=sum(1 for value in given.values() if value in RISK_ANSWERS),
        total=len(items),
        missing_critical=missing,
    )


def clean_answers(answers, items: list[RiskItem]) -> dict[str, str]:
    """The answers by item key, each yes, no or unknown; a blank one is left
    out (unanswered). InvalidInput (field "answers") for anything else."""
    if not isinstance(answers, Mapping):
        raise InvalidInput("answers must be an object of item keys", field="answers")
    keys = {item.key for item in items}
    cleaned = {}
    for key, value in answers.items():
        if key not in keys:
            raise InvalidInput(f"unknown risk item {key!r}", field="answers")
        if value is None or value == "":
            continue
        if value not in RISK_ANSWERS:
            raise InvalidInput(f"{key} must be one of {', '.join(RISK_ANSWERS)}", field="answers")
        cleaned[key] = value
    return cleaned


def save_answers(actor: Actor, call: Call, answers, level, reason, now: datetime) -> Assessment:
    """Record the screening: the answers (they replace the earlier ones), the
    score and computed level, and the operator's override `level` (one of
    RISK_LEVELS, with a `reason`; None: no override). Checks everything before
    changing anything. A high level ticks "high security" in the call's needs
    and carries the level to the call's open placement requests."""
    if not actor.has_role(*RISK_SCREENERS):
        raise Forbidden("risk screening needs the role operator or manager")
    items, scale = instrument()
    cleaned = clean_answers(answers, items)
    if level in (None, ""):
        level, reason = None, None
    elif level not in RISK_LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(RISK_LEVELS)}", field="level")
    else:
        reason = text(reason, "reason", MAX_REASON)
        if not reason:
            raise InvalidInput("a level set by judgement needs a reason", field="reason")

    assessment = assess(cleaned, items, scale)
    effective = level or assessment.computed_level
    before = (call.risk_answers or {}, call.risk_level, call.risk_override_reason)
    if before == (cleaned, effective, reason):
        return assessment
    call.risk_answers = cleaned
    call.risk_score = assessment.score
    call.risk_computed_level = assessment.computed_level
    call.risk_level = effective
    call.risk_override_reason = reason
    call.updated_at = now
    # Never the answers nor the reason (a note): what the level became, and that it was overridden.
    audit.record(actor, "call.risk", now, call, level=effective, computed_level=assessment.computed_level,
                 overridden=level is not None)
    if level is not None and before[1:] != (effective, reason):
        audit.record(actor, "call.risk_override", now, call, level=level, computed_level=assessment.computed_level,
                     reason_length=len(reason))
    if effective == "high" and before[1] != "high":
        _tick_high_security(call)  # pre-ticked once: the operator may untick it
    _carry_to_requests(call)
    return assessment


def _tick_high_security(call: Call) -> None:
    needs = dict(call.needs or {})
    if HIGH_SECURITY not in (needs.get("needs") or []):
        needs["needs"] = [*(needs.get("needs") or []), HIGH_SECURITY]
        call.needs = needs


def _carry_to_requests(call: Call) -> None:
    for request in db.session.scalars(
        select(PlacementRequest).where(PlacementRequest.call_id == call.id, PlacementRequest.status == "open")
    ):
        request.risk_level = call.risk_level


def overridden(call: Call) -> bool:
    """Whether the call's level was set by judgement: a reason is on record,
    or (once retention purged the reason with the notes) the level differs
    from the computed one."""
    return call.risk_override_reason is not None or call.risk_level != call.risk_computed_level


def assessment_of(call: Call) -> Assessment:
    """The call's screening as it stands, against the instrument of now."""
    items, scale = instrument()
    return assess(call.risk_answers or {}, items, scale)


def history(call: Call, limit: int = 20) -> list[dict]:
    """The levels of the caller's earlier contacts (same keyed hash; none for
    a withheld number), newest first: the trend."""
    if call.caller_hash is None:
        return []
    rows = db.session.execute(
        select(Call.id, Call.started_at, Call.risk_level)
        .where(Call.caller_hash == call.caller_hash, Call.id != call.id, Call.started_at <= call.started_at)
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(limit)
    )
    return [{"call_id": row.id, "at": row.started_at, "level": row.risk_level} for row in rows]


def child_at_risk(call: Call) -> bool:
    """Whether an item flagged "child at risk" is answered yes: the console
    prompts a referral to child protection."""
    keys = set(db.session.scalars(select(RiskItem.key).where(RiskItem.child_at_risk.is_(True))))
    return any((call.risk_answers or {}).get(key) == "yes" for key in keys)


def child_protection_organisations(region_id: int | None = None) -> list[Organisation]:
    """The organisations of kind child_protection, those of `region_id`
    (and those of no region) first."""
    rows = list(db.session.scalars(
        select(Organisation).where(Organisation.kind == "child_protection").order_by(Organisation.name)))
    if region_id is not None:
        rows.sort(key=lambda organisation: organisation.region_id not in (region_id, None))
    return rows
