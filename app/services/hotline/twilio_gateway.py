"""The one way to Twilio's REST API: a client from the configuration.

TWILIO_API_BASE sends every request of the real `twilio` client to another
base URL (the tests' fake Twilio on loopback) instead of *.twilio.com.
"""

import re
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.services.hotline import phones

TWILIO_DEFAULT_BASE = "https://api.twilio.com"
TIMEOUT_SECONDS = 10
# Twilio error codes that no retry will fix: the number is not a number, not
# a mobile, unsubscribed, blocked.
PERMANENT_CODES = {21211, 21214, 21408, 21610, 21612, 21614, 30003, 30004, 30005, 30006}


class BaseUrlHttpClient(TwilioHttpClient):
    def __init__(self, base: str, **kwargs):
        super().__init__(**kwargs)
        self.base = base.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


def client(config) -> Client | None:
    """A Twilio client, or None when Twilio is not configured (the embedded
    default: messages stay in the outbox)."""
    sid, token = config.get("TWILIO_ACCOUNT_SID"), config.get("TWILIO_AUTH_TOKEN")
    if not (sid and token and config.get("TWILIO_FROM_NUMBER")):
        return None
    base = (config.get("TWILIO_API_BASE") or TWILIO_DEFAULT_BASE).rstrip("/")
    http = (
        TwilioHttpClient(timeout=TIMEOUT_SECONDS)
        if base == TWILIO_DEFAULT_BASE
        else BaseUrlHttpClient(base, timeout=TIMEOUT_SECONDS)
    )
    return Client(sid, token, http_client=http)


class SendFailure(Exception):
    """A send that failed: `transient` ones may succeed later."""

    def __init__(self, message: str, transient: bool):
        super().__init__(message)
        self.message = message
        self.transient = transient


def send_sms(twilio: Client, *, from_: str, to: str, body: str, status_callback: str | None = None) -> str:
    """Send one SMS; its Twilio SID, or SendFailure."""
    try:
        message = twilio.messages.create(from_=from_, to=to, body=body, status_callback=status_callback)
    except TwilioRestException as error:
        transient = error.status == 429 or error.status >= 500
        if error.code in PERMANENT_CODES:
            transient = False
        raise SendFailure(_without_numbers(f"Twilio {error.status}: {error.msg}", to), transient) from None
    except requests.RequestException as error:
        raise SendFailure(f"Twilio unreachable: {type(error).__name__}", True) from None
    return message.sid


def _without_numbers(message: str, to: str) -> str:
    """Twilio's error messages quote the number ("The 'To' number +32... is
    not valid"); what is stored and logged shows it masked."""
    return re.sub(r"\+?\d[\d ]{6,}\d", "[number]", message.replace(to, phones.mask(to)))
