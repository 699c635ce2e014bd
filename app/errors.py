"""Every error answers JSON under /api/ (and for JSON clients), HTML elsewhere:
`{"error": {"code", "message", "field"?}}` plus the current state on a 409.
Each handler first rolls the request's writes back (app.web.unit_of_work)."""

import logging
import traceback
from collections.abc import Callable
from datetime import datetime

from flask import Flask, current_app, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from app import clock
from app.services.core.errors import ServiceError, Unauthenticated
from app.web import unit_of_work

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    500: "internal_error",
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, *, field: str | None = None, extra: dict | None = None):
    if wants_json():
        error = {"code": code, "message": message}
        if field:
            error["field"] = field
        return jsonify({"error": error, **(extra or {})}), status
    template = "errors/_fragment.html" if request.headers.get("HX-Request") else "errors/page.html"
    return render_template(template, status=status, message=message), status


def serialise_conflicts_with(app: Flask, current_state_json: Callable[[dict, datetime], dict]) -> None:
    """How the current state a 409 carries (ServiceError.current) is put beside
    its error in JSON; the API registers its serializer (app.api)."""
    app.extensions["conflict_state_json"] = current_state_json


def exception_types(error: BaseException) -> str:
    """The exception's type and those of the exceptions it came from, without their messages."""
    names = []
    while error is not None and len(names) < 10:  # a chain can loop back on itself
        names.append(f"{type(error).__module__}.{type(error).__qualname__}")
        error = error.__cause__ or error.__context__
    return " from ".join(names)


def another_method_answers(error: MethodNotAllowed) -> bool:
    """Whether the URL names something one of the allowed methods answers.
    Werkzeug answers 405 when a route's id converter (app.web.numbers) refused
    the id and a route for another method on the same path came first: that
    path names nothing, which is a 404."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in error.valid_methods or ():
        try:
            adapter.match(method=method)
        except HTTPException:
            continue
        return True
    return False


def init_app(app: Flask) -> None:
    @app.errorhandler(ServiceError)
    def service_error(error: ServiceError):
        # Whatever a failed operation wrote is undone: never a partial write.
        unit_of_work.roll_back()
        if isinstance(error, Unauthenticated) and not wants_json():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        current_state_json = current_app.extensions.get("conflict_state_json")
        extra = current_state_json(error.current, clock.now()) if error.current and current_state_json else None
        return error_response(error.status, error.code, error.message, field=error.field, extra=extra)

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        unit_of_work.roll_back()
        return error_response(
            400, "csrf_failed", "The form expired or came from elsewhere; reload the page and try again."
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        unit_of_work.roll_back()
        if isinstance(error, MethodNotAllowed) and not another_method_answers(error):
            error = NotFound()
        return error_response(error.code, HTTP_CODES.get(error.code, "error"), error.description)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        # Also a commit that failed when the view had answered (app.web.unit_of_work).
        unit_of_work.roll_back()
        # What an exception says may quote what the request sent (a database
        # error names the values it could not write), which may be a
        # household's details: the log keeps where it went wrong, not what it said.
        log.error("unhandled %s on %s %s\n%s", exception_types(error), request.method, request.path,
                  "".join(traceback.format_tb(error.__traceback__)).rstrip())
        return error_response(500, "internal_error", "Something went wrong on our side; nothing was saved.")
