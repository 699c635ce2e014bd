"""Placement requests: the waiting list (PRODUCT.md flow D).

Interface fixed for the holds code; the waiting list is built in issue 10.
"""

from datetime import datetime


def hold_ended(hold, now: datetime) -> None:
    """A hold made for a request (hold.request_id) ended with hold.outcome:
    admitted places the request; declined, no_show, expired and lapsed leave
    it open for new offers; elsewhere and cancelled withdraw it."""
