"""The permission matrix: every route of `app.url_map`, every method, for each
role of PRODUCT.md section 2, seen from one world (tests/world.py): what
each is answered is in one table, EXPECTED, keyed by endpoint. A new route
without an entry fails `test_every_route_has_an_entry`.

A refusal is a 401 (the API), a redirect to sign in (pages) or a 403 that
says why, and a refused write changes no row of any table. A role that may
is let through: no 401, 403 or sign-in, and no server error. Writes are sent
with no body, or the least body that reaches the permission check; what a
write does when allowed is tested elsewhere.
"""

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from app.extensions import db
from tests import world as make_world
from tests.world import ROLES

SIGN_IN = "sent to sign in"  # 302 to /login
OK = "let through"  # neither 401, 403 nor sent to sign in; no server error, and a page opens (below 400)
REFUSALS = (401, 403, SIGN_IN)
SIGNED_IN = ROLES[1:]


def _table(anonymous, refused, allowed) -> dict[str, object]:
    assert set(allowed) <= set(SIGNED_IN), f"no such role: {set(allowed) - set(SIGNED_IN)}"
    return {"anonymous": anonymous, **{role: OK if role in allowed else refused for role in SIGNED_IN}}


def page(*allowed):
    """A page or form: anonymous users are sent to sign in, other roles get 403."""
    return _table(SIGN_IN, 403, allowed)


def api(*allowed):
    """An API endpoint: anonymous callers get 401, other roles 403."""
    return _table(401, 403, allowed)


def public():
    return _table(OK, OK, SIGNED_IN)


def webhook():
    """Twilio's webhooks answer an unsigned request 403, whoever sends it."""
    return _table(403, 403, ())


# Roles by what they may (PRODUCT.md section 2). "own_staff" works at the
# refuge and the relief point, "other_staff" at another facility of Antwerpen;
# "manager" manages Antwerpen, "other_manager" Limburg.
EVERYONE = SIGNED_IN
HOTLINE = ("operator", "other_manager", "manager", "admin")  # see calls and the outbox
CALL_WORKERS = ("operator", "other_manager", "manager")  # work a call; admins only look
SEARCHERS = ("partner", "operator", "other_manager", "manager", "admin")
HOLDERS = ("partner", "operator", "other_manager", "manager")  # "My holds"
HOLD_CLOSERS = ("operator", "other_manager", "manager", "own_staff", "admin")  # someone else's hold
FACILITY = ("own_staff", "admin")  # change the refuge and the relief point
ALERT_READERS = ("other_manager", "manager", "admin")  # alerts and rules of their own regions
REGION = ("manager", "admin")  # Antwerpen's alert and rule
STATISTICS_READERS = ("other_manager", "manager", "admin")  # of their own regions
TURN_AWAY_RECORDERS = ("operator", "other_manager", "manager")
REQUEST_KEEPERS = ("operator", "other_manager", "manager")

EXPECTED = {
    "static": public(),
    "main.healthz": public(),
    "main.index": page(*EVERYONE),
    "auth.login": public(),
    "auth.language": public(),
    # Signed in, signing out ends on the sign-in page (302 too).
    "auth.logout": _table(SIGN_IN, 302, ()),
    "dashboard.index": page(*EVERYONE),
    # Capacity and facilities: everyone signed in, within the regions they see.
    "api.openapi": public(),
    "api.regions": api(*EVERYONE),
    "api.facility_list": api(*EVERYONE),
    "api.facility_detail": api(*EVERYONE),
    "api.unit_history": api(*EVERYONE),
    "api.update_unit": api(*FACILITY),
    # The shelter pages: staff of the facility, and admins.
    "shelter.index": page("other_staff", "own_staff", "admin"),
    "shelter.facility": page(*FACILITY),
    "shelter.facility_holds": page(*FACILITY),
    "shelter.hold_action": page(*FACILITY),
    "shelter.hold_answer": page("own_staff"),
    "shelter.confirm": page(*FACILITY),
    "shelter.intake": page(*FACILITY),
    "shelter.update_unit": page(*FACILITY),
    "shelter.referral_status": page(*FACILITY),
    # Placement: search, hold, refer. The world's hold is the operator's.
    "placement.search_page": page(*SEARCHERS),
    "placement.search": page(*SEARCHERS),
    "placement.search_for_call": page(*HOTLINE),
    "placement.hold": page(*SEARCHERS),
    "placement.turn_aways": page(*HOTLINE),
    "placement.record_turn_away": page(*TURN_AWAY_RECORDERS),
    "placement.file_request": page(*REQUEST_KEEPERS),
    "api.placement_search": api(*SEARCHERS),
    "api.turn_away_list": api(*HOTLINE),
    "api.record_turn_away": api(*TURN_AWAY_RECORDERS),
    # The waiting list: the desk's (operators, managers), one national list.
    "api.file_placement_request": api(*REQUEST_KEEPERS),
    "api.placement_request_list": api(*REQUEST_KEEPERS),
    "api.placement_request_detail": api(*REQUEST_KEEPERS),
    "api.withdraw_placement_request": api(*REQUEST_KEEPERS),
    "api.take_placement_offer": api(*REQUEST_KEEPERS),
    "api.decline_placement_offer": api(*REQUEST_KEEPERS),
    "holds.index": page(*HOLDERS),
    # Not the partner: not theirs. Staff and admins act on the shelter page.
    "holds.act": page("operator", "other_manager", "manager"),
    "api.hold_list": api(*EVERYONE),
    # Admins hold places through the search and the API, but have no "My holds".
    "api.create_hold": api(*SEARCHERS),
    "api.confirm_hold": api(*HOLD_CLOSERS),
    "api.release_hold": api(*HOLD_CLOSERS),
    # Only the facility's own staff answer a hold (a requested one: accept).
    "api.accept_hold": api("own_staff"),
    "api.decline_hold": api("own_staff"),
    "api.extend_hold": api(*HOLD_CLOSERS),
    "api.referral_list": api(*EVERYONE),
    "api.create_referral": api(*SEARCHERS),
    "api.update_referral": api(*FACILITY),  # the referral goes to the relief point
    # The hotline console: operators, managers and admins; admins do not work calls.
    "console.index": page(*HOTLINE),
    "console.live": page(*HOTLINE),
    "console.duty": page(*HOTLINE),
    "console.call": page(*HOTLINE),
    "console.conversation": page(*HOTLINE),
    "console.call_log": page(*HOTLINE),
    "console.requests_page": page(*REQUEST_KEEPERS),
    "console.offers_fragment": page(*REQUEST_KEEPERS),
    "console.take_offer": page(*REQUEST_KEEPERS),
    "console.pass_offer": page(*REQUEST_KEEPERS),
    "console.call_log_csv": page(*HOTLINE),
    # The hotline's figures: every manager (the hotline belongs to no region) and admins.
    "console.hotline_figures": page("other_manager", "manager", "admin"),
    "console.save": page(*CALL_WORKERS),
    "console.preview": page(*CALL_WORKERS),
    "console.hold": page(*CALL_WORKERS),
    "console.take": page(*CALL_WORKERS),
    "console.reply": page(*CALL_WORKERS),
    "console.turn_away": page(*CALL_WORKERS),
    # Risk answers: operators and managers only, not admins (PRODUCT.md section 5, rule 11).
    "console.save_risk": page(*CALL_WORKERS),
    "console.callback_consent": page(*CALL_WORKERS),
    "console.start_callback": page(*CALL_WORKERS),
    "console.refer_child_protection": page(*CALL_WORKERS),
    "api.risk_items": api(*CALL_WORKERS),
    "api.save_risk": api(*CALL_WORKERS),
    "api.callback_consent": api(*CALL_WORKERS),
    "api.start_callback": api(*CALL_WORKERS),
    "api.callback_list": api(*CALL_WORKERS),
    "api.call_list": api(*HOTLINE),
    # Voicemails: listed with the calls; handled and heard by operators and
    # managers only (PRODUCT.md section 5, rule 10), not admins.
    "api.voicemail_list": api(*HOTLINE),
    "api.voicemail_audio": api(*CALL_WORKERS),
    "api.handle_voicemail": api(*CALL_WORKERS),
    "console.handle_voicemail": page(*CALL_WORKERS),
    "simulator.index": page("operator", "admin"),
    "simulator.call": page("operator", "admin"),
    "simulator.hangup": page("operator", "admin"),
    "simulator.sms": page("operator", "admin"),
    "hotline.voice": webhook(),
    "hotline.menu": webhook(),
    "hotline.recorded": webhook(),
    "hotline.callback": webhook(),
    "hotline.dial_result": webhook(),
    "hotline.status": webhook(),
    "hotline.whisper": webhook(),
    "hotline.whisper_accept": webhook(),
    "hotline.callback_whisper": webhook(),
    "hotline.callback_accept": webhook(),
    "hotline.callback_answered": webhook(),
    "hotline.callback_dial_result": webhook(),
    "hotline.callback_status": webhook(),
    "hotline.sms": webhook(),
    "hotline.sms_status": webhook(),
    # The outbox.
    "outbox.index": page(*HOTLINE),
    "outbox.retry": page(*HOTLINE),
    "api.notification_list": api(*HOTLINE),
    "api.retry_notification": api(*HOTLINE),
    # Alerts and their rules: managers of the region, and admins.
    "alerts.index": page(*ALERT_READERS),
    "alerts.rules": page(*ALERT_READERS),
    "alerts.new_rule": page(*ALERT_READERS),
    "alerts.show": page(*REGION),
    "alerts.acknowledge": page(*REGION),
    "alerts.edit_rule": page(*REGION),
    "alerts.delete_rule": page(*REGION),
    "api.alert_list": api(*ALERT_READERS),
    "api.alert_rule_list": api(*ALERT_READERS),
    "api.create_alert_rule": api(*ALERT_READERS),
    "api.alert_detail": api(*REGION),
    "api.acknowledge_alert": api(*REGION),
    "api.update_alert_rule": api(*REGION),
    "api.delete_alert_rule": api(*REGION),
    # The daily statistics: managers (of their own regions), admins.
    "api.daily_statistics": api(*STATISTICS_READERS),
    "api.hotline_daily_statistics": api("other_manager", "manager", "admin"),
    # The reports: the list for every manager and admins; a region's report,
    # its CSV files and charts for its managers and admins.
    "reports.index": page(*STATISTICS_READERS),
    "reports.region": page(*REGION),
    "reports.table_csv": page(*REGION),
    "reports.chart_svg": page(*REGION),
    # Administration: admins only.
    "admin.index": page("admin"),
    "admin.users": page("admin"),
    "admin.new_user": page("admin"),
    "admin.edit_user": page("admin"),
    "admin.set_user_active": page("admin"),
    "admin.revoke_user": page("admin"),
    "admin.create_token": page("admin"),
    "admin.regions_list": page("admin"),
    "admin.new_region": page("admin"),
    "admin.edit_region": page("admin"),
    "admin.organisations_list": page("admin"),
    "admin.new_organisation": page("admin"),
    "admin.edit_organisation": page("admin"),
    "admin.kinds_list": page("admin"),
    "admin.new_kind": page("admin"),
    "admin.edit_kind": page("admin"),
    "admin.risk_items": page("admin"),
    "admin.new_risk_item": page("admin"),
    "admin.edit_risk_item": page("admin"),
    "admin.risk_scale": page("admin"),
    "admin.facilities_list": page("admin"),
    "admin.new_facility": page("admin"),
    "admin.edit_facility": page("admin"),
}


def bodies(world) -> dict[str, dict]:
    """The least body that takes a write past its input checks to the
    permission check (by endpoint); every other write is sent empty."""
    return {
        "api.update_unit": {"json": {"available": 3, "version": 1}},
        "api.create_hold": {"json": {"unit_id": world.unit_id, "persons": 1}},
        "api.extend_hold": {"json": {"minutes": 30}},
        "api.decline_hold": {"json": {"reason": "other"}},
        "shelter.hold_answer": {"data": {"reason": "other"}},
        "api.create_referral": {"json": {}},
        "api.update_referral": {"json": {"status": "accepted"}},
        "api.record_turn_away": {"json": {"reason": "full"}},
        "api.file_placement_request": {"json": {"client_type": "victim", "postcode": "2000"}},
        "api.withdraw_placement_request": {"json": {"reason": "placed with family"}},
        "api.handle_voicemail": {"json": {"outcome": "advice"}},
    }


def requests(app, world) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every route: reads first, then writes,
    signing out last (so that what an allowed write changes comes after every
    read, and the client stays signed in to the end)."""
    found = [
        (rule.endpoint, method, path)
        for rule in app.url_map.iter_rules()
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
        for path in make_world.paths(app, rule, world)
    ]
    return sorted(found, key=lambda r: (r[1] != "GET", r[0] == "auth.logout", r[0], r[1], r[2]))


def all_rows(*leaving_out: str) -> dict[str, list]:
    """Every row of every table, as the database has them now."""
    db.session.rollback()
    return {
        table.name: db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
        for table in db.metadata.sorted_tables if table.name not in leaving_out
    }


def changed_tables(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def wrong_answer(method: str, response, expected) -> str | None:
    """What is wrong with the response, if it is not what `expected` says."""
    status = response.status_code
    to_sign_in = status == 302 and urlsplit(response.headers.get("Location", "")).path == "/login"
    if expected == SIGN_IN:
        return None if to_sign_in else f"{status}, not sent to sign in"
    if expected == OK:
        if status in (401, 403) or to_sign_in or status >= 500:
            return f"{status}{' (to sign in)' if to_sign_in else ''}, not let through"
        if method == "GET" and status >= 400:
            return f"{status}: a page the role may open does not open"
        return None
    if status != expected:
        return f"{status}, not {expected}"
    if status == 403 and not says_why(response):
        return "403 without saying why"
    return None


def says_why(response) -> bool:
    if response.is_json:
        return bool(response.get_json().get("error", {}).get("message"))
    return 'role="alert"' in response.get_data(as_text=True)


def test_every_route_has_an_entry(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert sorted(endpoints - set(EXPECTED)) == [], "routes without an entry in EXPECTED"
    assert sorted(set(EXPECTED) - endpoints) == [], "entries in EXPECTED for routes that no longer exist"
    for endpoint, by_role in EXPECTED.items():
        assert set(by_role) == set(ROLES), endpoint


@pytest.fixture
def recordings_at_twilio(app, monkeypatch, twilio_server, twilio):
    """The app talks to the fake Twilio, which keeps the world's voicemail:
    its audio is there for those who may hear it."""
    for key, value in twilio_server.config().items():
        monkeypatch.setitem(app.config, key, value)
    twilio.add_recording(make_world.VOICEMAIL_RECORDING)


@pytest.mark.parametrize("role", ROLES)
def test_each_route_answers_the_role_as_the_table_says(app, clock, monkeypatch, recordings_at_twilio, role):
    # The simulator page exists only in development; here its roles are checked.
    monkeypatch.setitem(app.config, "HOTLINE_SIMULATOR_PAGE", True)
    world = make_world.build(clock)
    client = make_world.client_of(app, world, role)
    body_of = bodies(world)
    wrong = []
    for endpoint, method, path in requests(app, world):
        if endpoint not in EXPECTED:
            wrong.append(f"{method} {path} ({endpoint}): no entry in EXPECTED")
            continue
        expected = EXPECTED[endpoint][role]
        kwargs = dict(body_of.get(endpoint, {}))
        if method != "GET" and not path.startswith("/api/"):
            # As the pages send them: some answer a refusal to htmx with a
            # 403 fragment, and without htmx with a message on the next page.
            kwargs["headers"] = {"HX-Request": "true"}
        refused_write = method != "GET" and expected in REFUSALS
        # A refused webhook counts the bad signature (rate_counters): that is all it writes.
        leaving_out = ("rate_counters",) if endpoint.startswith("hotline.") else ()
        before = all_rows(*leaving_out) if refused_write else None
        # Buffered: a streamed answer (the CSV log) is read to its end and
        # closed, as a browser would, so its request context ends here.
        response = client.open(path, method=method, buffered=True, **kwargs)
        problem = wrong_answer(method, response, expected)
        if problem is None and refused_write:
            changed = changed_tables(before, all_rows(*leaving_out))
            problem = f"refused, but wrote to {', '.join(changed)}" if changed else None
        if problem:
            wrong.append(f"{method} {path} ({endpoint}): {problem}")
    assert not wrong, f"as {role}:\n" + "\n".join(wrong)


# What a GET might be tempted to act on: the query strings that once made one write.
GET_QUERIES = {
    "placement.search_page": "?run=1&call_id={call_id}&client_type=victim&postcode=2000&session=s1",
}


def test_no_get_changes_domain_data(app, clock, recordings_at_twilio):
    """A link (on another site, in an e-mail) can make a browser send any GET:
    none may change domain data. Audit events and rate counters aside."""
    world = make_world.build(clock)
    client = make_world.client_of(app, world, "operator")
    wrote = []
    for endpoint, method, path in requests(app, world):
        if method != "GET":
            continue
        query = GET_QUERIES.get(endpoint, "").format(**world.arguments)
        before = all_rows("audit_events", "rate_counters")
        response = client.get(path + query, buffered=True)
        assert response.status_code < 500, f"{path}{query}: {response.status_code}"
        changed = changed_tables(before, all_rows("audit_events", "rate_counters"))
        if changed:
            wrote.append(f"GET {path}{query} ({endpoint}) wrote to {', '.join(changed)}")
    assert not wrote, "\n".join(wrote)
