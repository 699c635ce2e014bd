"""API v1, the registry: regions, facilities, units and their history."""

from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, CapacityChange, CapacityUnit
from tests import factories as make
from tests.api import assert_documented, call


@pytest.fixture
def reg(app, clock):
    shelter = make.facility("crisis-antwerpen", name="Crisis Antwerpen",
                            units={"crisis_bed": (8, 2), "family_room": (3, 1, 4)})
    refuge = make.facility("vluchthuis-antwerpen", name="Vluchthuis Antwerpen", type="refuge",
                           confidential="yes", street="Geheime straat 7", lat=51.2, lon=4.41,
                           units={"refuge_place": (6, 3)})
    closed = make.facility("crisis-gent", region_slug="oost-vlaanderen", municipality="Gent", postcode="9000",
                           units={"crisis_bed": (5, 5)}, open_for_intake="no", closed_reason="Water damage")
    people = SimpleNamespace(
        staff=make.user("shelter_staff", facilities_=[shelter]),
        refuge_staff=make.user("shelter_staff", facilities_=[refuge]),
        operator=make.user("operator"),
        manager=make.user("manager", regions=[make.region("antwerpen")]),
        partner=make.user("partner"),
        admin=make.user("admin"),
    )
    db.session.commit()
    tokens = SimpleNamespace(**{name: make.token_for(u) for name, u in vars(people).items()})
    db.session.commit()
    return SimpleNamespace(shelter=shelter, refuge=refuge, closed=closed, people=people, tokens=tokens)


def unit_of(facility, code):
    return next(u for u in facility.units if u.kind.code == code)


def history_count():
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(CapacityChange))


# --- reading ---------------------------------------------------------------


def test_regions_sum_capacity_per_kind_and_closed_facilities_have_nothing_free(client, reg):
    body = assert_documented(call(client, "GET", "/api/v1/regions", reg.tokens.operator), "/api/v1/regions")
    by_slug = {r["slug"]: r for r in body}
    antwerpen = by_slug["antwerpen"]["capacity"]
    assert antwerpen["crisis_bed"] == {"total": 8, "available": 2, "held": 0, "free": 2}
    assert antwerpen["family_room"] == {"total": 3, "available": 1, "held": 0, "free": 1}
    assert antwerpen["refuge_place"] == {"total": 6, "available": 3, "held": 0, "free": 3}
    # Gent is closed for intake: its five available beds are not free.
    assert by_slug["oost-vlaanderen"]["capacity"]["crisis_bed"] == {"total": 5, "available": 5, "held": 0, "free": 0}


def test_regions_count_stale_facilities(client, reg, clock):
    body = call(client, "GET", "/api/v1/regions", reg.tokens.operator).get_json()
    assert all(r["stale_facilities"] == 0 for r in body)
    clock.advance(hours=13)  # past the default stale_after of 12 h
    body = call(client, "GET", "/api/v1/regions", reg.tokens.operator).get_json()
    assert {r["slug"]: r["stale_facilities"] for r in body} == {"antwerpen": 2, "oost-vlaanderen": 1}


def test_shelter_staff_see_only_their_own_region(client, reg):
    body = call(client, "GET", "/api/v1/regions", reg.tokens.staff).get_json()
    assert [r["slug"] for r in body] == ["antwerpen"]
    response = call(client, "GET", "/api/v1/facilities?region=oost-vlaanderen", reg.tokens.staff)
    assert_documented(response, "/api/v1/facilities")
    assert response.status_code == 403
    assert call(client, "GET", f"/api/v1/facilities/{reg.closed.id}", reg.tokens.staff).status_code == 403


def test_facilities_filter_by_region_and_kind(client, reg):
    response = call(client, "GET", "/api/v1/facilities?region=antwerpen&kind=family_room", reg.tokens.operator)
    body = assert_documented(response, "/api/v1/facilities")
    assert [f["slug"] for f in body] == ["crisis-antwerpen"]
    units = {u["kind"]: u for u in body[0]["units"]}
    assert units["crisis_bed"]["free"] == 2 and units["crisis_bed"]["version"] == 1
    assert units["family_room"]["room_size"] == 4
    assert body[0]["open_now"] is True and body[0]["intake_hours"]["always"] is True


@pytest.mark.parametrize("query, field", [
    ("region=nowhere", "region"),
    ("kind=sofa", "kind"),
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("limit=ten", "limit"),
    ("cursor=-3", "cursor"),
])
def test_facilities_reject_bad_filters_naming_the_field(client, reg, query, field):
    response = call(client, "GET", f"/api/v1/facilities?{query}", reg.tokens.operator)
    body = assert_documented(response, "/api/v1/facilities")
    assert response.status_code == 400
    assert body["error"]["field"] == field


def test_facilities_page_with_a_next_link(client, reg):
    first = call(client, "GET", "/api/v1/facilities?limit=2", reg.tokens.operator)
    assert len(first.get_json()) == 2
    link = first.headers["Link"]
    assert link.endswith('rel="next"')
    next_url = link[link.index("<") + 1 : link.index(">")]
    second = call(client, "GET", next_url, reg.tokens.operator)
    assert len(second.get_json()) == 1
    assert "Link" not in second.headers
    seen = [f["id"] for f in first.get_json() + second.get_json()]
    assert sorted(seen) == seen and len(set(seen)) == 3


def test_unknown_facility_is_404(client, reg):
    response = call(client, "GET", "/api/v1/facilities/99999", reg.tokens.operator)
    assert response.status_code == 404
    assert_documented(response, "/api/v1/facilities/{facility_id}")


def test_history_newest_first_with_paging(client, reg, clock):
    unit = unit_of(reg.shelter, "crisis_bed")
    for value in (3, 4, 5):
        clock.advance(minutes=1)
        version = call(client, "GET", f"/api/v1/facilities/{reg.shelter.id}", reg.tokens.staff).get_json()
        current = next(u for u in version["units"] if u["id"] == unit.id)["version"]
        assert call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.staff,
                    json={"available": value, "version": current}).status_code == 200
    response = call(client, "GET", f"/api/v1/units/{unit.id}/history?limit=2", reg.tokens.operator)
    body = assert_documented(response, "/api/v1/units/{unit_id}/history")
    assert [(c["before"], c["after"], c["source"]) for c in body] == [(4, 5, "api"), (3, 4, "api")]
    assert body[0]["actor"] == reg.people.staff.name
    assert body[0]["at"].endswith("+01:00")  # local time in Brussels, with its offset
    next_url = response.headers["Link"].split(";")[0].strip("<>")
    rest = call(client, "GET", next_url, reg.tokens.operator).get_json()
    assert [(c["before"], c["after"]) for c in rest] == [(2, 3), (0, 2)]


def test_history_shows_who_and_why_only_to_the_hotline_admins_and_the_facilitys_staff(client, reg):
    unit = unit_of(reg.shelter, "crisis_bed")
    assert call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.staff,
                json={"available": 3, "version": 1, "note": "Mevrouw X kwam binnen"}).status_code == 200
    path, template = f"/api/v1/units/{unit.id}/history", "/api/v1/units/{unit_id}/history"
    for who in ("operator", "manager", "admin", "staff"):
        latest = assert_documented(call(client, "GET", path, getattr(reg.tokens, who)), template)[0]
        assert (latest["actor"], latest["note"]) == (reg.people.staff.name, "Mevrouw X kwam binnen"), who
    for who in ("partner", "refuge_staff"):  # counts and times only
        response = call(client, "GET", path, getattr(reg.tokens, who))
        latest = assert_documented(response, template)[0]
        assert (latest["before"], latest["after"], latest["actor"], latest["note"]) == (2, 3, None, None), who
        assert reg.people.staff.name not in response.get_data(as_text=True), who



def test_who_updated_a_unit_shows_only_to_the_hotline_admins_and_the_facilitys_staff(client, reg):
    unit = unit_of(reg.shelter, "crisis_bed")
    assert call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.staff,
                json={"available": 3, "version": 1}).status_code == 200
    path, template = f"/api/v1/facilities/{reg.shelter.id}", "/api/v1/facilities/{facility_id}"

    def updated_by(who):
        body = assert_documented(call(client, "GET", path, getattr(reg.tokens, who)), template)
        return next(each["updated_by"] for each in body["units"] if each["id"] == unit.id)

    for who in ("operator", "manager", "admin", "staff"):
        assert updated_by(who) == reg.people.staff.name, who
    for who in ("partner", "refuge_staff"):
        assert updated_by(who) is None, who

def test_a_confidential_facilitys_postcode_only_with_its_address(client, reg):
    path = "/api/v1/facilities/{facility_id}"
    for who in ("partner", "operator", "manager", "staff"):
        refuge = assert_documented(call(client, "GET", f"/api/v1/facilities/{reg.refuge.id}",
                                        getattr(reg.tokens, who)), path)
        assert (refuge["postcode"], refuge["municipality"]) == (None, "Antwerpen"), who
        shelter = call(client, "GET", f"/api/v1/facilities/{reg.shelter.id}", getattr(reg.tokens, who)).get_json()
        assert shelter["postcode"] == "2000", who
    for who in ("refuge_staff", "admin"):
        refuge = assert_documented(call(client, "GET", f"/api/v1/facilities/{reg.refuge.id}",
                                        getattr(reg.tokens, who)), path)
        assert refuge["postcode"] == refuge["address"]["postcode"] == "2000", who


# --- changing a count ------------------------------------------------------


def test_patch_sets_available_bumps_version_and_writes_history_and_audit(client, reg, clock):
    unit = unit_of(reg.shelter, "crisis_bed")
    response = call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.staff,
                    json={"available": 3, "version": 1, "note": "one left this morning"})
    body = assert_documented(response, "/api/v1/units/{unit_id}", "patch")
    assert response.status_code == 200
    assert body["available"] == 3 and body["free"] == 3 and body["version"] == 2
    assert body["updated_by"] == reg.people.staff.name and body["stale"] is False
    db.session.rollback()
    change = db.session.scalars(select(CapacityChange).order_by(CapacityChange.id.desc())).first()
    assert (change.unit_id, change.before, change.after, change.source, change.note) == (
        unit.id, 2, 3, "api", "one left this morning")
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "capacity.set", AuditEvent.object_id == unit.id)) == 1


def test_patch_with_a_stale_version_is_409_with_the_current_unit(client, reg):
    unit = unit_of(reg.shelter, "crisis_bed")
    assert call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.staff,
                json={"available": 3, "version": 1}).status_code == 200
    before = history_count()
    response = call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.admin, json={"available": 1, "version": 1})
    body = assert_documented(response, "/api/v1/units/{unit_id}", "patch")
    assert response.status_code == 409
    assert body["error"]["code"] == "conflict"
    assert body["unit"]["available"] == 3 and body["unit"]["version"] == 2
    assert history_count() == before


@pytest.mark.parametrize("payload, field", [
    ({"available": -1, "version": 1}, "available"),
    ({"available": 9, "version": 1}, "available"),
    ({"available": "three", "version": 1}, "available"),
    ({"available": 2.5, "version": 1}, "available"),
    ({"available": True, "version": 1}, "available"),
    ({"available": None, "version": 1}, "available"),
    ({"version": 1}, "available"),
    ({"available": 3}, "version"),
    ({"available": 3, "version": "x"}, "version"),
    ({"available": 3, "version": 1, "note": 12}, "note"),
    ({"available": 3, "version": 1, "note": "x" * 501}, "note"),
    ([3, 1], "body"),
])
def test_patch_rejects_bad_input_naming_the_field_and_writes_nothing(client, reg, payload, field):
    unit = unit_of(reg.shelter, "crisis_bed")
    before = history_count()
    response = call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.staff, json=payload)
    body = assert_documented(response, "/api/v1/units/{unit_id}", "patch")
    assert response.status_code == 400
    assert body["error"]["field"] == field
    assert history_count() == before
    assert db.session.get(CapacityUnit, unit.id).available == 2


def test_patch_rejects_a_body_that_is_not_json(client, reg):
    unit = unit_of(reg.shelter, "crisis_bed")
    response = call(client, "PATCH", f"/api/v1/units/{unit.id}", reg.tokens.staff, data="available=3",
                    content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "body"


@pytest.mark.parametrize("who", ["refuge_staff", "operator", "manager", "partner"])
def test_patch_by_someone_who_may_not_change_this_facility_is_403(client, reg, who):
    unit = unit_of(reg.shelter, "crisis_bed")
    before = history_count()
    response = call(client, "PATCH", f"/api/v1/units/{unit.id}", getattr(reg.tokens, who),
                    json={"available": 3, "version": 1})
    assert_documented(response, "/api/v1/units/{unit_id}", "patch")
    assert response.status_code == 403
    assert history_count() == before
    assert db.session.get(CapacityUnit, unit.id).version == 1


def test_patch_of_an_unknown_unit_is_404(client, reg):
    response = call(client, "PATCH", "/api/v1/units/99999", reg.tokens.admin, json={"available": 1, "version": 1})
    assert_documented(response, "/api/v1/units/{unit_id}", "patch")
    assert response.status_code == 404


@pytest.mark.parametrize("path, method", [
    ("/api/v1/regions", "GET"),
    ("/api/v1/facilities", "GET"),
    ("/api/v1/facilities/1", "GET"),
    ("/api/v1/units/1", "PATCH"),
    ("/api/v1/units/1/history", "GET"),
])
@pytest.mark.parametrize("token", [None, "opv_not-a-token"])
def test_no_or_bad_token_is_401_in_json(client, reg, path, method, token):
    response = call(client, method, path, token, json={"available": 1, "version": 1})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_a_revoked_token_is_401(client, reg, clock):
    from app.services.accounts import users
    from tests.factories import SETUP

    users.revoke_sessions_and_tokens(SETUP, reg.people.operator, clock.now())
    db.session.commit()
    assert call(client, "GET", "/api/v1/regions", reg.tokens.operator).status_code == 401
