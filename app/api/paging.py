"""Lists page with ?limit= (default 100, at most 1000) and ?cursor=, and say
where the next page is in a `Link: <…>; rel="next"` header."""

from flask import request, url_for

from app.services.core.errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _whole(name: str, default: int | None, lowest: int) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < lowest:
        raise InvalidInput(f"{name} must be a whole number of at least {lowest}", field=name)
    return int(raw)


def page_args() -> tuple[int, int | None]:
    """(limit, cursor) from the query string."""
    limit = _whole("limit", DEFAULT_LIMIT, 1)
    if limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be at most {MAX_LIMIT}", field="limit")
    return limit, _whole("cursor", None, 0)


def next_link(rows: list, limit: int, cursor_of) -> dict:
    """Headers for a page: a next link when the page is full."""
    if len(rows) < limit:
        return {}
    args = {**request.args.to_dict(), **(request.view_args or {}), "cursor": cursor_of(rows[-1]), "limit": limit}
    return {"Link": f'<{url_for(request.endpoint, _external=True, **args)}>; rel="next"'}
