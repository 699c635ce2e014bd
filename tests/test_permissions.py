"""The permission matrix: each role against each page and write endpoint.
Anonymous users are sent to sign in (pages) or get a 401 (API)."""

import pytest

from app.extensions import db
from tests import factories as make

ROLES = ["anonymous", "operator", "own_staff", "other_staff", "manager", "partner", "admin"]

# (method, path template, {who: expected status}); the rest get `default`.
MATRIX = [
    ("GET", "/dashboard/", 200, {"anonymous": 302}),
    ("GET", "/shelter/", 403, {"anonymous": 302, "own_staff": 302, "other_staff": 302, "admin": 200}),
    ("GET", "/shelter/{facility}", 403, {"anonymous": 302, "own_staff": 200, "admin": 200}),
    ("POST", "/shelter/units/{unit}", 403, {"anonymous": 302, "own_staff": 200, "admin": 200}),
    ("POST", "/shelter/{facility}/confirm", 403, {"anonymous": 302, "own_staff": 200, "admin": 200}),
    ("POST", "/shelter/{facility}/intake", 403, {"anonymous": 302, "own_staff": 200, "admin": 200}),
    ("GET", "/api/v1/regions", 200, {"anonymous": 401}),
    ("GET", "/api/v1/facilities", 200, {"anonymous": 401}),
    ("GET", "/api/v1/facilities/{facility}", 200, {"anonymous": 401}),
    ("GET", "/api/v1/units/{unit}/history", 200, {"anonymous": 401}),
    ("PATCH", "/api/v1/units/{unit}", 403, {"anonymous": 401, "own_staff": 200, "admin": 200}),
]
BODIES = {
    "/shelter/units/{unit}": {"data": {"step": "1", "version": "1"}, "headers": {"HX-Request": "true"}},
    "/shelter/{facility}/intake": {"data": {"open": "1"}, "headers": {"HX-Request": "true"}},
    "/shelter/{facility}/confirm": {"headers": {"HX-Request": "true"}},
    "/api/v1/units/{unit}": {"json": {"available": 3, "version": 1}},
}


@pytest.fixture
def world(app):
    own = make.facility("own", units={"crisis_bed": (8, 2)})
    other = make.facility("other", units={"crisis_bed": (8, 2)})
    users = {
        "operator": make.user("operator"),
        "own_staff": make.user("shelter_staff", facilities_=[own]),
        "other_staff": make.user("shelter_staff", facilities_=[other]),
        "manager": make.user("manager", regions=[make.region("antwerpen")]),
        "partner": make.user("partner"),
        "admin": make.user("admin"),
    }
    db.session.commit()
    return own, users


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("method, template, default, exceptions", MATRIX,
                         ids=[f"{m} {t}" for m, t, _, _ in MATRIX])
def test_permission_matrix(client, world, who, method, template, default, exceptions):
    facility, users = world
    if who != "anonymous":
        make.login(client, users[who])
    path = template.format(facility=facility.id, unit=facility.units[0].id)
    response = client.open(path, method=method, **BODIES.get(template, {}))
    assert response.status_code == exceptions.get(who, default), response.get_data(as_text=True)[:300]
    if response.status_code == 403:  # a clear refusal, saying why
        text = response.get_data(as_text=True)
        assert "may not" in text or "needs the role" in text, text
