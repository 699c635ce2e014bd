"""The hotline's SMS webhooks: commands from registered phones, help-seekers'
conversations, delivery reports. Requests are signed as Twilio signs them;
replies go out through the real twilio client to a fake Twilio on loopback."""

import itertools
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from app.config import Defaults
from app.extensions import db, writing
from app.models import AuditEvent, Call, CapacityChange, CapacityUnit, OutboxMessage, SmsMessage
from app.services.accounts import users as accounts
from app.services.core.access import Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.delivery import sending
from app.services.hotline import conversations, phones, sms_commands
from app.services.registry import capacity
from app.texts import sms as sms_texts
from tests import factories
from tests.conftest import make_app
from tests.fake_twilio import FakeTwilio
from tests.twilio_signing import signature

HOTLINE = "+3220000000"
SEEKER = "+32470123456"
SEEKER_DIGITS = "470123456"
PHONES = {"nl": "+32470000001", "fr": "+32470000002", "en": "+32470000003", "multi": "+32470000004",
          "inactive": "+32470000005", "operator": "+32470000006"}
_sids = itertools.count(1)
AUTO_REPLY = Defaults.SMS_AUTO_REPLY


@pytest.fixture
def app_config(twilio_server):
    return twilio_server.config(from_number=HOTLINE)


def signed_post(client, path: str, params: dict):
    """Signed as Twilio signs: with the account's auth token (the fake's),
    which is the app's signing token once Twilio is configured."""
    token = FakeTwilio.auth_token
    return client.post(path, data=params, headers={"X-Twilio-Signature": signature(path, params, token=token)})


def new_sid() -> str:
    return f"SMin{next(_sids):028d}"


def sms(client, sender: str, body: str, sid: str | None = None):
    params = {"From": sender, "To": HOTLINE, "Body": body, "MessageSid": sid or new_sid(),
              "AccountSid": "AC" + "0" * 32, "NumMedia": "0"}
    response = signed_post(client, "/hotline/sms", params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True).replace(" ", "").endswith("<Response/>")
    return response


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def world(app):
    """Crisis Antwerpen (the staff's), Vluchthuis Gent (also the multi-staff's)
    and Crisis Brugge (nobody's here), and users with phones."""
    antwerpen = factories.facility("crisis-antwerpen", name="Crisis Antwerpen",
                                   units={"crisis_bed": (8, 2), "family_room": (3, 1, 4), "emergency_bed": (2, 0)})
    gent = factories.facility("vluchthuis-gent", name="Vluchthuis Gent", region_slug="oost-vlaanderen",
                              units={"refuge_place": (10, 4), "family_room": (2, 0, 4)})
    brugge = factories.facility("crisis-brugge", name="Crisis Brugge", region_slug="west-vlaanderen",
                                units={"crisis_bed": (5, 1)})
    users = {
        language: factories.user("shelter_staff", facilities_=[antwerpen], phone=PHONES[language], language=language)
        for language in ("nl", "fr", "en")
    }
    users["multi"] = factories.user("shelter_staff", facilities_=[antwerpen, gent], phone=PHONES["multi"],
                                    language="en")
    users["inactive"] = factories.user("shelter_staff", facilities_=[antwerpen], phone=PHONES["inactive"],
                                       language="nl")
    accounts.set_active(factories.SETUP, users["inactive"], False, factories.clock.now())
    users["operator"] = factories.user("operator", phone=PHONES["operator"], language="en")
    db.session.commit()
    return {"facilities": {"A": antwerpen, "B": gent, "C": brugge}, "users": users}


def unit_of(facility, code) -> CapacityUnit:
    return next(unit for unit in facility.units if unit.kind.code == code)


def snapshot(world) -> dict:
    db.session.expire_all()
    return {
        (key, unit.kind.code): (unit.available, unit.version)
        for key, facility in world["facilities"].items()
        for unit in facility.units
    }


HELP = {lang: sms_texts.TEXTS[lang]["help"] for lang in sms_texts.LANGUAGES}

# sender, text, the unit that changes (facility, kind) and its new count (or
# None: nothing changes), what the reply says.
GRAMMAR = [
    # Setting the default kind (the facility's first by kind position), in three languages.
    ("nl", "VRIJ 3", ("A", "crisis_bed", 3), "Crisis Antwerpen: 3 crisisbedden vrij (van 8)"),
    ("fr", "LIBRE 3", ("A", "crisis_bed", 3), "Crisis Antwerpen : 3 lits de crise libres (sur 8)"),
    ("en", "FREE 3", ("A", "crisis_bed", 3), "Crisis Antwerpen: 3 crisis beds free (of 8)"),
    ("nl", "vrij 1", ("A", "crisis_bed", 1), "Crisis Antwerpen: 1 crisisbed vrij (van 8)"),
    ("fr", "libre 1", ("A", "crisis_bed", 1), "Crisis Antwerpen : 1 lit de crise libre (sur 8)"),
    ("en", "Free 8", ("A", "crisis_bed", 8), "Crisis Antwerpen: 8 crisis beds free (of 8)"),
    ("en", "FREE 0", ("A", "crisis_bed", 0), "Crisis Antwerpen: 0 crisis beds free (of 8)"),
    ("nl", "  vRiJ    5  ", ("A", "crisis_bed", 5), "Crisis Antwerpen: 5 crisisbedden vrij (van 8)"),
    ("nl", "VRIJ 3.", ("A", "crisis_bed", 3), "3 crisisbedden vrij"),
    # With a kind: its code, or its name in any language, singular or plural.
    ("nl", "VRIJ 2 gezinskamer", ("A", "family_room", 2), "Crisis Antwerpen: 2 gezinskamers vrij (van 3)"),
    ("nl", "vrij 1 noodbed", ("A", "emergency_bed", 1), "Crisis Antwerpen: 1 noodbed vrij (van 2)"),
    ("nl", "VRIJ 4 CRISISBEDDEN", ("A", "crisis_bed", 4), "4 crisisbedden vrij (van 8)"),
    ("fr", "LIBRE 0 chambre familiale", ("A", "family_room", 0),
     "Crisis Antwerpen : 0 chambre familiale libre (sur 3)"),
    ("fr", "libre 2   lits  de   crise", ("A", "crisis_bed", 2), "2 lits de crise libres (sur 8)"),
    ("fr", "LIBRE 2 lit d'urgence", ("A", "emergency_bed", 2), "2 lits d'urgence libres (sur 2)"),
    ("en", "FREE 2 family rooms", ("A", "family_room", 2), "Crisis Antwerpen: 2 family rooms free (of 3)"),
    ("en", "free 5 crisis_bed", ("A", "crisis_bed", 5), "5 crisis beds free (of 8)"),
    ("en", "FREE 1 Emergency Bed", ("A", "emergency_bed", 1), "1 emergency bed free (of 2)"),
    ("nl", "VRIJ 2 family room", ("A", "family_room", 2), "2 gezinskamers vrij (van 3)"),
    # Bad counts: nothing changes.
    ("nl", "VRIJ -1", None, "Crisis Antwerpen: geef een aantal van 0 tot 8 crisisbedden. Niets gewijzigd."),
    ("fr", "LIBRE 9", None, "Crisis Antwerpen : indiquez un nombre de 0 à 8 lits de crise. Rien n'a changé."),
    ("en", "FREE 4 family room", None, "Crisis Antwerpen: give a number from 0 to 3 family rooms. Nothing changed."),
    ("en", "FREE 3 noodbed", None, "give a number from 0 to 2 emergency beds"),
    ("nl", "VRIJ drie", None, "Geef het aantal in cijfers, bv. VRIJ 3. Niets gewijzigd."),
    ("fr", "LIBRE trois", None, "Indiquez le nombre en chiffres, p.ex. LIBRE 3. Rien n'a changé."),
    ("en", "FREE three", None, "Give the number in digits, e.g. FREE 3. Nothing changed."),
    ("nl", "VRIJ", None, "Geef het aantal in cijfers"),
    ("en", "free 2.5", None, "Give the number in digits"),
    ("en", "FREE 99999999", None, "Give the number in digits"),
    # Unknown kinds, and kinds this facility does not have.
    ("nl", "VRIJ 2 zwembad", None, "Onbekende soort of code: zwembad. Soorten bij Crisis Antwerpen: crisisbed, "
                                   "noodbed, gezinskamer. Niets gewijzigd."),
    ("fr", "LIBRE 2 piscine", None, "Type ou code inconnu : piscine."),
    ("en", "FREE 2 crisis bed please", None, "Unknown kind or code: crisis bed please."),
    ("en", "FREE 2 refuge place", None, "Crisis Antwerpen has no refuge places. Kinds: crisis bed, emergency bed, "
                                        "family room. Nothing changed."),
    ("nl", "VRIJ 2 vluchthuisplaats", None, "Crisis Antwerpen heeft geen vluchthuisplaatsen."),
    # Staff of several facilities: the code (slug or number), before or after the kind.
    ("multi", "FREE 3", None, "You work for several facilities: add the code, e.g. FREE 3 crisis-antwerpen. "
                              "Codes: crisis-antwerpen, vluchthuis-gent. Nothing changed."),
    ("multi", "FREE 1 family room", None, "You work for several facilities"),
    ("multi", "FREE 3 crisis-antwerpen", ("A", "crisis_bed", 3), "Crisis Antwerpen: 3 crisis beds free (of 8)"),
    ("multi", "free 3 VLUCHTHUIS-GENT", ("B", "refuge_place", 3), "Vluchthuis Gent: 3 refuge places free (of 10)"),
    ("multi", "FREE 1 family room vluchthuis-gent", ("B", "family_room", 1), "Vluchthuis Gent: 1 family room free"),
    ("multi", "FREE 1 vluchthuis-gent gezinskamers", ("B", "family_room", 1), "Vluchthuis Gent: 1 family room free"),
    ("multi", "FREE 6 {B}", ("B", "refuge_place", 6), "Vluchthuis Gent: 6 refuge places free (of 10)"),
    ("multi", "FREE 3 vluchthuis-gent crisis bed", None, "Vluchthuis Gent has no crisis beds"),
    ("multi", "FREE 11 vluchthuis-gent", None, "Vluchthuis Gent: give a number from 0 to 10 refuge places"),
    # A facility that is not theirs, or no facility at all: answered alike.
    ("multi", "FREE 3 crisis-brugge", None, "Unknown code: crisis-brugge. Your codes: crisis-antwerpen, "
                                            "vluchthuis-gent. Nothing changed."),
    ("multi", "FREE 3 {C}", None, "Unknown code: "),
    ("nl", "VRIJ 3 crisis-brugge", None, "Onbekende code: crisis-brugge. Jouw codes: crisis-antwerpen."),
    ("multi", "FREE 3 nowhere", None, "Unknown code: nowhere. Your codes:"),
    ("operator", "FREE 3", None, "This number belongs to no facility you may update. Nothing changed."),
    ("operator", "FREE 3 crisis-brugge", None, "Unknown code: crisis-brugge. Your codes: -."),
    # Help, in each language; the reply is in the sender's language.
    ("nl", "HULP", None, HELP["nl"]),
    ("nl", "help", None, HELP["nl"]),
    ("fr", "AIDE", None, HELP["fr"]),
    ("fr", "Help", None, HELP["fr"]),
    ("en", "help", None, HELP["en"]),
    ("en", "hulp", None, HELP["en"]),
    ("en", "aide!", None, HELP["en"]),
    ("multi", "HELP", None, " Several facilities: add the code, e.g. FREE 3 crisis-antwerpen. "
                            "Codes: crisis-antwerpen, vluchthuis-gent."),
    # Status.
    ("nl", "STATUS", None, "Crisis Antwerpen: 2 crisisbedden vrij (van 8), 0 noodbedden vrij (van 2), "
                           "1 gezinskamer vrij (van 3)"),
    ("fr", "statut", None, "Crisis Antwerpen : 2 lits de crise libres (sur 8), 0 lit d'urgence libre (sur 2), "
                           "1 chambre familiale libre (sur 3)"),
    ("en", "status", None, "Crisis Antwerpen: 2 crisis beds free (of 8), 0 emergency beds free (of 2), "
                           "1 family room free (of 3)"),
    ("multi", "STATUS", None, "Crisis Antwerpen: 2 crisis beds free (of 8), 0 emergency beds free (of 2), "
                              "1 family room free (of 3)\nVluchthuis Gent: 4 refuge places free (of 10), "
                              "0 family rooms free (of 2)"),
    ("multi", "status vluchthuis-gent", None, "Vluchthuis Gent: 4 refuge places free (of 10), 0 family rooms free"),
    ("multi", "STATUS crisis-brugge", None, "Unknown code: crisis-brugge."),
    ("operator", "STATUS", None, "This number belongs to no facility you may update."),
    # Anything else: the help text, nothing changed.
    ("nl", "hallo", None, HELP["nl"]),
    ("fr", "bonjour, 3 lits", None, HELP["fr"]),
    ("en", "", None, HELP["en"]),
    ("en", "FREE3", None, HELP["en"]),
    ("en", "3 FREE", None, HELP["en"]),
    # OK code acknowledges an alert: shelter staff have none to acknowledge.
    ("en", "OK 17", None, "Opvang: no alert 17 that you can acknowledge. Nothing changed."),
    ("en", "OK", None, "Send OK and the alert's code, e.g. OK K7RM4. Nothing changed."),
    # A deactivated user: nothing changes, a neutral reply.
    ("inactive", "VRIJ 3", None, "Opvang: met dit nummer kun je geen aantallen doorgeven. Niets gewijzigd."),
    ("inactive", "STATUS", None, "Opvang: met dit nummer kun je geen aantallen doorgeven. Niets gewijzigd."),
    ("inactive", "HULP", None, "Opvang: met dit nummer kun je geen aantallen doorgeven. Niets gewijzigd."),
]


@pytest.mark.parametrize("who, body, change, reply", GRAMMAR)
def test_sms_grammar(client, world, twilio, who, body, change, reply):
    facilities_ = world["facilities"]
    body = body.format(**{key: facility.id for key, facility in facilities_.items()})
    user = world["users"][who]
    before = snapshot(world)
    history = count(CapacityChange)

    sms(client, PHONES[who], body)

    after = snapshot(world)
    if change is None:
        assert after == before
        assert count(CapacityChange) == history
    else:
        key, kind, value = change
        assert after[(key, kind)] == (value, before[(key, kind)][1] + 1)
        assert {k: v for k, v in after.items() if k != (key, kind)} == {
            k: v for k, v in before.items() if k != (key, kind)}
        [row] = db.session.scalars(select(CapacityChange).where(CapacityChange.id > 0)
                                   .order_by(CapacityChange.id.desc()).limit(1))
        assert count(CapacityChange) == history + 1
        assert (row.source, row.actor_id, row.before, row.after, row.action) == (
            "sms", user.id, before[(key, kind)][0], value, "set")
        assert row.unit_id == unit_of(facilities_[key], kind).id
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "capacity.set"))
        assert event.actor_id == user.id and event.details["source"] == "sms"
    [sent] = twilio.messages
    assert sent.form["To"] == PHONES[who]
    assert sent.form["From"] == HOTLINE
    assert reply in sent.form["Body"]
    assert sent.form["StatusCallback"] == "https://hotline.opvang.test/hotline/sms/status"
    [row] = db.session.scalars(select(OutboxMessage))
    assert (row.status, row.purpose, row.recipient, row.user_id) == ("sent", "command_reply", PHONES[who], user.id)
    assert row.provider_id and row.provider_id.startswith("SM") and row.attempts == 1
    # Staff numbers are never help-seekers.
    assert count(Call) == 0 and count(SmsMessage) == 0


def test_every_reply_text_exists_in_every_language():
    keys = set(sms_texts.TEXTS["nl"])
    for lang in sms_texts.LANGUAGES:
        assert set(sms_texts.TEXTS[lang]) == keys
    for code, names in sms_texts.KIND_NAMES.items():
        assert set(names) == set(sms_texts.LANGUAGES), code


def test_a_replayed_command_changes_nothing_twice_and_sends_no_second_reply(client, world, twilio):
    sid = new_sid()
    sms(client, PHONES["nl"], "VRIJ 5", sid)
    history = count(CapacityChange)
    unit = unit_of(world["facilities"]["A"], "crisis_bed")
    version = unit.version
    # Someone sets it on the web meanwhile; Twilio then retries the old text.
    capacity.set_available(Actor(world["users"]["en"], "web"), unit, 4, version, factories.clock.now())
    sms(client, PHONES["nl"], "VRIJ 5", sid)
    db.session.expire_all()
    assert unit.available == 4 and unit.version == version + 1
    assert count(CapacityChange) == history + 1
    assert len(twilio.messages) == 1 and count(OutboxMessage) == 1


def test_a_change_made_meanwhile_is_read_again_and_the_text_wins(app, world, twilio):
    """The sender saw no version: when someone else wrote between our read and
    our write, the service reads again and sets once more."""
    session = db.session()
    session.expire_on_commit = False  # keep what was read, as a request between its read and its write
    try:
        unit = unit_of(world["facilities"]["A"], "crisis_bed")
        loaded_version = unit.version
        db.session.commit()
        with db.engine.begin() as other:  # another writer, committed after our read
            other.execute(update(CapacityUnit).where(CapacityUnit.id == unit.id)
                          .values(available=7, version=loaded_version + 1))
        assert unit.version == loaded_version  # what this session still holds
        with writing():
            message = sms_commands.handle(world["users"]["nl"], "VRIJ 5", new_sid(), factories.clock.now())
            db.session.commit()
    finally:
        session.expire_on_commit = True
    db.session.expire_all()
    assert (unit.available, unit.version) == (5, loaded_version + 2)
    assert message.body == "Crisis Antwerpen: 5 crisisbedden vrij (van 8)"
    [row] = db.session.scalars(select(CapacityChange).where(CapacityChange.source == "sms"))
    assert (row.before, row.after, row.actor_id) == (7, 5, world["users"]["nl"].id)


def test_status_shows_holds_and_a_closed_facility(client, world, twilio):
    antwerpen = world["facilities"]["A"]
    operator = factories.user("operator")
    factories.hold(unit_of(antwerpen, "crisis_bed"), operator, persons=1)
    admin = Actor(factories.user("admin"), "web")
    capacity.set_open_for_intake(admin, antwerpen, False, "renovation", factories.clock.now())
    sms(client, PHONES["en"], "STATUS")
    [sent] = twilio.messages
    assert sent.form["Body"].startswith(
        "Crisis Antwerpen (closed for intake): 2 crisis beds free (of 8) (1 of them held), 0 emergency beds")


def test_the_codes_sent_by_a_single_facility_user_need_not_be_given(client, world, twilio):
    sms(client, PHONES["nl"], "VRIJ 6 crisis-antwerpen")
    sms(client, PHONES["nl"], "VRIJ 2 crisis-antwerpen noodbed")
    assert snapshot(world)[("A", "crisis_bed")][0] == 6
    assert snapshot(world)[("A", "emergency_bed")][0] == 2


# --- help-seekers -------------------------------------------------------------


def calls() -> list[Call]:
    db.session.expire_all()
    return list(db.session.scalars(select(Call).order_by(Call.id)))


def test_a_first_text_starts_a_contact_with_an_automatic_reply(client, world, twilio, clock):
    sid = new_sid()
    sms(client, SEEKER, "Ik heb hulp nodig", sid)
    [call] = calls()
    assert (call.sid, call.channel, call.status, call.started_at) == (sid, "sms", "in-progress", clock.now())
    assert call.caller_hash == phones.caller_hash(SEEKER, "test-caller-hash-key")
    assert call.caller_masked == "+32 4•• •• •• 56"
    assert phones.unseal(call.number_sealed, "test-caller-hash-key") == SEEKER
    assert call.number_kept_for == "sms_conversation"
    assert call.number_erase_at == clock.now() + timedelta(days=30)
    incoming, auto = call.messages
    assert (incoming.direction, incoming.body, incoming.sid, incoming.at) == ("in", "Ik heb hulp nodig", sid,
                                                                              clock.now())
    assert (auto.direction, auto.sent_by_id, auto.outbox.purpose) == ("out", None, "sms_auto_reply")
    assert auto.outbox.recipient is None and auto.outbox.recipient_masked == "+32 4•• •• •• 56"
    assert auto.outbox.status == "sent" and auto.outbox.call_id == call.id
    [sent] = twilio.messages
    assert sent.form["To"] == SEEKER and sent.form["From"] == HOTLINE
    # Dutch words, so the Dutch advice only, with the hotline's hours; the contact takes the language.
    assert sent.form["Body"] == AUTO_REPLY["nl"].format(hours="24/7") == auto.body
    assert call.language == "nl"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "call.number_used"))
    assert (event.object_id, event.details["purpose"]) == (call.id, "sms_auto_reply")


# Words that would tell whoever reads the help-seeker's phone who wrote, and about what.
GIVEAWAYS = ("opvang", "hotline", "hulplijn", "helpline", "ligne", "geweld", "violence", "abuse", "misbruik",
             "vluchthuis", "refuge", "caw", "police", "politie", "shelter", "crisis")
# The advice, in each language: when it is safe to write back, and deleting the conversation.
ADVICE = {"nl": ("wanneer we je veilig kunnen terugschrijven", "Wis dit gesprek"),
          "fr": ("quand nous pouvons vous répondre sans risque", "Effacez cette conversation"),
          "en": ("when it is safe to write back", "Delete this conversation")}


@pytest.mark.parametrize("lang", sms_texts.LANGUAGES)
def test_the_default_automatic_reply_names_nobody_and_gives_the_safety_advice(lang):
    text = AUTO_REPLY[lang]
    words = set(sms_texts.WORD.findall(text.lower()))
    assert not words & set(GIVEAWAYS), words & set(GIVEAWAYS)
    assert all(advice in text for advice in ADVICE[lang])
    assert "{hours}" in text and "112" in text
    # Plain GSM 03.38 characters: no Unicode segments of 70.
    assert set(text) <= set("@£$¥èéùìòÇ\nØø\rÅå_ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà{}")


@pytest.mark.parametrize("body, lang", [
    ("Ik heb hulp nodig", "nl"),
    ("Bonjour, j'ai besoin d'aide", "fr"),
    ("Hi, I need someone to talk to", "en"),
    ("Kunt u mij helpen? Ik ben bang", "nl"),
    ("Je suis chez une amie", "fr"),
    ("help", None),  # Dutch and English alike
    ("ok", None),
    ("112?", None),
    ("", None),
    ("hallo hello", None),  # one word of each: a tie
    ("I need hulp", "en"),  # more English words than Dutch
])
def test_the_first_texts_words_choose_the_replys_language_or_all_three(client, world, twilio, body, lang):
    sms(client, SEEKER, body)
    [call] = calls()
    [sent] = twilio.messages
    assert call.language == lang
    if lang:
        assert sent.form["Body"] == AUTO_REPLY[lang].format(hours="24/7")
    else:
        # One language a line, Dutch (the default) first.
        assert sent.form["Body"].split("\n") == [AUTO_REPLY[each].format(hours="24/7")
                                                 for each in ("nl", "fr", "en")]
    assert len(sent.form["Body"]) <= conversations.MAX_BODY


def test_the_configured_automatic_reply_is_sent_with_the_configured_hours(app, client, world, twilio):
    app.config["SMS_AUTO_REPLY"] = conversations.checked_auto_replies(
        {"fr": "Bien reçu. Réponse entre {hours}. Effacez ce message."}, "9h et 17h")
    app.config["HOTLINE_HOURS"] = "9h et 17h"
    sms(client, SEEKER, "Bonjour, je suis là")
    sms(client, "+32470999888", "goedemorgen")
    sent = [message.form["Body"] for message in twilio.messages]
    # French configured; Dutch, left out of the setting, keeps its default.
    assert sent == ["Bien reçu. Réponse entre 9h et 17h. Effacez ce message.",
                    AUTO_REPLY["nl"].format(hours="9h et 17h")]


@pytest.mark.parametrize("setting, problem", [
    ("Bedankt", "must be a mapping"),
    ({"de": "Danke"}, "unknown language 'de'"),
    ({"nl": "   "}, "SMS_AUTO_REPLY['nl'] must be a text that is not empty"),
    ({"en": 42}, "SMS_AUTO_REPLY['en'] must be a text"),
    ({"fr": "Merci {name}"}, "the only placeholder is {hours}, not {name}"),
    ({"fr": "Merci {}"}, "the only placeholder is {hours}"),
    ({"en": "Thanks {"}, "a brace without its pair"),
    ({"en": "x" * 1500}, "at most 1600"),
])
def test_a_bad_automatic_reply_setting_stops_the_app_from_starting(database_url, setting, problem):
    with pytest.raises(ValueError) as refused:
        make_app(database_url, SMS_AUTO_REPLY=setting)
    assert problem in str(refused.value)


def test_later_texts_join_the_contact_with_one_automatic_reply_only(client, world, twilio, clock):
    sms(client, SEEKER, "Hallo")
    clock.advance(hours=11, minutes=59)
    sms(client, "0470 12 34 56", "Ben je daar?")  # the same number, written nationally
    [call] = calls()
    assert [m.direction for m in call.messages] == ["in", "out", "in"]
    assert len(twilio.messages) == 1
    assert count(OutboxMessage) == 1
    # The number is kept until the retention after the last text.
    assert call.number_erase_at == clock.now() + timedelta(days=30)
    # A reply counts as a message of the conversation too.
    clock.advance(hours=11)
    operator = factories.user("operator")
    conversations.reply(Actor(operator, "web"), call, "We zijn er. Ben je veilig?", clock.now())
    db.session.commit()
    clock.advance(hours=11)
    sms(client, SEEKER, "Ja")
    assert len(calls()) == 1


def test_a_text_after_the_window_starts_a_new_contact(client, world, twilio, clock):
    sms(client, SEEKER, "Hallo")
    clock.advance(hours=12)
    second = new_sid()
    sms(client, SEEKER, "Nog eens", second)
    first, new = calls()
    assert (first.status, first.ended_at) == ("completed", first.started_at)
    assert (new.sid, new.status, new.caller_hash) == (second, "in-progress", first.caller_hash)
    assert [m.body for m in new.messages][0] == "Nog eens"
    assert len(twilio.messages) == 2  # each conversation's first text gets the automatic reply
    assert [m.form["To"] for m in twilio.messages] == [SEEKER, SEEKER]


def test_the_window_is_configurable(app, client, world, twilio, clock):
    app.config["SMS_CONVERSATION_HOURS"] = 1
    sms(client, SEEKER, "Hallo")
    clock.advance(minutes=61)
    sms(client, SEEKER, "Nog eens")
    assert len(calls()) == 2


def test_a_text_to_a_closed_contact_within_the_window_opens_it_again(client, world, twilio, clock):
    sms(client, SEEKER, "Hallo")
    [call] = calls()
    call.status, call.ended_at, call.outcome = "completed", clock.now(), "advice"
    db.session.commit()
    clock.advance(hours=1)
    sms(client, SEEKER, "Nog een vraag")
    [call] = calls()
    assert (call.status, call.ended_at, len(call.messages)) == ("in-progress", None, 3)


def test_different_numbers_are_different_contacts(client, world, twilio):
    sms(client, SEEKER, "Hallo")
    sms(client, "+32470999999", "Hallo")
    assert len(calls()) == 2 and len(twilio.messages) == 2


def test_a_withheld_sender_is_a_contact_without_number_or_reply(client, world, twilio):
    sms(client, "anonymous", "Help")
    sms(client, "anonymous", "Help")
    first, second = calls()
    for call in (first, second):
        assert (call.caller_hash, call.caller_masked, call.number_sealed, call.number_erase_at) == (
            None, "withheld", None, None)
    assert twilio.messages == [] and count(OutboxMessage) == 0


def test_a_replayed_help_seeker_text_is_recorded_once(client, world, twilio):
    sid = new_sid()
    sms(client, SEEKER, "Hallo", sid)
    sms(client, SEEKER, "Hallo", sid)
    [call] = calls()
    assert len(call.messages) == 2  # the text and the automatic reply
    assert count(SmsMessage) == 2 and count(OutboxMessage) == 1
    assert len(twilio.messages) == 1


def test_a_staff_phone_is_never_a_help_seeker(client, world, twilio):
    sms(client, PHONES["inactive"], "Ik heb hulp nodig")
    assert calls() == []
    [sent] = twilio.messages
    assert sent.form["Body"] == sms_texts.TEXTS["nl"]["inactive"]


# --- replies from the console ---------------------------------------------------


@pytest.fixture
def conversation(client, world, twilio):
    sms(client, SEEKER, "Hallo")
    twilio.requests.clear()
    [call] = calls()
    return call


def test_an_operator_replies_through_the_outbox(client, world, twilio, clock, conversation):
    operator = factories.user("operator")
    message = conversations.reply(Actor(operator, "web"), conversation, "  Ben je veilig?  ", clock.now())
    db.session.commit()
    assert (message.direction, message.body, message.sent_by_id) == ("out", "Ben je veilig?", operator.id)
    row = message.outbox
    assert (row.purpose, row.recipient, row.recipient_masked, row.status) == (
        "sms_reply", None, "+32 4•• •• •• 56", "pending")
    assert twilio.messages == []
    sending.deliver(row, clock.now())
    db.session.commit()
    [sent] = twilio.messages
    assert (sent.form["To"], sent.form["Body"]) == (SEEKER, "Ben je veilig?")
    assert row.status == "sent"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "call.number_used",
                                                       AuditEvent.actor_id == operator.id))
    assert event.object_id == conversation.id and event.details == {
        "source": "web", "purpose": "sms_reply", "outbox_id": row.id}


@pytest.mark.parametrize("body, field", [("", "body"), ("   ", "body"), ("x" * 1601, "body"), (None, "body")])
def test_an_empty_or_too_long_reply_is_refused(world, clock, conversation, body, field):
    messages, rows = count(SmsMessage), count(OutboxMessage)
    with pytest.raises(InvalidInput) as error:
        conversations.reply(Actor(factories.user("operator"), "web"), conversation, body, clock.now())
    assert error.value.field == field
    assert (count(SmsMessage), count(OutboxMessage)) == (messages, rows)


@pytest.mark.parametrize("roles", [("shelter_staff",), ("partner",), ("admin",)])
def test_only_operators_and_managers_reply(world, clock, conversation, roles):
    rows = count(OutboxMessage)
    with pytest.raises(Forbidden):
        conversations.reply(Actor(factories.user(*roles), "web"), conversation, "Hallo", clock.now())
    assert count(OutboxMessage) == rows


def test_a_manager_may_reply(world, clock, conversation):
    conversations.reply(Actor(factories.user("manager"), "web"), conversation, "Hallo", clock.now())
    assert count(OutboxMessage) == 2


def test_no_reply_once_the_number_is_erased_or_due(world, clock, conversation):
    operator = Actor(factories.user("operator"), "web")
    rows = count(OutboxMessage)
    clock.advance(days=30)
    with pytest.raises(Conflict):
        conversations.reply(operator, conversation, "Hallo", clock.now())
    clock.advance(days=-1)
    conversation.number_sealed = None  # what the retention job does
    with pytest.raises(Conflict):
        conversations.reply(operator, conversation, "Hallo", clock.now())
    assert count(OutboxMessage) == rows


def test_no_sms_reply_to_a_voice_call(world, clock):
    now = clock.now()
    call = Call(sid="CA" + "1" * 32, channel="voice", caller_hash="x", caller_masked="+32 4•• •• •• 56",
                number_sealed=phones.seal(SEEKER, "test-caller-hash-key"), number_kept_for="callback",
                number_erase_at=now + timedelta(days=30), status="completed", started_at=now, updated_at=now,
                menu_choices=[], needs={}, callback_requested=True)
    db.session.add(call)
    db.session.flush()
    with pytest.raises(Conflict):
        conversations.reply(Actor(factories.user("operator"), "web"), call, "Hallo", now)


# --- delivery -------------------------------------------------------------------


def test_a_failed_send_stays_pending_and_is_sent_once_later(client, world, twilio, clock):
    twilio.answer_next(500)
    sms(client, PHONES["nl"], "VRIJ 3")
    assert snapshot(world)[("A", "crisis_bed")][0] == 3  # the change stands
    [row] = db.session.scalars(select(OutboxMessage))
    assert (row.status, row.attempts, row.provider_id) == ("pending", 1, None)
    assert "500" in row.last_error
    assert len(twilio.messages) == 1  # tried once
    clock.advance(minutes=1)
    sending.deliver(row, clock.now())
    db.session.commit()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(twilio.messages) == 2
    assert twilio.messages[-1].form["Body"] == "Crisis Antwerpen: 3 crisisbedden vrij (van 8)"


def test_a_refused_send_fails_and_the_webhook_still_answers(client, world, twilio):
    twilio.answer_next(400)
    sms(client, SEEKER, "Hallo")
    [row] = db.session.scalars(select(OutboxMessage))
    assert (row.status, row.attempts) == ("failed", 1)
    assert "400" in row.last_error
    assert len(calls()) == 1


def test_twilios_error_quoting_the_number_is_stored_and_logged_masked(client, world, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    # Real Twilio quotes the number in its errors; the fake does so for this test.
    twilio._error = lambda status, code, message: FakeTwilio._error(
        status, code, f"The 'To' number {SEEKER} is not a valid phone number.")
    twilio.answer_next(400)
    sms(client, SEEKER, "Hallo")
    [row] = db.session.scalars(select(OutboxMessage))
    assert row.status == "failed"
    assert row.last_error.endswith("The 'To' number +32 4•• •• •• 56 is not a valid phone number.")
    assert SEEKER_DIGITS not in caplog.text


def test_twilio_down_leaves_the_reply_pending(client, world, twilio):
    twilio.down = True
    sms(client, PHONES["en"], "FREE 3")
    [row] = db.session.scalars(select(OutboxMessage))
    assert row.status == "pending" and "503" in row.last_error


def test_without_twilio_the_reply_stays_in_the_outbox(app, client, world, twilio):
    app.config["TWILIO_ACCOUNT_SID"] = None
    sms(client, PHONES["en"], "FREE 3")
    [row] = db.session.scalars(select(OutboxMessage))
    assert row.status == "pending" and "not configured" in row.last_error
    assert twilio.messages == []


def test_the_status_callback_records_delivery(client, world, twilio, clock):
    sms(client, PHONES["en"], "FREE 3")
    [row] = db.session.scalars(select(OutboxMessage))
    provider_id = row.provider_id

    def report(status, error_code=None, sid=provider_id):
        params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
        if error_code:
            params["ErrorCode"] = error_code
        response = signed_post(client, "/hotline/sms/status", params)
        assert response.status_code == 200
        db.session.expire_all()
        return row

    assert report("queued").status == "sent"
    assert report("delivered").status == "delivered"
    assert report("sent").status == "delivered"  # a late report never moves it back
    row = report("undelivered", "30005")
    assert (row.status, row.last_error) == ("failed", "Twilio: undelivered, error 30005")
    before = (row.status, row.last_error, row.updated_at)
    report("delivered", sid="SM" + "f" * 32)  # unknown: nothing changes
    assert (row.status, row.last_error, row.updated_at) == before


# --- signatures -------------------------------------------------------------------


def stored() -> tuple:
    return (count(Call), count(SmsMessage), count(OutboxMessage), count(CapacityChange),
            db.session.scalar(select(func.sum(CapacityUnit.version))))


@pytest.mark.parametrize("path, params", [
    ("/hotline/sms", {"From": PHONES["nl"], "To": HOTLINE, "Body": "VRIJ 5", "MessageSid": "SMx1"}),
    ("/hotline/sms", {"From": SEEKER, "To": HOTLINE, "Body": "Hallo", "MessageSid": "SMx2"}),
    ("/hotline/sms/status", {"MessageSid": "SMx3", "MessageStatus": "failed", "ErrorCode": "30005"}),
])
@pytest.mark.parametrize("how", ["unsigned", "tampered", "other token", "other url"])
def test_unsigned_or_tampered_requests_are_refused_and_store_nothing(client, world, twilio, path, params, how):
    if path.endswith("status"):
        sms(client, PHONES["en"], "FREE 3")
        params = {**params, "MessageSid": db.session.scalar(select(OutboxMessage.provider_id))}
        twilio.requests.clear()
    before, outbox_rows = stored(), [(r.status, r.last_error) for r in db.session.scalars(select(OutboxMessage))]
    headers = {
        "unsigned": {},
        "tampered": {"X-Twilio-Signature": signature(path, {**params, "Body": "VRIJ 0", "MessageStatus": "sent"},
                                                    token=FakeTwilio.auth_token)},
        "other token": {"X-Twilio-Signature": signature(path, params)},  # not the auth token
        "other url": {"X-Twilio-Signature": signature(path, params, token=FakeTwilio.auth_token,
                                                     public_url="https://evil.example")},
    }[how]
    response = client.post(path, data=params, headers=headers)
    assert response.status_code == 403
    db.session.expire_all()
    assert stored() == before
    assert [(r.status, r.last_error) for r in db.session.scalars(select(OutboxMessage))] == outbox_rows
    assert twilio.messages == []


def test_a_text_without_message_sid_is_refused(client, world, twilio):
    before = stored()
    response = signed_post(client, "/hotline/sms", {"From": SEEKER, "To": HOTLINE, "Body": "Hallo"})
    assert response.status_code == 400
    assert stored() == before and twilio.messages == []


# --- privacy ----------------------------------------------------------------------


def test_the_help_seekers_number_is_never_in_clear(app, client, world, twilio, clock, caplog):
    caplog.set_level(logging.DEBUG)
    twilio.answer_next(500)
    sms(client, SEEKER, "Hallo")
    sending.deliver(db.session.scalar(select(OutboxMessage)), clock.now())
    db.session.commit()
    clock.advance(hours=1)
    sms(client, SEEKER, "Nog iets")
    operator = factories.user("operator")
    [call] = calls()
    sent = conversations.reply(Actor(operator, "web"), call, "Ben je veilig?", clock.now())
    db.session.commit()
    sending.deliver(sent.outbox, clock.now())
    db.session.commit()
    assert [m.form["To"] for m in twilio.messages] == [SEEKER] * 3  # it was used, sealed

    # Not in any column of any table (the sealed form is encrypted).
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            for value in row:
                assert SEEKER_DIGITS not in str(value), (table.name, value)
    [row] = db.session.execute(text("SELECT recipient, recipient_masked FROM outbox WHERE purpose = 'sms_reply'"))
    assert row == (None, "+32 4•• •• •• 56")
    # Not in the log.
    assert caplog.records
    for record in caplog.records:
        assert SEEKER_DIGITS not in record.getMessage()
    assert "+32 4•• •• •• 56" in caplog.text
    # Not in a page an operator opens.
    factories.login(client, operator)
    for page in ("/dashboard/", "/holds"):
        response = client.get(page, follow_redirects=True)
        assert response.status_code == 200
        assert SEEKER_DIGITS not in response.get_data(as_text=True)


def test_a_command_senders_number_is_logged_masked(client, world, twilio, caplog):
    caplog.set_level(logging.DEBUG)
    sms(client, PHONES["nl"], "VRIJ 3")
    assert "+32 4•• •• •• 01" in caplog.text
    for record in caplog.records:
        assert "470000001" not in record.getMessage()


@pytest.mark.parametrize("sender, body", [(PHONES["nl"], "VRIJ 6"), (SEEKER, "Hallo")])
def test_a_webhook_replayed_concurrently_is_handled_once(app, world, twilio, sender, body):
    """Twilio may retry while the first delivery is still being handled."""
    params = {"From": sender, "To": HOTLINE, "Body": body, "MessageSid": new_sid()}
    headers = {"X-Twilio-Signature": signature("/hotline/sms", params, token=FakeTwilio.auth_token)}
    start = threading.Barrier(4)
    statuses = []

    def post():
        own_client = app.test_client()
        start.wait()
        statuses.append(own_client.post("/hotline/sms", data=params, headers=headers).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * 4
    db.session.expire_all()
    assert len(twilio.messages) == 1 and count(OutboxMessage) == 1
    assert count(CapacityChange.__table__.select().where(CapacityChange.source == "sms").subquery()) == (
        1 if sender != SEEKER else 0)
    assert count(Call) == (1 if sender == SEEKER else 0)
    assert count(SmsMessage) == (2 if sender == SEEKER else 0)
