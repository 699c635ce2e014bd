"""Numbers in URLs, read by the one validation module. Werkzeug's own read
any Unicode digit ('٣' is 3) and have no bound, so a number past the
database's integer would overflow the query it reaches."""

from werkzeug.routing import BaseConverter, ValidationError

from app.services.core import validation
from app.services.core.errors import InvalidInput


class RecordIdConverter(BaseConverter):
    """The `<int:…>` of every route: a record's id in ASCII digits, from 1 to
    the database's largest integer. Anything else matches no route: 404."""

    regex = r"[0-9]+"
    weight = 50  # as Werkzeug's numbers: a number wins over a string in the same place

    def to_python(self, value: str) -> int:
        try:
            return validation.record_id(value, "id")
        except InvalidInput:
            raise ValidationError() from None

    def to_url(self, value) -> str:
        return str(int(value))


def positive_int(value: str) -> int:
    """A page number or an id in the query string, 1 to the database's largest
    integer: `request.args.get("page", 1, type=positive_int)`. Anything else
    raises ValueError, and get() answers its default."""
    try:
        return validation.whole_number(value, "number", 1, validation.MAX_ID)
    except InvalidInput as error:
        raise ValueError(error.message) from None
