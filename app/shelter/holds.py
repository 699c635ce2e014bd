"""Incoming holds on the facility page (template shelter/_holds.html): polled,
requested ones accepted or declined, confirmed when the household arrives, or
released with how they ended. The rules live in
app/services/placement/holds.py, the lists in app/services/placement/hold_lists.py."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import clock
from app.extensions import htmx
from app.services.core import access
from app.services.core.access import can_update_facility
from app.services.core.errors import Forbidden, NotFound
from app.services.placement import hold_lists, holds
from app.services.registry import capacity, facilities
from app.services.registry.presenters import present
from app.shelter import bp
from app.web.auth import current_actor, roles_required
from app.web.holds import carry_out


@bp.context_processor
def _hold_helpers():
    return {"incoming_holds": hold_lists.incoming,
            "holds_refresh_seconds": current_app.config["SHELTER_REFRESH_SECONDS"]}


def _holds_refused(facility):
    """Another facility's holds: the section says so (htmx), or a 403 page."""
    if not htmx:
        raise Forbidden("you may not see or change the holds of this facility")
    message = _("You may not see or change the holds of this facility.")
    return render_template("shelter/_holds.html", facility=present(facility, current_user),
                           holds_refused=message), 403


def _holds_page(facility):
    return redirect(url_for("shelter.facility", facility_id=facility.id, _anchor=f"holds-{facility.id}"))


@bp.route("/<int:facility_id>/holds")
@roles_required(*access.SHELTER_PAGE_USERS)
def facility_holds(facility_id: int):
    """The incoming-holds section alone: what the page polls."""
    facility = facilities.get_facility(facility_id)
    if not can_update_facility(current_user, facility):
        return _holds_refused(facility)
    if not htmx:
        return _holds_page(facility)
    return render_template("shelter/_holds.html", facility=present(facility, current_user), now=clock.now())


@bp.route("/<int:facility_id>/holds/<int:hold_id>/<any(confirm, release):action>", methods=["POST"])
@roles_required(*access.SHELTER_PAGE_USERS)
def hold_action(facility_id: int, hold_id: int, action: str):
    """Confirm (the household arrived: the unit's count drops) or release
    (with how it ended) a hold. Answers the holds section, with the changed
    unit's form out of band, and a refusal (409, 403, 400) inline; without
    htmx, the page again."""
    return _act(facility_id, hold_id, action)


@bp.route("/<int:facility_id>/holds/<int:hold_id>/<any(accept, decline):action>", methods=["POST"])
@roles_required(*access.SHELTER_PAGE_USERS)
def hold_answer(facility_id: int, hold_id: int, action: str):
    """Accept or decline (with a reason) a hold: only the facility's own
    staff (access.may_answer_hold_request), not admins. Answers as hold_action."""
    facility = facilities.get_facility(facility_id)
    if not can_update_facility(current_user, facility):
        return _holds_refused(facility)
    if not access.may_answer_hold_request(current_actor(), holds.get(hold_id)):
        if not htmx:
            raise Forbidden("only the facility's own staff accept or decline a hold")
        return render_template("shelter/_holds.html", facility=present(facility, current_user), now=clock.now(),
                               hold_error=_("Only the facility's own staff accept or decline a hold.")), 403
    return _act(facility_id, hold_id, action)


def _act(facility_id: int, hold_id: int, action: str):
    facility = facilities.get_facility(facility_id)
    if not can_update_facility(current_user, facility):
        return _holds_refused(facility)
    hold = holds.get(hold_id)
    if hold.unit.facility_id != facility.id:
        raise NotFound(f"no hold {hold_id} for this facility")
    now = clock.now()
    actor, form = current_actor(), request.form
    changes = {
        "confirm": lambda: holds.confirm(actor, hold, now),
        "release": lambda: holds.release(actor, hold, now, outcome=form.get("outcome"), reason=form.get("reason"),
                                         note=form.get("note")),
        "accept": lambda: holds.accept(actor, hold, now),
        "decline": lambda: holds.decline(actor, hold, form.get("reason"), form.get("note"), now),
    }
    message, error, status = carry_out(action, hold_id, now, changes[action],
                                       _("You may not change this hold."))
    if not htmx:
        flash(error or message, "error" if error else "success")
        return _holds_page(facility)
    changed = [capacity.get_unit(hold.unit_id)] if status == 200 else []
    return render_template("shelter/_holds.html", facility=present(facility, current_user), now=now,
                           hold_message=message, hold_error=error, oob_units=changed,
                           figures=capacity.UnitFigures(changed, now)), status
