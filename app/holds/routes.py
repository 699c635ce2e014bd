"""'My holds': operators, managers and partners see the places they hold,
and extend or release them. Operators and managers may list every active hold."""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import clock
from app.extensions import db, htmx
from app.holds import bp
from app.services.core import access
from app.services.core.errors import Forbidden
from app.services.placement import hold_lists, holds
from app.web.auth import current_actor, roles_required
from app.web.holds import carry_out
from app.web.numbers import positive_int

# What one press on Extend adds.
EXTEND_MINUTES = 30
PAGE_SIZE = 50


def _sees_all() -> bool:
    return current_user.has_role(*access.ALL_HOLDS_LISTERS)


@bp.route("/holds")
@roles_required(*access.MY_HOLDS_USERS)
def index():
    now = clock.now()
    show_all = _sees_all() and request.args.get("show") == "all"
    own = hold_lists.own_active(current_user, now)
    pagination = None
    if show_all:
        pagination = db.paginate(hold_lists.all_active_query(current_user, now),
                                 page=request.args.get("page", 1, type=positive_int), per_page=PAGE_SIZE,
                                 error_out=False)
        rows = pagination.items
    else:
        rows = own
    return render_template("holds/index.html", now=now, rows=rows, own_count=len(own), show_all=show_all,
                           sees_all=_sees_all(), pagination=pagination, extend_minutes=EXTEND_MINUTES,
                           default_minutes=current_app.config["HOLD_DEFAULT_MINUTES"])


@bp.route("/holds/<int:hold_id>/<any(extend, release):action>", methods=["POST"])
@roles_required(*access.MY_HOLDS_USERS)
def act(hold_id: int, action: str):
    """Extend (+30 min) or release one hold; answers its row (htmx) or goes back
    to the list. A refusal (409, 403) is said inline in the row."""
    hold = holds.get(hold_id)
    if not access.may_see_hold(current_user, hold):
        # Not even shown: someone else's hold stays out of sight.
        raise Forbidden("this hold is not yours")
    now = clock.now()
    actor = current_actor()

    def change():
        if action == "extend":
            return holds.extend(actor, hold, EXTEND_MINUTES, now)
        return holds.release(actor, hold, now, outcome=request.form.get("outcome"))

    message, error, status = carry_out(action, hold_id, now, change,
                                       _("You may extend or release only the holds you made."),
                                       minutes=EXTEND_MINUTES)
    hold = holds.get(hold_id)
    if not htmx:
        flash(error or message, "error" if error else "success")
        return redirect(url_for("holds.index", show=request.form.get("show") or None))
    return render_template("holds/_hold.html", hold=hold, now=now, show_all=request.form.get("show") == "all",
                           extend_minutes=EXTEND_MINUTES, hold_message=message, hold_error=error), status
