from flask import abort, render_template, request
from sqlalchemy import select

from app.auth import roles_required
from app.extensions import db
from app.models import OutboxMessage
from app.models.hotline import OUTBOX_STATUSES
from app.outbox import bp


@bp.route("/")
@roles_required("operator", "manager", "admin")
def index():
    status = request.args.get("status") or None
    if status is not None and status not in OUTBOX_STATUSES:
        abort(400, f"status must be one of {', '.join(OUTBOX_STATUSES)}")
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc())
    if status:
        query = query.where(OutboxMessage.status == status)
    messages = db.paginate(query, page=request.args.get("page", 1, type=int), per_page=50, error_out=False)
    return render_template("outbox/index.html", messages=messages, status=status, statuses=OUTBOX_STATUSES)
