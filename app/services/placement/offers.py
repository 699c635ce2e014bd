"""Offers of freed places to the waiting list (PRODUCT.md flow D).

Interface fixed for the code that frees places; the matching is built in issue 10.
"""

from collections.abc import Iterable
from datetime import datetime


def places_freed(unit_ids: Iterable[int], now: datetime) -> list:
    """Places of these units may have freed up (a count rose, a hold ended, a
    facility reopened or entered its intake hours): offer them, in the same
    transaction, to the open requests they fit. Returns the offers made."""
    return []
