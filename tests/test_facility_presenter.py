"""The facility presenter: the one way a page, API answer or export reaches a
facility's street and coordinates (PRODUCT.md section 5, rule 1)."""

import dataclasses
import io
import re
from pathlib import Path

import pytest

from app import clock
from app.extensions import db
from app.services.core.access import SYSTEM
from app.services.registry import facility_files
from app.services.registry.presenters import present, present_for_export
from tests import factories as make

STREET = "Geheimstraat 13"
LAT, LON = 51.1234567, 4.7654321
OPEN_STREET = "Open Straat 1"
OPEN_LAT, OPEN_LON = 51.2, 4.4


@pytest.fixture
def registry(app):
    refuge = make.facility("vluchthuis", type="refuge", confidential="yes", street=STREET, lat=LAT, lon=LON,
                           units={"refuge_place": (6, 3)})
    centre = make.facility("crisis", street=OPEN_STREET, lat=OPEN_LAT, lon=OPEN_LON, units={"crisis_bed": (4, 1)})
    people = {
        "operator": make.user("operator"),
        "manager": make.user("manager", regions=[make.region("antwerpen")]),
        "partner": make.user("partner"),
        "other_staff": make.user("shelter_staff", facilities_=[centre]),
        "own_staff": make.user("shelter_staff", facilities_=[refuge]),
        "admin": make.user("admin"),
    }
    db.session.commit()
    return refuge, centre, people


def where(view) -> tuple:
    return view.shows_address, view.street, view.lat, view.lon


def carries_the_secret(view) -> bool:
    values = [str(value) for value in dataclasses.asdict(view).values()]
    return any(secret in value for value in values for secret in (STREET, str(LAT), str(LON)))


@pytest.mark.parametrize("who", ["operator", "manager", "partner", "other_staff"])
def test_a_confidential_address_is_hidden_from_everyone_else(registry, who):
    refuge, _, people = registry
    view = present(refuge, people[who])
    assert (view.name, view.municipality, view.confidential) == (refuge.name, "Antwerpen", True)
    assert where(view) == (False, None, None, None)
    assert not carries_the_secret(view)


def test_nobody_signed_in_sees_an_address(registry):
    refuge, centre, _ = registry
    assert where(present(refuge, None)) == where(present(centre, None)) == (False, None, None, None)


@pytest.mark.parametrize("who", ["own_staff", "admin"])
def test_own_staff_and_admins_see_the_confidential_address(registry, who):
    refuge, _, people = registry
    assert where(present(refuge, people[who])) == (True, STREET, LAT, LON)


@pytest.mark.parametrize("who", ["operator", "manager", "other_staff", "own_staff", "admin"])
def test_an_open_address_shows_to_the_hotline_staff_and_admins(registry, who):
    _, centre, people = registry
    assert where(present(centre, people[who])) == (True, OPEN_STREET, OPEN_LAT, OPEN_LON)


def test_partners_see_no_address_at_all(registry):
    _, centre, people = registry
    assert where(present(centre, people["partner"])) == (False, None, None, None)


def test_the_export_shows_a_confidential_address_only_when_asked_for(registry):
    refuge, centre, _ = registry
    assert where(present_for_export(refuge, include_confidential=False)) == (False, None, None, None)
    assert where(present_for_export(refuge, include_confidential=True)) == (True, STREET, LAT, LON)
    assert where(present_for_export(centre, include_confidential=False)) == (True, OPEN_STREET, OPEN_LAT, OPEN_LON)


def test_the_csv_export_without_the_flag_carries_no_confidential_street(registry):
    out = io.StringIO()
    assert facility_files.export_csv(SYSTEM, clock.now(), out) == 2
    text = out.getvalue()
    assert "vluchthuis" in text and OPEN_STREET in text
    assert STREET not in text and str(LAT) not in text and str(LON) not in text


def test_the_presented_facility_cannot_be_changed(registry):
    refuge, _, people = registry
    view = present(refuge, people["operator"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.street = STREET


def test_templates_reach_a_facility_through_a_hold_or_referral_only_presented():
    """`hold.unit.facility.street` would bypass the presenter: a template that
    reaches a facility through another object reads it `|presented`."""
    templates = Path(__file__).parent.parent / "app" / "templates"
    bypasses = [f"{path.relative_to(templates)}: {match.group(0)}"
                for path in sorted(templates.rglob("*.html"))
                for match in re.finditer(r"\.facility\s*\.\s*\w+", path.read_text(encoding="utf-8"))]
    assert bypasses == []
