"""Behind a trusted proxy (`TRUSTED_PROXIES`), the client's address is the one
in X-Forwarded-For: audit events and the webhook failure limit see the client,
not the proxy (issue 9, item 11)."""

import logging

import pytest
from sqlalchemy import select

from app.extensions import db
from app.hotline import FAILURE_LIMIT
from app.models import AuditEvent, RateCounter
from tests import factories as make

PROXY = {"REMOTE_ADDR": "10.0.0.2"}
CLIENT = "203.0.113.9"
OTHER_CLIENT = "198.51.100.1"
FORGED = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "0" * 32, "From": "+32470123412", "To": "+3220000000"}


@pytest.fixture
def app_config():
    return {"TRUSTED_PROXIES": 1}


def forge(client, forwarded_for: str) -> int:
    return client.post("/hotline/voice", data=FORGED, environ_base=PROXY,
                       headers={"X-Forwarded-For": forwarded_for}).status_code


def counters() -> dict:
    db.session.rollback()
    return {row.key: row.count for row in db.session.scalars(select(RateCounter))}


def test_audit_events_keep_the_clients_address_not_the_proxys(client):
    user = make.user("operator")
    db.session.commit()
    make.login(client, user)
    client.post("/logout", environ_base=PROXY, headers={"X-Forwarded-For": f"{OTHER_CLIENT}, {CLIENT}"})
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "logout"))
    # One trusted hop: the address the proxy saw, not one the client put in the header.
    assert event.ip == CLIENT


def test_forged_webhooks_are_limited_per_client_behind_the_proxy(client):
    for _ in range(FAILURE_LIMIT):
        assert forge(client, CLIENT) == 403
    assert forge(client, CLIENT) == 429
    # Another client behind the same proxy is not limited by the first one's failures.
    assert forge(client, OTHER_CLIENT) == 403
    assert counters() == {f"webhook-signature:{CLIENT}": FAILURE_LIMIT, f"webhook-signature:{OTHER_CLIENT}": 1}


def test_a_forged_webhook_over_the_limit_writes_nothing(client, caplog):
    for _ in range(FAILURE_LIMIT):
        forge(client, CLIENT)
    before = counters()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="app.hotline"):
        assert forge(client, CLIENT) == 429
    assert counters() == before
    assert caplog.records == []
