"""The one way to Twilio's REST API: a client from the configuration.

TWILIO_API_BASE sends every request of the real `twilio` client to another
base URL (the tests' fake Twilio on loopback) instead of *.twilio.com.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
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


def _api_base(config) -> str:
    return (config.get("TWILIO_API_BASE") or TWILIO_DEFAULT_BASE).rstrip("/")


def configured(config) -> bool:
    return bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN")
                and config.get("TWILIO_FROM_NUMBER"))


def client(config) -> Client | None:
    """A Twilio client, or None when Twilio is not configured (the embedded
    default: messages stay in the outbox)."""
    if not configured(config):
        return None
    sid, token = config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"]
    base = _api_base(config)
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


# --- recordings (the voicemails) ------------------------------------------------
# The audio stays at Twilio and is reached only through the app (PRODUCT.md
# section 5, rule 10): the account requires HTTP authentication for media, so
# the app fetches it with the account's credentials and streams it on.

RECORDING_SID = re.compile(r"RE[0-9a-fA-F]{32}")
AUDIO_CHUNK_BYTES = 64 * 1024


class RecordingFailure(Exception):
    """Twilio did not do what was asked of a recording: `status` is its HTTP
    answer; `unreachable` when there was no answer at all."""

    def __init__(self, message: str, status: int | None = None, *, unreachable: bool = False):
        super().__init__(message)
        self.message = message
        self.status = status
        self.unreachable = unreachable


def _unreachable(error: requests.RequestException) -> RecordingFailure:
    return RecordingFailure(f"Twilio unreachable: {type(error).__name__}", unreachable=True)


def _recording_sid(sid: str) -> str:
    # The sid goes into a URL path: nothing but a RecordingSid may.
    if not RECORDING_SID.fullmatch(sid or ""):
        raise RecordingFailure(f"not a RecordingSid: {sid!r}")
    return sid


@dataclass
class Audio:
    """A recording's audio as Twilio streams it; read it with `chunks` (which
    closes the connection at its end) or `close` it unread."""

    response: requests.Response

    @property
    def content_type(self) -> str:
        return self.response.headers.get("Content-Type") or "audio/mpeg"

    @property
    def length(self) -> str | None:
        return self.response.headers.get("Content-Length")

    def chunks(self) -> Iterator[bytes]:
        try:
            yield from self.response.iter_content(AUDIO_CHUNK_BYTES)
        finally:
            self.response.close()

    def close(self) -> None:
        self.response.close()


def recording_audio(config, sid: str) -> Audio:
    """The recording `sid` as MP3, streamed from Twilio's API with the
    account's credentials (GET …/Recordings/{sid}.mp3); RecordingFailure when
    Twilio is not configured, does not answer, or answers anything but 200."""
    if not configured(config):
        raise RecordingFailure("Twilio is not configured")
    account, token = config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"]
    url = f"{_api_base(config)}/2010-04-01/Accounts/{account}/Recordings/{_recording_sid(sid)}.mp3"
    try:
        # Twilio may redirect to its media store; requests drops the
        # credentials when the host changes.
        response = requests.get(url, auth=(account, token), stream=True, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise _unreachable(error) from None
    if response.status_code != 200:
        response.close()
        raise RecordingFailure(f"Twilio answered {response.status_code}", response.status_code)
    return Audio(response)


def delete_recording(twilio: Client, sid: str) -> int:
    """Delete the recording `sid` at Twilio (DELETE …/Recordings/{sid}.json):
    204 when it was deleted, 404 when it was gone already, both done with;
    any other answer, or none, is RecordingFailure (to try again later)."""
    try:
        twilio.recordings(_recording_sid(sid)).delete()
    except TwilioRestException as error:
        if error.status == 404:
            return 404
        raise RecordingFailure(f"Twilio {error.status}: {error.msg}", error.status) from None
    except requests.RequestException as error:
        raise _unreachable(error) from None
    return 204


@dataclass(frozen=True)
class Recording:
    sid: str
    call_sid: str | None
    created_at: datetime | None


RECORDINGS_PAGE_SIZE = 1000


def recordings_before(twilio: Client, before: datetime) -> Iterator[Recording]:
    """Every recording of the account created before `before`, page by page
    (GET …/Recordings.json, following Twilio's next page); RecordingFailure
    when Twilio fails on the way."""
    try:
        for found in twilio.recordings.stream(date_created_before=before, page_size=RECORDINGS_PAGE_SIZE):
            if found.date_created is not None and found.date_created < before:
                yield Recording(found.sid, found.call_sid, found.date_created)
    except TwilioRestException as error:
        raise RecordingFailure(f"Twilio {error.status}: {error.msg}", error.status) from None
    except TwilioException as error:  # a page Twilio would not give
        raise RecordingFailure(f"Twilio: {error}") from None
    except requests.RequestException as error:
        raise _unreachable(error) from None
