"""PRODUCT.md section 5, rule 1: a confidential address reaches only the
facility's own staff and admins — in no API answer, page or fragment for
anyone else."""

import pytest

from app.extensions import db
from tests import factories as make
from tests.api import call

STREET = "Geheimstraat 13"
LAT, LON = 51.1234567, 4.7654321
OPEN_STREET = "Open Straat 1"


@pytest.fixture
def secret(app):
    refuge = make.facility("vluchthuis", type="refuge", confidential="yes", street=STREET, lat=LAT, lon=LON,
                           units={"refuge_place": (6, 3)})
    centre = make.facility("crisis", street=OPEN_STREET, units={"crisis_bed": (4, 1)})
    people = {
        "operator": make.user("operator"),
        "manager": make.user("manager", regions=[make.region("antwerpen")]),
        "partner": make.user("partner"),
        "other_staff": make.user("shelter_staff", facilities_=[centre]),
        "own_staff": make.user("shelter_staff", facilities_=[refuge]),
        "admin": make.user("admin"),
    }
    db.session.commit()
    tokens = {name: make.token_for(user) for name, user in people.items()}
    db.session.commit()
    return refuge, centre, people, tokens


def everything_seen(client, refuge, token):
    """Every answer a user can get that mentions the refuge."""
    unit_id = refuge.units[0].id
    texts = [
        call(client, "GET", path, token).get_data(as_text=True)
        for path in (
            "/api/v1/regions",
            "/api/v1/facilities",
            "/api/v1/facilities?region=antwerpen&kind=refuge_place",
            f"/api/v1/facilities/{refuge.id}",
            f"/api/v1/units/{unit_id}/history",
            "/dashboard/",
            "/dashboard/?region=antwerpen",
        )
    ]
    texts.append(call(client, "GET", "/dashboard/?region=antwerpen", token, headers={"HX-Request": "true"})
                 .get_data(as_text=True))
    texts.append(call(client, "GET", f"/shelter/{refuge.id}", token).get_data(as_text=True))
    return "\n".join(texts)


def leaks(text: str) -> list[str]:
    return [secret for secret in (STREET, str(LAT), str(LON), "51.123", "4.765") if secret in text]


@pytest.mark.parametrize("who", ["operator", "manager", "partner", "other_staff"])
def test_nobody_else_gets_the_confidential_address(client, secret, who):
    refuge, _, _, tokens = secret
    seen = everything_seen(client, refuge, tokens[who])
    assert "Vluchthuis" in seen or "vluchthuis" in seen  # they do see the facility...
    assert leaks(seen) == []  # ...but never where it is


@pytest.mark.parametrize("who", ["own_staff", "admin"])
def test_own_staff_and_admins_do_see_it(client, secret, who):
    refuge, _, _, tokens = secret
    seen = everything_seen(client, refuge, tokens[who])
    assert STREET in seen and str(LAT) in seen


def test_partners_see_no_address_at_all(client, secret):
    refuge, centre, _, tokens = secret
    body = call(client, "GET", f"/api/v1/facilities/{centre.id}", tokens["partner"]).get_json()
    assert "address" not in body and "lat" not in body
    assert OPEN_STREET not in everything_seen(client, refuge, tokens["partner"])


def test_operators_see_open_addresses(client, secret):
    _, centre, _, tokens = secret
    body = call(client, "GET", f"/api/v1/facilities/{centre.id}", tokens["operator"]).get_json()
    assert body["address"]["street"] == OPEN_STREET
