"""One of everything a route can name, for the tests that walk every route of
`app.url_map` (test_permissions.py, test_confidential_addresses.py).

The world: in Antwerpen a confidential refuge (the secret address below), a
relief point and a crisis centre; a user of each role, seen from the refuge:
its own staff, staff of another facility of its region, a manager of its
region and one of another region (Limburg). An alert rule on Antwerpen that
fires, an SMS contact, a voicemail (its recording VOICEMAIL_RECORDING, at
Twilio), holds, a referral, an organisation, outbox messages.
Made through the real services, as the app makes them.
"""

from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter

from app.extensions import db
from app.models import Alert, Call, CapacityKind, OutboxMessage, RiskItem, User
from app.services.alerts import evaluation
from app.services.alerts import rules as alert_rules
from app.services.core.access import Actor
from app.services.hotline import calls, conversations
from app.services.placement import referrals
from app.services.placement import requests as waiting_list
from app.services.placement.criteria import parse_criteria
from app.services.registry import organisations
from tests import factories as make

# The refuge's address: distinctive, so that finding it in an answer is a leak.
# No real postcode, and no other facility's: where it shows, it is the refuge's.
STREET = "Geheimestraat 17"
POSTCODE = "2987"
LAT, LON = 51.0917364, 4.6583729
REFUGE_NAME = "Vluchthuis Verborgen"

ROLES = ("anonymous", "partner", "other_staff", "operator", "other_manager", "own_staff", "manager", "admin")
SEEKER = "+32489765432"
VOICEMAIL_RECORDING = "RE" + "7" * 32
STATIC_FILE = "opvang.css"


@dataclass
class World:
    users: dict[str, User]  # by role, as in ROLES (no one for "anonymous")
    arguments: dict[str, int | str]  # a value for each URL argument name
    refuge_id: int
    unit_id: int
    point_id: int  # the relief point: an open address
    open_street: str


def build(clock) -> World:
    refuge = make.facility("verborgen", name=REFUGE_NAME, type="refuge", confidential="yes", street=STREET,
                           postcode=POSTCODE, lat=LAT, lon=LON, units={"crisis_bed": (8, 4)})
    point = make.facility("hulppunt", name="Hulppunt Antwerpen", type="relief_point", street="Open Straat 1",
                          units={"intake_slot": (5, 5)})
    elsewhere = make.facility("crisis-antwerpen", name="Crisis Antwerpen", units={"crisis_bed": (6, 2)})
    antwerpen, limburg = refuge.region, make.region("limburg")
    users = {
        "partner": make.user("partner", phone="+32470000010"),
        "other_staff": make.user("shelter_staff", facilities_=[elsewhere]),
        "operator": make.user("operator", phone="+32470000011"),
        "other_manager": make.user("manager", regions=[limburg], phone="+32470000012"),
        "own_staff": make.user("shelter_staff", facilities_=[refuge, point]),
        "manager": make.user("manager", regions=[antwerpen], phone="+32470000013"),
        "admin": make.user("admin"),
    }
    someone = make.user("operator")  # whom the admin's user pages open
    organisation = organisations.save(make.SETUP, clock.now(), slug="justitiehuis-antwerpen",
                                      name="Justitiehuis Antwerpen", kind="justice_house")

    # An alert that fires: too few crisis beds in Antwerpen for ten minutes.
    rule = alert_rules.save_rule(Actor(user=users["admin"], source="web"), clock.now(), {
        "name": "Antwerpen crisis beds", "region": "antwerpen", "kinds": ["crisis_bed"], "threshold": 50,
        "for_minutes": 10})
    evaluation.evaluate(clock.now())
    clock.advance(minutes=10)
    evaluation.evaluate(clock.now())
    alert = db.session.scalar(select(Alert).where(Alert.rule_id == rule.id))

    sms_sid = "SM" + "1" * 32
    conversations.receive(SEEKER, "Ik heb hulp nodig", sms_sid, clock.now())
    call = db.session.scalar(select(Call).where(Call.sid == sms_sid))
    voice_sid = "CA" + "7" * 32
    calls.start(clock.now(), sid=voice_sid, number="+32489111222", hash_key="test-caller-hash-key")
    voicemail = calls.get(voice_sid)
    calls.record_recording(voicemail, "", VOICEMAIL_RECORDING, 12, clock.now())
    unit = refuge.units[0]
    hold = make.hold(unit, users["operator"], household="1 adult")
    make.hold(unit, users["partner"], household="1 adult")  # the partner's own, on their pages
    referral = referrals.create(Actor(user=users["operator"], source="web"), clock.now(), facility_id=point.id)
    # The call on the waiting list: a crisis bed is free, so it is offered one at once.
    waiting = waiting_list.file(Actor(user=users["operator"], source="web"), parse_criteria(
        {"client_type": "victim", "gender": "female", "postcode": "2000", "call_id": call.id}), clock.now())
    offer = waiting.offers[0]
    db.session.commit()
    message = db.session.scalar(select(OutboxMessage).order_by(OutboxMessage.id))
    kind = db.session.scalar(select(CapacityKind).where(CapacityKind.code == "crisis_bed"))
    return World(
        users=users,
        arguments={
            "facility_id": refuge.id, "unit_id": unit.id, "hold_id": hold.id, "call_id": call.id,
            "referral_id": referral.id, "alert_id": alert.id, "rule_id": rule.id, "user_id": someone.id,
            "region_id": antwerpen.id, "region_slug": antwerpen.slug, "organisation_id": organisation.id,
            "kind_id": kind.id,
            "message_id": message.id, "filename": STATIC_FILE, "request_id": waiting.id, "offer_id": offer.id,
            "voicemail_id": voicemail.id,
            "risk_item_id": db.session.scalar(select(RiskItem.id).order_by(RiskItem.id).limit(1)),
        },
        refuge_id=refuge.id,
        unit_id=unit.id,
        point_id=point.id,
        open_street=point.street,
    )


def client_of(app: Flask, world: World, role: str):
    """A test client of its own, signed in as `role` (none for "anonymous")."""
    client = app.test_client()
    if role != "anonymous":
        make.login(client, world.users[role])
    return client


def paths(app: Flask, rule: Rule, world: World) -> list[str]:
    """The rule's path with the world's values; one path per choice of an
    `any(…)` argument."""
    choices = [{}]
    for name in sorted(rule.arguments):
        converter = rule._converters[name]
        if isinstance(converter, AnyConverter):
            values = sorted(converter.items)
        elif name in world.arguments:
            values = [world.arguments[name]]
        else:
            raise LookupError(f"{rule.endpoint} has the argument {name!r}: give the world a value for it")
        choices = [{**choice, name: value} for choice in choices for value in values]
    adapter = app.url_map.bind("localhost")
    return [adapter.build(rule.endpoint, choice) for choice in choices]
