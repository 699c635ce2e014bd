"""The hotline simulator's transports (app.web.simulator): where its
signed webhooks go, over HTTP to a running app (`OverHttp`) or through the
app's test client (`InProcess`)."""

import re
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import Flask
from twilio.request_validator import RequestValidator

from app.services.core.errors import InvalidInput


class SimulatorError(Exception):
    """The app could not be reached, refused a request, or answered what
    Twilio could not follow."""


def new_sid(prefix: str) -> str:
    """A fresh Twilio-like SID: CA… for calls, SM… for messages."""
    return prefix + secrets.token_hex(16)


def signature(token: str, url: str, params: dict) -> str:
    """X-Twilio-Signature for a POST of `params` to the full `url`."""
    return RequestValidator(token).compute_signature(url, params)


@dataclass
class Answer:
    status: int
    body: str


class Transport:
    """Signs and posts webhooks for the app whose public URL is `public_url`."""

    def __init__(self, public_url: str, token: str):
        self.public_url = public_url.rstrip("/")
        self.token = token

    def path_of(self, url: str) -> str:
        """The path and query of a TwiML URL, which must be under the public URL
        (the app builds every TwiML URL from HOTLINE_PUBLIC_URL)."""
        if url.startswith("/"):
            return url
        if not url.startswith(self.public_url + "/"):
            raise SimulatorError(f"the app answered a URL outside HOTLINE_PUBLIC_URL ({self.public_url}): {url}")
        return url[len(self.public_url):]

    def post(self, path: str, params: dict) -> Answer:
        path = self.path_of(path)
        headers = {"X-Twilio-Signature": signature(self.token, self.public_url + path, params)}
        answer = self._send(path, params, headers)
        if answer.status == 403:
            raise SimulatorError(
                f"POST {path} was refused (403): the signature did not match. The app must have the same "
                f"HOTLINE_PUBLIC_URL ({self.public_url}) and signing token (TWILIO_AUTH_TOKEN, or "
                "instance/hotline_signing_token) as this command."
            )
        if answer.status != 200:
            raise SimulatorError(f"POST {path} answered {answer.status}: {_gist(answer.body)} (see the app's log)")
        return answer

    def _send(self, path: str, params: dict, headers: dict) -> Answer:
        raise NotImplementedError

    @property
    def target(self) -> str:
        raise NotImplementedError


def _gist(body: str) -> str:
    """An error page in a line: its title, else its first 200 characters."""
    match = re.search(r"<title>(.*?)</title>", body, re.S | re.I)
    return (match.group(1) if match else body[:200]).strip()


class OverHttp(Transport):
    """To a running app at `base_url` (its HOTLINE_PUBLIC_URL, or the address
    behind the proxy Twilio calls), never through an HTTP proxy."""

    def __init__(self, base_url: str, public_url: str, token: str, timeout: float = 20):
        super().__init__(public_url, token)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"not an http(s) URL: {base_url}", field="url")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def target(self) -> str:
        return self.base_url

    def _send(self, path: str, params: dict, headers: dict) -> Answer:
        request = urllib.request.Request(
            self.base_url + path,
            data=urlencode(params).encode(),
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Answer(response.status, response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.read().decode("utf-8", "replace"))
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SimulatorError(
                f"could not reach {self.base_url} ({reason}): is the app running (make run)?"
            ) from None


class InProcess(Transport):
    """Through `app`'s test client: no server needed. Each request runs in an
    app context of its own, as it would in a server."""

    def __init__(self, app: Flask):
        super().__init__(app.config["HOTLINE_PUBLIC_URL"], app.config["HOTLINE_SIGNING_TOKEN"])
        self.app = app

    @property
    def target(self) -> str:
        return "in-process"

    def _send(self, path: str, params: dict, headers: dict) -> Answer:
        with self.app.app_context():
            response = self.app.test_client().post(path, data=params, headers=headers)
            return Answer(response.status_code, response.get_data(as_text=True))
