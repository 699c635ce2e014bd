"""Sending a text a request has just written to the outbox at once, rather
than waiting for the scheduler's next delivery run."""

import logging

from app import clock
from app.services.delivery import sending
from app.web import unit_of_work

log = logging.getLogger(__name__)


def deliver_now(outbox_id: int) -> None:
    """Commit the request's writes, the outbox message among them, then one
    attempt to send the message, under the same claim as the scheduler's
    delivery runs (so never sent by both). Whatever happens to the sending is
    recorded in its row (or left pending for the next delivery run); it never
    fails the request that wrote it."""
    unit_of_work.commit_now()
    try:
        with unit_of_work.change():
            sending.deliver_now(outbox_id, clock.now())
    except Exception:  # noqa: BLE001 - the message is in the outbox; a later run delivers it
        log.exception("delivering outbox message %d failed; it stays in the outbox", outbox_id)
