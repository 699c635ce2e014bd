"""Checking values that arrive as JSON, form fields, query strings, file rows
or SMS words: one set of rules and one wording for every service, form and
route. Each function returns the value cleaned, or raises InvalidInput naming
the field.

Digits are ASCII digits: '²'.isdigit() is True yet int('²') raises, and
int('٣') is 3, so neither str.isdigit() nor int() decides what a number is.
Numbers, ids and years are bounded, so that no value overflows the
database's integer or the calendar further down."""

import re
from datetime import date, datetime

from app.services.core.errors import InvalidInput

# The database's integer: ids beyond it cannot exist, and would overflow a query.
MAX_ID = 2**31 - 1
# Years a date or time may name: a typo beyond them would overflow date arithmetic.
FIRST_YEAR = 2000
LAST_YEAR = 2100
MAX_EMAIL_LENGTH = 254

# Patterns are used with fullmatch: `$` would also match before a final newline.
WHOLE_NUMBER = re.compile(r"[-+]?[0-9]+")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
CLOCK_TIME = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# More digits than this are beyond any bound here; int() refuses thousands of them.
_MAX_DIGITS = 40


def blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def whole_number(value, field: str, lowest: int, highest: int) -> int:
    """A whole number from lowest to highest; JSON numbers and ASCII digits in
    text (with a sign) both count, booleans and fractions do not."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{field} must be a whole number", field=field)
    digits = value.strip() if isinstance(value, str) else str(value)
    if not WHOLE_NUMBER.fullmatch(digits):
        shown = f", not {value!r}" if len(value) <= _MAX_DIGITS else ""
        raise InvalidInput(f"{field} must be a whole number{shown}", field=field)
    if len(digits) > _MAX_DIGITS or not lowest <= int(digits) <= highest:
        raise InvalidInput(f"{field} must be between {lowest} and {highest}", field=field)
    return int(digits)


def optional_whole_number(value, field: str, lowest: int, highest: int) -> int | None:
    """A whole number as `whole_number` reads it, or None when not given."""
    return None if blank(value) else whole_number(value, field, lowest, highest)


def record_id(value, field: str) -> int | None:
    """The id of a record, or None when not given."""
    return optional_whole_number(value, field, 1, MAX_ID)


def text(value, field: str, limit: int, *, required: bool = False) -> str | None:
    """Text of at most `limit` characters, stripped; None when empty."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field=field)
    if value and "\x00" in value:
        raise InvalidInput(f"{field} must not contain a NUL character", field=field)
    value = (value or "").strip()
    if required and not value:
        raise InvalidInput(f"{field} is required", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} is too long (at most {limit} characters)", field=field)
    return value or None


def one_of(value, field: str, allowed) -> str | None:
    """One code out of `allowed`, or None when not given."""
    if blank(value):
        return None
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of {', '.join(allowed)}", field=field)
    return value


def slug(value, field: str, limit: int) -> str:
    """A required slug: lowercase letters and digits, words joined by dashes."""
    value = text(value, field, limit, required=True)
    if not SLUG.fullmatch(value):
        raise InvalidInput(f"{field}: lowercase letters, digits and dashes only", field=field)
    return value


def phone(value, field: str) -> str | None:
    """A phone number in E.164 form (spaces dropped), or None when not given."""
    value = (text(value, field, 32) or "").replace(" ", "")
    if value and not E164.fullmatch(value):
        raise InvalidInput(f"{field} must be in E.164 form, like +3232000000", field=field)
    return value or None


def email(value, field: str, *, limit: int = MAX_EMAIL_LENGTH, required: bool = False) -> str | None:
    """An e-mail address in lower case, or None when not given."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{field}: {value!r} is not an e-mail address", field=field)
    value = text(value, field, limit, required=required)
    if value is None:
        return None
    if not EMAIL.fullmatch(value):
        raise InvalidInput(f"{field}: {value!r} is not an e-mail address", field=field)
    return value.lower()


def clock_time(value, field: str, *, label: str | None = None) -> str:
    """A time of day as HH:MM, 00:00 to 23:59. `label` is what the message
    names (a day of the week, say); the field by default."""
    if not isinstance(value, str) or not CLOCK_TIME.fullmatch(value.strip()):
        raise InvalidInput(f"{label or field}: {value!r} is not a time like 08:00", field=field)
    return value.strip()


def calendar_date(value, field: str) -> date | None:
    """A date as YYYY-MM-DD, years FIRST_YEAR to LAST_YEAR; None when not given."""
    if blank(value):
        return None
    try:
        if not isinstance(value, str) or not DATE.fullmatch(value.strip()):
            raise ValueError
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field} must be a date like 2026-11-28", field=field) from None
    _check_year(day.year, field)
    return day


def aware_time(value, field: str) -> datetime | None:
    """A time with its zone (ISO 8601), years FIRST_YEAR to LAST_YEAR; None
    when not given."""
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
    _check_year(moment.year, field)
    return moment


def _check_year(year: int, field: str) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"{field} must be in the years {FIRST_YEAR} to {LAST_YEAR}", field=field)


def items(value, field: str) -> list:
    """A list, or text separated by commas, semicolons or spaces (as a form
    sends it); text items stripped, blank ones left out."""
    if blank(value):
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[,;\s]+", value) if part]
    if isinstance(value, list | tuple):
        return [item.strip() if isinstance(item, str) else item for item in value if not blank(item)]
    raise InvalidInput(f"{field} must be a list", field=field)


def codes(value, field: str, allowed) -> list[str]:
    """Codes out of `allowed` (a list, or text as `items` reads it), lower
    case, each once, in the order given."""
    given = items(value, field)
    if any(not isinstance(item, str) for item in given):
        raise InvalidInput(f"{field} must be a list of codes", field=field)
    chosen = list(dict.fromkeys(item.lower() for item in given))
    unknown = [code for code in chosen if code not in allowed]
    if unknown:
        raise InvalidInput(f"{field}: unknown {', '.join(unknown)} (use {', '.join(allowed)})", field=field)
    return chosen


def _child_age(age, field: str, oldest: int) -> int:
    if isinstance(age, bool) or not isinstance(age, int | str) or not WHOLE_NUMBER.fullmatch(str(age)):
        raise InvalidInput(f"{field}: give each child's age as a whole number", field=field)
    if len(str(age)) > _MAX_DIGITS or not 0 <= int(age) <= oldest:
        raise InvalidInput(f"{field}: a child is 0 to {oldest} years old, not {age}", field=field)
    return int(age)


def child_ages(value, field: str, oldest: int) -> list[int]:
    """Children's ages, each a whole number from 0 to `oldest`."""
    return [_child_age(age, field, oldest) for age in items(value, field)]


# A child's gender typed after the age: m (male), f or v (female: féminin, vrouwelijk), x.
_CHILD_GENDER_TEXT = re.compile(r"(\d+)([mfvx])", re.IGNORECASE)
_CHILD_GENDER_LETTERS = {"m": "male", "f": "female", "v": "female", "x": "x"}


def children(value, field: str, oldest: int, genders) -> list[tuple[int, str | None]]:
    """Children as (age, gender or None): each an age (a whole number 0 to
    `oldest`), an object {"age": 13, "gender": "male"} with a gender among
    `genders`, or text "13m" / "4f" (m, f or v, x after the age, as an
    operator types it: "13m, 4")."""
    found = []
    for child in items(value, field):
        gender = None
        if isinstance(child, dict):
            if set(child) - {"age", "gender"} or "age" not in child:
                raise InvalidInput(f'{field}: give a child as an age or {{"age": 13, "gender": "male"}}',
                                   field=field)
            age, gender = child["age"], child.get("gender")
            if gender in (None, ""):
                gender = None
            elif gender not in genders:
                raise InvalidInput(f"{field}: a child's gender is one of {', '.join(genders)}", field=field)
        elif isinstance(child, str) and (typed := _CHILD_GENDER_TEXT.fullmatch(child)):
            age, gender = typed.group(1), _CHILD_GENDER_LETTERS[typed.group(2).lower()]
        else:
            age = child
        found.append((_child_age(age, field, oldest), gender))
    return found
