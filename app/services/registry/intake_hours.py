"""Weekly intake hours: `{"always": bool, "weekly": {"mon": [["08:00", "20:00"]], ...}}`.

Times are local (the app's time zone). A period that ends at or before it
starts runs past midnight ("20:00"–"08:00" is a night shift).
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.services.core import validation
from app.services.core.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALWAYS = {"always": True, "weekly": {day: [] for day in DAYS}}


def normalise(hours, field: str = "intake_hours") -> dict:
    """Validate intake hours and return them in their one stored shape."""
    if hours is None:
        return {"always": True, "weekly": {day: [] for day in DAYS}}
    if not isinstance(hours, dict):
        raise InvalidInput("intake hours must be an object with 'always' and 'weekly'", field=field)
    always = bool(hours.get("always", False))
    weekly = hours.get("weekly") or {}
    if not isinstance(weekly, dict):
        raise InvalidInput("weekly must map days (mon…sun) to periods", field=field)
    unknown = sorted(set(weekly) - set(DAYS))
    if unknown:
        raise InvalidInput(f"unknown day {', '.join(unknown)}: use mon, tue, … sun", field=field)
    clean = {}
    for day in DAYS:
        periods = weekly.get(day) or []
        if not isinstance(periods, list):
            raise InvalidInput(f"{day}: periods must be a list of [from, to]", field=field)
        clean[day] = []
        for period in periods:
            if not (isinstance(period, list | tuple) and len(period) == 2):
                raise InvalidInput(f"{day}: each period is [from, to]", field=field)
            start, end = (validation.clock_time(value, field, label=day) for value in period)
            if start == end:
                raise InvalidInput(f"{day}: a period from {start} to {end} is empty", field=field)
            clean[day].append([start, end])
        clean[day].sort()
    if not always and not any(clean.values()):
        raise InvalidInput("give intake hours for at least one day, or 24/7", field=field)
    return {"always": always, "weekly": clean}


def parse_text(text: str, field: str = "intake_hours") -> dict:
    """Intake hours from the compact text form used in files and forms:
    '24/7', or 'mon 08:00-20:00; tue 08:00-12:00,13:00-17:00; sat 20:00-08:00'."""
    text = (text or "").strip()
    if text.lower() in ("", "24/7", "always"):
        return normalise(None)
    weekly = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        day, _, spans = part.partition(" ")
        day = day.lower()[:3]
        periods = []
        for span in filter(None, (s.strip() for s in spans.split(","))):
            start, sep, end = span.partition("-")
            if not sep:
                raise InvalidInput(f"{part!r}: write periods as 08:00-20:00", field=field)
            periods.append([start.strip(), end.strip()])
        weekly.setdefault(day, []).extend(periods)
    return normalise({"always": False, "weekly": weekly}, field)


def to_text(hours: dict) -> str:
    if hours.get("always"):
        return "24/7"
    return "; ".join(
        f"{day} " + ",".join(f"{a}-{b}" for a, b in periods)
        for day, periods in hours["weekly"].items()
        if periods
    )


def _intervals(hours: dict, local: datetime):
    """Open intervals (local datetimes) touching the week around `local`."""
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in range(-1, 8):
        day_start = midnight + timedelta(days=offset)
        for start, end in hours["weekly"][DAYS[day_start.weekday()]]:
            opens = datetime.combine(day_start.date(), time.fromisoformat(start), local.tzinfo)
            closes = datetime.combine(day_start.date(), time.fromisoformat(end), local.tzinfo)
            if closes <= opens:
                closes += timedelta(days=1)
            yield opens, closes


def is_open(hours: dict, now: datetime, zone: ZoneInfo) -> bool:
    if hours.get("always"):
        return True
    local = now.astimezone(zone)
    return any(opens <= local < closes for opens, closes in _intervals(hours, local))


def next_opening(hours: dict, now: datetime, zone: ZoneInfo) -> datetime | None:
    """When intake opens next (aware, local), or None if it is open now."""
    if is_open(hours, now, zone):
        return None
    local = now.astimezone(zone)
    upcoming = [opens for opens, _ in _intervals(hours, local) if opens > local]
    return min(upcoming) if upcoming else None
