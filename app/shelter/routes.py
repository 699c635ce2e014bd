"""The shelter staff page: each facility's counts, changed with one press."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import clock
from app.extensions import db, htmx
from app.models import Facility
from app.services.core import access
from app.services.core.access import can_update_facility
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.registry import capacity, facilities
from app.services.registry.presenters import present
from app.shelter import bp
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required
from app.web.numbers import positive_int


def _own_facility(facility_id: int) -> Facility:
    facility = facilities.get_facility(facility_id)
    if not can_update_facility(current_user, facility):
        raise Forbidden("you may not change this facility")
    return facility


@bp.route("/")
@roles_required(*access.SHELTER_PAGE_USERS)
def index():
    own = current_user.facilities
    if len(own) == 1:
        return redirect(url_for("shelter.facility", facility_id=own[0].id))
    if own:
        return render_template("shelter/index.html", facilities=[present(f, current_user) for f in own],
                               pagination=None)
    # An admin without facilities of their own may open any facility's page.
    query = capacity.facilities_query().order_by(Facility.name, Facility.id)
    pagination = db.paginate(query, page=request.args.get("page", 1, type=positive_int), per_page=50, error_out=False)
    return render_template("shelter/index.html", facilities=[present(f, current_user) for f in pagination.items],
                           pagination=pagination)


@bp.route("/<int:facility_id>")
@roles_required(*access.SHELTER_PAGE_USERS)
def facility(facility_id: int):
    facility = _own_facility(facility_id)
    now = clock.now()
    return render_template("shelter/facility.html", facility=present(facility, current_user), now=now,
                           figures=capacity.UnitFigures(facility.units, now))


@bp.route("/units/<int:unit_id>", methods=["POST"])
@roles_required(*access.SHELTER_PAGE_USERS)
def update_unit(unit_id: int):
    """Set a unit's available count: `step` (−1/+1) from the shown value, or
    the typed `available`; always with the `version` the page showed."""
    unit = capacity.get_unit(unit_id)
    now = clock.now()
    error = conflict = typed = None
    try:
        step = request.form.get("step")
        if step in ("-1", "1"):
            # The version makes "shown value + step" safe: a stale page conflicts.
            wanted = unit.available + int(step)
        else:
            wanted = request.form.get("available", "")
        with unit_of_work.change():
            capacity.set_available(current_actor(), unit, wanted, request.form.get("version"), now)
    except Conflict as exc:
        conflict = _("Someone else changed this first. It is now %(n)d; your change was not saved.",
                     n=capacity.get_unit(unit_id).available)
        status = exc.status
    except InvalidInput as exc:
        error = _invalid_message(exc, unit)
        typed = request.form.get("available", "")  # shown back beside the error
        status = exc.status
    else:
        status = 200
    unit = capacity.get_unit(unit_id)
    if not htmx:
        if error or conflict:
            flash(error or conflict, "error")
        return redirect(url_for("shelter.facility", facility_id=unit.facility_id))
    return render_template("shelter/_unit.html", unit=unit, now=now, figures=capacity.UnitFigures([unit], now),
                           error=error, conflict=conflict, typed=typed, saved=status == 200), status


def _invalid_message(exc: InvalidInput, unit) -> str:
    if exc.field == "available":
        return _("Enter a number from 0 to %(total)d.", total=unit.total)
    if exc.field == "version":
        return _("This page is out of date; reload it.")
    return exc.message


@bp.route("/<int:facility_id>/confirm", methods=["POST"])
@roles_required(*access.SHELTER_PAGE_USERS)
def confirm(facility_id: int):
    facility = _own_facility(facility_id)
    now = clock.now()
    with unit_of_work.change():
        capacity.confirm_counts(current_actor(), facility, now)
    if not htmx:
        flash(_("Counts confirmed."), "success")
        return redirect(url_for("shelter.facility", facility_id=facility_id))
    return render_template("shelter/_units.html", facility=present(facility, current_user), now=now,
                           figures=capacity.UnitFigures(facility.units, now),
                           confirmed=True)


@bp.route("/<int:facility_id>/intake", methods=["POST"])
@roles_required(*access.SHELTER_PAGE_USERS)
def intake(facility_id: int):
    facility = _own_facility(facility_id)
    choice = request.form.get("open")
    if choice not in ("0", "1"):
        abort(400, "open must be 0 or 1")
    error = None
    try:
        with unit_of_work.change():
            capacity.set_open_for_intake(current_actor(), facility, choice == "1",
                                         request.form.get("closed_reason"), clock.now())
        status = 200
    except InvalidInput as exc:
        error = _("Say why the facility is closed for intake.") if exc.field == "closed_reason" else exc.message
        status = exc.status
    if not htmx:
        if error:
            flash(error, "error")
        return redirect(url_for("shelter.facility", facility_id=facility_id))
    return render_template("shelter/_intake.html", facility=present(facility, current_user), error=error), status
