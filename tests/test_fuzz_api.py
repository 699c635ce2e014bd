"""The whole API, fuzzed from the OpenAPI document it publishes: every
operation gets generated requests, sent as each role in turn through the app
in-process. None may answer 5xx, and every answer must be one the document
describes (status code, content type, body schema). Bounded and derandomized,
so that the run is short and the same each time."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.api.openapi import openapi_document
from app.extensions import db
from tests import factories as make

ROLES = ("operator", "shelter_staff", "manager", "partner", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def tokens(app) -> dict[str, str]:
    """A small world to act on, and a token for a user of each role."""
    facility = make.facility("crisis-antwerpen", units={"crisis_bed": (8, 2)})
    make.facility("refuge-gent", region_slug="oost-vlaanderen", units={"crisis_bed": (4, 1)}, confidential=True)
    people = {
        "operator": make.user("operator"),
        "shelter_staff": make.user("shelter_staff", facilities_=[facility]),
        "manager": make.user("manager", regions=[facility.region]),
        "partner": make.user("partner"),
        "admin": make.user("admin"),
    }
    db.session.commit()
    issued = {role: make.token_for(user) for role, user in people.items()}
    db.session.commit()
    return issued


# The document as /api/v1/openapi.json serves it (tests/test_openapi.py checks
# that it does); read here rather than through a fixture, since schemathesis's
# fixture-based loader does not run on this pytest.
schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_every_operation_answers_as_documented_for_every_role(case, app, tokens):
    for role in ROLES:
        case.call_and_validate(app=app, headers={"Authorization": f"Bearer {tokens[role]}"}, checks=CHECKS)
