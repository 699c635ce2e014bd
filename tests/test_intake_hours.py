"""Weekly intake hours in local time, across midnight and daylight saving."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.services.core.errors import InvalidInput
from app.services.registry import intake_hours

BRUSSELS = ZoneInfo("Europe/Brussels")
OFFICE = intake_hours.parse_text("mon 08:00-12:00,13:00-17:00; tue 08:00-17:00; sat 20:00-08:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BRUSSELS).astimezone(UTC)


@pytest.mark.parametrize("moment, expected", [
    ("2026-11-30 08:00", True),   # Monday, opening minute
    ("2026-11-30 12:30", False),  # lunch
    ("2026-11-30 16:59", True),
    ("2026-11-30 17:00", False),  # closing minute is closed
    ("2026-11-28 23:30", True),   # Saturday night shift...
    ("2026-11-29 07:59", True),   # ...runs into Sunday morning
    ("2026-11-29 08:00", False),
])
def test_is_open(moment, expected):
    assert intake_hours.is_open(OFFICE, at(moment), BRUSSELS) is expected


def test_next_opening_says_when():
    assert intake_hours.next_opening(OFFICE, at("2026-11-30 12:30"), BRUSSELS) == at("2026-11-30 13:00")
    assert intake_hours.next_opening(OFFICE, at("2026-11-29 09:00"), BRUSSELS) == at("2026-11-30 08:00")
    assert intake_hours.next_opening(OFFICE, at("2026-11-30 09:00"), BRUSSELS) is None


def test_local_hours_hold_across_daylight_saving():
    # 08:00 in Brussels is 07:00 UTC in winter and 06:00 UTC in summer.
    assert intake_hours.is_open(OFFICE, datetime(2026, 11, 30, 7, 0, tzinfo=UTC), BRUSSELS)
    assert intake_hours.is_open(OFFICE, datetime(2026, 6, 1, 6, 0, tzinfo=UTC), BRUSSELS)
    assert not intake_hours.is_open(OFFICE, datetime(2026, 6, 1, 5, 59, tzinfo=UTC), BRUSSELS)


def test_always_open():
    always = intake_hours.parse_text("24/7")
    assert always["always"] and intake_hours.is_open(always, at("2026-11-29 03:00"), BRUSSELS)
    assert intake_hours.to_text(always) == "24/7"
    assert intake_hours.parse_text(intake_hours.to_text(OFFICE)) == OFFICE


@pytest.mark.parametrize("text", [
    "mon 8-17", "mon 08:00", "xyz 08:00-17:00", "mon 25:00-26:00", "mon 08:00-08:00", "mon", "tue 08:00-1700",
])
def test_bad_hours_are_refused(text):
    with pytest.raises(InvalidInput):
        intake_hours.parse_text(text)
