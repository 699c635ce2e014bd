"""What the parts of the API's description share: references, answers, errors, paging."""

from app.services.core import validation


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def array(name: str) -> dict:
    return {"type": "array", "items": ref(name)}


def response(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*statuses: int) -> dict:
    text = {
        400: "Invalid input; `field` names what is wrong",
        401: "No or bad token",
        403: "Not allowed for this user",
        404: "Unknown id",
        409: "Conflict; the body also carries the current state",
        503: "What the answer needs from elsewhere (Twilio) is not there now; try again",
    }
    return {str(status): response(ref("Error"), text[status]) for status in statuses}


NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_STRING = {"type": ["string", "null"]}
# A time of day as the services check it (HH:MM), anchored as JSON Schema wants.
CLOCK_TIME = {"type": "string", "pattern": f"^{validation.CLOCK_TIME.pattern}$"}
TIME = {"type": "string", "format": "date-time"}
PAGING = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
    {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 0},
     "description": "From the `Link: <…>; rel=\"next\"` header of the previous page."},
]


def id_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}
