"""The admin pages: users, regions, organisations, facilities, capacity kinds."""

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import (
    ApiToken,
    AuditEvent,
    CapacityChange,
    CapacityKind,
    CapacityUnit,
    Facility,
    Organisation,
    Region,
    RiskItem,
    RiskScale,
    User,
)
from app.services.accounts import users
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput
from app.services.registry import capacity
from tests import factories as make

NON_ADMIN_ROLES = ("operator", "shelter_staff", "manager", "partner")
WRITTEN = (User, Region, Organisation, Facility, CapacityKind, CapacityUnit, CapacityChange, ApiToken, AuditEvent,
           RiskItem, RiskScale)


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def counts() -> dict:
    return {model.__name__: count(model) for model in WRITTEN}


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def world(app):
    shelter = make.facility("crisis-antwerpen", name="Crisis Antwerpen",
                            units={"crisis_bed": (8, 2), "family_room": (3, 1, 4)})
    other = make.facility("crisis-gent", name="Crisis Gent", region_slug="oost-vlaanderen", municipality="Gent",
                          postcode="9000", units={"crisis_bed": (5, 5)})
    admin = make.user("admin", email="admin@example.org")
    staff = make.user("shelter_staff", email="staff@example.org", facilities_=[shelter])
    organisation = Organisation(slug="caw-antwerpen", name="CAW Antwerpen", kind="caw", region=shelter.region)
    db.session.add(organisation)
    db.session.commit()
    return SimpleNamespace(shelter=shelter, other=other, admin=admin, staff=staff, organisation=organisation)


@pytest.fixture
def admin_client(app, world):
    client = app.test_client()
    make.login(client, world.admin)
    return client


def error_next_to(body: str, field: str) -> str:
    """The message shown beside the field `field`."""
    match = re.search(rf'<span class="field-error" id="{re.escape(field)}-error">(.*?)</span>', body, re.DOTALL)
    assert match, f"no error next to {field}"
    return match.group(1)


# --- access -------------------------------------------------------------------


def admin_urls(app, world) -> list[tuple[str, str]]:
    """Every admin URL with each method it answers, with ids of real records."""
    ids = {"user_id": world.staff.id, "region_id": world.shelter.region_id,
           "organisation_id": world.organisation.id, "facility_id": world.shelter.id,
           "kind_id": db.session.scalar(select(CapacityKind.id).where(CapacityKind.code == "crisis_bed")),
           "risk_item_id": db.session.scalar(select(RiskItem.id).where(RiskItem.key == "weapon"))}
    urls = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin."):
                continue
            path = adapter.build(rule.endpoint, {arg: ids[arg] for arg in rule.arguments})
            urls.extend((method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"}))
    return urls


def test_every_admin_page_renders_for_an_admin(admin_client, world):
    kind = db.session.scalar(select(CapacityKind).where(CapacityKind.code == "family_room"))
    weapon = db.session.scalar(select(RiskItem).where(RiskItem.key == "weapon"))
    pages = {
        "/admin/": "Capacity kinds",
        "/admin/users": "staff@example.org",
        "/admin/users/new": "New user",
        f"/admin/users/{world.staff.id}": "Revoke tokens and sessions",
        "/admin/regions": "Oost Vlaanderen",
        "/admin/regions/new": "New region",
        f"/admin/regions/{world.shelter.region_id}": 'value="antwerpen"',
        "/admin/organisations": "CAW Antwerpen",
        "/admin/organisations/new": "New organisation",
        f"/admin/organisations/{world.organisation.id}": 'value="caw-antwerpen"',
        "/admin/facilities": "Crisis Gent",
        "/admin/facilities/new": "New facility",
        f"/admin/facilities/{world.shelter.id}": 'value="crisis-antwerpen"',
        "/admin/kinds": "offender_slot",
        "/admin/kinds/new": "New capacity kind",
        f"/admin/kinds/{kind.id}": 'value="Gezinskamer"',
        "/admin/risk": "threats_to_kill",
        "/admin/risk/items/new": "New risk item",
        f"/admin/risk/items/{weapon.id}": 'value="Heeft de partner een wapen of dreigde hij ermee?"',
        "/admin/risk/scale": 'value="Demonstration set"',
    }
    for path, expected in pages.items():
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert expected in text(response), path
    assert 'href="/admin/">Administration</a>' in text(admin_client.get("/dashboard/"))


def test_the_page_list_above_covers_every_admin_get(app, world):
    gets = {path for method, path in admin_urls(app, world) if method == "GET"}
    assert len(gets) == 20


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
def test_non_admins_get_403_on_every_admin_page_and_write_nothing(app, world, role):
    user = make.user(role, facilities_=[world.shelter] if role == "shelter_staff" else ())
    db.session.commit()
    client = app.test_client()
    make.login(client, user)
    assert 'href="/admin/"' not in text(client.get("/dashboard/"))
    urls = admin_urls(app, world)
    assert any(method == "POST" for method, _ in urls)
    before = counts()
    valid = {"slug": "new-thing", "name": "New", "code": "new_kind", "email": "x@example.org", "roles": "admin",
             "active": "0", "label_nl": "a", "label_en": "b", "label_fr": "c", "counts": "persons",
             "serves": "victim", "position": "9", "kind": "caw"}
    for method, path in urls:
        response = client.open(path, method=method, data=valid if method == "POST" else None)
        assert response.status_code == 403, (method, path)
    assert counts() == before
    assert db.session.get(User, world.staff.id).active


def test_anonymous_visitors_are_sent_to_sign_in(app, world):
    client = app.test_client()
    before = counts()
    for method, path in admin_urls(app, world):
        response = client.open(path, method=method)
        assert response.status_code == 302, (method, path)
        assert response.headers["Location"].startswith("/login")
    assert counts() == before


# --- users --------------------------------------------------------------------


def user_form(**overrides) -> dict:
    return {"email": "New.Person@Example.org", "name": "New Person", "roles": ["operator", "manager"],
            "regions": ["antwerpen", "oost-vlaanderen"], "facilities": ["crisis-gent"], "phone": "+32 470 12 34 56",
            "language": "fr", "password": "a long enough password", **overrides}


def test_an_admin_creates_a_user_with_several_roles_and_scopes(app, admin_client, world):
    response = admin_client.post("/admin/users/new", data=user_form())
    assert response.status_code == 303
    user = users.get_user_by_email("new.person@example.org")
    assert response.headers["Location"] == f"/admin/users/{user.id}"
    assert user.roles == {"operator", "manager"}
    assert [r.slug for r in user.regions] == ["antwerpen", "oost-vlaanderen"]
    assert [f.slug for f in user.facilities] == ["crisis-gent"]
    assert (user.name, user.phone, user.language, user.active) == ("New Person", "+32470123456", "fr", True)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.create",
                                                       AuditEvent.object_id == user.id))
    assert event.actor_id == world.admin.id and event.details["source"] == "web"
    listed = text(admin_client.get("/admin/users"))
    for shown in ("new.person@example.org", "New Person", "Regional manager, Operator (hotline)",
                  "Antwerpen, Oost Vlaanderen", "Crisis Gent", "+32470123456"):
        assert shown in listed
    # The password works.
    make.login(app.test_client(), user, password="a long enough password")


def test_an_admin_edits_a_user_and_an_empty_password_keeps_the_old_one(app, admin_client, world):
    response = admin_client.post(f"/admin/users/{world.staff.id}", data=user_form(
        email="staff@example.org", name="Renamed", roles=["shelter_staff"], regions=[],
        facilities=["crisis-antwerpen", "crisis-gent"], phone="", language="nl", password=""))
    assert response.status_code == 303
    staff = users.get_user(world.staff.id)
    assert staff.name == "Renamed" and staff.language == "nl" and staff.phone is None
    assert [f.slug for f in staff.facilities] == ["crisis-antwerpen", "crisis-gent"]
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.update")).object_id == staff.id
    make.login(app.test_client(), staff)  # still the factory password


def test_the_edit_form_shows_the_user_as_saved(admin_client, world):
    body = text(admin_client.get(f"/admin/users/{world.staff.id}"))
    assert re.search(r'<input checked id="roles-\d" name="roles" type="checkbox" value="shelter_staff">', body)
    assert re.search(r'<input checked id="facilities-\d" name="facilities" type="checkbox" value="crisis-antwerpen">',
                     body)
    assert not re.search(r'<input checked [^>]*value="crisis-gent"', body)


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"email": "not-an-address"}, "email", "is not an e-mail address"),
    ({"roles": ["operator", "janitor"]}, "roles", "unknown: janitor"),
    ({"roles": []}, "roles", "roles must be among"),
    ({"phone": "0470123456"}, "phone", "E.164"),
    ({"email": "staff@example.org"}, "email", "a user with e-mail staff@example.org exists"),
    ({"language": "de"}, "language", "language must be one of"),
    ({"password": "short"}, "password", "at least 10 characters"),
    ({"regions": ["atlantis"]}, "regions", "unknown regions: atlantis"),
    ({"name": "  "}, "name", "a name is required"),
])
def test_an_invalid_new_user_is_refused_next_to_its_field_and_nothing_is_written(admin_client, world, overrides,
                                                                                 field, message):
    before = counts()
    response = admin_client.post("/admin/users/new", data=user_form(**overrides))
    assert response.status_code == 400
    assert message in error_next_to(text(response), field)
    assert counts() == before
    # What was typed is still there.
    assert 'value="+32 470 12 34 56"' in text(response) or "phone" in overrides


def test_an_invalid_edit_changes_nothing(admin_client, world):
    before = counts()
    response = admin_client.post(f"/admin/users/{world.staff.id}", data=user_form(
        email="staff@example.org", name="Renamed", phone="+32 12"))
    assert response.status_code == 400
    assert "E.164" in error_next_to(text(response), "phone")
    assert counts() == before
    assert users.get_user(world.staff.id).name != "Renamed"


def test_an_admin_cannot_remove_their_own_admin_role(admin_client, world):
    before = counts()
    response = admin_client.post(f"/admin/users/{world.admin.id}", data=user_form(
        email="admin@example.org", roles=["operator"]))
    assert response.status_code == 400
    assert "your own admin role" in error_next_to(text(response), "roles")
    assert counts() == before
    assert users.get_user(world.admin.id).roles == {"admin"}


def test_the_accounts_service_keeps_an_admin_from_removing_their_own_admin_role(world):
    """The rule is the service's, so the CLI and the API keep it as the page does."""
    admin = world.admin
    other_admin = make.user("admin")

    def save(actor_user, user, roles):
        return users.save_user(Actor(user=actor_user, source="api"), clock.now(), user=user, email=user.email,
                               name=user.name, roles=roles)

    with pytest.raises(InvalidInput, match="your own admin role") as refused:
        save(admin, admin, ["operator", "manager"])
    assert refused.value.field == "roles"
    assert save(admin, admin, ["admin", "operator"]).roles == {"admin", "operator"}
    assert save(other_admin, admin, ["operator"]).roles == {"operator"}
    assert save(admin, other_admin, ["manager"]).roles == {"manager"}


def test_deactivation_signs_the_user_out_and_revokes_their_tokens(app, admin_client, world):
    staff_client = app.test_client()
    make.login(staff_client, world.staff)
    assert staff_client.get("/shelter/").status_code in (200, 302)
    token = make.token_for(world.staff)
    db.session.commit()
    assert users.user_for_token(token) is not None

    response = admin_client.post(f"/admin/users/{world.staff.id}/active", data={"active": "0"})
    assert response.status_code == 303

    response = staff_client.get("/shelter/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert users.user_for_token(token) is None
    assert db.session.scalar(select(ApiToken.revoked_at)) is not None
    assert not users.get_user(world.staff.id).active
    refused = staff_client.post("/login", data={"email": "staff@example.org", "password": make.PASSWORD})
    assert refused.status_code == 401
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"user.deactivate", "user.revoke_tokens"} <= actions
    assert "deactivated" in text(admin_client.get("/admin/users"))

    assert admin_client.post(f"/admin/users/{world.staff.id}/active", data={"active": "1"}).status_code == 303
    assert users.get_user(world.staff.id).active
    make.login(staff_client, world.staff)
    # A revoked token stays revoked.
    assert users.user_for_token(token) is None


def test_an_admin_cannot_deactivate_themselves(admin_client, world):
    before = counts()
    response = admin_client.post(f"/admin/users/{world.admin.id}/active", data={"active": "0"})
    assert response.status_code == 409
    assert counts() == before
    assert users.get_user(world.admin.id).active


def test_a_bad_active_value_is_refused(admin_client, world):
    before = counts()
    assert admin_client.post(f"/admin/users/{world.staff.id}/active", data={"active": "maybe"}).status_code == 400
    assert counts() == before
    assert users.get_user(world.staff.id).active


def test_revoking_ends_sessions_and_tokens_but_keeps_the_account(app, admin_client, world):
    staff_client = app.test_client()
    make.login(staff_client, world.staff)
    tokens = [make.token_for(world.staff), make.token_for(world.staff)]
    db.session.commit()

    response = admin_client.post(f"/admin/users/{world.staff.id}/revoke")
    assert response.status_code == 303
    assert "2 API tokens revoked" in text(admin_client.get(response.headers["Location"]))
    assert staff_client.get("/shelter/").headers["Location"].startswith("/login")
    assert all(users.user_for_token(token) is None for token in tokens)
    assert users.get_user(world.staff.id).active
    make.login(staff_client, world.staff)


def test_a_new_api_token_is_shown_once(admin_client, world):
    response = admin_client.post(f"/admin/users/{world.staff.id}/token")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="token" type="text" readonly value="(opv_[^"]+)"', text(response)).group(1)
    assert users.user_for_token(token).id == world.staff.id
    stored = db.session.scalar(select(ApiToken))
    assert stored.token_hash != token and token.startswith(stored.prefix)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "token.create")).object_id == world.staff.id
    # The user's page lists it by its first characters only, and never again in full.
    page = text(admin_client.get(f"/admin/users/{world.staff.id}"))
    assert stored.prefix in page and token not in page


def test_a_deactivated_user_gets_no_token(admin_client, world):
    assert admin_client.post(f"/admin/users/{world.staff.id}/active", data={"active": "0"}).status_code == 303
    before = counts()
    response = admin_client.post(f"/admin/users/{world.staff.id}/token")
    assert response.status_code == 409
    assert "opv_" not in text(response)
    assert counts() == before


def test_an_unknown_user_is_404(admin_client, world):
    assert admin_client.get("/admin/users/999999").status_code == 404
    before = counts()
    assert admin_client.post("/admin/users/999999/token").status_code == 404
    assert counts() == before


# --- regions and organisations ---------------------------------------------------


def test_an_admin_creates_and_edits_a_region(admin_client, world):
    response = admin_client.post("/admin/regions/new", data={"slug": "limburg", "name": "Limburg"})
    assert response.status_code == 303
    region = db.session.scalar(select(Region).where(Region.slug == "limburg"))
    assert region.name == "Limburg"
    assert "Limburg" in text(admin_client.get("/admin/regions"))

    response = admin_client.post(f"/admin/regions/{region.id}", data={"slug": "limburg-be", "name": "Prov. Limburg"})
    assert response.status_code == 303
    region = db.session.get(Region, region.id)
    assert (region.slug, region.name) == ("limburg-be", "Prov. Limburg")
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "regions")))
    assert actions == ["region.create", "region.update"]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"slug": "antwerpen", "name": "Again"}, "slug", "a region with the slug antwerpen exists"),
    ({"slug": "Not A Slug", "name": "X"}, "slug", "lowercase letters, digits and dashes"),
    ({"slug": "", "name": "X"}, "slug", "slug is required"),
    ({"slug": "limburg", "name": ""}, "name", "name is required"),
    ({"slug": "limburg", "name": "x" * 121}, "name", "too long"),
])
def test_an_invalid_region_is_refused(admin_client, world, data, field, message):
    before = counts()
    response = admin_client.post("/admin/regions/new", data=data)
    assert response.status_code == 400
    assert message in error_next_to(text(response), field)
    assert counts() == before


def test_editing_a_region_to_another_regions_slug_is_refused(admin_client, world):
    before = counts()
    response = admin_client.post(f"/admin/regions/{world.shelter.region_id}", data={"slug": "oost-vlaanderen",
                                                                                      "name": "Antwerpen"})
    assert response.status_code == 400
    assert "exists" in error_next_to(text(response), "slug")
    assert counts() == before
    assert db.session.get(Region, world.shelter.region_id).slug == "antwerpen"


def organisation_form(**overrides) -> dict:
    return {"slug": "justitiehuis-gent", "name": "Justitiehuis Gent", "kind": "justice_house",
            "region": "oost-vlaanderen", "phone": "+32 9 269 62 00", "email": "Gent@Justitiehuis.be", **overrides}


def test_an_admin_creates_and_edits_an_organisation(admin_client, world):
    assert admin_client.post("/admin/organisations/new", data=organisation_form()).status_code == 303
    organisation = db.session.scalar(select(Organisation).where(Organisation.slug == "justitiehuis-gent"))
    assert (organisation.kind, organisation.region.slug, organisation.phone, organisation.email) == (
        "justice_house", "oost-vlaanderen", "+3292696200", "gent@justitiehuis.be")
    assert "Justitiehuis Gent" in text(admin_client.get("/admin/organisations"))

    response = admin_client.post(f"/admin/organisations/{organisation.id}",
                                 data=organisation_form(kind="other", region="", phone="", email=""))
    assert response.status_code == 303
    organisation = db.session.get(Organisation, organisation.id)
    assert (organisation.kind, organisation.region, organisation.phone, organisation.email) == ("other", None, None,
                                                                                                 None)
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "organisations")))
    assert actions == ["organisation.create", "organisation.update"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"slug": "caw-antwerpen"}, "slug", "an organisation with the slug caw-antwerpen exists"),
    ({"kind": "bakery"}, "kind", "kind must be one of"),
    ({"region": "atlantis"}, "region", "unknown region"),
    ({"phone": "09 269 62 00"}, "phone", "E.164"),
    ({"email": "nobody"}, "email", "is not an e-mail address"),
    ({"name": ""}, "name", "name is required"),
])
def test_an_invalid_organisation_is_refused(admin_client, world, overrides, field, message):
    before = counts()
    response = admin_client.post("/admin/organisations/new", data=organisation_form(**overrides))
    assert response.status_code == 400
    assert message in error_next_to(text(response), field)
    assert counts() == before


# --- capacity kinds ----------------------------------------------------------------


def kind_form(**overrides) -> dict:
    return {"code": "studio", "label_nl": "Studio", "label_en": "Studio flat", "label_fr": "Studio",
            "counts": "rooms", "serves": ["victim", "couple"], "position": "7", **overrides}


def test_an_admin_creates_and_edits_a_capacity_kind(admin_client, world):
    assert admin_client.post("/admin/kinds/new", data=kind_form()).status_code == 303
    kind = db.session.scalar(select(CapacityKind).where(CapacityKind.code == "studio"))
    assert kind.labels == {"nl": "Studio", "en": "Studio flat", "fr": "Studio"}
    assert (kind.counts, kind.serves, kind.position) == ("rooms", ["victim", "couple"], 7)
    assert "studio" in text(admin_client.get("/admin/kinds"))
    # The new kind has its row on the facility form.
    assert 'name="studio_room_size"' in text(admin_client.get("/admin/facilities/new"))

    response = admin_client.post(f"/admin/kinds/{kind.id}", data=kind_form(code="studio_flat", counts="persons",
                                                                             serves=["offender"], position="0"))
    assert response.status_code == 303
    kind = db.session.get(CapacityKind, kind.id)
    assert (kind.code, kind.counts, kind.serves, kind.position) == ("studio_flat", "persons", ["offender"], 0)
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "capacity_kinds")))
    assert actions == ["capacity_kind.create", "capacity_kind.update"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"code": "crisis_bed"}, "code", "a capacity kind with the code crisis_bed exists"),
    ({"code": "Studio Flat"}, "code", "lowercase letters, digits and underscores"),
    ({"label_fr": ""}, "label_fr", "label_fr is required"),
    ({"counts": "litres"}, "counts", "counts must be one of"),
    ({"serves": []}, "serves", "serves must be among"),
    ({"serves": ["victim", "dog"]}, "serves", "unknown: dog"),
    ({"position": "first"}, "position", "whole number"),
])
def test_an_invalid_capacity_kind_is_refused(admin_client, world, overrides, field, message):
    before = counts()
    response = admin_client.post("/admin/kinds/new", data=kind_form(**overrides))
    assert response.status_code == 400
    assert message in error_next_to(text(response), field)
    assert counts() == before


def test_what_a_kind_in_use_counts_cannot_change(admin_client, world):
    kind = db.session.scalar(select(CapacityKind).where(CapacityKind.code == "crisis_bed"))
    before = counts()
    response = admin_client.post(f"/admin/kinds/{kind.id}", data=kind_form(code="crisis_bed", counts="rooms"))
    assert response.status_code == 400
    assert "in use" in error_next_to(text(response), "counts")
    assert counts() == before
    assert db.session.get(CapacityKind, kind.id).counts == "persons"


# --- the risk instrument -------------------------------------------------------------


def risk_item_form(**overrides) -> dict:
    return {"key": "isolation", "label_nl": "Is ze of hij geïsoleerd?", "label_fr": "Est-elle ou est-il isolé·e ?",
            "label_en": "Are they isolated?", "weight": "2", "critical": "y", "active": "y", "position": "11",
            **overrides}


def test_an_admin_adds_and_edits_a_risk_item(admin_client, world):
    assert admin_client.post("/admin/risk/items/new", data=risk_item_form()).status_code == 303
    item = db.session.scalar(select(RiskItem).where(RiskItem.key == "isolation"))
    assert (item.weight, item.critical, item.child_at_risk, item.active, item.position) == (2, True, False, True, 11)
    assert item.labels["en"] == "Are they isolated?"
    assert "isolation" in text(admin_client.get("/admin/risk"))

    # Unticked boxes are false; the key cannot change once made.
    response = admin_client.post(f"/admin/risk/items/{item.id}",
                                 data=risk_item_form(key="other", weight="100", critical="", active="", position="0"))
    assert response.status_code == 303
    item = db.session.get(RiskItem, item.id)
    assert (item.key, item.weight, item.critical, item.active, item.position) == ("isolation", 100, False, False, 0)
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "risk_items")))
    assert actions == ["risk_item.create", "risk_item.update"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"key": "weapon"}, "key", "a risk item with the key weapon exists"),
    ({"key": "Is Olation"}, "key", "lowercase letters, digits and underscores"),
    ({"key": ""}, "key", "key is required"),
    ({"label_fr": " "}, "label_fr", "label_fr is required"),
    ({"weight": "101"}, "weight", "between 0 and 100"),
    ({"weight": "-1"}, "weight", "between 0 and 100"),
    ({"weight": "heavy"}, "weight", "whole number"),
    ({"position": "first"}, "position", "whole number"),
])
def test_an_invalid_risk_item_is_refused(admin_client, world, overrides, field, message):
    before = counts()
    response = admin_client.post("/admin/risk/items/new", data=risk_item_form(**overrides))
    assert response.status_code == 400
    assert message in error_next_to(text(response), field)
    assert counts() == before


def test_an_invalid_edit_of_a_risk_item_writes_nothing(admin_client, world):
    item = db.session.scalar(select(RiskItem).where(RiskItem.key == "weapon"))
    before = counts()
    response = admin_client.post(f"/admin/risk/items/{item.id}", data=risk_item_form(label_nl="", weight="3"))
    assert response.status_code == 400
    assert "label_nl is required" in error_next_to(text(response), "label_nl")
    assert counts() == before
    assert db.session.get(RiskItem, item.id).labels["nl"].startswith("Heeft de partner")


def scale_form(**overrides) -> dict:
    return {"name": "Regional instrument", "elevated_at": "5", "high_at": "10", "validated": "y", **overrides}


def test_an_admin_sets_the_scale_and_marks_it_validated(admin_client, world):
    assert admin_client.post("/admin/risk/scale", data=scale_form()).status_code == 303
    scale = db.session.scalar(select(RiskScale))
    assert (scale.name, scale.elevated_at, scale.high_at, scale.demonstration) == ("Regional instrument", 5, 10,
                                                                                   False)
    assert "Demonstration, not validated" not in text(admin_client.get("/admin/risk"))
    # Unticked: the demonstration set again.
    assert admin_client.post("/admin/risk/scale", data=scale_form(validated="")).status_code == 303
    assert db.session.scalar(select(RiskScale)).demonstration is True
    assert "Demonstration, not validated" in text(admin_client.get("/admin/risk"))
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "risk_scale")))
    assert actions == ["risk_scale.update", "risk_scale.update"]


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"high_at": "5"}, "high_at", "high_at must be above elevated_at"),
    ({"high_at": "4"}, "high_at", "high_at must be above elevated_at"),
    ({"elevated_at": "0"}, "elevated_at", "between 1 and"),
    ({"elevated_at": "x"}, "elevated_at", "whole number"),
    ({"name": ""}, "name", "name is required"),
])
def test_an_invalid_scale_is_refused(admin_client, world, overrides, field, message):
    before = counts()
    old = db.session.scalar(select(RiskScale))
    old = (old.name, old.elevated_at, old.high_at, old.demonstration)
    response = admin_client.post("/admin/risk/scale", data=scale_form(**overrides))
    assert response.status_code == 400
    assert message in error_next_to(text(response), field)
    assert counts() == before
    scale = db.session.scalar(select(RiskScale))
    assert (scale.name, scale.elevated_at, scale.high_at, scale.demonstration) == old


# --- facilities ------------------------------------------------------------------------


def facility_form(**overrides) -> dict:
    data = {
        "slug": "vluchthuis-gent", "name": "Vluchthuis Gent", "type": "refuge", "region": "oost-vlaanderen",
        "organisation": "caw-antwerpen", "municipality": "Gent", "postcode": "9000", "street": "Geheime straat 7",
        "lat": "51.05", "lon": "3.72", "confidential": "y", "intake_phone": "+32 9 000 00 00",
        "hours_mon": "08:00-12:00,13:00-17:00", "hours_fri": "20:00-08:00",
        "open_for_intake": "y", "closed_reason": "", "stale_after_hours": "24",
        "genders": ["female", "x"], "children": "y", "max_children": "4", "max_child_age": "17",
        "wheelchair": "y", "pets": "y", "languages": ["nl", "ar"],
        "refuge_place_total": "6", "refuge_place_available": "3",
        "family_room_total": "2", "family_room_available": "1", "family_room_room_size": "5",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_an_admin_creates_a_facility_with_every_attribute(admin_client, world):
    response = admin_client.post("/admin/facilities/new", data=facility_form())
    assert response.status_code == 303
    facility = db.session.scalar(select(Facility).where(Facility.slug == "vluchthuis-gent"))
    assert response.headers["Location"] == f"/admin/facilities/{facility.id}"
    assert (facility.name, facility.type, facility.region.slug, facility.organisation.slug) == (
        "Vluchthuis Gent", "refuge", "oost-vlaanderen", "caw-antwerpen")
    assert (facility.municipality, facility.postcode, facility.street, facility.lat, facility.lon) == (
        "Gent", "9000", "Geheime straat 7", 51.05, 3.72)
    assert facility.confidential and facility.open_for_intake and facility.closed_reason is None
    assert (facility.intake_phone, facility.stale_after_hours) == ("+3290000000", 24)
    assert facility.intake_hours == {
        "always": False,
        "weekly": {"mon": [["08:00", "12:00"], ["13:00", "17:00"]], "tue": [], "wed": [], "thu": [],
                   "fri": [["20:00", "08:00"]], "sat": [], "sun": []},
    }
    assert facility.genders == ["female", "x"] and facility.languages == ["nl", "ar"]
    assert (facility.children, facility.max_children, facility.max_child_age) == (True, 4, 17)
    assert facility.wheelchair and facility.pets and not facility.high_security
    units = {u.kind.code: (u.total, u.available, u.room_size) for u in facility.units}
    assert units == {"refuge_place": (6, 3, None), "family_room": (2, 1, 5)}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "facility.create",
                                                       AuditEvent.object_id == facility.id))
    assert event.actor_id == world.admin.id
    # Every unit's first counts are in the history, by the admin, from the web.
    changes = db.session.scalars(
        select(CapacityChange).join(CapacityUnit).where(CapacityUnit.facility_id == facility.id))
    assert {(c.field, c.after, c.source, c.actor_id) for c in changes} == {
        ("total", 6, "web", world.admin.id), ("available", 3, "web", world.admin.id),
        ("total", 2, "web", world.admin.id), ("available", 1, "web", world.admin.id)}

    # The edit form shows it all back.
    body = text(admin_client.get(f"/admin/facilities/{facility.id}"))
    assert 'value="08:00-12:00,13:00-17:00"' in body and 'value="20:00-08:00"' in body
    assert not re.search(r'id="hours_always" name="hours_always" value="y" checked', body)
    assert 'id="family_room_room_size" name="family_room_room_size" value="5"' in body
    assert '<input checked id="confidential"' in body


def test_an_admin_edits_a_facility_and_its_units(admin_client, world):
    shelter = world.shelter
    data = facility_form(slug="crisis-antwerpen", name="Crisis Antwerpen Noord", type="crisis_centre",
                         region="antwerpen", organisation="", municipality="Antwerpen", postcode="2060",
                         confidential=None, open_for_intake=None, closed_reason="Renovation", hours_always="y",
                         children=None, max_children="", max_child_age="", pets=None, wheelchair=None,
                         high_security="y", refuge_place_total=None, refuge_place_available=None,
                         crisis_bed_total="10", crisis_bed_available="2", family_room_total="3",
                         family_room_available="0", family_room_room_size="4")
    data.update({f"{code}_version": str(unit.version) for code, unit in
                 ((u.kind.code, u) for u in shelter.units)})
    response = admin_client.post(f"/admin/facilities/{shelter.id}", data=data)
    assert response.status_code == 303, text(response)
    shelter = db.session.get(Facility, shelter.id)
    assert (shelter.name, shelter.postcode, shelter.organisation, shelter.confidential) == (
        "Crisis Antwerpen Noord", "2060", None, False)
    assert not shelter.open_for_intake and shelter.closed_reason == "Renovation"
    assert shelter.intake_hours["always"] is True
    assert shelter.high_security and not shelter.pets and not shelter.children
    units = {u.kind.code: (u.total, u.available, u.room_size) for u in shelter.units}
    assert units == {"crisis_bed": (10, 2, None), "family_room": (3, 0, 4)}
    changes = {(c.field, c.before, c.after) for c in db.session.scalars(
        select(CapacityChange).where(CapacityChange.actor_id == world.admin.id))}
    assert changes == {("total", 8, 10), ("available", 1, 0)}
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "facility.update")).object_id == shelter.id


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"postcode": "900"}, "postcode", "postcode must be a Belgian postcode"),
    ({"hours_mon": "08:00-25:00"}, "intake_hours", "25:00&#39; is not a time like 08:00"),
    ({"hours_mon": "08:00"}, "intake_hours", "write periods as 08:00-20:00"),
    ({"hours_mon": "", "hours_fri": ""}, "intake_hours", "give intake hours for at least one day, or 24/7"),
    ({"refuge_place_available": "7"}, "refuge_place_available", "refuge_place_available must be between 0 and 6"),
    ({"family_room_room_size": ""}, "family_room_room_size", "room_size is required"),
    ({"crisis_bed_total": "3", "crisis_bed_room_size": "2"}, "crisis_bed_room_size", "not counted in rooms"),
    ({"slug": "crisis-antwerpen"}, "slug", "another facility has the slug crisis-antwerpen"),
    ({"slug": "Vluchthuis Gent"}, "slug", "lowercase letters"),
    ({"intake_phone": "09 000 00 00"}, "intake_phone", "E.164"),
    ({"lat": "48.0"}, "lat", "outside Belgium"),
    ({"lon": ""}, "lon", "give both lat and lon"),
    ({"open_for_intake": None}, "closed_reason", "say why the facility is closed"),
    ({"genders": []}, "genders", "give at least one"),
    ({"languages": ["nl", "xx"]}, "languages", "unknown xx"),
    ({"children": None}, "children", "need children"),
    ({"stale_after_hours": "0"}, "stale_after_hours", "between 1 and 336"),
    ({"region": "atlantis"}, "region", "unknown region"),
    ({"organisation": "nobody"}, "organisation", "unknown organisation"),
    ({"type": "hotel"}, "type", "type must be one of"),
])
def test_an_invalid_new_facility_is_refused_next_to_its_field(admin_client, world, overrides, field, message):
    before = counts()
    response = admin_client.post("/admin/facilities/new", data=facility_form(**overrides))
    assert response.status_code == 400
    body = text(response)
    assert message in error_next_to(body, field)
    assert "Nothing was saved." in body
    assert counts() == before
    # The form keeps what was typed.
    assert 'value="Vluchthuis Gent"' in body and 'value="08:00-12:00,13:00-17:00"' in body or "hours_mon" in overrides


def test_an_invalid_edit_of_a_facility_changes_nothing(admin_client, world):
    shelter = world.shelter
    before = counts()
    data = facility_form(slug="crisis-antwerpen", name="Renamed", region="antwerpen", crisis_bed_total="4",
                         crisis_bed_available="6")
    response = admin_client.post(f"/admin/facilities/{shelter.id}", data=data)
    assert response.status_code == 400
    assert "between 0 and 4" in error_next_to(text(response), "crisis_bed_available")
    assert counts() == before
    shelter = db.session.get(Facility, shelter.id)
    assert shelter.name == "Crisis Antwerpen"
    assert {u.kind.code: u.total for u in shelter.units} == {"crisis_bed": 8, "family_room": 3}

    # Another facility's slug.
    response = admin_client.post(f"/admin/facilities/{shelter.id}", data=facility_form(slug="crisis-gent"))
    assert response.status_code == 400
    assert "another facility has the slug crisis-gent" in error_next_to(text(response), "slug")
    assert counts() == before


def shelter_form(world, **overrides) -> dict:
    """The shelter's edit form as the page shows it (with the unit versions)."""
    data = facility_form(slug="crisis-antwerpen", name="Crisis Antwerpen", type="crisis_centre", region="antwerpen",
                         organisation="", municipality="Antwerpen", postcode="2000", confidential=None,
                         hours_always="y", children=None, max_children="", max_child_age="",
                         refuge_place_total=None, refuge_place_available=None, family_room_total="3",
                         family_room_available="1", family_room_room_size="4", crisis_bed_total="8",
                         crisis_bed_available="2")
    for unit in world.shelter.units:
        data[f"{unit.kind.code}_version"] = str(unit.version)
    data.update(overrides)
    return data


def test_a_facility_form_does_not_overwrite_counts_changed_since_it_was_shown(app, admin_client, world):
    form = shelter_form(world)
    # Shelter staff take a bed after the admin opened the form.
    unit = next(u for u in world.shelter.units if u.kind.code == "crisis_bed")
    capacity.set_available(Actor(world.staff, "web"), unit, 1, unit.version, clock.now())
    db.session.commit()
    before = counts()

    response = admin_client.post(f"/admin/facilities/{world.shelter.id}", data={**form, "name": "Renamed"})
    assert response.status_code == 409
    body = text(response)
    assert "someone else changed these counts first" in error_next_to(body, "crisis_bed_available")
    # The form now shows the counts as they are, with their new version, and keeps the rest.
    assert 'id="crisis_bed_available" name="crisis_bed_available" value="1"' in body
    assert f'name="crisis_bed_version" value="{unit.version}"' in body
    assert 'value="Renamed"' in body
    assert counts() == before
    assert db.session.get(CapacityUnit, unit.id).available == 1
    assert db.session.get(Facility, world.shelter.id).name == "Crisis Antwerpen"

    # Saving again from that form works: the admin has seen the new counts.
    response = admin_client.post(f"/admin/facilities/{world.shelter.id}",
                                 data={**form, "name": "Renamed", "crisis_bed_available": "1",
                                       "crisis_bed_version": str(unit.version)})
    assert response.status_code == 303
    assert db.session.get(Facility, world.shelter.id).name == "Renamed"
    assert db.session.get(CapacityUnit, unit.id).available == 1


def test_a_changed_unit_the_admin_left_as_it_is_now_does_not_conflict(admin_client, world):
    form = shelter_form(world)
    unit = next(u for u in world.shelter.units if u.kind.code == "crisis_bed")
    capacity.set_available(Actor(world.staff, "web"), unit, 1, unit.version, clock.now())
    db.session.commit()
    response = admin_client.post(f"/admin/facilities/{world.shelter.id}",
                                 data={**form, "crisis_bed_available": "1", "name": "Renamed"})
    assert response.status_code == 303


def test_the_facility_list_filters_by_region(admin_client, world):
    body = text(admin_client.get("/admin/facilities?region=oost-vlaanderen"))
    assert "Crisis Gent" in body and "Crisis Antwerpen" not in body
    body = text(admin_client.get("/admin/facilities"))
    assert "Crisis Gent" in body and "Crisis Antwerpen" in body
    assert admin_client.get("/admin/facilities?region=atlantis").status_code == 400
