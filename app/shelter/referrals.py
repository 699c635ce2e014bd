"""Incoming referrals on the facility page (templates shelter/_referrals.html,
shelter/_referral.html); the rules live in app/services/placement/referrals.py."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import clock, labels
from app.extensions import htmx
from app.presenters import kind_label
from app.services.core import access
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.placement import referrals
from app.shelter import bp
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required

REFERRAL_ACTIONS = {"accepted": _l("Accept"), "declined": _l("Decline"), "arrived": _l("Arrived")}


def _referral_kind_label(referral) -> str:
    kind = referrals.kind_of(referral)
    if kind is not None:
        return kind_label(kind)
    return str(labels.ORGANISATION_KIND_LABELS.get(referral.kind, referral.kind))


def _receives_referrals(facility) -> bool:
    return facility.type in referrals.RELIEF_TYPES and bool(referrals.slot_kinds(facility))


@bp.context_processor
def _referral_helpers():
    return {"incoming_referrals": referrals.incoming, "receives_referrals": _receives_referrals,
            "referral_kind_label": _referral_kind_label, "referral_moves": referrals.next_statuses,
            "referral_actions": REFERRAL_ACTIONS}


@bp.route("/referrals/<int:referral_id>", methods=["POST"])
@roles_required(*access.SHELTER_PAGE_USERS)
def referral_status(referral_id: int):
    """Accept, decline or mark arrived one incoming referral: answers its
    fragment (with the 400/403/409 inline), or the page again without htmx."""
    referral = referrals.get(referral_id)
    now = clock.now()
    error = saved = None
    forbidden = False
    status = 200
    try:
        with unit_of_work.change():
            referrals.update_status(current_actor(), referral, request.form.get("status"), now,
                                    note=request.form.get("note"))
        saved = _("Saved: %(status)s.", status=labels.REFERRAL_STATUS_LABELS[referral.status])
    except Forbidden as exc:
        forbidden, status = True, exc.status
        error = _("You may not update referrals to this facility.")
    except Conflict as exc:
        status = exc.status
        error = _("This referral is now “%(status)s”; your change was not saved.",
                  status=labels.REFERRAL_STATUS_LABELS[referrals.get(referral_id).status])
    except InvalidInput as exc:
        status = exc.status
        if exc.field == "note":
            error = _("The note is too long (at most %(n)d characters).", n=referrals.STATUS_NOTE_LIMIT)
        else:
            error = _("Choose one of the buttons.")
    if not htmx:
        if error or saved:
            flash(error or saved, "error" if error else "success")
        if forbidden or referral.facility_id is None:
            return redirect(url_for("shelter.index"))
        return redirect(url_for("shelter.facility", facility_id=referral.facility_id))
    if forbidden:
        # Nothing of a referral one may not handle: only the answer.
        return render_template("shelter/_referral.html", referral=None, referral_id=referral_id,
                               error=error), status
    return render_template("shelter/_referral.html", referral=referrals.get(referral_id), referral_id=referral_id,
                           now=now, error=error, saved=saved), status
