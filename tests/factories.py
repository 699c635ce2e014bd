"""Test data made through the real services, as an admin would make it."""

import itertools

from app import clock
from app.extensions import db
from app.models import Region
from app.services.accounts import users
from app.services.core.access import Actor
from app.services.registry import facilities
from app.services.registry.capacity import all_kinds

SETUP = Actor(user=None, source="import")
PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


def region(slug="antwerpen", name=None) -> Region:
    found = db.session.query(Region).filter_by(slug=slug).one_or_none()
    if found:
        return found
    found = Region(slug=slug, name=name or slug.replace("-", " ").title())
    db.session.add(found)
    db.session.flush()
    return found


def facility(slug=None, *, region_slug="antwerpen", units=None, **fields):
    """A facility with units, e.g. units={"crisis_bed": (8, 2)} (total, available)
    or {"family_room": (3, 1, 4)} (total, available, room size)."""
    region(region_slug)
    n = next(_numbers)
    data = {
        "slug": slug or f"facility-{n}",
        "name": fields.pop("name", None) or f"Facility {n}",
        "type": "crisis_centre",
        "region": region_slug,
        "municipality": "Antwerpen",
        "postcode": "2000",
        "street": f"Teststraat {n}",
        "lat": 51.2194,
        "lon": 4.4025,
        "intake_phone": "+3232000000",
        "intake_hours": "24/7",
        "genders": "female",
        "languages": "nl,fr",
        **fields,
    }
    for code, counts in (units if units is not None else {"crisis_bed": (8, 2)}).items():
        data[f"{code}_total"], data[f"{code}_available"] = counts[0], counts[1]
        if len(counts) > 2:
            data[f"{code}_room_size"] = counts[2]
    clean = facilities.validate(data, all_kinds())
    return facilities.save(SETUP, clean, clock.now())


def user(*roles, email=None, facilities_=(), regions=(), phone=None, language="en", name=None):
    n = next(_numbers)
    return users.save_user(
        SETUP,
        clock.now(),
        email=email or f"{'-'.join(roles) or 'user'}{n}@example.org",
        name=name or f"{' '.join(roles).title()} {n}",
        roles=list(roles),
        facility_slugs=[f.slug for f in facilities_],
        region_slugs=[r.slug for r in regions],
        phone=phone,
        language=language,
        password=PASSWORD,
    )


def token_for(user_) -> str:
    return users.create_token(SETUP, user_, clock.now())


def login(client, user_, password=PASSWORD):
    response = client.post("/login", data={"email": user_.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def call(number=None):
    """A hotline contact begun as the app begins one: a help-seeker's SMS
    (from `number`, or a number of its own). Flushed, not committed."""
    from sqlalchemy import select

    from app.models import Call
    from app.services.hotline import conversations

    sid = f"SM{next(_numbers):032d}"
    conversations.receive(number or f"+3248{next(_numbers):07d}", "Ik heb hulp nodig", sid, clock.now())
    return db.session.scalar(select(Call).where(Call.sid == sid))


def hold(unit, by, *, persons=1, minutes=None, **fields):
    """A hold made through the real service by `by` (an operator, manager or
    partner), `minutes` long (the default length when None). Flushed, not committed."""
    from app.services.placement import holds

    return holds.create(Actor(user=by, source="web"), clock.now(), unit_id=unit.id, persons=persons,
                        minutes=minutes, default_minutes=120, **fields)
