"""The outbox page: what was sent, to whom (masked), and what became of it."""

import pytest

from app import clock
from app.extensions import db
from app.services.delivery import outbox, sending
from tests import factories as make


@pytest.fixture
def sent(app):
    manager = make.user("manager", phone="+32470111122")
    message = outbox.enqueue(clock.now(), channel="sms", purpose="alert", body="Antwerpen: 2 crisis beds free",
                             user=manager)
    sending.deliver(message, clock.now())  # Twilio is not configured: it stays pending
    db.session.commit()
    return message


def test_operators_see_messages_with_masked_recipients(client, sent):
    make.login(client, make.user("operator"))
    page = client.get("/outbox/").get_data(as_text=True)
    assert "Antwerpen: 2 crisis beds free" in page
    assert "+32 4•• •• •• 22" in page and "470111122" not in page
    assert "Twilio is not configured" in page


def test_filter_by_status(client, sent):
    make.login(client, make.user("admin"))
    assert "crisis beds free" in client.get("/outbox/?status=pending").get_data(as_text=True)
    assert "crisis beds free" not in client.get("/outbox/?status=sent").get_data(as_text=True)
    assert client.get("/outbox/?status=lost").status_code == 400


@pytest.mark.parametrize("role", ["partner", "shelter_staff"])
def test_partners_and_shelter_staff_may_not_see_the_outbox(client, sent, role):
    make.login(client, make.user(role))
    assert client.get("/outbox/").status_code == 403
