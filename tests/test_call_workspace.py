"""The call page as the operator's workspace: places ranked as the operator
types (recording nothing), the record saving itself, Hold on a result, and
the contact's turn-away recorded once, when it closes without a place."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Call, CapacityUnit, Hold, PlacementRequest, PlacementSearch, TurnAway
from tests import factories as make
from tests import test_console
from tests.test_console import HTMX, count, html_of, record_of, voice_call

AUTOSAVE = {**HTMX, "HX-Target": "save-status"}
TYPED = {"client_type": "victim", "adults": "1", "children": "", "gender": "female", "needs": [""],
         "languages": [""], "postcode": "2000", "safe_to_call_back": "unknown",
         "safe_to_leave_message": "unknown", "notes": "", "outcome": ""}
DANGER = "Zoutleeuw"  # a real municipality, far from the facilities searched, named nowhere else


def rows_everywhere() -> dict[str, int]:
    """The number of rows of every table."""
    db.session.rollback()
    return {table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def stored_anywhere(needle: str) -> list[str]:
    """The tables with a text or JSON column holding `needle`."""
    db.session.rollback()
    found = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(select(table)):
            if any(needle in str(value) for value in row):
                found.append(table.name)
                break
    return found


@pytest.fixture
def app_config(twilio_server):
    return test_console.app_config.__wrapped__(twilio_server)


@pytest.fixture
def people(app):
    return test_console.people.__wrapped__(app)


@pytest.fixture
def call(client, people):
    contact = voice_call(client)
    make.login(client, people["operator"])
    return contact


# --- the preview --------------------------------------------------------------------


def test_the_preview_ranks_places_and_writes_no_row_in_any_table(client, call):
    before = rows_everywhere()
    response = client.post(f"/console/calls/{call.id}/preview", data={**TYPED, "danger_place": DANGER},
                           headers=HTMX)
    html = html_of(response)
    assert response.status_code == 200 and html.lstrip().startswith('<section id="results"')
    assert "Crisis Antwerpen" in html
    assert f'hx-post="/console/calls/{call.id}/hold"' in html and 'hx-include="#workspace-form"' in html
    assert 'name="search_id"' not in html  # no search was written to hold from
    # Nothing fits a household of six: still nothing recorded, and said calmly.
    crowd = client.post(f"/console/calls/{call.id}/preview", data={**TYPED, "adults": "6"}, headers=HTMX)
    assert crowd.status_code == 200 and "Nothing fits these needs now" in html_of(crowd)
    assert rows_everywhere() == before


@pytest.mark.parametrize("typed, status, hint", [
    ({"postcode": ""}, 200, "Choose who and type a postcode"),
    ({"client_type": ""}, 200, "Choose who and type a postcode"),
    ({"postcode": "20"}, 400, "Not yet searchable:"),
    ({"children": "4, x"}, 400, "Not yet searchable:"),
])
def test_incomplete_criteria_show_a_calm_hint_and_write_nothing(client, call, typed, status, hint):
    before = rows_everywhere()
    response = client.post(f"/console/calls/{call.id}/preview", data={**TYPED, **typed}, headers=HTMX)
    html = html_of(response)
    assert response.status_code == status and hint in html and 'class="hint"' in html
    assert 'role="alert"' not in html
    assert rows_everywhere() == before


def test_the_call_page_shows_the_workspace_with_the_saved_needs_ranked(client, call):
    page = html_of(client.get(f"/console/calls/{call.id}"))
    assert 'id="workspace-form"' in page and "Choose who and type a postcode" in page
    assert 'hx-trigger="input changed delay:400ms, chosen"' in page
    assert 'hx-trigger="input changed delay:800ms, chosen"' in page
    assert 'hx-params="not danger_place,danger_radius"' in page and 'autocomplete="off"' in page
    client.post(f"/console/calls/{call.id}", data=TYPED, headers=AUTOSAVE)
    before = rows_everywhere()
    page = html_of(client.get(f"/console/calls/{call.id}"))
    assert "Crisis Antwerpen" in page and rows_everywhere() == before


# --- the autosave -------------------------------------------------------------------


def test_the_autosave_answers_its_status_and_never_stores_a_danger_place(client, call, clock):
    response = client.post(f"/console/calls/{call.id}", headers=AUTOSAVE,
                           data={**TYPED, "notes": "Bang voor hem", "danger_place": DANGER, "danger_radius": "5"})
    html = html_of(response)
    assert response.status_code == 200 and html.lstrip().startswith('<p id="save-status"')
    assert re.search(r"saved \d\d:\d\d:\d\d", html)
    saved = db.session.get(Call, call.id)
    assert saved.notes == "Bang voor hem" and saved.needs["postcode"] == "2000"
    assert stored_anywhere(DANGER) == [] and stored_anywhere("Kerkstraat") == []


def test_a_half_typed_postcode_keeps_the_notes_and_flags(client, call):
    response = client.post(f"/console/calls/{call.id}", headers=AUTOSAVE,
                           data={**TYPED, "postcode": "20", "notes": "Partner thuis om 23u",
                                 "safe_to_call_back": "no"})
    html = html_of(response)
    assert response.status_code == 200 and "Not saved:" in html and "notes, safety and outcome saved" in html
    saved = db.session.get(Call, call.id)
    assert (saved.notes, saved.safe_to_call_back) == ("Partner thuis om 23u", False)
    assert saved.needs is None or "postcode" not in saved.needs


def test_a_bad_outcome_is_refused_in_the_status_and_nothing_is_saved(client, call):
    before, events = record_of(call.id), count(AuditEvent)
    response = client.post(f"/console/calls/{call.id}", headers=AUTOSAVE,
                           data={**TYPED, "notes": "changed", "outcome": "won"})
    assert response.status_code == 400 and "Not saved:" in html_of(response)
    assert record_of(call.id) == before and count(AuditEvent) == events


# --- Hold on a result ---------------------------------------------------------------


def crisis_bed() -> int:
    db.session.rollback()
    return db.session.scalar(select(CapacityUnit.id).where(CapacityUnit.kind.has(code="crisis_bed")))


def test_hold_on_a_result_searches_once_recorded_and_holds_for_the_call(client, call, people):
    unit_id = crisis_bed()
    response = client.post(f"/console/calls/{call.id}/hold", headers=HTMX,
                           data={**TYPED, "danger_place": DANGER, "unit_id": str(unit_id), "household": "moeder"})
    html = html_of(response)
    assert response.status_code == 201, html
    hold = db.session.scalars(select(Hold)).one()
    search = db.session.scalars(select(PlacementSearch)).one()
    assert (hold.call_id, hold.search_id, hold.unit_id, hold.persons) == (call.id, search.id, unit_id, 1)
    assert search.call_id == call.id and search.contact_key == f"call:{call.id}"
    assert f'id="hold-{unit_id}"' in html and re.search(r"Held: \d+ persons? at .* until \d", html)
    assert '<ul id="holds-of-call" class="linked holds-of-call" hx-swap-oob="true">' in html
    assert f'<li data-hold="{hold.id}">' in html
    assert stored_anywhere(DANGER) == []


def test_a_place_gone_meanwhile_is_said_in_place_and_ranked_again(client, call, people):
    unit_id = crisis_bed()
    db.session.get(CapacityUnit, unit_id).available = 0
    db.session.commit()
    before = rows_everywhere()
    response = client.post(f"/console/calls/{call.id}/hold", headers=HTMX,
                           data={**TYPED, "unit_id": str(unit_id)})
    html = html_of(response)
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#results" and response.headers["HX-Reswap"] == "outerHTML"
    assert "This place went meanwhile" in html and html.lstrip().startswith('<section id="results"')
    assert rows_everywhere() == before


@pytest.mark.parametrize("data", [{"unit_id": "x"}, {"unit_id": "999999"}, {"client_type": ""}])
def test_a_bad_hold_is_refused_in_place_and_writes_nothing(client, call, people, data):
    before = rows_everywhere()
    response = client.post(f"/console/calls/{call.id}/hold", headers=HTMX,
                           data={**TYPED, "unit_id": str(crisis_bed()), **data})
    assert response.status_code in (400, 404) and 'class="conflict"' in html_of(response)
    assert rows_everywhere() == before


@pytest.mark.parametrize("role, status", [("anonymous", 302), ("admin", 403), ("partner", 403),
                                          ("shelter_staff", 403)])
def test_only_call_workers_preview_and_hold(client, people, role, status):
    call = voice_call(client)
    if role != "anonymous":
        make.login(client, people[role])
    before = rows_everywhere()
    for path in ("preview", "hold"):
        response = client.post(f"/console/calls/{call.id}/{path}", data={**TYPED, "unit_id": "1"})
        assert response.status_code == status
    assert rows_everywhere() == before


# --- closing the contact: its turn-away, once -----------------------------------------


def test_a_contact_closed_without_a_place_is_one_turn_away_and_typing_is_none(client, call):
    crowd = {**TYPED, "adults": "6"}
    for postcode in ("2", "20", "200", "2000"):  # half-typed, previewed and autosaved
        client.post(f"/console/calls/{call.id}/preview", data={**crowd, "postcode": postcode}, headers=HTMX)
        client.post(f"/console/calls/{call.id}", data={**crowd, "postcode": postcode}, headers=AUTOSAVE)
    assert count(TurnAway) == 0 and count(PlacementSearch) == 0
    client.post(f"/console/calls/{call.id}", data={**crowd, "outcome": "advice"}, headers=AUTOSAVE)
    turn_away = db.session.scalars(select(TurnAway)).one()
    assert (turn_away.call_id, turn_away.reason) == (call.id, "full")
    # Once: another outcome, and the explicit "No place found", change nothing.
    client.post(f"/console/calls/{call.id}", data={**crowd, "outcome": "dropped"}, headers=AUTOSAVE)
    client.post(f"/console/calls/{call.id}/turn-away", data={"reason": "declined"}, headers=HTMX)
    assert count(TurnAway) == 1 and count(PlacementSearch) == 1


@pytest.mark.parametrize("typed", [{"postcode": ""}, {"client_type": ""}, {"outcome": "callback"},
                                   {"outcome": "placed"}])
def test_no_turn_away_without_who_and_where_or_for_a_contact_still_open(client, call, typed):
    client.post(f"/console/calls/{call.id}", data={**TYPED, "adults": "6", "outcome": "advice", **typed},
                headers=AUTOSAVE)
    assert count(TurnAway) == 0 and count(PlacementSearch) == 0


def test_a_contact_with_a_hold_closes_without_a_turn_away(client, call, people):
    client.post(f"/console/calls/{call.id}/hold", headers=HTMX, data={**TYPED, "unit_id": str(crisis_bed())})
    client.post(f"/console/calls/{call.id}", data={**TYPED, "adults": "6", "outcome": "advice"}, headers=AUTOSAVE)
    assert count(Hold) == 1 and count(TurnAway) == 0 and count(PlacementSearch) == 1


def test_the_live_row_is_one_link(client, call):
    live = html_of(client.get("/console/live"))
    assert len(re.findall(rf'href="/console/calls/{call.id}"', live)) == 1


def test_without_javascript_hold_takes_the_saved_needs_and_answers_the_page(client, call):
    client.post(f"/console/calls/{call.id}", data=TYPED)
    response = client.post(f"/console/calls/{call.id}/hold", data={"unit_id": str(crisis_bed())})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/console/calls/{call.id}")
    hold = db.session.scalars(select(Hold)).one()
    assert (hold.call_id, hold.persons) == (call.id, 1) and hold.search_id is not None


def test_file_a_request_from_the_workspace_keeps_the_call_and_never_the_danger_place(client, call):
    preview = html_of(client.post(f"/console/calls/{call.id}/preview", data={**TYPED, "danger_place": DANGER},
                                  headers=HTMX))
    assert 'hx-include="#workspace-form"' in preview and f'name="call_id" value="{call.id}"' in preview
    response = client.post("/placement/requests", headers=HTMX,
                           data={**TYPED, "danger_place": DANGER, "danger_radius": "20", "call_id": str(call.id),
                                 "note": ""})
    assert response.status_code == 201, html_of(response)
    filed = db.session.scalars(select(PlacementRequest)).one()
    assert filed.call_id == call.id and filed.danger_checked_at is not None
    assert stored_anywhere(DANGER) == []
