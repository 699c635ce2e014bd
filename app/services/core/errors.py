"""Errors a service raises; the web and API layers turn them into answers."""


class ServiceError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, current: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        # The current state of what is in conflict, as domain objects
        # ({"unit": unit}); the API answers them beside the error.
        self.current = current or {}


class InvalidInput(ServiceError):
    status = 400
    code = "invalid_field"


class Unauthenticated(ServiceError):
    status = 401
    code = "unauthenticated"


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Conflict(ServiceError):
    status = 409
    code = "conflict"


class TooManyRequests(ServiceError):
    status = 429
    code = "too_many_requests"


class Unavailable(ServiceError):
    """Something the answer needs from elsewhere (Twilio) is not there now."""

    status = 503
    code = "unavailable"
