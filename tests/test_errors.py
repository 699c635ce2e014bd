"""Answers to what the app cannot take: bodies too large, and failures of its
own, whose logs must not carry what the request said about people."""

import logging

import pytest
from sqlalchemy import event

from app.extensions import db
from tests import factories as make
from tests.api import call


@pytest.fixture
def operator_token(app):
    facility = make.facility(units={"crisis_bed": (8, 2)})
    operator = make.user("operator")
    db.session.commit()
    token = make.token_for(operator)
    db.session.commit()
    return facility.units[0].id, token


def test_a_body_over_one_megabyte_is_refused_with_413_in_the_error_shape(client, operator_token):
    unit_id, token = operator_token
    household = "x" * (1024 * 1024)
    response = call(client, "POST", "/api/v1/holds", token, json={"unit_id": unit_id, "persons": 1,
                                                                  "household": household})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    just_under = call(client, "POST", "/api/v1/holds", token, json={"unit_id": unit_id, "persons": 1,
                                                                    "household": "x" * (1000 * 1024)})
    assert just_under.status_code == 400 and just_under.get_json()["error"]["field"] == "household"


def test_a_failed_insert_logs_where_it_failed_but_not_the_households_details(app, client, operator_token, caplog):
    unit_id, token = operator_token
    with app.app_context():
        engine = db.engine
    refusal = engine.dialect.loaded_dbapi.IntegrityError

    def refuse_holds(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO HOLDS"):
            raise refusal("the database refuses")

    event.listen(engine, "before_cursor_execute", refuse_holds)
    try:
        with caplog.at_level(logging.ERROR):
            response = call(client, "POST", "/api/v1/holds", token, json={
                "unit_id": unit_id, "persons": 2, "household": "Mother Anna Peeters and two children",
                "contact": "+32470123456", "note": "fled on Friday night"})
    finally:
        event.remove(engine, "before_cursor_execute", refuse_holds)
    assert response.status_code == 500, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "internal_error"
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "POST /api/v1/holds" in logged and "IntegrityError" in logged
    for value in ("Anna Peeters", "470123456", "fled on Friday"):
        assert value not in logged


def test_a_nul_character_anywhere_in_a_request_is_refused_with_400_and_nothing_is_written(client, operator_token):
    """PostgreSQL refuses NUL in text: without the check these were 500s
    (schemathesis found `?region=%00` on the turn-aways)."""
    from app.models import Hold

    unit_id, token = operator_token
    in_query = call(client, "GET", "/api/v1/turn-aways?region=gent%00", token)
    assert in_query.status_code == 400
    assert in_query.get_json()["error"] == {"code": "invalid_field", "field": "region",
                                            "message": "region must not contain a NUL character"}
    assert call(client, "GET", "/api/v1/facilities?kind=%00", token).status_code == 400
    in_json = call(client, "POST", "/api/v1/holds", token, json={"unit_id": unit_id, "persons": 1,
                                                                 "household": "mother\x00and child"})
    assert in_json.status_code == 400 and in_json.get_json()["error"]["field"] == "household"
    in_form = client.post("/auth/login", data={"email": "x\x00@example.org", "password": "p"})
    assert in_form.status_code == 400 and b"NUL character" in in_form.data
    assert db.session.query(Hold).count() == 0
