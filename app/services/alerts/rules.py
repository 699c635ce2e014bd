"""Alert rules: checking, saving and deleting them (API.md "Alerts").

    validate_rule(data, named_before=()) -> dict
        Checks a rule in the API's shape and returns the model's values
        (region_id, quiet_from/quiet_to, …). Raises InvalidInput naming the
        field. Absent keys take their defaults; unknown keys are refused.
    save_rule(actor, now, data, rule=None) -> AlertRule
        Creates a rule, or updates `rule`: then the keys absent from `data`
        keep their current values (so PATCH passes only what changes).
        Audited (alert_rule.create / alert_rule.update, with the values set
        or changed). Nothing is written when it raises.
    delete_rule(actor, now, rule) -> "deleted" | "deactivated"
        A rule that never had an episode is deleted; one that had is only
        deactivated (active False), so that its alerts keep their timeline.
        An open episode is closed at once (event "cancelled", no notices).
        Audited (alert_rule.delete / alert_rule.deactivate).
    rule_fields(rule) -> dict         the rule in the shape save_rule takes
    get_rule(rule_id) -> AlertRule    NotFound when there is none
    rules_for(actor) -> [AlertRule]   the rules this actor may read and edit

Who: admins every rule; managers only rules of their own regions (a rule
for every region, `region` null, is for admins only), and the hotline's
rules: the hotline belongs to no region and every manager sees its alerts,
so every manager may make and change them. Anyone else: Forbidden.

The shape (the API's, API.md "Alerts"; the API adds the rule's id):

    {"name": "Antwerpen crisis beds", "metric": "free_places", "region": "antwerpen" | null,
     "kinds": ["crisis_bed"], "threshold": 3, "critical_at": 0, "for_minutes": 10,
     "margin": 1, "keep_firing_minutes": 10, "repeat_minutes": 60 | null,
     "escalate_after_minutes": 30 | null, "escalate_to": ["admin@example.org"],
     "quiet_hours": {"from": "22:00", "to": "07:00"} | null,
     "channels": ["sms", "email"], "recipients": [], "active": true,
     "active_hours": {"from": "08:00", "to": "22:00"} | null, "window_minutes": 60 | null}

name, kinds and threshold are required. The condition is free < threshold,
so threshold is at least 1 (free places are never below 0, and a threshold of
0 could never fire); critical_at is from 0 to threshold - 1. repeat_minutes
and escalate_after_minutes null mean never. escalate_to empty means the
active admins. recipients empty means the region's managers. Both lists hold
e-mail addresses of existing, active operators, managers or admins.

`metric` (ALERT_METRICS) is "free_places" by default, as above. The hotline's
metrics (HOTLINE_METRICS) watch no region: `region` and `kinds` are null, and
`recipients` is required, managers' or admins' e-mail addresses (the rule
names whom it tells: there are no region's managers to fall back on).

  * "operators_on_duty": fires when fewer than `threshold` operators are on
    duty (calls.on_duty) during `active_hours` {"from": "08:00", "to":
    "22:00"} (required; local time; from after to spans midnight, from equal
    to to is all day). critical_at as for free places (on duty at most).
  * "missed_calls": fires when at least `threshold` calls were missed
    (calls.missed) within the last `window_minutes` (required, 5 to 1440).
    The opposite direction: resolved once fewer than threshold - margin were
    missed (so margin is below the threshold); critical_at is 0 (none) or
    above the threshold (missed at least that many).

`active_hours` and `window_minutes` are null for the other metrics. A rule's
metric does not change (its episodes would mean something else): make a new
rule.
"""

from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import Alert, AlertRule, CapacityKind, Region, User
from app.models.alerts import ALERT_CHANNELS, ALERT_METRICS, HOTLINE_METRICS
from app.services.alerts import evaluation
from app.services.core import audit, validation
from app.services.core.access import (
    ALERT_RECIPIENTS,
    Actor,
    alert_region_ids,
    may_edit_alert_rule,
    may_edit_alert_rules,
)
from app.services.core.errors import Forbidden, InvalidInput, NotFound

DEFAULTS = {
    "metric": "free_places",
    "active_hours": None,
    "window_minutes": None,
    "critical_at": 0,
    "for_minutes": 10,
    "margin": 1,
    "keep_firing_minutes": 10,
    "repeat_minutes": 60,
    "escalate_after_minutes": None,
    "escalate_to": [],
    "quiet_hours": None,
    "channels": list(ALERT_CHANNELS),
    "recipients": [],
    "region": None,
    "active": True,
}
REQUIRED = ("name", "kinds", "threshold")
FIELDS = (*REQUIRED, *DEFAULTS)
# What each metric requires besides name and threshold.
REQUIRED_BY_METRIC = {"free_places": ("kinds",), "operators_on_duty": ("recipients", "active_hours"),
                      "missed_calls": ("recipients", "window_minutes")}
# The window of missed calls counted: from five minutes to a day.
WINDOW_MINUTES = (5, 24 * 60)
# Who a hotline rule names as recipients: no region's managers to fall back on.
HOTLINE_RECIPIENTS = ("manager", "admin")
MAX_COUNT = 100_000
WEEK_MINUTES = 7 * 24 * 60
DAY_MINUTES = 24 * 60


# --- reading ----------------------------------------------------------------


def get_rule(rule_id) -> AlertRule:
    rule = db.session.get(AlertRule, rule_id) if isinstance(rule_id, int) else None
    if rule is None:
        raise NotFound(f"no alert rule {rule_id}")
    return rule


def rules_for(actor: Actor) -> list[AlertRule]:
    """Active and inactive rules this actor may edit, by name."""
    if not may_edit_alert_rules(actor.user):
        raise Forbidden("alert rules are for managers and admins")
    ids = alert_region_ids(actor.user)
    query = select(AlertRule).order_by(AlertRule.name, AlertRule.id)
    if ids is not None:
        query = query.where(AlertRule.region_id.in_(ids) | AlertRule.metric.in_(HOTLINE_METRICS))
    return list(db.session.scalars(query))


def rule_fields(rule: AlertRule) -> dict:
    """The rule in the shape validate_rule takes: what an update keeps for
    the keys it leaves out, and what the rule form shows."""
    return {
        "name": rule.name,
        "metric": rule.metric,
        "region": rule.region.slug if rule.region is not None else None,
        "kinds": list(rule.kinds) if rule.kinds is not None else None,
        "threshold": rule.threshold,
        "critical_at": rule.critical_at,
        "for_minutes": rule.for_minutes,
        "margin": rule.margin,
        "keep_firing_minutes": rule.keep_firing_minutes,
        "repeat_minutes": rule.repeat_minutes,
        "escalate_after_minutes": rule.escalate_after_minutes,
        "escalate_to": list(rule.escalate_to or []),
        "quiet_hours": {"from": rule.quiet_from, "to": rule.quiet_to} if rule.quiet_from else None,
        "channels": list(rule.channels),
        "recipients": list(rule.recipients or []),
        "active": rule.active,
        "active_hours": {"from": rule.active_from, "to": rule.active_to} if rule.active_from else None,
        "window_minutes": rule.window_minutes,
    }


# --- checking ---------------------------------------------------------------


def _texts(value, field: str) -> list[str]:
    """Codes or e-mail addresses, as a list or as text, each once."""
    given = validation.items(value, field)
    if not all(isinstance(item, str) for item in given):
        raise InvalidInput(f"{field} must be a list of text", field=field)
    return list(dict.fromkeys(given))


def _users(value, field: str, named_before=frozenset(), roles=ALERT_RECIPIENTS) -> list[str]:
    """E-mail addresses of existing, active users with one of `roles`, lower
    case, each once. Those the rule named before pass as they are: someone
    deactivated since (and skipped by the notices) does not block every other
    change."""
    emails = list(dict.fromkeys(validation.email(email, field) for email in _texts(value, field)))
    if not emails:
        return []
    found = {user.email: user for user in db.session.scalars(select(User).where(User.email.in_(emails)))}
    unknown = [email for email in emails if email not in found]
    if unknown:
        raise InvalidInput(f"{field}: no user with the e-mail {', '.join(unknown)}", field=field)
    emails_to_check = [email for email in emails if email not in named_before]
    inactive = [email for email in emails_to_check if not found[email].active]
    if inactive:
        raise InvalidInput(f"{field}: {', '.join(inactive)} is deactivated", field=field)
    # A notice names the region's shortage and its timeline names the staff
    # who were told: it is for the people who run the hotline and the region.
    outsiders = [email for email in emails_to_check if not found[email].has_role(*roles)]
    if outsiders:
        allowed = "an operator, manager or admin" if "operator" in roles else "a manager or admin"
        raise InvalidInput(f"{field}: {', '.join(outsiders)} is not {allowed}", field=field)
    return emails


def _hours(value, field: str, example: str) -> tuple[str | None, str | None]:
    """{"from": "HH:MM", "to": "HH:MM"} as (from, to); (None, None) for none."""
    if value is None or value == {} or value == "":
        return None, None
    if not isinstance(value, dict) or set(value) != {"from", "to"}:
        raise InvalidInput(f'{field} must be {example} or null', field=field)
    return tuple(validation.clock_time(value[key], field) for key in ("from", "to"))


def _quiet_hours(value) -> tuple[str | None, str | None]:
    start, end = _hours(value, "quiet_hours", '{"from": "22:00", "to": "07:00"}')
    if start is not None and start == end:
        raise InvalidInput("quiet_hours: from and to must differ", field="quiet_hours")
    return start, end


def _metric(value) -> str:
    if value not in ALERT_METRICS:
        raise InvalidInput(f"metric must be one of {', '.join(ALERT_METRICS)}", field="metric")
    return value


def _given(data: dict, field: str) -> bool:
    return data.get(field) not in (None, "", [], {})


def _metric_values(data: dict, metric: str) -> dict:
    """What the metric watches: region and kinds (free places), or the
    staffed hours or the window (the hotline's). Refuses the fields of the
    other metrics."""
    hotline = metric in HOTLINE_METRICS
    for field in ("region", "kinds") if hotline else ():
        if data.get(field) is not None:
            raise InvalidInput(f"{field} must be null for {metric}: the hotline belongs to no region", field=field)
    for field, its_metric in (("active_hours", "operators_on_duty"), ("window_minutes", "missed_calls")):
        if metric != its_metric and _given(data, field):
            raise InvalidInput(f"{field} is only for {its_metric} rules", field=field)
    if not hotline:
        return {"active_from": None, "active_to": None, "window_minutes": None}
    active_from, active_to = _hours(data["active_hours"], "active_hours", '{"from": "08:00", "to": "22:00"}')
    return {"active_from": active_from, "active_to": active_to,
            "window_minutes": validation.optional_whole_number(data["window_minutes"], "window_minutes",
                                                               *WINDOW_MINUTES)}


def validate_rule(data, named_before=frozenset()) -> dict:
    """A rule in the API's shape, checked; returns the model's values. Raises
    InvalidInput naming the field that is wrong; reads, never writes.
    `named_before`: the e-mails the rule being changed names already."""
    if not isinstance(data, dict):
        raise InvalidInput("send the rule as a JSON object", field="body")
    unknown = sorted(set(data) - set(FIELDS) - {"id"})
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]}", field=unknown[0])
    metric = _metric(data.get("metric", DEFAULTS["metric"]))
    for field in ("name", "threshold", *REQUIRED_BY_METRIC[metric]):
        if not _given(data, field):
            raise InvalidInput(f"{field} is required" + (f" for {metric}" if field not in REQUIRED else ""),
                               field=field)
    data = {**DEFAULTS, **data}

    def whole(field, lowest, highest):
        return validation.whole_number(data[field], field, lowest, highest)

    def whole_or_none(field, lowest, highest):
        return validation.optional_whole_number(data[field], field, lowest, highest)

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput("name is required", field="name")
    if len(name.strip()) > 200:
        raise InvalidInput("name is too long (at most 200 characters)", field="name")

    watched = _metric_values(data, metric)
    region_id = None
    if data["region"] not in (None, ""):
        if not isinstance(data["region"], str):
            raise InvalidInput("region must be a region's slug, or null for every region", field="region")
        region_id = db.session.scalar(select(Region.id).where(Region.slug == data["region"].strip()))
        if region_id is None:
            raise InvalidInput(f"unknown region {data['region']}", field="region")

    kinds = None if metric in HOTLINE_METRICS else _kinds(data["kinds"])

    threshold = data["threshold"]
    if isinstance(threshold, int | str) and not isinstance(threshold, bool) and str(threshold).strip() in ("0", "-0"):
        raise InvalidInput(f"threshold must be at least 1: {THRESHOLD_ZERO[metric]}", field="threshold")
    threshold = whole("threshold", 1, MAX_COUNT)
    critical_at = whole("critical_at", 0, MAX_COUNT)
    margin = whole("margin", 0, MAX_COUNT)
    if metric == "missed_calls":
        if 0 < critical_at <= threshold:
            raise InvalidInput(f"critical_at must be 0 (none) or above the threshold ({threshold}): "
                               "critical when at least that many calls were missed", field="critical_at")
        if margin >= threshold:
            raise InvalidInput(f"margin must be below the threshold ({threshold}): resolved once fewer than "
                               "threshold - margin calls were missed", field="margin")
    elif critical_at >= threshold:
        raise InvalidInput(f"critical_at must be below the threshold ({threshold})", field="critical_at")
    channels = _texts(data["channels"], "channels")
    if not channels or set(channels) - set(ALERT_CHANNELS):
        raise InvalidInput(f"channels must be among {', '.join(ALERT_CHANNELS)}, at least one", field="channels")
    quiet_from, quiet_to = _quiet_hours(data["quiet_hours"])
    active = data["active"]
    if not isinstance(active, bool):
        raise InvalidInput("active must be true or false", field="active")
    hotline = metric in HOTLINE_METRICS
    recipients = _users(data["recipients"], "recipients", named_before,
                        HOTLINE_RECIPIENTS if hotline else ALERT_RECIPIENTS)
    if hotline and not recipients:
        raise InvalidInput(f"recipients is required for {metric}", field="recipients")

    return {
        "name": name.strip(),
        "metric": metric,
        **watched,
        "region_id": region_id,
        "kinds": kinds,
        "threshold": threshold,
        "critical_at": critical_at,
        "for_minutes": whole("for_minutes", 0, DAY_MINUTES),
        "margin": margin,
        "keep_firing_minutes": whole("keep_firing_minutes", 0, DAY_MINUTES),
        "repeat_minutes": whole_or_none("repeat_minutes", 1, WEEK_MINUTES),
        "escalate_after_minutes": whole_or_none("escalate_after_minutes", 1, WEEK_MINUTES),
        "escalate_to": _users(data["escalate_to"], "escalate_to", named_before),
        "quiet_from": quiet_from,
        "quiet_to": quiet_to,
        "channels": [channel for channel in ALERT_CHANNELS if channel in channels],
        "recipients": recipients,
        "active": active,
    }


# Why a threshold of 0 never fires, per metric.
THRESHOLD_ZERO = {
    "free_places": "free places are never below 0, so 0 never fires",
    "operators_on_duty": "operators on duty are never below 0, so 0 never fires",
    "missed_calls": "at least 0 missed calls is always true",
}


def _kinds(value) -> list[str]:
    """Capacity kind codes, known, in the kinds' order."""
    codes = _texts(value, "kinds")
    known = {code: position for code, position in db.session.execute(select(CapacityKind.code, CapacityKind.position))}
    unknown_kinds = [code for code in codes if code not in known]
    if unknown_kinds:
        raise InvalidInput(f"unknown kind {', '.join(unknown_kinds)}", field="kinds")
    if not codes:
        raise InvalidInput("kinds is required", field="kinds")
    return sorted(codes, key=lambda code: (known[code], code))


# --- writing ----------------------------------------------------------------


def _check_editor(actor: Actor, region_id: int | None, metric: str) -> None:
    if not may_edit_alert_rules(actor.user):
        raise Forbidden("alert rules are for managers and admins")
    if not may_edit_alert_rule(actor.user, region_id, metric):
        if region_id is None:
            raise Forbidden("a rule for every region is for admins; managers name one of their regions")
        raise Forbidden("managers make rules for their own regions only")


def save_rule(actor: Actor, now: datetime, data, rule: AlertRule | None = None) -> AlertRule:
    """Create a rule, or update `rule` with the keys in `data` (the others
    keep their values). Raises InvalidInput or Forbidden, writing nothing."""
    if not may_edit_alert_rules(actor.user):
        raise Forbidden("alert rules are for managers and admins")
    if rule is not None:
        _check_editor(actor, rule.region_id, rule.metric)
        if not isinstance(data, dict):
            raise InvalidInput("send the rule as a JSON object", field="body")
        if data.get("metric", rule.metric) != rule.metric:
            raise InvalidInput(f"metric cannot change (this rule watches {rule.metric}): make a new rule",
                               field="metric")
        current = rule_fields(rule)
        data = {**current, **data}
        named_before = {*current["recipients"], *current["escalate_to"]}
    else:
        named_before = set()
    values = validate_rule(data, named_before)
    _check_editor(actor, values["region_id"], values["metric"])
    creating = rule is None
    if creating:
        rule = AlertRule(created_at=now, created_by_id=actor.user_id)
        db.session.add(rule)
        changed = values
    else:
        changed = {name: value for name, value in values.items() if getattr(rule, name) != value}
    for name, value in values.items():
        setattr(rule, name, value)
    rule.updated_at = now
    db.session.flush()
    if not creating:
        # Episodes of regions the rule no longer watches, or of a rule made
        # inactive, end now.
        evaluation.close_out_of_scope(rule, now, reason="rule_changed")
    audit.record(actor, "alert_rule.create" if creating else "alert_rule.update", now, rule, **changed)
    return rule


def delete_rule(actor: Actor, now: datetime, rule: AlertRule) -> str:
    """Delete a rule that never had an episode ("deleted"); deactivate one that
    had ("deactivated"), closing its open episode without notices."""
    _check_editor(actor, rule.region_id, rule.metric)
    had_alerts = db.session.scalar(select(Alert.id).where(Alert.rule_id == rule.id).limit(1)) is not None
    if not had_alerts:
        audit.record(actor, "alert_rule.delete", now, rule, name=rule.name, metric=rule.metric,
                     region_id=rule.region_id, kinds=rule.kinds)
        db.session.delete(rule)
        db.session.flush()
        return "deleted"
    rule.active = False
    rule.updated_at = now
    evaluation.close_out_of_scope(rule, now, reason="rule_deactivated")
    audit.record(actor, "alert_rule.deactivate", now, rule)
    return "deactivated"
