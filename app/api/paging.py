"""Lists page with ?limit= (default 100, at most 1000) and ?cursor=, and say
where the next page is in a `Link: <…>; rel="next"` header."""

from flask import request, url_for

from app.services.core import validation

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def page_args() -> tuple[int, int | None]:
    """(limit, cursor) from the query string."""
    limit = validation.optional_whole_number(request.args.get("limit"), "limit", 1, MAX_LIMIT)
    cursor = validation.optional_whole_number(request.args.get("cursor"), "cursor", 0, validation.MAX_ID)
    return DEFAULT_LIMIT if limit is None else limit, cursor


def next_link(rows: list, limit: int, cursor_of) -> dict:
    """Headers for a page: a next link when the page is full."""
    if len(rows) < limit:
        return {}
    args = {**request.args.to_dict(), **(request.view_args or {}), "cursor": cursor_of(rows[-1]), "limit": limit}
    return {"Link": f'<{url_for(request.endpoint, _external=True, **args)}>; rel="next"'}
