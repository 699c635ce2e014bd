"""The alert engine: evaluating rules and notifying (flow C).

    evaluate(now) -> dict
        One evaluation of every active rule (the scheduler calls it every
        minute inside `writing()` and commits after). Returns a summary:
        {"rules", "scopes", "open", "pending", "fired", "critical", "repeated",
         "escalated", "resolved", "cancelled", "notices"}.
    close_out_of_scope(rule, now, reason)  used by alert_rules on edit/delete

Listing, reading and acknowledging episodes: app.services.alerts.episodes.

Evaluation. Per rule and region (a rule with `region` null watches every
region that has places of its kinds, each on its own), the free places of
the rule's kinds are summed from capacity.region_totals, computed once per run
for all rules and from the database each time, so a missed run does no harm:
closed facilities count none, holds are subtracted, stale facilities count.
Beside that, one grouped query per run counts, per region, the facilities
(open for intake, with units of the rule's kinds) that are full (none of
those kinds free) and those whose counts of those kinds are stale; both go
into the messages.

One episode (Alert) at a time per rule and region: Alert.open_key
"<rule>:<region>" is unique while it is open.

The hotline's rules (HOTLINE_METRICS) watch no region: one episode at a time
per rule, open_key "<rule>:hotline", with no region and no facilities;
Alert.free holds the value watched. "operators_on_duty" counts the operators
on duty (calls.on_duty) and is watched only during the rule's active hours;
"missed_calls" counts the calls missed (calls.missed) that reached the ring
within the last window_minutes, and its condition runs the other way: at
least `threshold` is bad (`breached`, `recovered`, `at_critical` below say
it once for all metrics; the table below reads "below" for free places).
When the staffed hours end, an open operators_on_duty episode is no longer
watched: a pending one is cancelled (nobody was told), a firing one is
resolved, with its "resolved" notice saying the staffed hours are over, so
that everyone told hears that it ended rather than waiting for reminders
that stopped, and a new episode starts when the hours begin again.

    free < threshold                      → pending (started_at)
    pending, free >= threshold            → closed, event "cancelled", no notice
    pending for for_minutes               → firing (fired_at), notice "fired";
                                            when free <= critical_at then, the
                                            notice is "critical" instead
    firing, free <= critical_at           → critical, notice "critical" (once
                                            per episode, even in quiet hours)
    firing, unacknowledged:
      every repeat_minutes since the last notice → "repeated" (n = 1, 2, …)
      escalate_after_minutes after firing        → "escalated", once, to
                                                    escalate_to (or the admins)
    firing, free >= threshold + margin held for keep_firing_minutes
                                          → resolved, notice "resolved" to
                                            everyone who was told, by the same
                                            channels; a dip below
                                            threshold + margin starts the
                                            keep-firing time again
    rule deactivated, or region no longer watched → "cancelled", no notice

Notices go to the rule's recipients, or the region's active managers; once
escalated, repeats and a later critical notice also go to the escalation
list. Channels: the rule's channels that the user chose (User.alert_channels),
SMS only to a user with a phone. Each notice is an outbox row (purpose
"alert", alert_id set) written in the same transaction as the event that
causes it, with the unique dedup key
"alert:<alert id>:<event>:<n>:<user id>:<channel>" (n: the repeat number, else
0): the event happens once, as the episode's state changes with it, and the
key makes sure of it. Two evaluations at once take turns (the first locks
the rules' rows until it commits; on SQLite writers take turns anyway), so
the second sees what the first wrote: a repeated or concurrent evaluation
never writes anything twice.

A run reads what it needs in a few queries (the rules, the open episodes,
region_totals, the facility counts, the managers, the reminders so far) and
writes in a few batches at the end: the changed episodes, their events and
their notices (outbox.enqueue_many). bench/alerts.py times it.

Quiet hours (the rule's, local time of TIMEZONE) hold back every notice but
"critical": a "fired" or "resolved" notice is written at once with the
outbox row's next_attempt_at at the end of the quiet hours (the delivery job
sends rows only from their next_attempt_at); repeats and the escalation are
decided only outside quiet hours, so the first evaluation after them sends
one reminder, not one per missed interval.

Every state change writes an AlertEvent; events that notify list who was
told by what in details["told"] ([[user id, channel], …]).
"""

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.extensions import db
from app.models import Alert, AlertRule, OutboxMessage, Region, User
from app.models.alerts import HOTLINE_METRICS
from app.services.alerts.run import Run
from app.services.registry import capacity
from app.texts import alerts as alert_texts

log = logging.getLogger(__name__)

PURPOSE = "alert"
OPEN_STATES = ("pending", "firing")


# Acknowledgement codes: no letters or digits that read alike (0/O, 1/I/L, 2/Z, 5/S, 8/B):
# 23⁵, some 6 million, so that a spoofed `OK <code>` SMS cannot guess one.
CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
CODE_LENGTH = 5


def open_key(rule_id: int, region_id: int | None) -> str:
    """"<rule>:<region>", or "<rule>:hotline" for a hotline rule's episode."""
    return f"{rule_id}:{'hotline' if region_id is None else region_id}"


# The condition, per metric: free places and operators on duty are bad below
# the threshold, missed calls at or above it.


def breached(rule: AlertRule, value: int) -> bool:
    return value >= rule.threshold if rule.metric == "missed_calls" else value < rule.threshold


def recovered(rule: AlertRule, value: int) -> bool:
    """Back past the threshold by the margin (hysteresis)."""
    if rule.metric == "missed_calls":
        return value < rule.threshold - rule.margin
    return value >= rule.threshold + rule.margin


def at_critical(rule: AlertRule, value: int) -> bool:
    if rule.metric == "missed_calls":
        return 0 < rule.critical_at <= value
    return value <= rule.critical_at


def new_code() -> str:
    """A random acknowledgement code that no open alert has (the database
    refuses a second: uq_alerts_open_code)."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(Alert.id).where(Alert.code == code, Alert.open_key.is_not(None))) is None:
            return code


def dedup_key(alert_id: int, event: str, n: int, user_id: int, channel: str) -> str:
    return f"alert:{alert_id}:{event}:{n}:{user_id}:{channel}"


def _channels(rule: AlertRule, user: User) -> list[str]:
    wanted = user.alert_channels or []
    return [channel for channel in rule.channels
            if channel in wanted and (channel != "sms" or user.phone)]


def _pairs(rule: AlertRule, users) -> list[tuple[User, str]]:
    return [(user, channel) for user in users for channel in _channels(rule, user)]


# --- evaluation -----------------------------------------------------------------


def evaluate(now: datetime) -> dict:
    """Evaluate every active rule at `now`; write the state changes, their
    events and notices. Does not commit."""
    # Two evaluations at once take turns: the second waits for the first's
    # commit on the rules' row locks (every rule: an open episode always has
    # one), then reads the episodes and notices the first wrote. SQLite has
    # one writer at a time anyway.
    rules = [rule for rule in db.session.scalars(select(AlertRule).order_by(AlertRule.id).with_for_update())
             if rule.active]
    open_alerts = {alert.open_key: alert
                   for alert in db.session.scalars(select(Alert).where(Alert.state.in_(OPEN_STATES)))}
    run = Run(now, {code for rule in rules for code in rule.kinds or ()}, [alert.id for alert in open_alerts.values()])
    places_rules = [rule for rule in rules if rule.metric not in HOTLINE_METRICS]
    totals = {t.region.id: t for t in capacity.region_totals(now)} if places_rules else {}
    watched, off_hours, steps = set(), set(), []
    for rule in rules:
        if rule.metric not in HOTLINE_METRICS:
            continue
        key = open_key(rule.id, None)
        if not run.within_active_hours(rule):
            off_hours.add(key)
            continue
        watched.add(key)
        run.summary["scopes"] += 1
        value = run.operators_on_duty() if rule.metric == "operators_on_duty" else run.missed_calls(rule.window_minutes)
        alert = open_alerts.get(key)
        new = alert is None
        if new:
            if not breached(rule, value):
                continue
            alert = _start(run, rule, None, value)
        steps.append((rule, None, alert, value, new))
    for rule in places_rules:
        region_ids = [rule.region_id] if rule.region_id is not None else list(totals)
        for region_id in region_ids:
            figures = totals.get(region_id)
            if figures is None:
                continue
            key = open_key(rule.id, region_id)
            alert = open_alerts.get(key)
            kinds = [figures.by_kind[code] for code in rule.kinds if code in figures.by_kind]
            # A rule for every region skips the regions without places of its kinds.
            if rule.region_id is None and alert is None and not sum(f.total for f in kinds):
                continue
            watched.add(key)
            run.summary["scopes"] += 1
            free = sum(f.free for f in kinds)
            new = alert is None
            if new:
                if free >= rule.threshold:
                    continue
                alert = _start(run, rule, figures.region, free)
            steps.append((rule, figures.region, alert, free, new))
    # The new episodes' ids (their codes), in one batch.
    db.session.flush()
    # What the steps read is not what they change: their changes are
    # written together at the end (run.write).
    with db.session.no_autoflush:
        for rule, region, alert, free, new in steps:
            if new:
                run.event(alert, "pending", free)
            _step(run, rule, region, alert, free)
        for key, alert in open_alerts.items():
            if key in off_hours:
                _end_of_active_hours(run, alert)
            elif key not in watched:
                _close(run, alert, "cancelled", alert.free, {"reason": "out_of_scope"})
    run.write()
    run.summary["rules"] = len(rules)
    run.summary["open"] = db.session.scalar(
        select(func.count()).select_from(Alert).where(Alert.state.in_(OPEN_STATES)))
    return {name: run.summary[name] for name in (
        "rules", "scopes", "open", "pending", "fired", "critical", "repeated", "escalated", "resolved",
        "cancelled", "notices")}


def _full_and_stale(run: Run, rule: AlertRule, region: Region | None) -> tuple[int, int]:
    return (0, 0) if region is None else run.full_and_stale(region.id, rule.kinds)


def _start(run: Run, rule: AlertRule, region: Region | None, free: int) -> Alert:
    """A new episode, pending (flushed by the caller with the others). Every
    column is given, so that its row changes like the others (run.write)."""
    full, stale = _full_and_stale(run, rule, region)
    region_id = region.id if region is not None else None
    alert = Alert(rule_id=rule.id, region_id=region_id, open_key=open_key(rule.id, region_id), code=new_code(),
                  state="pending",
                  critical=False, free=free, threshold=rule.threshold, full_facilities=full,
                  stale_facilities=stale, started_at=run.now, fired_at=None, recovering_since=None,
                  last_notified_at=None, escalated_at=None, resolved_at=None)
    db.session.add(alert)
    run.summary["pending"] += 1
    return alert


def _step(run: Run, rule: AlertRule, region: Region | None, alert: Alert, free: int) -> None:
    now = run.now
    below = breached(rule, free)
    full, stale = _full_and_stale(run, rule, region)
    for name, value in (("free", free), ("full_facilities", full), ("stale_facilities", stale),
                        ("threshold", rule.threshold)):
        if getattr(alert, name) != value:
            setattr(alert, name, value)

    if alert.state == "pending":
        if not below:
            _close(run, alert, "cancelled", free, {})
        elif now - alert.started_at >= timedelta(minutes=rule.for_minutes):
            _fire(run, rule, region, alert)
        return

    # Firing. Hysteresis: resolved only once free >= threshold + margin (for
    # missed calls: fewer than threshold - margin) has held for
    # keep_firing_minutes; any dip back starts that time again.
    if recovered(rule, free):
        if alert.recovering_since is None:
            alert.recovering_since = now
        if now - alert.recovering_since >= timedelta(minutes=rule.keep_firing_minutes):
            _resolve(run, rule, region, alert)
            return
    elif alert.recovering_since is not None:
        alert.recovering_since = None

    if at_critical(rule, free) and not alert.critical:
        alert.critical = True
        told = _notify(run, rule, region, alert, "critical", _pairs(rule, run.audience(rule, alert)))
        run.event(alert, "critical", free, told=told)
        alert.last_notified_at = now
        run.summary["critical"] += 1
        return
    if alert.acknowledged_at is not None:
        return
    quiet = run.quiet_until(rule) is not None
    escalate_at = (alert.fired_at + timedelta(minutes=rule.escalate_after_minutes)
                   if rule.escalate_after_minutes is not None else None)
    if escalate_at is not None and alert.escalated_at is None and now >= escalate_at and not quiet:
        alert.escalated_at = now
        told = _notify(run, rule, region, alert, "escalated", _pairs(rule, run.escalation(rule)),
                       minutes=rule.escalate_after_minutes)
        run.event(alert, "escalated", free, told=told)
        # The others' reminder clock starts again with this notice.
        alert.last_notified_at = now
        run.summary["escalated"] += 1
        return
    if rule.repeat_minutes is not None and not quiet and (
            alert.last_notified_at is None or now - alert.last_notified_at >= timedelta(minutes=rule.repeat_minutes)):
        n = run.repeat_number(alert)
        told = _notify(run, rule, region, alert, "repeated", _pairs(rule, run.audience(rule, alert)), n=n)
        run.event(alert, "repeated", free, told=told, n=n)
        alert.last_notified_at = now
        run.summary["repeated"] += 1


def _fire(run: Run, rule: AlertRule, region: Region | None, alert: Alert) -> None:
    now = run.now
    alert.state, alert.fired_at = "firing", now
    critical = at_critical(rule, alert.free)
    hold = None if critical else run.quiet_until(rule)
    notice = "critical" if critical else "fired"
    told = _notify(run, rule, region, alert, notice, _pairs(rule, run.recipients(rule, alert.region_id)), hold=hold)
    run.event(alert, "fired", alert.free, told=told, critical=critical, held_until=hold.isoformat() if hold else None)
    if critical:
        alert.critical = True
        run.event(alert, "critical", alert.free)
        run.summary["critical"] += 1
    alert.last_notified_at = hold or now
    run.summary["fired"] += 1


def _end_of_active_hours(run: Run, alert: Alert) -> None:
    """The rule's active hours are over: a pending episode ends unnoticed, a
    firing one is resolved and everyone told hears why."""
    if alert.state == "pending":
        _close(run, alert, "cancelled", alert.free, {"reason": "outside_active_hours"})
    else:
        _resolve(run, alert.rule, None, alert, hours_over=True)


def _resolve(run: Run, rule: AlertRule, region: Region | None, alert: Alert, *, hours_over: bool = False) -> None:
    told_before = db.session.execute(
        select(OutboxMessage.user_id, OutboxMessage.channel)
        .where(OutboxMessage.alert_id == alert.id, OutboxMessage.user_id.is_not(None))
        .distinct()).all()
    users = {user.id: user for user in db.session.scalars(
        select(User).where(User.id.in_({user_id for user_id, _ in told_before}), User.active))}
    pairs = sorted(((users[user_id], channel) for user_id, channel in told_before
                    if user_id in users and (channel != "sms" or users[user_id].phone)),
                   key=lambda pair: (pair[0].id, pair[1]))
    hold = run.quiet_until(rule)
    told = _notify(run, rule, region, alert, "resolved", pairs, hold=hold, hours_over=hours_over)
    _close(run, alert, "resolved", alert.free, {"told": told, "held_until": hold.isoformat() if hold else None,
                                                "reason": "outside_active_hours" if hours_over else None})


def _close(run: Run, alert: Alert, event: str, free: int, details: dict) -> None:
    alert.state, alert.resolved_at, alert.open_key = "resolved", run.now, None
    run.event(alert, event, free, **details)
    run.summary[event] += 1


def _notify(run: Run, rule: AlertRule, region: Region | None, alert: Alert, event: str,
            pairs: list[tuple[User, str]], *, n: int = 0, minutes: int = 0,
            hold: datetime | None = None, hours_over: bool = False) -> list[list]:
    """One outbox row per (user, channel), written with the run's others;
    returns [[user id, channel], …] of those told (now or when the quiet
    hours end). Each episode's event happens once (its state changes with
    it, in the same transaction), so its notices are written once; their
    unique dedup key makes sure of it."""
    if not pairs:
        log.warning("alert %d (%s) has nobody to tell: no recipients with a channel", alert.id, event)
        return []
    since = (alert.fired_at or alert.started_at).astimezone(run.zone)
    facts = alert_texts.NoticeFacts(
        code=alert.code, rule_name=rule.name, region=region.name if region is not None else None,
        kinds=run.kinds(rule.kinds or ()), free=alert.free, threshold=rule.threshold, critical_at=rule.critical_at,
        full=alert.full_facilities, stale=alert.stale_facilities, since=since, minutes=minutes, metric=rule.metric,
        window_minutes=rule.window_minutes, active_hours=(rule.active_from, rule.active_to) if rule.active_from
        else None, hours_over=hours_over)
    for user, channel in pairs:
        if channel == "sms":
            subject, body = None, alert_texts.sms(event, user.language, facts)
        else:
            subject, body = alert_texts.email(event, user.language, facts)
        run.notices.append({"channel": channel, "purpose": PURPOSE, "body": body, "subject": subject, "user": user,
                            "dedup_key": dedup_key(alert.id, event, n, user.id, channel), "alert_id": alert.id,
                            "next_attempt_at": hold or run.now})
        run.summary["notices"] += 1
    return [[user.id, channel] for user, channel in pairs]


def close_out_of_scope(rule: AlertRule, now: datetime, reason: str) -> int:
    """Close the rule's open episodes it no longer watches (all of them when
    the rule is inactive): event "cancelled", no notices."""
    query = select(Alert).where(Alert.rule_id == rule.id, Alert.state.in_(OPEN_STATES))
    if rule.active and rule.region_id is not None:
        query = query.where(Alert.region_id != rule.region_id)
    elif rule.active:
        return 0
    run = Run(now)
    closed = 0
    for alert in db.session.scalars(query):
        _close(run, alert, "cancelled", alert.free, {"reason": reason})
        closed += 1
    run.write()
    return closed
