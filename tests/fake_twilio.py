"""A fake Twilio REST API served over real HTTP on loopback, so that the
real `twilio` client is exercised end to end. It records every request and
answers with scripted statuses when told to."""

import itertools
import json
import threading
import time
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass, field

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Recorded:
    method: str
    path: str
    form: dict
    account: str


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "fake-auth-token"
    requests: list[Recorded] = field(default_factory=list)
    # Statuses to answer next, one per request (then 201 again).
    script: list[int] = field(default_factory=list)
    down: bool = False
    # Seconds each message request takes to answer, after it was recorded (as
    # Twilio has accepted a message before its answer arrives).
    delay: float = 0.0
    # Outbound calls (Calls API): the `from` Twilio answers for a call's sid
    # when asked (GET .../Calls/CA….json), as the test sets it.
    call_numbers: dict[str, str] = field(default_factory=dict)
    # Called with each outbound call's request as Twilio receives it, before
    # it answers (a test reads the database then, from Twilio's side).
    on_call_created: Callable[[Recorded], None] | None = None
    _numbers = itertools.count(1)

    def answer_next(self, *statuses: int) -> None:
        self.script.extend(statuses)

    @property
    def messages(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/Messages.json")]

    def sends_per_body(self) -> dict[str, int]:
        """How many times each message body was sent (asked of Twilio)."""
        counts: dict[str, int] = {}
        for message in self.messages:
            counts[message.form.get("Body")] = counts.get(message.form.get("Body"), 0) + 1
        return counts

    def __call__(self, environ, start_response):
        request = Request(environ)
        if self.down:
            return Response("down", status=503)(environ, start_response)
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        account, _, token = b64decode(credentials).decode().partition(":") if scheme == "Basic" else ("", "", "")
        if (account, token) != (self.account_sid, self.auth_token):
            return self._error(401, 20003, "Authenticate")(environ, start_response)
        self.requests.append(Recorded(request.method, request.path, request.form.to_dict(), account))
        if "/Calls" in request.path:
            return self._calls(request, account)(environ, start_response)
        if self.delay:
            time.sleep(self.delay)
        status = self.script.pop(0) if self.script else 201
        if status != 201:
            code = 21211 if status == 400 else 20429 if status == 429 else 20500
            return self._error(status, code, f"scripted {status}")(environ, start_response)
        sid = f"SM{next(self._numbers):032x}"
        body = {
            "sid": sid, "account_sid": account, "to": request.form.get("To"), "from": request.form.get("From"),
            "body": request.form.get("Body"), "status": "queued", "num_segments": "1",
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        return Response(json.dumps(body), status=201, mimetype="application/json")(environ, start_response)

    # --- the Calls API: outbound calls and reading a call -------------------------

    @property
    def calls_created(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/Calls.json")]

    def _calls(self, request: Request, account: str) -> Response:
        """POST .../Calls.json places a call (recorded, answered "queued");
        GET .../Calls/CA….json reads one: its `from` from `call_numbers`."""
        status = self.script.pop(0) if self.script else (201 if request.method == "POST" else 200)
        if status >= 400:
            return self._error(status, 21211 if status == 400 else 20500, f"scripted {status}")
        if request.method == "POST" and request.path.endswith("/Calls.json"):
            if self.on_call_created is not None:
                self.on_call_created(self.requests[-1])
            sid = f"CA{next(self._numbers):032x}"
            call = {"to": request.form.get("To"), "from": request.form.get("From"), "status": "queued"}
            status = 201
        else:
            sid = request.path.rsplit("/", 1)[-1].removesuffix(".json")
            if sid not in self.call_numbers:
                return self._error(404, 20404, f"The requested resource {request.path} was not found")
            call = {"to": "+3220000000", "from": self.call_numbers[sid], "status": "in-progress"}
            status = 200
        body = {"sid": sid, "account_sid": account, "direction": "outbound-api", **call,
                "uri": f"/2010-04-01/Accounts/{account}/Calls/{sid}.json"}
        return Response(json.dumps(body), status=status, mimetype="application/json")

    @staticmethod
    def _error(status: int, code: int, message: str) -> Response:
        body = {"code": code, "message": message, "more_info": "", "status": status}
        return Response(json.dumps(body), status=status, mimetype="application/json")


class FakeTwilioServer:
    def __init__(self):
        self.fake = FakeTwilio()
        self.server = make_server("127.0.0.1", 0, self.fake, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def config(self, from_number: str = "+3220000000") -> dict:
        """App settings that send the app's Twilio traffic here."""
        return {
            "TWILIO_ACCOUNT_SID": self.fake.account_sid,
            "TWILIO_AUTH_TOKEN": self.fake.auth_token,
            "TWILIO_FROM_NUMBER": from_number,
            "TWILIO_API_BASE": self.base_url,
        }

    def __enter__(self) -> "FakeTwilioServer":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)
