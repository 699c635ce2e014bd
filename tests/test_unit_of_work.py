"""One commit per request (app/web/unit_of_work.py): a successful answer is
committed once, an error answer writes nothing, a failed commit is answered
as an error (TwiML with the emergency numbers for a voice webhook), and
writes that must stay whatever the answer (failed webhook signatures) stay.

A small blueprint, registered on the test app only, writes a region and then
fails in each way a view can fail. The database refuses writes with a
trigger, so that the commit itself fails."""

import xml.etree.ElementTree as ET

import pytest
from flask import Blueprint, redirect
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import Call, RateCounter, Region
from app.services.core.errors import Conflict
from tests import factories as make
from tests.twilio_signing import signed_post

SID = "CA00000000000000000000000000000077"
CALL = {"AccountSid": "AC" + "0" * 32, "CallSid": SID, "From": "+32470123412", "To": "+3220000000"}

writes = Blueprint("unit_of_work_test", __name__, url_prefix="/unit-of-work-test")


def _write_a_region() -> None:
    db.session.add(Region(slug="written", name="Written by the request"))
    db.session.flush()


@writes.post("/saved")
def saved():
    _write_a_region()
    return "saved", 201


@writes.post("/saved-then-redirect")
def saved_then_redirect():
    _write_a_region()
    return redirect("/")


@writes.post("/written-unflushed")
def written_unflushed():
    # Not flushed: the database sees the row only when the request commits.
    db.session.add(Region(slug="written", name="Written by the request"))
    return "saved", 201


@writes.post("/service-error")
def service_error():
    _write_a_region()
    raise Conflict("refused after writing")


@writes.post("/error-answered-by-the-view")
def error_answered_by_the_view():
    _write_a_region()
    return "refused after writing", 409


@writes.post("/crash")
def crash():
    _write_a_region()
    raise RuntimeError("a bug after writing")


@pytest.fixture
def app_config():
    # An app of this module's own (the suite builds one per configuration),
    # so that the blueprint is registered before its first request.
    return {"UNIT_OF_WORK_TEST_ROUTES": True}


@pytest.fixture
def app(app):
    if writes.name not in app.blueprints:
        app.register_blueprint(writes)
    return app


def _refuse(table: str, operation: str) -> None:
    """From now on the database refuses every `operation` (INSERT, UPDATE) on
    `table`: PostgreSQL at COMMIT (a deferred constraint trigger), SQLite,
    which has none, when the row is written (at the latest by the commit)."""
    if db.engine.dialect.name == "sqlite":
        db.session.execute(text(f"CREATE TRIGGER refuse_{table} BEFORE {operation} ON {table} "
                                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"))
    else:
        db.session.execute(text("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                                "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"))
        db.session.execute(text(f"CREATE CONSTRAINT TRIGGER refuse_{table} AFTER {operation} ON {table} "
                                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"))
    db.session.commit()


@pytest.fixture
def refusing(app):
    """`refusing(table, operation)`; the triggers are dropped after the test."""
    tables = []

    def refuse(table: str, operation: str) -> None:
        _refuse(table, operation)
        tables.append(table)

    yield refuse
    db.session.rollback()
    for table in tables:
        db.session.execute(text(f"DROP TRIGGER refuse_{table}" + ("" if db.engine.dialect.name == "sqlite"
                                                                  else f" ON {table}")))
    if tables and db.engine.dialect.name != "sqlite":
        db.session.execute(text("DROP FUNCTION refuse()"))
    db.session.commit()


def regions_written() -> int:
    db.session.rollback()  # read afresh, after the request
    return db.session.scalar(select(func.count()).select_from(Region).where(Region.slug == "written"))


# --- the answer decides ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/saved", "/saved-then-redirect"])
def test_a_successful_answer_is_committed(client, path):
    response = client.post(f"/unit-of-work-test{path}")
    assert response.status_code in (201, 302)
    assert regions_written() == 1


@pytest.mark.parametrize(("path", "status"), [
    ("/service-error", 409),
    ("/error-answered-by-the-view", 409),
    ("/crash", 500),
])
def test_a_failing_view_writes_nothing(client, path, status):
    response = client.post(f"/unit-of-work-test{path}")
    assert response.status_code == status
    assert regions_written() == 0


def test_a_successful_post_of_a_real_route_is_committed(client):
    user = make.user("operator", language="en")
    make.login(client, user)
    assert client.post("/language", data={"language": "fr"}).status_code == 302
    db.session.rollback()
    assert db.session.get(type(user), user.id).language == "fr"


def test_a_commit_that_fails_is_answered_as_an_error_not_as_the_success(client, refusing):
    refusing("regions", "INSERT")
    response = client.post("/unit-of-work-test/written-unflushed", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert regions_written() == 0


# --- the webhooks ------------------------------------------------------------------------


def test_a_voice_webhook_whose_commit_fails_still_gives_the_emergency_numbers(client, refusing):
    assert signed_post(client, "/hotline/voice", {**CALL, "CallStatus": "ringing"}).status_code == 200
    refusing("calls", "UPDATE")
    # The voicemail is an UPDATE of the call, written only when the webhook commits.
    response = signed_post(client, "/hotline/voice/recorded",
                           {**CALL, "RecordingUrl": "https://api.twilio.test/recording", "RecordingDuration": "9"})
    assert response.status_code == 200 and response.mimetype == "text/xml"
    root = ET.fromstring(response.data)
    assert [child.tag for child in root] == ["Say", "Say", "Say", "Hangup"]
    assert all("112" in say.text for say in root.findall("Say"))
    db.session.rollback()
    assert db.session.scalar(select(Call.voicemail_at).where(Call.sid == SID)) is None


def test_a_forged_webhook_is_refused_and_still_counted(client):
    response = client.post("/hotline/voice", data=CALL, headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    db.session.rollback()
    assert db.session.scalar(select(RateCounter.count).where(RateCounter.key.like("webhook-signature:%"))) == 1
    assert db.session.scalar(select(func.count()).select_from(Call)) == 0
