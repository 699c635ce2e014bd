"""/api/v1/openapi.json describes every API route, and nothing else."""

import re

from jsonschema import Draft202012Validator

from app.api.openapi import openapi_document


def routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            found.update((path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"})
    return found


def test_every_api_route_is_described_and_nothing_else(app):
    document = openapi_document()
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes(app) == described


def test_the_description_is_served_and_its_schemas_are_valid(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for item in document["paths"].values():
        for operation in item.values():
            assert operation["responses"], operation["summary"]
