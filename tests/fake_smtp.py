"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and
refuses or defers when told to: the app's e-mail goes through smtplib to it."""

import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class Mailbox:
    """The aiosmtpd handler: the messages received, and scripted refusals."""

    def __init__(self):
        self.messages: list[EmailMessage] = []
        # Addresses answered "550 no such mailbox" (a permanent refusal).
        self.unknown: set[str] = set()
        # How many messages to answer "451 try again later" (transient).
        self.defer_next = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.unknown.clear()
            self.defer_next = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.defer_next:
                self.defer_next -= 1
                return "451 4.3.0 Try again later"
            message = message_from_bytes(envelope.content, policy=policy.default)
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


class _Controller(Controller):
    def _trigger_server(self):
        # Bound to port 0: learn the port the system gave before connecting.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class FakeSmtpServer:
    def __init__(self):
        self.mailbox = Mailbox()
        self.controller = _Controller(self.mailbox, hostname="127.0.0.1", port=0)

    def config(self) -> dict:
        """App settings that send the app's e-mail here."""
        return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": self.controller.port, "MAIL_FROM": "opvang@opvang.test"}

    def __enter__(self) -> "FakeSmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
