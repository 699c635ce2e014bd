"""A confidential facility's address shown to anyone but its own staff (an
admin) is audited, once per web session and facility, or once per API user,
facility and day (PRODUCT.md section 5, rule 5; issue 9, item 5)."""

import pytest
from flask import Blueprint
from flask_login import current_user
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services.registry import facilities
from app.services.registry.presenters import present
from tests import factories as make

ACTION = "facility.reveal_address"

refusing = Blueprint("reveal_audit_test", __name__, url_prefix="/reveal-audit-test")


@refusing.route("/<int:facility_id>")
def street_with_an_error(facility_id: int):
    """A page that shows the street but answers an error (its writes are rolled back)."""
    return present(facilities.get_facility(facility_id), current_user).street, 409


@pytest.fixture
def app_config():
    # An app of this module's own, so that the blueprint is registered before its first request.
    return {"REVEAL_AUDIT_TEST_ROUTES": True}


@pytest.fixture
def app(app):
    if refusing.name not in app.blueprints:
        app.register_blueprint(refusing)
    return app


@pytest.fixture
def refuge():
    return make.facility("vluchthuis-test", confidential="yes", street="Geheime straat 1")


@pytest.fixture
def open_facility():
    return make.facility("crisiscentrum-test")


def reveals() -> list[tuple]:
    db.session.rollback()
    return [(event.actor_id, event.object_id, event.details["via"])
            for event in db.session.scalars(select(AuditEvent).where(AuditEvent.action == ACTION))]


def signed_in(client, *roles, **fields):
    user = make.user(*roles, **fields)
    db.session.commit()
    make.login(client, user)
    return user


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/dashboard/", "/admin/facilities/{id}", "/shelter/{id}"])
def test_an_admin_reading_a_refuges_street_on_a_page_is_audited_once_per_session(client, refuge, open_facility,
                                                                                 url):
    admin = signed_in(client, "admin")
    url = url.format(id=refuge.id)
    assert "Geheime straat 1" in page(client, url)
    assert reveals() == [(admin.id, refuge.id, "web")]  # the open facility's address is not audited
    page(client, url)
    assert len(reveals()) == 1
    # A new session audits again.
    client.post("/logout")
    make.login(client, admin)
    page(client, url)
    assert len(reveals()) == 2


def test_an_admin_reading_a_refuges_street_by_api_is_audited_once_a_day(client, clock, refuge):
    admin = make.user("admin")
    headers = {"Authorization": f"Bearer {make.token_for(admin)}"}
    db.session.commit()
    for url in ("/api/v1/facilities", f"/api/v1/facilities/{refuge.id}"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200 and "Geheime straat 1" in response.get_data(as_text=True)
    assert reveals() == [(admin.id, refuge.id, "api")]
    clock.advance(hours=23)
    client.get(f"/api/v1/facilities/{refuge.id}", headers=headers)
    assert len(reveals()) == 1
    clock.advance(hours=1)
    client.get(f"/api/v1/facilities/{refuge.id}", headers=headers)
    assert len(reveals()) == 2


@pytest.mark.parametrize("url", ["/admin/facilities", "/shelter/"])
def test_a_list_that_shows_no_address_reveals_nothing(client, refuge, url):
    signed_in(client, "admin")
    assert refuge.name in page(client, url)
    assert reveals() == []


def test_the_facilitys_own_staff_reading_its_street_is_not_audited(client, refuge):
    signed_in(client, "shelter_staff", facilities_=[refuge])
    assert "Geheime straat 1" in page(client, f"/shelter/{refuge.id}")
    assert reveals() == []


def test_an_error_answer_is_not_remembered_as_audited(client, refuge):
    # An answer that does not commit takes its audit event with it: the next read audits.
    signed_in(client, "admin")
    response = client.get(f"/reveal-audit-test/{refuge.id}")
    assert response.status_code == 409 and response.get_data(as_text=True) == "Geheime straat 1"
    assert reveals() == []
    page(client, f"/shelter/{refuge.id}")
    assert len(reveals()) == 1
