"""One alert evaluation's reads and writes (app.services.alerts.evaluation):
what a run reads at most once, and writes in bulk at the end."""

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, case, cast, func, insert, inspect, literal, select
from sqlalchemy.orm import lazyload
from sqlalchemy.orm.attributes import flag_modified

from app.clock import local_zone
from app.extensions import db
from app.models import Alert, AlertEvent, AlertRule, Call, CapacityKind, CapacityUnit, Hold, User, UserRole
from app.models.user import user_regions
from app.services.delivery import outbox
from app.services.hotline import calls
from app.services.registry import capacity

# What an evaluation writes in an episode's row.
EVALUATED = ("open_key", "state", "critical", "free", "threshold", "full_facilities", "stale_facilities", "fired_at",
             "recovering_since", "last_notified_at", "escalated_at", "resolved_at")
# Bits of a kind in the facility masks below: at most this many kinds in rules
# (and a kind's id is its bit while no id is higher).
MAX_KINDS = 62


class Run:
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
        self._on_duty: int | None = None
        self._missed: dict[int, int] = {}

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
            .where(capacity.holding(self.now))
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

    # The hotline's figures, each read once.

    def operators_on_duty(self) -> int:
        """Operators on duty now, whom a call rings (calls.on_duty)."""
        if self._on_duty is None:
            self._on_duty = db.session.scalar(select(func.count()).select_from(User).where(calls.on_duty()))
        return self._on_duty

    def missed_calls(self, minutes: int) -> int:
        """Calls missed (calls.missed) that reached the operators' ring within
        the last `minutes`."""
        if minutes not in self._missed:
            self._missed[minutes] = db.session.scalar(
                select(func.count()).select_from(Call)
                .where(calls.missed(self.now), Call.rang_at > self.now - timedelta(minutes=minutes),
                       Call.rang_at <= self.now))
        return self._missed[minutes]

    def within_active_hours(self, rule: AlertRule) -> bool:
        """Whether now is in the rule's active hours (all day without them)."""
        if not rule.active_from or not rule.active_to:
            return True
        return _inside(rule.active_from, rule.active_to, self.now.astimezone(self.zone).strftime("%H:%M"))

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

    def recipients(self, rule: AlertRule, region_id: int | None) -> list[User]:
        """The users the rule names, else the region's managers (a hotline
        rule always names them: it has no region)."""
        if rule.recipients or region_id is None:
            return self.users(rule.recipients or [])
        return self.managers(region_id)

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
    if not _inside(start, end, clock):
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    hours, minutes = (int(part) for part in end.split(":"))
    return datetime.combine(day, time(hours, minutes), tzinfo=zone).astimezone(UTC)


def _inside(start: str, end: str, clock: str) -> bool:
    """Whether the local time `clock` ("HH:MM") is in [start, end): across
    midnight when end is before start; all day when they are equal."""
    if start == end:
        return True
    return start <= clock < end if start < end else (clock >= start or clock < end)
