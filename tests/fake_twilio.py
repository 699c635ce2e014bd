"""A fake Twilio REST API served over real HTTP on loopback, so that the
real `twilio` client is exercised end to end. It records every request and
answers with scripted statuses when told to."""

import itertools
import json
import re
import threading
import time
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlencode

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


@dataclass
class Recorded:
    method: str
    path: str
    form: dict
    account: str


@dataclass
class StoredRecording:
    """A recording the fake keeps, as a test registered it."""

    sid: str
    audio: bytes
    call_sid: str | None
    created_at: datetime


# …/Accounts/{AccountSid}/Recordings/{RecordingSid}.mp3 (its audio) or .json (the resource).
RECORDING_PATH = re.compile(r"/2010-04-01/Accounts/(?P<account>AC\w+)/Recordings/(?P<sid>RE\w+)\.(?P<format>mp3|json)")
RECORDINGS_PATH = re.compile(r"/2010-04-01/Accounts/(?P<account>AC\w+)/Recordings\.json")


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
    # Recordings (the voicemails), by sid; the list pages at most this many.
    recordings: dict[str, StoredRecording] = field(default_factory=dict)
    recordings_page_size: int = 1000
    # Called while a recording's audio is asked for, before it is answered.
    while_serving_audio: Callable[[], None] | None = None

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
        if "/Recordings" in request.path:
            return self._recordings(request, account)(environ, start_response)
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

    # --- recordings: the voicemails' audio, its deletion, the account's list ---------

    def add_recording(self, sid: str, audio: bytes = b"ID3 fake voicemail audio", *, call_sid: str | None = None,
                      created_at: datetime | None = None) -> StoredRecording:
        """Keep a recording, as Twilio keeps a voicemail."""
        stored = StoredRecording(sid, audio, call_sid, created_at or datetime(2026, 11, 1, tzinfo=UTC))
        self.recordings[sid] = stored
        return stored

    def forget_recordings(self) -> None:
        self.recordings.clear()
        self.recordings_page_size = 1000
        self.while_serving_audio = None

    def recording_requests(self, method: str) -> list[Recorded]:
        """The requests of `method` on one recording (GET: its audio, DELETE)."""
        return [r for r in self.requests if r.method == method and RECORDING_PATH.fullmatch(r.path)]

    def _recordings(self, request: Request, account: str) -> Response:
        # A scripted status answers in place of the recording (404, 500, …).
        scripted = self.script.pop(0) if self.script else None
        if scripted is not None and not 200 <= scripted < 300:
            return self._error(scripted, 20404 if scripted == 404 else 20500, f"scripted {scripted}")
        one = RECORDING_PATH.fullmatch(request.path)
        if one and request.method == "GET" and one["format"] == "mp3":
            stored = self.recordings.get(one["sid"])
            if stored is None:
                return self._error(404, 20404, "The requested resource was not found")
            if self.while_serving_audio:
                self.while_serving_audio()
            return Response(stored.audio, status=200, mimetype="audio/mpeg")
        if one and request.method == "DELETE" and one["format"] == "json":
            if self.recordings.pop(one["sid"], None) is None:
                return self._error(404, 20404, "The requested resource was not found")
            return Response(status=204)
        if RECORDINGS_PATH.fullmatch(request.path) and request.method == "GET":
            return self._recording_page(request, account)
        return self._error(405, 20004, "Method not allowed")

    def _recording_page(self, request: Request, account: str) -> Response:
        """One page of the account's recordings (Twilio's 2010 API: oldest
        first here, with its next page's URI)."""
        before = request.args.get("DateCreated<")
        cutoff = datetime.fromisoformat(before.replace("Z", "+00:00")) if before else None
        listed = sorted((r for r in self.recordings.values() if cutoff is None or r.created_at < cutoff),
                        key=lambda r: (r.created_at, r.sid))
        size = min(int(request.args.get("PageSize", 50)), self.recordings_page_size)
        page = int(request.args.get("Page", 0))
        shown = listed[page * size:(page + 1) * size]
        uri = f"/2010-04-01/Accounts/{account}/Recordings.json"

        def page_uri(number: int) -> str:
            query = {"PageSize": size, "Page": number, **({"DateCreated<": before} if before else {})}
            return f"{uri}?{urlencode(query)}"

        body = {
            "recordings": [{
                "sid": r.sid, "account_sid": account, "call_sid": r.call_sid, "status": "completed",
                "date_created": format_datetime(r.created_at, usegmt=True), "duration": "12",
                "uri": f"{uri[:-5]}/{r.sid}.json",
            } for r in shown],
            "page": page, "page_size": size, "start": page * size, "end": page * size + max(len(shown) - 1, 0),
            "uri": page_uri(page), "first_page_uri": page_uri(0), "previous_page_uri": None,
            "next_page_uri": page_uri(page + 1) if (page + 1) * size < len(listed) else None,
        }
        return Response(json.dumps(body), status=200, mimetype="application/json")

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
