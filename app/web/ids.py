"""The `<int:…>` of every route: a record's id in ASCII digits, 1 to the
database's largest integer. Werkzeug's own reads any Unicode digit ('٣' is
3) and no bound, so an id past the integer's range would overflow the query;
here such a URL matches no route, and answers 404."""

from werkzeug.routing import BaseConverter, ValidationError

from app.services.core import validation
from app.services.core.errors import InvalidInput


class RecordIdConverter(BaseConverter):
    regex = r"[0-9]+"
    weight = 50  # as Werkzeug's numbers: a number wins over a string in the same place

    def to_python(self, value: str) -> int:
        try:
            return validation.record_id(value, "id")
        except InvalidInput:
            raise ValidationError() from None

    def to_url(self, value) -> str:
        return str(int(value))
