"""Caller numbers stay private; the real twilio client talks to Twilio (here
a fake on loopback) through TWILIO_API_BASE."""

import pytest

from app.services.hotline import phones, twilio_gateway

KEY = "test-caller-hash-key"


@pytest.mark.parametrize("raw, expected", [
    ("+32470123412", "+32470123412"),
    ("0470 12 34 12", "+32470123412"),
    ("+32 3 200 00 00", "+3232000000"),
    ("anonymous", None),
    ("+266696687", None),
    ("", None),
    (None, None),
    ("12", None),
])
def test_normalise(raw, expected):
    assert phones.normalise(raw) == expected


def test_mask_shows_country_first_digit_and_last_two():
    assert phones.mask("+32470123412") == "+32 4•• •• •• 12"
    assert phones.mask("+33612345678") == "+33 6•• •• •• 78"
    assert phones.mask(None) == "withheld"


def test_the_hash_is_keyed_and_stable():
    number = "+32470123412"
    assert phones.caller_hash(number, KEY) == phones.caller_hash(number, KEY)
    assert phones.caller_hash(number, KEY) != phones.caller_hash(number, "another key")
    assert number not in phones.caller_hash(number, KEY)


def test_sealed_numbers_open_only_with_the_key():
    sealed = phones.seal("+32470123412", KEY)
    assert "470123412" not in sealed
    assert phones.unseal(sealed, KEY) == "+32470123412"
    assert phones.unseal(sealed, "another key") is None


def test_no_client_without_configuration():
    assert twilio_gateway.client({"TWILIO_ACCOUNT_SID": None}) is None


def test_the_real_client_sends_to_the_configured_base(twilio_server, twilio):
    client = twilio_gateway.client(twilio_server.config())
    sid = twilio_gateway.send_sms(client, from_="+3220000000", to="+32470123412", body="Vrij: 3",
                                  status_callback="https://opvang.example/hotline/sms/status")
    assert sid.startswith("SM")
    [sent] = twilio.messages
    assert sent.form == {"From": "+3220000000", "To": "+32470123412", "Body": "Vrij: 3",
                         "StatusCallback": "https://opvang.example/hotline/sms/status"}
    assert sent.account == twilio.account_sid


@pytest.mark.parametrize("status, transient", [(500, True), (503, True), (429, True), (400, False)])
def test_failures_say_whether_a_retry_may_help(twilio_server, twilio, status, transient):
    twilio.answer_next(status)
    client = twilio_gateway.client(twilio_server.config())
    with pytest.raises(twilio_gateway.SendFailure) as failure:
        twilio_gateway.send_sms(client, from_="+3220000000", to="+32470123412", body="x")
    assert failure.value.transient is transient


def test_an_unreachable_twilio_is_a_transient_failure(twilio_server):
    config = {**twilio_server.config(), "TWILIO_API_BASE": "http://127.0.0.1:1"}
    with pytest.raises(twilio_gateway.SendFailure) as failure:
        twilio_gateway.send_sms(twilio_gateway.client(config), from_="+3220000000", to="+32470123412", body="x")
    assert failure.value.transient is True
