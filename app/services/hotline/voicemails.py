"""The voicemail queue (PRODUCT.md flow E; section 5, rule 10).

A voicemail is a call with `voicemail_at` (app.services.hotline.calls.
record_recording): it waits "unheard", with or without the caller's consent
to a call-back, in the console's live list until an operator handles it with
an outcome (VOICEMAIL_OUTCOMES). Its audio stays at Twilio, reached only
through the app by operators and managers, each listening audited; past its
retention the scheduler deletes it there (app.services.scheduling.retention).

Plain functions taking `now`; they never commit.
"""

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Call
from app.models.hotline import VOICEMAIL_OUTCOMES, VOICEMAIL_STATUSES
from app.services.core import audit
from app.services.core.access import VOICEMAIL_HANDLERS, VOICEMAIL_LISTENERS, Actor
from app.services.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from app.services.hotline import twilio_gateway
from app.services.hotline.calls import HANDLED, UNHEARD

log = logging.getLogger(__name__)


def get(call_id: int) -> Call:
    """The voicemail left in call `call_id` (a voicemail's id is its call's)."""
    call = db.session.get(Call, call_id)
    if call is None or call.voicemail_at is None:
        raise NotFound(f"no voicemail {call_id}")
    return call


def listed(*, status: str | None = None, after_id: int | None = None, limit: int = 100) -> list[Call]:
    """The voicemails by id (the order the calls came in: the one waiting
    longest first), of `status` ("unheard": the queue)."""
    if status is not None and status not in VOICEMAIL_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(VOICEMAIL_STATUSES)}", field="status")
    query = select(Call).where(Call.voicemail_at.is_not(None), Call.id > (after_id or 0))
    if status is not None:
        query = query.where(Call.voicemail_status == status)
    return list(db.session.scalars(query.options(selectinload(Call.voicemail_handled_by))
                                   .order_by(Call.id).limit(limit)))


def handle(actor: Actor, call: Call, outcome: str | None, now: datetime) -> Call:
    """`actor` handled the voicemail of `call` with `outcome`: it leaves the
    queue. Once only: a voicemail handled already (by a colleague a moment
    before, too) is a Conflict, and the first handling stays."""
    if not actor.has_role(*VOICEMAIL_HANDLERS):
        raise Forbidden("handling a voicemail needs the role operator or manager")
    if outcome not in VOICEMAIL_OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(VOICEMAIL_OUTCOMES)}", field="outcome")
    # One statement decides between two operators handling it at once.
    handled = db.session.execute(
        update(Call)
        .where(Call.id == call.id, Call.voicemail_at.is_not(None), Call.voicemail_status == UNHEARD)
        .values(voicemail_status=HANDLED, voicemail_outcome=outcome, voicemail_handled_at=now,
                voicemail_handled_by_id=actor.user_id, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.refresh(call)
    if not handled:
        raise Conflict(f"this voicemail was handled already ({call.voicemail_outcome})")
    audit.record(actor, "voicemail.handled", now, call, outcome=outcome)
    log.info("voicemail of call %s handled (%s) by user %s", call.sid, outcome, actor.user_id)
    return call


def open_audio(actor: Actor, call: Call) -> twilio_gateway.Audio:
    """The audio of the voicemail of `call`, streaming from Twilio, for
    `actor` to hear (then `record_listening`: each listening is audited).
    NotFound once the recording is deleted (after its retention, or at
    Twilio); Unavailable while Twilio cannot give it."""
    if not actor.has_role(*VOICEMAIL_LISTENERS):
        raise Forbidden("voicemails are heard by operators and managers only")
    if call.recording_sid is None:
        raise NotFound("the recording of this voicemail no longer exists (deleted after its retention)")
    try:
        return twilio_gateway.recording_audio(current_app.config, call.recording_sid)
    except twilio_gateway.RecordingFailure as failure:
        log.warning("recording %s of call %s could not be fetched: %s", call.recording_sid, call.sid,
                    failure.message)
        if failure.status == 404:
            raise NotFound("Twilio no longer has this recording") from None
        raise Unavailable(f"the recording cannot be fetched from Twilio now ({failure.message})") from None


def record_listening(actor: Actor, call: Call, now: datetime) -> None:
    """`actor` is hearing the voicemail of `call` (PRODUCT.md section 5, rule 10)."""
    audit.record(actor, "voicemail.listened", now, call, recording=call.recording_sid)
