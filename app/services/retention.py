"""Retention (PRODUCT.md section 5, rules 2 and 6): data kept only as long as
it is needed. Plain functions taking `now`; they never commit. The scheduler
runs them (the alerts issue adds the job); `flask hotline erase-numbers` too.
"""

import logging
from datetime import datetime

from sqlalchemy import or_, update

from app.extensions import db
from app.models import Call

log = logging.getLogger(__name__)


def erase_expired_numbers(now: datetime) -> int:
    """Erase the full numbers (sealed) kept for a call-back or an SMS
    conversation whose `number_erase_at` has passed; how many were erased.

    Only `number_sealed` and `number_kept_for` are cleared: the keyed hash,
    the masked number and `number_erase_at` (when it was due) stay, and so
    does everything else of the contact."""
    result = db.session.execute(
        update(Call)
        .where(
            Call.number_erase_at <= now,
            or_(Call.number_sealed.is_not(None), Call.number_kept_for.is_not(None)),
        )
        .values(number_sealed=None, number_kept_for=None)
        .execution_options(synchronize_session="fetch")
    )
    erased = result.rowcount
    if erased:
        log.info("erased %d kept caller numbers past their retention", erased)
    return erased
