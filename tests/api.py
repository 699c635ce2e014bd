"""Calling the API as a partner system would, and checking its answers
against the OpenAPI description it publishes."""

from jsonschema import Draft202012Validator

from app.api.openapi import openapi_document

_DOCUMENT = openapi_document()


def call(client, method: str, path: str, token: str | None = None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.open(path, method=method, headers=headers, **kwargs)


def assert_documented(response, template: str, method: str = "get"):
    """The answer has a status the description lists for this path, and a
    body that validates against the schema it gives."""
    responses = _DOCUMENT["paths"][template][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {template} answered {status}, which is not described"
    schema = responses[status]["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": _DOCUMENT["components"]})
    errors = sorted(validator.iter_errors(response.get_json()), key=lambda e: e.path)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    return response.get_json()
