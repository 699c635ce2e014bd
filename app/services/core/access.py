"""Who may do what: one place for every permission rule.

The role sets name what they allow; routes (`roles_required`) and services
(`has_role`) use the same ones. The `may_*` checks decide about one record.
"""

from dataclasses import dataclass

from app.models import Alert, Facility, Hold, PlacementSearch, Referral, Region, User
from app.models.alerts import HOTLINE_METRICS


@dataclass(frozen=True)
class Actor:
    """Who acts, by which channel, and from where: recorded in history and audit."""

    user: User | None
    source: str  # web, api, sms, import, system
    ip: str | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user else None

    def has_role(self, *roles: str) -> bool:
        return self.user is not None and self.user.has_role(*roles)


SYSTEM = Actor(user=None, source="system")


def can_update_facility(user: User | None, facility: Facility) -> bool:
    """Admins, and shelter staff of this very facility."""
    if user is None:
        return False
    if user.has_role("admin"):
        return True
    return user.has_role("shelter_staff") and facility in user.facilities


def can_see_address(user: User | None, facility: Facility) -> bool:
    """PRODUCT.md section 5, rule 1: a confidential address reaches only the
    facility's own staff and admins. Partners never see an address."""
    if user is None:
        return False
    if user.has_role("admin"):
        return True
    if user.has_role("shelter_staff") and facility in user.facilities:
        return True
    return not facility.confidential and user.has_role("operator", "manager", "shelter_staff")


def reveal_is_audited(user: User | None, facility: Facility) -> bool:
    """PRODUCT.md section 5, rule 5: a confidential address shown to anyone
    but the facility's own staff (that is, to an admin) is audited."""
    if not facility.confidential or not can_see_address(user, facility):
        return False
    return not (user.has_role("shelter_staff") and facility in user.facilities)


def sees_every_region(user: User) -> bool:
    return user.has_role("operator", "manager", "partner", "admin")


def visible_region_ids(user: User) -> set[int] | None:
    """The regions whose counts this user sees; None means all of them."""
    if sees_every_region(user):
        return None
    ids = {region.id for region in user.regions}
    ids.update(facility.region_id for facility in user.facilities)
    return ids


def may_see_region(user: User, region: Region) -> bool:
    ids = visible_region_ids(user)
    return ids is None or region.id in ids


def export_shows_address(facility: Facility, *, include_confidential: bool) -> bool:
    """The facility file export: open addresses always; a confidential one only
    in the admin's explicit `--include-confidential` backup (PRODUCT.md
    section 5, rule 1), which audits each reveal."""
    return include_confidential or not facility.confidential


# --- role sets ------------------------------------------------------------------

# Placement (PRODUCT.md flow B): search places, hold them, refer a contact.
PLACEMENT_SEARCHERS = ("operator", "manager", "partner", "admin")
PLACE_HOLDERS = ("operator", "manager", "partner", "admin")
REFERRERS = ("operator", "manager", "partner", "admin")
# The 'My holds' page: those who hold places for others; of them, who may
# switch it to every active hold.
MY_HOLDS_USERS = ("operator", "manager", "partner")
ALL_HOLDS_LISTERS = ("operator", "manager")
# Who sees every hold and referral; anyone else sees those they made, and
# shelter staff those for their facilities.
PLACEMENT_OVERSEERS = ("operator", "manager", "admin")
# Who lists turn-aways (operators and admins all, managers their regions), and who records one.
TURN_AWAY_READERS = ("operator", "manager", "admin")
TURN_AWAY_RECORDERS = ("operator", "manager")
# Who files, lists, withdraws and answers waiting-list requests and their
# offers (PRODUCT.md flow D): the hotline's desk, one national list (managers
# filter it by region), never partners.
REQUEST_KEEPERS = ("operator", "manager")

# Calls: who opens the operator console, its lists and the API's call list, and
# may tie a search or a referral to a call (a searcher or referrer with none of
# these roles is a partner). Who works a call (takes it, records its needs,
# flags, notes and outcome), as for SMS replies and turn-aways. Partners and
# shelter staff never see a call (PRODUCT.md section 2).
CALL_READERS = ("operator", "manager", "admin")
CALL_WORKERS = ("operator", "manager")
# The hotline's own figures (answered, missed, by whom and how fast): for
# managers, who run the hotline, and admins. Not operators: the page rates
# colleagues by name.
HOTLINE_FIGURE_READERS = ("manager", "admin")
# Risk screening (PRODUCT.md section 5, rule 11): the answers are as sensitive
# as notes, so operators and managers alone read and record them (admins, who
# read calls, do not). A contact's level is a fact of the call: every call
# reader sees it as a badge.
RISK_SCREENERS = ("operator", "manager")
RISK_LEVEL_READERS = CALL_READERS
# Voicemails (PRODUCT.md section 5, rule 10): the recordings are heard only by
# operators and managers (admins, who read calls, do not), who also handle
# them; the queue itself is a list of calls, for every call reader.
VOICEMAIL_LISTENERS = ("operator", "manager")
VOICEMAIL_HANDLERS = CALL_WORKERS
VOICEMAIL_READERS = CALL_READERS
# Who edits the risk instrument (its items and thresholds).
RISK_INSTRUMENT_EDITORS = ("admin",)

# The shelter pages: a facility's staff, and admins (every facility).
SHELTER_PAGE_USERS = ("shelter_staff", "admin")
# The development page /hotline-simulator.
SIMULATOR_USERS = ("operator", "admin")

# Who opens the outbox (its page and the API's list) and retries its messages.
OUTBOX_USERS = ("operator", "manager", "admin")

# Who lists alerts and edits alert rules (each in their regions), and so is
# told of the SMS command OK; who may be named in a rule as a recipient or
# escalation contact, and so open an alert.
ALERT_READERS = ("manager", "admin")
ALERT_RECIPIENTS = ("operator", "manager", "admin")

# Who reads the daily statistics (managers: their own regions').
STATISTICS_READERS = ("manager", "admin")


# --- may: decisions about one record ------------------------------------------------


def is_partner(user: User | None) -> bool:
    """A partner (police, justice) and nothing more, rather than the hotline:
    their holds are marked as theirs (PRODUCT.md section 2)."""
    return user is not None and user.has_role("partner") and not user.has_role(*PLACEMENT_OVERSEERS)


def visible_placement_facility_ids(user: User) -> set[int] | None:
    """The facilities whose holds and referrals `user` sees, besides those they
    made: None means all of them (operators, managers, admins); shelter staff
    their own facilities; anyone else none."""
    if user.has_role(*PLACEMENT_OVERSEERS):
        return None
    if user.has_role("shelter_staff"):
        return {facility.id for facility in user.facilities}
    return set()


def may_see_hold(user, hold: Hold) -> bool:
    if user is None:
        return False
    ids = visible_placement_facility_ids(user)
    return ids is None or hold.unit.facility_id in ids or hold.created_by_id == user.id


def may_close_hold(actor: Actor, hold: Hold, *, confirming: bool) -> bool:
    """Confirming: the facility's staff, operators and managers. Releasing and
    extending: those too, and whoever made the hold (a partner, their own)."""
    user = actor.user
    if user is None:
        return False
    if actor.has_role("operator", "manager") or can_update_facility(user, hold.unit.facility):
        return True
    return not confirming and hold.created_by_id == user.id


def may_answer_hold_request(actor: Actor, hold: Hold) -> bool:
    """Accepting or declining a hold (and releasing one as declined): the
    facility's own staff only (PRODUCT.md, "until the facility accepts"). Not
    admins nor operators: the answer is the facility's, on who it can take in."""
    user = actor.user
    return user is not None and user.has_role("shelter_staff") and hold.unit.facility in user.facilities


def may_update_referral(user, referral: Referral) -> bool:
    if user is None:
        return False
    if referral.facility_id is not None:
        return can_update_facility(user, referral.facility)
    return user.has_role("operator", "manager", "admin")


def may_see_referral(user, referral: Referral) -> bool:
    if user is None:
        return False
    ids = visible_placement_facility_ids(user)
    return ids is None or referral.facility_id in ids or referral.created_by_id == user.id


def may_see_risk_level(user: User | None) -> bool:
    """Who sees a contact's risk level where a hold or referral names its call
    (rule 11): those who read calls; never a partner or a facility's staff."""
    return user is not None and user.has_role(*RISK_LEVEL_READERS)


def may_tie_to_call(user: User | None) -> bool:
    """Who may tie a search, hold, referral or turn-away to a call: those who
    see calls. A partner's `call_id` is refused."""
    return user is not None and user.has_role(*CALL_READERS)


def may_use_search(user: User | None, search: PlacementSearch) -> bool:
    """Whose hold may name a search (`search_id`), and so settle its contact:
    the searcher's own, and any for those who see calls (the hotline works a
    contact together). Nobody else learns that the search exists."""
    return user is not None and (search.created_by_id == user.id or user.has_role(*CALL_READERS))


def may_withdraw_turn_aways_of_others(user: User | None) -> bool:
    """A hold withdraws its contact's turn-away (the contact found a place):
    anyone's for the hotline, only their own for anyone else, so that a
    partner's hold never undoes what an operator recorded."""
    return user is not None and user.has_role(*CALL_READERS)


# Which call a hold or referral came from, and a referral's note, show to the
# hotline and to shelter staff (for what comes to them): never to partners,
# who see no call or note (PRODUCT.md section 2).


def sees_hold_call(user: User) -> bool:
    return user.has_role(*CALL_READERS, "shelter_staff")


def sees_referral_call_and_note(user: User, referral: Referral) -> bool:
    """As for holds, and to whoever made the referral (a partner's carries no call)."""
    return user.has_role(*CALL_READERS, "shelter_staff") or referral.created_by_id == user.id


def sees_turn_away_call_and_note(user: User) -> bool:
    return user.has_role(*CALL_READERS)


def sees_change_author_and_note(user: User, facility: Facility) -> bool:
    """Who changed a unit's counts, and their note: the hotline, admins and
    the facility's own staff. Anyone else (partners, other facilities' staff)
    sees each change's counts and time only."""
    return user.has_role(*CALL_READERS) or (user.has_role("shelter_staff") and facility in user.facilities)


def turn_away_region_ids(user: User | None) -> set[int] | None:
    """The regions whose turn-aways `user` lists: None (all) for operators and
    admins, their own regions for managers, none for anyone else."""
    if user is None or not user.has_role(*TURN_AWAY_READERS):
        return set()
    if user.has_role("operator", "admin"):
        return None
    return {region.id for region in user.regions}


def may_switch_duty(actor: Actor, user: User) -> bool:
    """Operators switch themselves on and off duty; admins may switch anyone."""
    return actor.user is not None and (actor.user.id == user.id or actor.has_role("admin"))


def may_go_on_duty(user: User) -> bool:
    """Operators: on duty, hotline calls ring on their phone."""
    return user.has_role("operator")


def may_acknowledge_alert(user: User | None, alert: Alert) -> bool:
    """Admins; managers of the alert's region, every manager for a hotline
    alert (the hotline belongs to no region); users the rule names
    (recipients, escalate_to): whoever the alert asks to act."""
    if user is None or not user.active:
        return False
    if user.has_role("admin"):
        return True
    if user.has_role("manager") and (alert.region_id is None
                                     or any(region.id == alert.region_id for region in user.regions)):
        return True
    rule = alert.rule
    return user.email in (rule.recipients or []) or user.email in (rule.escalate_to or [])


def alert_region_ids(user: User | None) -> set[int] | None:
    """The regions whose alerts `user` sees and whose alert rules they may
    edit: None for all (admins), a set for managers (theirs), empty for
    anyone else. The hotline's alerts and rules (no region) are every
    manager's besides: may_edit_alert_rule, episodes.alerts_for."""
    if user is None or not user.active:
        return set()
    if user.has_role("admin"):
        return None
    if user.has_role("manager"):
        return {region.id for region in user.regions}
    return set()


def statistics_region_ids(user: User | None) -> set[int] | None:
    """The regions whose statistics `user` reads: None for all (admins),
    theirs for managers, none for anyone else (as their alerts)."""
    return alert_region_ids(user)


def may_edit_alert_rules(user: User | None) -> bool:
    """Active managers and admins: the alert rules are theirs (each in their regions)."""
    return user is not None and user.active and user.has_role(*ALERT_READERS)


def may_edit_alert_rule(user: User | None, region_id: int | None, metric: str = "free_places") -> bool:
    """Admins every rule; managers the rules of their regions, and the
    hotline's (HOTLINE_METRICS: the hotline belongs to no region, and every
    manager sees its alerts). A rule for every region is for admins."""
    if metric in HOTLINE_METRICS:
        return may_edit_alert_rules(user)
    ids = alert_region_ids(user)
    if ids is None:
        return True
    return region_id is not None and region_id in ids


def may_give_roles(actor: Actor, user: User | None, roles) -> bool:
    """Whether `actor` may give `user` (None: a new user) these roles: an
    admin never takes their own admin role away, so that nobody locks
    themselves (possibly the last admin) out by accident."""
    return user is None or user.id != actor.user_id or "admin" not in user.roles or "admin" in roles
