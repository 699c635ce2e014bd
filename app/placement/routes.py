"""Thin routes over app/services/placement/ (criteria, search, turn_aways, holds).

From a ringing phone to a held place: the call's "Search placement" posts
the call (`search_for_call`), and this page pre-fills itself from the call's
record and searches; each result has a Hold button; that is three clicks.
Searching records (a search, perhaps a turn-away), so it is a POST: a GET
only shows the form, and criteria never travel in a URL (the access log would
keep a household's details past their retention).
"""

import secrets
from datetime import timedelta

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app import clock
from app.extensions import htmx
from app.models.facility import LANGUAGES
from app.placement import bp
from app.presenters import kind_label
from app.services.core import access
from app.services.core.errors import Conflict, InvalidInput
from app.services.hotline import call_records
from app.services.placement import holds
from app.services.placement import requests as waiting_list
from app.services.placement import search as placement
from app.services.placement import turn_aways as turn_away_records
from app.services.placement.criteria import linked_call_id, parse_criteria
from app.services.registry import capacity, regions
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required
from app.web.holds import minute_choices
from app.web.search_form import criteria_data


def _hold_minutes(outcome) -> tuple[list[int], int]:
    search = outcome.search if outcome else None
    return minute_choices(call_records.get_by_id(search.call_id) if search and search.call_id else None)


def _page(form: dict, *, outcome=None, error=None, status=200):
    kinds = capacity.all_kinds()
    context = dict(
        form=form,
        outcome=outcome,
        error=error,
        kinds=kinds,
        kind_names={kind.code: kind_label(kind) for kind in kinds},
        languages=LANGUAGES,
        now=clock.now(),
        hold_minutes=_hold_minutes(outcome),
    )
    template = "placement/_results.html" if htmx and request.method == "POST" else "placement/search.html"
    return render_template(template, **context), status


def _run(form: dict):
    try:
        with unit_of_work.change():
            criteria = parse_criteria(criteria_data(form))
            outcome = placement.search(current_actor(), criteria, clock.now(),
                                       preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
    except InvalidInput as error:
        return _page(form, error=error, status=400)
    return _page(form, outcome=outcome)


@bp.route("/")
@roles_required(*access.PLACEMENT_SEARCHERS)
def search_page():
    """The empty form, for a search of its own (a contact without a call)."""
    return _page(MultiDict({"session": secrets.token_urlsafe(12), "client_type": "victim"}))


@bp.route("/search", methods=["POST"])
@roles_required(*access.PLACEMENT_SEARCHERS)
def search():
    return _run(request.form)


@bp.route("/for-call", methods=["POST"])
@roles_required(*access.CALL_READERS)
def search_for_call():
    """A call's "Search placement": the form pre-filled from what the call
    holds now (so a household saved a moment ago is in it), and run at once
    when the place to search from is known."""
    try:
        call_id = linked_call_id(current_actor(), request.form.get("call_id"))
        if call_id is None:
            raise InvalidInput("call_id is required", field="call_id")
    except InvalidInput as error:
        return _page(MultiDict({"client_type": "victim"}), error=error, status=400)
    form = MultiDict(call_records.search_criteria(call_records.get_by_id(call_id)))
    form.setdefault("client_type", "victim")
    if form.get("postcode"):
        return _run(form)
    return _page(form)


@bp.route("/hold", methods=["POST"])
@roles_required(*access.PLACEMENT_SEARCHERS)
def hold():
    """Hold the place of one result: answers that result's hold fragment,
    with a conflict (no longer free, closed meanwhile) inline."""
    now = clock.now()
    unit_id = request.form.get("unit_id", "")
    try:
        with unit_of_work.change():
            made = holds.create(
                current_actor(),
                now,
                unit_id=unit_id,
                persons=request.form.get("persons"),
                household=request.form.get("household") or None,
                search_id=request.form.get("search_id") or None,
                call_id=request.form.get("call_id") or None,
                minutes=request.form.get("minutes") or None,
            )
    except (Conflict, InvalidInput) as error:
        message = (_("This place is no longer free (or the facility closed): search again.")
                   if isinstance(error, Conflict) else error.message)
        return render_template("placement/_hold.html", unit_id=unit_id, error=message), error.status
    return render_template("placement/_hold.html", unit_id=unit_id, hold=made, now=now), 201


@bp.route("/requests", methods=["POST"])
@roles_required(*access.REQUEST_KEEPERS)
def file_request():
    """"File a request": the search's criteria (the search form's fields) go
    on the waiting list; a place free now is offered at once."""
    try:
        with unit_of_work.change():
            filed = waiting_list.file(current_actor(), parse_criteria(criteria_data(request.form)), clock.now(),
                                      note=request.form.get("note") or None)
    except (Conflict, InvalidInput) as error:
        return render_template("placement/_file_request.html", error=error.message), error.status
    return render_template("placement/_file_request.html", filed=filed), 201


@bp.route("/turn-aways")
@roles_required(*access.TURN_AWAY_READERS)
def turn_aways():
    """The regions' unmet demand: turn-aways per region and day, two weeks."""
    now = clock.now()
    today = now.astimezone(clock.local_zone()).date()
    region_ids = turn_away_records.turn_away_regions(current_user)
    rows = turn_away_records.per_region_and_day(region_ids, today - timedelta(days=13), today, now)
    names = {region.id: region.name for region in regions.all_regions()}
    return render_template("placement/turn_aways.html", rows=rows, region_names=names, today=today,
                           waiting=waiting_list.open_per_region(region_ids, now))


@bp.route("/turn-aways", methods=["POST"])
@roles_required(*access.TURN_AWAY_RECORDERS)
def record_turn_away():
    """End a contact without a place, explicitly (e.g. the caller declined)."""
    try:
        with unit_of_work.change():
            turn_away, created = turn_away_records.record_turn_away(
                current_actor(), clock.now(), reason=request.form.get("reason"),
                call_id=request.form.get("call_id") or None, session=request.form.get("session") or None,
                note=request.form.get("note") or None,
            )
    except InvalidInput as error:
        return render_template("placement/_turn_away.html", error=error.message), 400
    return render_template("placement/_turn_away.html", turn_away=turn_away, created=created), 201 if created else 200
