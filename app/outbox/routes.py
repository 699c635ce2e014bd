from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app import clock
from app.extensions import db
from app.models.hotline import OUTBOX_STATUSES
from app.outbox import bp
from app.services.core import access
from app.services.core.errors import Conflict
from app.services.delivery import outbox
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required
from app.web.numbers import positive_int


@bp.route("/")
@roles_required(*access.OUTBOX_USERS)
def index():
    status = request.args.get("status") or None
    messages = db.paginate(outbox.listing(status), page=request.args.get("page", 1, type=positive_int), per_page=50,
                           error_out=False)
    return render_template("outbox/index.html", messages=messages, status=status, statuses=OUTBOX_STATUSES,
                           retryable=outbox.RETRYABLE, now=clock.now())


@bp.route("/<int:message_id>/retry", methods=["POST"])
@roles_required(*access.OUTBOX_USERS)
def retry(message_id: int):
    """A failed or waiting message: due now, sent by the next delivery run."""
    message = outbox.get(message_id)
    try:
        with unit_of_work.change():
            outbox.retry(current_actor(), message, clock.now())
    except Conflict:
        flash(_("This message is not sent again: it was sent, or it cannot be sent."), "error")
    else:
        flash(_("The message will be sent again within a few seconds."), "success")
    status = request.form.get("status")
    page = request.form.get("page", type=positive_int)
    return redirect(url_for("outbox.index", status=status if status in OUTBOX_STATUSES else None,
                            page=page if page and page > 1 else None))
