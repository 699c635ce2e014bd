"""Risk screening on a contact (PRODUCT.md flow D, section 5 rule 11): the
shipped demonstration instrument, scoring and "not screened", the override
and its reason, the audit, the trend, high security, retention; the API and
the console's fragment; who may see the answers and who may not."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Call, PlacementRequest, RiskItem, RiskScale
from app.services.core.access import Actor
from app.services.core.errors import Forbidden, InvalidInput
from app.services.hotline import calls, risk, risk_instrument
from app.services.placement import referrals
from app.services.registry import organisations
from app.services.scheduling import retention
from tests import factories as make
from tests.api import assert_documented

HTMX = {"HX-Request": "true"}
CRITICAL_NO = {"threats_to_kill": "no", "strangling": "no", "weapon": "no"}
# 3 + 3 + 2 = 8: the demonstration set's high_at.
HIGH = {"threats_to_kill": "yes", "strangling": "yes", "weapon": "no", "escalation": "yes"}
# 2 + 2 = 4: elevated_at.
ELEVATED = {**CRITICAL_NO, "escalation": "yes", "separation": "yes"}


def actor_for(user) -> Actor:
    return Actor(user=user, source="web")


@pytest.fixture
def operator(app):
    return make.user("operator", phone="+32470000001")


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- the instrument -----------------------------------------------------------------


def test_the_migration_ships_a_demonstration_set(app):
    items, scale = risk.instrument()
    assert len(items) == 10
    assert {item.key for item in items if item.critical} == {"threats_to_kill", "strangling", "weapon"}
    assert [item.key for item in items if item.child_at_risk] == ["children_harmed"]
    assert all(set(item.labels) == {"nl", "fr", "en"} for item in items)
    assert (scale.name, scale.elevated_at, scale.high_at, scale.demonstration) == ("Demonstration set", 4, 8, True)


def test_scoring_and_not_screened(app):
    items, scale = risk.instrument()
    assert risk.assess({}, items, scale) == risk.Assessment(0, None, 0, 10, ["threats_to_kill", "strangling", "weapon"])
    # Answering everything but one critical item: still not screened, never "standard".
    partly = risk.assess({"threats_to_kill": "no", "strangling": "no"}, items, scale)
    assert (partly.computed_level, partly.missing_critical, partly.answered) == (None, ["weapon"], 2)
    assert risk.assess(CRITICAL_NO, items, scale).computed_level == "standard"
    assert risk.assess(ELEVATED, items, scale).computed_level == "elevated"
    high = risk.assess(HIGH, items, scale)
    assert (high.score, high.computed_level) == (8, "high")
    # "unknown" on a critical item counts as answered but scores nothing.
    unknown = risk.assess({**CRITICAL_NO, "weapon": "unknown"}, items, scale)
    assert (unknown.computed_level, unknown.score, unknown.answered) == ("standard", 0, 3)


# --- saving -----------------------------------------------------------------------------


def test_save_answers_records_the_level_and_audits_no_answer(app, clock, operator):
    call = make.call()
    assessment = risk.save_answers(actor_for(operator), call, ELEVATED, None, None, clock.now())
    assert (assessment.score, call.risk_score, call.risk_computed_level, call.risk_level) == (4, 4, "elevated",
                                                                                               "elevated")
    assert call.risk_answers == ELEVATED and call.risk_override_reason is None
    [event] = events("call.risk")
    assert event.details == {"source": "web", "level": "elevated", "computed_level": "elevated", "overridden": False}
    assert events("call.risk_override") == []
    # The same answers again change nothing and audit nothing.
    risk.save_answers(actor_for(operator), call, ELEVATED, None, None, clock.now())
    assert len(events("call.risk")) == 1


def test_an_override_needs_a_reason_and_wins(app, clock, operator):
    call = make.call()
    with pytest.raises(InvalidInput) as refused:
        risk.save_answers(actor_for(operator), call, ELEVATED, "high", "  ", clock.now())
    assert refused.value.field == "reason"
    assert call.risk_level is None and events("call.risk") == []

    risk.save_answers(actor_for(operator), call, ELEVATED, "high", "He is outside the house now", clock.now())
    assert (call.risk_computed_level, call.risk_level) == ("elevated", "high")
    assert call.risk_override_reason == "He is outside the house now"
    [override] = events("call.risk_override")
    assert "He is outside" not in str(override.details) and override.details["reason_length"] == 27
    assert "threats_to_kill" not in str([event.details for event in events("call.risk")])


@pytest.mark.parametrize("answers, field", [
    ({"threats_to_kill": "maybe"}, "answers"),
    ({"no_such_item": "yes"}, "answers"),
    ("yes", "answers"),
])
def test_invalid_answers_are_refused(app, clock, operator, answers, field):
    call = make.call()
    with pytest.raises(InvalidInput) as refused:
        risk.save_answers(actor_for(operator), call, answers, None, None, clock.now())
    assert refused.value.field == field


def test_admins_and_partners_may_not_screen(app, clock):
    call = make.call()
    for role in ("admin", "partner", "shelter_staff"):
        with pytest.raises(Forbidden):
            risk.save_answers(actor_for(make.user(role)), call, ELEVATED, None, None, clock.now())


def test_high_ticks_high_security_and_carries_to_open_requests(app, clock, operator):
    call = make.call()
    call.needs = {"adults": 1, "needs": ["pets"]}
    now = clock.now()
    open_request = PlacementRequest(status="open", opened_at=now, expires_at=now + timedelta(hours=72),
                                    call_id=call.id, criteria={}, excluded_facility_ids=[])
    closed_request = PlacementRequest(status="withdrawn", opened_at=now, expires_at=now + timedelta(hours=72),
                                      call_id=call.id, criteria={}, excluded_facility_ids=[], risk_level="standard")
    db.session.add_all([open_request, closed_request])
    db.session.flush()
    risk.save_answers(actor_for(operator), call, HIGH, None, None, now)
    assert call.needs == {"adults": 1, "needs": ["pets", "high_security"]}
    assert (open_request.risk_level, closed_request.risk_level) == ("high", "standard")
    risk.save_answers(actor_for(operator), call, CRITICAL_NO, None, None, now)
    assert open_request.risk_level == "standard"


def test_history_is_the_callers_earlier_levels_newest_first(app, clock, operator):
    number = "+32470555666"
    first = make.call(number)
    risk.save_answers(actor_for(operator), first, ELEVATED, None, None, clock.now())
    first.status = "completed"
    clock.advance(days=2)
    second = make.call(number)
    risk.save_answers(actor_for(operator), second, HIGH, None, None, clock.now())
    second.status = "completed"
    clock.advance(days=2)
    third = make.call(number)
    assert [(entry["call_id"], entry["level"]) for entry in risk.history(third)] == [(second.id, "high"),
                                                                                     (first.id, "elevated")]
    assert risk.history(make.call()) == []


def test_child_at_risk_and_child_protection(app, clock, operator):
    call = make.call()
    assert not risk.child_at_risk(call)
    risk.save_answers(actor_for(operator), call, {**CRITICAL_NO, "children_harmed": "yes"}, None, None, clock.now())
    assert risk.child_at_risk(call)
    organisations.save(make.SETUP, clock.now(), name="Vertrouwenscentrum", slug="vk", kind="child_protection",
                       region_slug=None, phone=None, email=None)
    organisations.save(make.SETUP, clock.now(), name="Politie", slug="pz", kind="police_zone", region_slug=None,
                       phone=None, email=None)
    assert [organisation.name for organisation in risk.child_protection_organisations()] == ["Vertrouwenscentrum"]


def test_the_live_list_puts_unanswered_first_then_by_level(app, clock, operator):
    standard, high, unscreened = make.call(), make.call(), make.call()
    clock.advance(minutes=1)
    taken = make.call()
    taken.operator_id = operator.id
    risk.save_answers(actor_for(operator), taken, HIGH, None, None, clock.now())
    risk.save_answers(actor_for(operator), standard, CRITICAL_NO, None, None, clock.now())
    risk.save_answers(actor_for(operator), high, HIGH, None, None, clock.now())
    rows = calls.live(clock.now(), sms_window=timedelta(hours=24))
    assert [row.id for row in rows] == [high.id, unscreened.id, standard.id, taken.id]


def test_a_ringing_call_leads_even_a_high_risk_voicemail(app, clock, operator):
    voicemail = make.call()
    risk.save_answers(actor_for(operator), voicemail, HIGH, None, None, clock.now())
    voicemail.channel, voicemail.status, voicemail.voicemail_status = "voice", "voicemail", "unheard"
    clock.advance(minutes=5)
    ringing = make.call()
    ringing.channel, ringing.status = "voice", "ringing"
    db.session.flush()
    rows = calls.live(clock.now(), sms_window=timedelta(hours=24))
    assert [row.id for row in rows] == [ringing.id, voicemail.id]


def test_retention_blanks_the_answers_and_keeps_the_level(app, clock, operator):
    call = make.call()
    risk.save_answers(actor_for(operator), call, HIGH, "elevated", "judgement", clock.now())
    clock.advance(days=app.config["RETENTION_DAYS_CALL_NOTES"] + 1)
    young = make.call()
    risk.save_answers(actor_for(operator), young, HIGH, "elevated", "judgement", clock.now())
    db.session.commit()
    retention.purge(clock.now())
    db.session.expire_all()
    assert (call.risk_answers, call.risk_override_reason) == ({}, None)
    assert (call.risk_score, call.risk_level) == (8, "elevated")
    assert (young.risk_answers, young.risk_override_reason) == (HIGH, "judgement")


# --- the API ---------------------------------------------------------------------------


def signed_in_client(app, role):
    client = app.test_client()
    user = make.user(role)
    db.session.commit()
    make.login(client, user)
    return client


def test_api_risk_items_and_put(app, clock):
    call = make.call()
    client = signed_in_client(app, "operator")
    items = assert_documented(client.get("/api/v1/risk-items"), "/api/v1/risk-items")
    assert items[0] == {"key": "threats_to_kill", "label": "Has the partner threatened to kill them?", "weight": 3,
                        "critical": True, "child_at_risk": False}
    response = client.put(f"/api/v1/calls/{call.id}/risk", json={"answers": ELEVATED, "level": "high",
                                                                   "reason": "judgement"})
    body = assert_documented(response, "/api/v1/calls/{call_id}/risk", "put")
    assert {k: body[k] for k in ("score", "computed_level", "level", "overridden", "answered", "total")} == {
        "score": 4, "computed_level": "elevated", "level": "high", "overridden": True, "answered": 5, "total": 10}
    assert body["answers"] == ELEVATED and body["history"] == []
    listed = client.get("/api/v1/calls").get_json()
    assert {row["id"]: row["risk_level"] for row in listed}[call.id] == "high"


@pytest.mark.parametrize("body, field", [
    ({"answers": {"weapon": "perhaps"}}, "answers"),
    ({"answers": {"nope": "yes"}}, "answers"),
    ({"answers": ELEVATED, "level": "high"}, "reason"),
    ({"answers": ELEVATED, "level": "extreme", "reason": "x"}, "level"),
])
def test_api_put_refuses_bad_input_writing_nothing(app, body, field):
    call = make.call()
    client = signed_in_client(app, "manager")
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    response = client.put(f"/api/v1/calls/{call.id}/risk", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field
    db.session.expire_all()
    assert db.session.get(Call, call.id).risk_answers == {}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


@pytest.mark.parametrize("role", ["partner", "shelter_staff", "admin"])
def test_api_refuses_who_may_not_see_answers(app, role):
    call = make.call()
    client = signed_in_client(app, role)
    assert client.put(f"/api/v1/calls/{call.id}/risk", json={"answers": ELEVATED}).status_code == 403
    assert client.get("/api/v1/risk-items").status_code == 403
    db.session.expire_all()
    assert db.session.get(Call, call.id).risk_answers == {}


def test_api_unknown_call_is_404(app):
    client = signed_in_client(app, "operator")
    response = client.put("/api/v1/calls/999999/risk", json={"answers": {}})
    assert response.status_code == 404


# --- the console --------------------------------------------------------------------------


def test_the_fragment_answers_with_the_new_level(app):
    call = make.call()
    client = signed_in_client(app, "operator")
    page = client.get(f"/console/calls/{call.id}").get_data(as_text=True)
    assert 'id="risk"' in page and "not screened" in page and "Demonstration, not validated" in page
    form = {f"risk-{key}": value for key, value in HIGH.items()}
    response = client.post(f"/console/calls/{call.id}/risk", data=form, headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="risk"' in fragment and "<html" not in fragment
    assert 'data-risk="high"' in fragment and "4 of 10 answered" in fragment
    refused = client.post(f"/console/calls/{call.id}/risk", data={**form, "level": "standard"}, headers=HTMX)
    assert refused.status_code == 400 and 'role="alert"' in refused.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Call, call.id).risk_level == "high"
    live = client.get("/console/live").get_data(as_text=True)
    assert "▲ high risk" in live


def test_the_child_at_risk_prompt_refers_in_one_click(app, clock):
    call = make.call()
    organisation = organisations.save(make.SETUP, clock.now(), name="Vertrouwenscentrum", slug="vk",
                                      kind="child_protection", region_slug=None, phone=None, email=None)
    client = signed_in_client(app, "operator")
    form = {f"risk-{key}": value for key, value in {**CRITICAL_NO, "children_harmed": "yes"}.items()}
    fragment = client.post(f"/console/calls/{call.id}/risk", data=form, headers=HTMX).get_data(as_text=True)
    assert "Child at risk: refer to child protection." in fragment
    response = client.post(f"/console/calls/{call.id}/child-protection", data={"organisation_id": organisation.id},
                           headers=HTMX)
    assert response.status_code == 200 and "Referred to Vertrouwenscentrum." in response.get_data(as_text=True)


def test_admins_see_no_answers_and_exports_carry_none(app, clock, operator):
    call = make.call()
    risk.save_answers(actor_for(operator), call, HIGH, "elevated", "Secret judgement note", clock.now())
    db.session.commit()
    admin = signed_in_client(app, "admin")
    page = admin.get(f"/console/calls/{call.id}").get_data(as_text=True)
    assert 'id="risk"' not in page and "Secret judgement" not in page
    assert "partner threatened" not in page
    csv_text = admin.get("/console/log.csv").get_data(as_text=True)
    assert "threats_to_kill" not in csv_text and "Secret judgement" not in csv_text
    partner = signed_in_client(app, "partner")
    assert partner.get(f"/console/calls/{call.id}").status_code == 403
    assert partner.get("/api/v1/calls").status_code == 403


def test_the_instrument_rows_are_restored_after_each_test(app):
    db.session.execute(RiskItem.__table__.delete())
    db.session.execute(RiskScale.__table__.delete())
    db.session.commit()
    assert risk.instrument() == ([], None)


def test_the_instrument_is_back(app):
    items, scale = risk.instrument()
    assert len(items) == 10 and scale is not None


# --- the instrument as admins change it ---------------------------------------------------


def test_a_deactivated_item_keeps_its_answers_but_leaves_new_scores(app, clock, operator):
    call = make.call()
    risk.save_answers(actor_for(operator), call, ELEVATED, None, None, clock.now())
    admin = make.user("admin")
    separation = db.session.scalar(select(RiskItem).where(RiskItem.key == "separation"))
    risk_instrument.save_item(actor_for(admin), clock.now(), item=separation, key=None, labels=separation.labels,
                              weight=2, critical=False, child_at_risk=False, active=False, position=5)
    assert call.risk_answers["separation"] == "yes"  # kept
    assessment = risk.assessment_of(call)
    assert (assessment.score, assessment.computed_level, assessment.total) == (2, "standard", 9)
    with pytest.raises(Forbidden):
        risk_instrument.save_scale(actor_for(operator), clock.now(), name="x", elevated_at=1, high_at=2,
                                   validated=True)


# --- the level beside holds and referrals -------------------------------------------------


def child_protection(now):
    return organisations.save(make.SETUP, now, slug="kinderbescherming-test", name="Kinderbescherming",
                              kind="child_protection")


@pytest.fixture
def high_risk_hold(app, clock, operator):
    shelter = make.facility("vluchthuis-risk", units={"crisis_bed": (8, 2)})
    call = make.call()
    risk.save_answers(actor_for(operator), call, HIGH, None, None, clock.now())
    hold = make.hold(shelter.units[0], operator, call_id=call.id)
    db.session.commit()
    return hold


def test_an_operator_sees_the_level_of_a_holds_contact(app, high_risk_hold, operator):
    client = app.test_client()
    make.login(client, operator)
    page = client.get("/holds").get_data(as_text=True)
    assert page.count('data-risk="high"') == 1
    # And beside the contact's referrals on the console.
    now = high_risk_hold.created_at
    referrals.create(actor_for(operator), now, organisation_id=child_protection(now).id, call_id=high_risk_hold.call_id)
    db.session.commit()
    call_page = client.get(f"/console/calls/{high_risk_hold.call_id}").get_data(as_text=True)
    assert 'class="linked referrals-of-call"' in call_page
    listed = call_page.split('class="linked referrals-of-call"')[1].split("</ul>")[0]
    assert 'data-risk="high"' in listed


@pytest.mark.parametrize("role", ["partner", "shelter_staff"])
def test_partners_and_facility_staff_never_see_a_level(app, clock, high_risk_hold, role):
    facility = high_risk_hold.unit.facility
    user = make.user(role, facilities_=[facility] if role == "shelter_staff" else ())
    db.session.commit()
    client = app.test_client()
    make.login(client, user)
    pages = ["/holds", "/placement/"] if role == "partner" else ["/shelter/", f"/shelter/{facility.id}"]
    for path in pages:
        response = client.get(path, follow_redirects=True)
        body = response.get_data(as_text=True).lower()
        assert "data-risk" not in body, path
        assert "high risk" not in body and "elevated risk" not in body, path


# --- never in messages or files (rule 11) ---------------------------------------------------


def test_no_message_or_file_carries_the_answers_or_the_reason(app, clock, runner, operator):
    from app.models import OutboxMessage
    from app.services.hotline import conversations
    from app.services.scheduling.jobs import JOBS

    reason = "Zebrapaardverhaal-7731"  # nothing else writes this
    manager = make.user("manager", regions=[make.region()], phone="+32470000002")
    shelter = make.facility("vluchthuis-leak", units={"crisis_bed": (8, 2)})
    make.user("shelter_staff", facilities_=[shelter], phone="+32470000003")
    call = make.call()
    risk.save_answers(actor_for(operator), call, HIGH, "high", reason, clock.now())
    make.hold(shelter.units[0], operator, call_id=call.id, minutes=5)
    referrals.create(actor_for(operator), clock.now(), organisation_id=child_protection(clock.now()).id,
                     call_id=call.id)
    conversations.reply(actor_for(manager), call, "We zoeken een plaats.", clock.now())
    db.session.commit()
    for _hours in range(30):  # holds expire, alerts and the daily digest come due
        clock.advance(hours=1)
        for job in JOBS:
            if job.id != "purge_retention":
                job.function(clock.now())
                db.session.commit()

    secrets = [reason, *HIGH]  # the reason and the items' keys
    texts = [f"{m.subject or ''} {m.body}" for m in db.session.scalars(select(OutboxMessage))]
    assert texts, "the run wrote no message to look at"
    client = app.test_client()
    make.login(client, operator)
    texts.append(client.get("/console/log.csv").get_data(as_text=True))
    texts.append(runner.invoke(args=["facilities", "export", "--include-confidential"]).output)
    labels = [label for item in db.session.scalars(select(RiskItem)) for label in item.labels.values()]
    for written in texts:
        assert not any(secret in written for secret in secrets + labels), written


# --- the API after the retention purge ----------------------------------------------------


def test_overridden_stays_true_after_the_purge(app, clock, operator):
    call = make.call()
    risk.save_answers(actor_for(operator), call, CRITICAL_NO, "high", "Her partner was released today.",
                      clock.now())
    same = make.call()
    risk.save_answers(actor_for(operator), same, ELEVATED, None, None, clock.now())
    assert risk.overridden(call) and not risk.overridden(same)
    call.risk_override_reason = None  # what the retention purge leaves
    call.risk_answers = {}
    assert risk.overridden(call)
    assert not risk.overridden(same)
