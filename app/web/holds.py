"""One press on a hold's button (confirm, release, extend, accept, decline),
for both pages that have them: the shelter page and 'My holds'."""

from collections.abc import Callable
from datetime import datetime

from flask import current_app
from flask_babel import gettext as _

from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.placement import holds
from app.web import unit_of_work
from app.web.hold_presenters import done_text, refusal_text


def carry_out(action: str, hold_id: int, now: datetime, change: Callable[[], object], forbidden: str,
              **done) -> tuple[str | None, str | None, int]:
    """Make the change (the request commits it, or rolls it back on a
    refusal); what to tell the user: (message, error, status). `forbidden` is
    the error for a 403; `done` goes to done_text."""
    try:
        with unit_of_work.change():
            change()
    except Conflict as exc:
        return None, refusal_text(action, holds.get(hold_id), now), exc.status
    except Forbidden as exc:
        return None, forbidden, exc.status
    except InvalidInput as exc:
        # Only a form sent by hand gets here: the page's choices are valid.
        return None, _("Choose how the hold ended, and for a decline its reason."), exc.status
    return done_text(action, holds.get(hold_id), now, **done), None, 200


def minute_choices(call) -> tuple[list[int], int]:
    """A Hold button's choice of minutes, and the one pre-selected: the
    longest for a call screened high risk (holds.default_minutes_for)."""
    choices = sorted({current_app.config["HOLD_DEFAULT_MINUTES"], current_app.config["HOLD_LONGEST_MINUTES"]})
    return choices, holds.default_minutes_for(call)
