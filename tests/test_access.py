"""The decisions in app.services.core.access, each with someone it allows and
someone it refuses, for users made as an admin would make them."""

from types import SimpleNamespace

import pytest

from app import clock
from app.models import Referral
from app.services.accounts import users
from app.services.core import access
from app.services.core.access import Actor
from tests import factories as make


@pytest.fixture
def w(app):
    antwerpen = make.region("antwerpen")
    gent = make.region("gent")
    own = make.facility("own-shelter")
    other = make.facility("other-shelter", region_slug="gent")
    return SimpleNamespace(
        antwerpen=antwerpen, gent=gent, own=own, other=other,
        operator=make.user("operator"),
        manager=make.user("manager", regions=[gent]),
        admin=make.user("admin"),
        partner=make.user("partner"),
        staff=make.user("shelter_staff", facilities_=[own]),
        # A night manager who is also a partner contact is the hotline, not a partner.
        manager_partner=make.user("manager", "partner", regions=[gent]),
    )


def test_a_partner_is_one_with_no_hotline_role(w):
    assert access.is_partner(w.partner)
    assert not access.is_partner(w.manager_partner)
    assert not access.is_partner(w.operator)
    assert not access.is_partner(None)


def test_holds_and_referrals_are_seen_whole_by_the_hotline_by_facility_for_staff(w):
    assert access.visible_placement_facility_ids(w.operator) is None
    assert access.visible_placement_facility_ids(w.admin) is None
    assert access.visible_placement_facility_ids(w.staff) == {w.own.id}
    assert access.visible_placement_facility_ids(w.partner) == set()


def test_staff_see_the_referrals_to_their_facility_partners_those_they_made(w):
    to_own = Referral(facility_id=w.own.id, created_by_id=w.operator.id)
    to_other = Referral(facility_id=w.other.id, created_by_id=w.partner.id)
    assert access.may_see_referral(w.staff, to_own)
    assert not access.may_see_referral(w.staff, to_other)
    assert access.may_see_referral(w.partner, to_other)
    assert not access.may_see_referral(w.partner, to_own)


def test_the_call_of_a_hold_shows_to_the_hotline_and_staff_never_to_partners(w):
    assert access.sees_hold_call(w.operator)
    assert access.sees_hold_call(w.staff)
    assert not access.sees_hold_call(w.partner)


def test_a_referrals_call_and_note_show_to_partners_only_for_their_own(w):
    theirs = Referral(created_by_id=w.partner.id)
    the_hotlines = Referral(created_by_id=w.operator.id)
    assert access.sees_referral_call_and_note(w.staff, the_hotlines)
    assert access.sees_referral_call_and_note(w.partner, theirs)
    assert not access.sees_referral_call_and_note(w.partner, the_hotlines)


def test_a_turn_aways_call_and_note_show_to_the_hotline_only(w):
    assert access.sees_turn_away_call_and_note(w.manager)
    assert not access.sees_turn_away_call_and_note(w.staff)
    assert not access.sees_turn_away_call_and_note(w.partner)


def test_turn_aways_are_listed_in_all_regions_by_operators_in_their_own_by_managers(w):
    assert access.turn_away_region_ids(w.operator) is None
    assert access.turn_away_region_ids(w.admin) is None
    assert access.turn_away_region_ids(w.manager) == {w.gent.id}
    assert access.turn_away_region_ids(w.partner) == set()
    assert access.turn_away_region_ids(None) == set()


def test_operators_switch_their_own_duty_admins_anyones(w):
    other_operator = make.user("operator")
    assert access.may_switch_duty(Actor(user=w.operator, source="web"), w.operator)
    assert access.may_switch_duty(Actor(user=w.admin, source="web"), w.operator)
    assert not access.may_switch_duty(Actor(user=other_operator, source="web"), w.operator)
    assert not access.may_switch_duty(Actor(user=w.manager, source="web"), w.operator)
    assert not access.may_switch_duty(access.SYSTEM, w.operator)


def test_only_operators_go_on_duty(w):
    assert access.may_go_on_duty(w.operator)
    assert not access.may_go_on_duty(w.manager)


def test_alerts_are_seen_in_all_regions_by_admins_in_their_own_by_managers(w):
    assert access.alert_region_ids(w.admin) is None
    assert access.alert_region_ids(w.manager) == {w.gent.id}
    assert access.alert_region_ids(w.operator) == set()


def test_active_managers_and_admins_edit_alert_rules(w):
    assert access.may_edit_alert_rules(w.manager)
    assert access.may_edit_alert_rules(w.admin)
    assert not access.may_edit_alert_rules(w.operator)
    assert not access.may_edit_alert_rules(None)
    users.set_active(make.SETUP, w.manager, False, clock.now())
    assert not access.may_edit_alert_rules(w.manager)


def test_hold_lists_switch_to_every_hold_for_operators_and_managers(w):
    assert w.manager.has_role(*access.ALL_HOLDS_LISTERS)
    assert not w.partner.has_role(*access.ALL_HOLDS_LISTERS)
