"""The alert engine: evaluating rules, notifying, acknowledging (flow C).

    evaluate(now) -> dict
        One evaluation of every active rule (the scheduler calls it every
        minute inside `writing()` and commits after). Returns a summary:
        {"rules", "scopes", "open", "pending", "fired", "critical", "repeated",
         "escalated", "resolved", "cancelled", "notices"}.
    acknowledge(actor, alert, now) -> Alert
        Stops the repeats and the escalation of a firing alert. Forbidden for
        someone it is not for; Conflict when the alert is pending (not fired
        yet), already acknowledged (the message says by whom) or resolved:
        the API answers 409, the SMS `OK code` a polite reply. Race-safe: of
        two at once, one acknowledges and the other gets the Conflict.
    may_acknowledge(user, alert) -> bool
        Admins; managers of the alert's region; users the rule names
        (recipients, escalate_to): whoever the alert asks to act.
    get_alert(alert_id) -> Alert           NotFound when there is none
    alerts_for(actor, state=None, limit=50, before_id=None) -> [Alert]
        Newest first; admins see all, managers their regions' alerts.
    notices(alert) -> [OutboxMessage]      who was told by what, with status
    close_out_of_scope(rule, now, reason)  used by alert_rules on edit/delete

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
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, case, cast, func, insert, inspect, literal, select, update
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import flag_modified

from app.clock import local_zone
from app.extensions import db
from app.models import (
    Alert,
    AlertEvent,
    AlertRule,
    CapacityKind,
    CapacityUnit,
    Hold,
    OutboxMessage,
    Region,
    User,
    UserRole,
)
from app.models.alerts import ALERT_STATES
from app.models.user import user_regions
from app.services.core import audit
from app.services.core.access import Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.services.delivery import outbox
from app.services.registry import capacity
from app.texts import alerts as alert_texts

log = logging.getLogger(__name__)

PURPOSE = "alert"
# What an evaluation writes in an episode's row.
EVALUATED = ("open_key", "state", "critical", "free", "threshold", "full_facilities", "stale_facilities", "fired_at",
             "recovering_since", "last_notified_at", "escalated_at", "resolved_at")
OPEN_STATES = ("pending", "firing")
# Bits of a kind in the facility masks below: at most this many kinds in rules
# (and a kind's id is its bit while no id is higher).
MAX_KINDS = 62


def open_key(rule_id: int, region_id: int) -> str:
    return f"{rule_id}:{region_id}"


def dedup_key(alert_id: int, event: str, n: int, user_id: int, channel: str) -> str:
    return f"alert:{alert_id}:{event}:{n}:{user_id}:{channel}"


# --- reading ----------------------------------------------------------------


def get_alert(alert_id) -> Alert:
    alert = db.session.get(Alert, alert_id) if isinstance(alert_id, int) else None
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def alerts_for(actor: Actor, state: str | None = None, *, limit: int = 50,
               before_id: int | None = None) -> list[Alert]:
    """The alerts this actor may see, newest first (`before_id` pages on)."""
    user = actor.user
    if user is None or not user.active or not user.has_role("manager", "admin"):
        raise Forbidden("alerts are for managers and admins")
    if state is not None and state not in ALERT_STATES:
        raise InvalidInput(f"state must be one of {', '.join(ALERT_STATES)}", field="state")
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if not user.has_role("admin"):
        query = query.where(Alert.region_id.in_([region.id for region in user.regions]))
    if state is not None:
        query = query.where(Alert.state == state)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return list(db.session.scalars(query))


def notices(alert: Alert) -> list[OutboxMessage]:
    return list(db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.alert_id == alert.id).order_by(OutboxMessage.id)))


# --- who ----------------------------------------------------------------------


def may_acknowledge(user: User | None, alert: Alert) -> bool:
    if user is None or not user.active:
        return False
    if user.has_role("admin"):
        return True
    if user.has_role("manager") and any(region.id == alert.region_id for region in user.regions):
        return True
    rule = alert.rule
    return user.email in (rule.recipients or []) or user.email in (rule.escalate_to or [])


def _channels(rule: AlertRule, user: User) -> list[str]:
    wanted = user.alert_channels or []
    return [channel for channel in rule.channels
            if channel in wanted and (channel != "sms" or user.phone)]


def _pairs(rule: AlertRule, users) -> list[tuple[User, str]]:
    return [(user, channel) for user in users for channel in _channels(rule, user)]


# --- one run ------------------------------------------------------------------


class _Run:
    """What one evaluation reads at most once (the facility counts, the kinds,
    the managers and named users, the notices and reminders so far, the zone)
    and what it writes in bulk at the end (events and notices: `write`)."""

    def __init__(self, now: datetime, kind_codes=(), open_ids=()):
        self.now = now
        self.summary = Counter()
        self.events: list[dict] = []
        self.notices: list[dict] = []
        self._kind_codes = set(kind_codes)
        self._open_ids = list(open_ids)
        self._repeats: Counter | None = None
        self._combos: dict[int, list[tuple[int, int, int, int]]] | None = None
        self._bits: dict[str, int] = {}
        self._counts: dict[tuple[int, int], tuple[int, int]] = {}
        self._kinds: dict[str, CapacityKind] | None = None
        self._managers: dict[int, list[User]] | None = None
        self._by_email: dict[str, User | None] = {}
        self._admins: list[User] | None = None
        self._zone: ZoneInfo | None = None

    # Full and stale facilities, per region and set of kinds.

    def _load_combos(self) -> None:
        kinds = dict(db.session.execute(
            select(CapacityKind.code, CapacityKind.id).where(CapacityKind.code.in_(self._kind_codes))).all())
        self._combos = {}
        if not kinds:
            return
        if max(kinds.values()) <= MAX_KINDS:
            # A kind's id is its bit: no CASE to evaluate per unit (and sums
            # of 32-bit integers while the ids allow).
            self._bits = {code: 1 << kind_id for code, kind_id in kinds.items()}
            one = cast(literal(1), Integer if max(kinds.values()) < 31 else BigInteger)
            bit = one.op("<<")(CapacityUnit.kind_id)
        else:
            codes = sorted(kinds)[:MAX_KINDS]
            self._bits = {code: 1 << i for i, code in enumerate(codes)}
            bit = case({kinds[code]: self._bits[code] for code in codes}, value=CapacityUnit.kind_id, else_=0)
        held = (
            select(Hold.unit_id, func.sum(Hold.places).label("held"))
            .where(Hold.status == "active", Hold.expires_at > self.now)
            .group_by(Hold.unit_id)
            .subquery()
        )
        free_bit = case((CapacityUnit.available > func.coalesce(held.c.held, 0), bit), else_=0)
        stale_bit = case((CapacityUnit.stale_at <= self.now, bit), else_=0)
        # Per facility open for intake: which of the kinds it has, has free,
        # has stale (each kind a bit; a facility has one unit per kind, so the
        # sum is the union). Then how many facilities share each combination.
        per_facility = (
            select(func.min(CapacityUnit.region_id).label("region_id"), func.sum(bit).label("has"),
                   func.sum(free_bit).label("free"), func.sum(stale_bit).label("stale"))
            .select_from(CapacityUnit)
            .outerjoin(held, held.c.unit_id == CapacityUnit.id)
            .where(CapacityUnit.facility_open, CapacityUnit.kind_id.in_([kinds[code] for code in self._bits]))
            .group_by(CapacityUnit.facility_id)
            .subquery()
        )
        combos = select(per_facility.c.region_id, per_facility.c.has, per_facility.c.free, per_facility.c.stale,
                        func.count()).group_by(per_facility.c.region_id, per_facility.c.has, per_facility.c.free,
                                               per_facility.c.stale)
        for region_id, has, free, stale, count in db.session.connection().execute(combos).all():
            self._combos.setdefault(region_id, []).append((int(has), int(free), int(stale), count))

    def full_and_stale(self, region_id: int, codes) -> tuple[int, int]:
        """How many facilities (open for intake, with units of these kinds)
        are full (none of these kinds free), and how many have stale counts
        of them."""
        if self._combos is None:
            self._load_combos()
        mask = 0
        for code in codes:
            mask |= self._bits.get(code, 0)
        key = (region_id, mask)
        if key not in self._counts:
            combos = self._combos.get(region_id, ())
            self._counts[key] = (sum(n for has, free, _, n in combos if has & mask and not free & mask),
                                 sum(n for _, _, stale, n in combos if stale & mask))
        return self._counts[key]

    def repeat_number(self, alert: Alert) -> int:
        """The number of an open episode's next reminder: 1, 2, …"""
        if self._repeats is None:
            self._repeats = Counter(dict(db.session.execute(
                select(AlertEvent.alert_id, func.count())
                .where(AlertEvent.alert_id.in_(self._open_ids), AlertEvent.event == "repeated")
                .group_by(AlertEvent.alert_id)).all())) if self._open_ids else Counter()
        return self._repeats[alert.id] + 1

    def event(self, alert: Alert, event: str, free: int | None, **details) -> None:
        self.events.append({"alert_id": alert.id, "at": self.now, "event": event, "free": free, "actor_id": None,
                            "details": {key: value for key, value in details.items() if value is not None}})

    def write(self) -> None:
        """The episodes the run changed, its events and its notices, each in
        one batch. The episodes' rows all get the same columns (what an
        evaluation changes, never the acknowledgement), so that they go in
        one statement."""
        for alert in [row for row in db.session.dirty if isinstance(row, Alert)]:
            unloaded = inspect(alert).unloaded
            for column in EVALUATED:
                if column not in unloaded:
                    flag_modified(alert, column)
        db.session.flush()
        if self.events:
            db.session.connection().execute(insert(AlertEvent.__table__), self.events)
        outbox.enqueue_many(self.now, self.notices)
        self.events, self.notices = [], []

    # What notices need.

    def kinds(self, codes) -> list[CapacityKind]:
        if self._kinds is None:
            self._kinds = {kind.code: kind for kind in capacity.all_kinds()}
        return [self._kinds[code] for code in codes if code in self._kinds]

    @property
    def zone(self) -> ZoneInfo:
        if self._zone is None:
            self._zone = local_zone()
        return self._zone

    @staticmethod
    def _read(query) -> list:
        """Rows of a query for users, without flushing what the run wrote so
        far (it changes no user) and without the users' roles, regions and
        facilities (the notices need none of them)."""
        with db.session.no_autoflush:
            return list(db.session.execute(query.options(
                lazyload(User.role_rows), lazyload(User.regions), lazyload(User.facilities))))

    def managers(self, region_id: int) -> list[User]:
        """The region's active managers; every region's, read at once."""
        if self._managers is None:
            self._managers = {}
            for found_in, user in self._read(
                    select(user_regions.c.region_id, User)
                    .join(user_regions, user_regions.c.user_id == User.id)
                    .join(UserRole, UserRole.user_id == User.id)
                    .where(UserRole.role == "manager", User.active)
                    .order_by(User.id)):
                self._managers.setdefault(found_in, []).append(user)
        return self._managers.get(region_id, [])

    def users(self, emails) -> list[User]:
        missing = [email for email in emails if email not in self._by_email]
        if missing:
            found = {user.email: user for user, in self._read(select(User).where(User.email.in_(missing)))}
            self._by_email.update({email: found.get(email) for email in missing})
        return [user for email in emails if (user := self._by_email[email]) is not None and user.active]

    def admins(self) -> list[User]:
        if self._admins is None:
            self._admins = [user for user, in self._read(
                select(User).join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role == "admin", User.active).order_by(User.id))]
        return self._admins

    def recipients(self, rule: AlertRule, region_id: int) -> list[User]:
        return self.users(rule.recipients) if rule.recipients else self.managers(region_id)

    def escalation(self, rule: AlertRule) -> list[User]:
        return self.users(rule.escalate_to) if rule.escalate_to else self.admins()

    def audience(self, rule: AlertRule, alert: Alert) -> list[User]:
        users = self.recipients(rule, alert.region_id)
        if alert.escalated_at is not None:
            users = users + [user for user in self.escalation(rule) if user not in users]
        return users

    def quiet_until(self, rule: AlertRule) -> datetime | None:
        return quiet_until(rule, self.now, self.zone)


def quiet_until(rule: AlertRule, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The end (UTC) of the rule's quiet hours if `now` is inside them."""
    if not rule.quiet_from or not rule.quiet_to:
        return None
    local = now.astimezone(zone)
    clock = local.strftime("%H:%M")
    start, end = rule.quiet_from, rule.quiet_to
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    hours, minutes = (int(part) for part in end.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(UTC)


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
    run = _Run(now, {code for rule in rules for code in rule.kinds}, [alert.id for alert in open_alerts.values()])
    totals = {t.region.id: t for t in capacity.region_totals(now)} if rules else {}
    watched, steps = set(), []
    for rule in rules:
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
            if key not in watched:
                _close(run, alert, "cancelled", alert.free, {"reason": "out_of_scope"})
    run.write()
    run.summary["rules"] = len(rules)
    run.summary["open"] = db.session.scalar(
        select(func.count()).select_from(Alert).where(Alert.state.in_(OPEN_STATES)))
    return {name: run.summary[name] for name in (
        "rules", "scopes", "open", "pending", "fired", "critical", "repeated", "escalated", "resolved",
        "cancelled", "notices")}


def _start(run: _Run, rule: AlertRule, region: Region, free: int) -> Alert:
    """A new episode, pending (flushed by the caller with the others). Every
    column is given, so that its row changes like the others (run.write)."""
    full, stale = run.full_and_stale(region.id, rule.kinds)
    alert = Alert(rule_id=rule.id, region_id=region.id, open_key=open_key(rule.id, region.id), state="pending",
                  critical=False, free=free, threshold=rule.threshold, full_facilities=full,
                  stale_facilities=stale, started_at=run.now, fired_at=None, recovering_since=None,
                  last_notified_at=None, escalated_at=None, resolved_at=None)
    db.session.add(alert)
    run.summary["pending"] += 1
    return alert


def _step(run: _Run, rule: AlertRule, region: Region, alert: Alert, free: int) -> None:
    now = run.now
    below = free < rule.threshold
    full, stale = run.full_and_stale(region.id, rule.kinds)
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

    # Firing. Hysteresis: resolved only once free >= threshold + margin has
    # held for keep_firing_minutes; any dip below starts that time again.
    if free >= rule.threshold + rule.margin:
        if alert.recovering_since is None:
            alert.recovering_since = now
        if now - alert.recovering_since >= timedelta(minutes=rule.keep_firing_minutes):
            _resolve(run, rule, region, alert)
            return
    elif alert.recovering_since is not None:
        alert.recovering_since = None

    if free <= rule.critical_at and not alert.critical:
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


def _fire(run: _Run, rule: AlertRule, region: Region, alert: Alert) -> None:
    now = run.now
    alert.state, alert.fired_at = "firing", now
    critical = alert.free <= rule.critical_at
    hold = None if critical else run.quiet_until(rule)
    notice = "critical" if critical else "fired"
    told = _notify(run, rule, region, alert, notice, _pairs(rule, run.recipients(rule, region.id)), hold=hold)
    run.event(alert, "fired", alert.free, told=told, critical=critical, held_until=hold.isoformat() if hold else None)
    if critical:
        alert.critical = True
        run.event(alert, "critical", alert.free)
        run.summary["critical"] += 1
    alert.last_notified_at = hold or now
    run.summary["fired"] += 1


def _resolve(run: _Run, rule: AlertRule, region: Region, alert: Alert) -> None:
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
    told = _notify(run, rule, region, alert, "resolved", pairs, hold=hold)
    _close(run, alert, "resolved", alert.free, {"told": told, "held_until": hold.isoformat() if hold else None})


def _close(run: _Run, alert: Alert, event: str, free: int, details: dict) -> None:
    alert.state, alert.resolved_at, alert.open_key = "resolved", run.now, None
    run.event(alert, event, free, **details)
    run.summary[event] += 1


def _notify(run: _Run, rule: AlertRule, region: Region, alert: Alert, event: str,
            pairs: list[tuple[User, str]], *, n: int = 0, minutes: int = 0,
            hold: datetime | None = None) -> list[list]:
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
        code=alert.id, rule_name=rule.name, region=region.name, kinds=run.kinds(rule.kinds), free=alert.free,
        threshold=rule.threshold, critical_at=rule.critical_at, full=alert.full_facilities,
        stale=alert.stale_facilities, since=since, minutes=minutes)
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
    run = _Run(now)
    closed = 0
    for alert in db.session.scalars(query):
        _close(run, alert, "cancelled", alert.free, {"reason": reason})
        closed += 1
    run.write()
    return closed


# --- acknowledgement ------------------------------------------------------------


def acknowledge(actor: Actor, alert: Alert, now: datetime) -> Alert:
    """Acknowledge a firing alert: no more repeats or escalation. Its
    resolution is still announced to everyone who was told."""
    if not may_acknowledge(actor.user, alert):
        raise Forbidden("this alert is for the managers of its region")
    _refuse_if_closed(alert)
    # Only one of two acknowledgements at once gets through: the row is
    # changed only while it is firing and unacknowledged.
    changed = db.session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.state == "firing", Alert.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=actor.user_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(alert)
    if not changed:
        _refuse_if_closed(alert)
        raise Conflict("this alert cannot be acknowledged now", current={"alert": alert})
    db.session.add(AlertEvent(alert_id=alert.id, at=now, event="acknowledged", free=alert.free,
                              actor_id=actor.user_id, details={"source": actor.source}))
    audit.record(actor, "alert.acknowledge", now, alert)
    return alert


def _refuse_if_closed(alert: Alert) -> None:
    if alert.state == "resolved":
        raise Conflict(f"alert {alert.id} is resolved already", current={"alert": alert})
    if alert.state == "pending":
        raise Conflict(f"alert {alert.id} has not fired: there is nothing to acknowledge yet", current={"alert": alert})
    if alert.acknowledged_at is not None:
        who = alert.acknowledged_by.name if alert.acknowledged_by else "someone"
        raise Conflict(f"alert {alert.id} was acknowledged already by {who}", current={"alert": alert})
