"""Sending a text a request has just written to the outbox, right after the
request's commit, rather than waiting for the scheduler's next delivery run."""

import logging

from app import clock
from app.extensions import db
from app.services.delivery import sending

log = logging.getLogger(__name__)


def deliver_now(outbox_id: int) -> None:
    """One attempt to send an outbox message just committed, under the same
    claim as the scheduler's delivery runs (so never sent by both). Whatever
    happens is recorded in its row (or left pending for the next delivery
    run); it never fails the request that wrote it."""
    try:
        sending.deliver_now(outbox_id, clock.now())
    except Exception:  # noqa: BLE001 - the message is in the outbox; a later run delivers it
        db.session.rollback()
        log.exception("delivering outbox message %d failed; it stays in the outbox", outbox_id)
