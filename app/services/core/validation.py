"""Checking values that arrive as JSON or form fields: one set of rules and
one wording for every service. Each raises InvalidInput naming the field."""

import re
from datetime import datetime

from app.services.core.errors import InvalidInput

MAX_ID = 2**31 - 1


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def whole_number(value, field: str, lowest: int, highest: int) -> int:
    """A whole number from lowest to highest; JSON numbers and digits in text
    both count, booleans and fractions do not."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise InvalidInput(f"{field} must be a whole number", field=field)
    number = int(str(value).strip())
    if not lowest <= number <= highest:
        raise InvalidInput(f"{field} must be between {lowest} and {highest}", field=field)
    return number


def record_id(value, field: str) -> int | None:
    """The id of a record, or None when not given."""
    return None if blank(value) else whole_number(value, field, 1, MAX_ID)


def text(value, field: str, limit: int) -> str | None:
    """Text of at most `limit` characters, stripped; None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} is too long (at most {limit} characters)", field=field)
    return value.strip() or None


def items(value, field: str) -> list:
    """A list, or text separated by commas, semicolons or spaces (as a form sends it)."""
    if blank(value):
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[,;\s]+", value) if part]
    if isinstance(value, list | tuple):
        return [item for item in value if not blank(item)]
    raise InvalidInput(f"{field} must be a list", field=field)


def codes(value, field: str, allowed) -> list[str]:
    """Codes out of `allowed` (a list, or text as `items` reads it), lower
    case, each once, in the order given."""
    given = items(value, field)
    if any(not isinstance(item, str) for item in given):
        raise InvalidInput(f"{field} must be a list of codes", field=field)
    chosen = list(dict.fromkeys(item.strip().lower() for item in given))
    unknown = [code for code in chosen if code not in allowed]
    if unknown:
        raise InvalidInput(f"{field}: unknown {', '.join(unknown)} (use {', '.join(allowed)})", field=field)
    return chosen


def child_ages(value, field: str, oldest: int) -> list[int]:
    """Children's ages, each a whole number from 0 to `oldest`."""
    ages = []
    for age in items(value, field):
        if isinstance(age, bool) or not isinstance(age, int | str) or not str(age).strip().isdigit():
            raise InvalidInput(f"{field}: give each child's age as a whole number", field=field)
        age = int(str(age).strip())
        if age > oldest:
            raise InvalidInput(f"{field}: a child is 0 to {oldest} years old, not {age}", field=field)
        ages.append(age)
    return ages


def aware_time(value, field: str) -> datetime | None:
    """A time with its zone (ISO 8601), or None when not given."""
    if blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise InvalidInput(f"{field} must be a time like 2026-11-28T23:30:00+01:00", field=field) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{field} needs a time zone, like +01:00", field=field)
    return moment
