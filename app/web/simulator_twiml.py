"""What the app answered the hotline simulator (app.web.simulator): its
TwiML, the steps and outcome of a simulated call or text, and their
description as text."""

import xml.etree.ElementTree as ET
from contextlib import nullcontext
from dataclasses import dataclass, field

from flask import has_request_context
from flask_babel import force_locale

from app.web.simulator_transport import SimulatorError, Transport


@dataclass
class Verb:
    """One TwiML verb or noun of an answer."""

    name: str
    attrs: dict[str, str]
    text: str
    children: list["Verb"] = field(default_factory=list)

    def find(self, name: str) -> "Verb | None":
        return next((child for child in self.children if child.name == name), None)


def parse(body: str) -> Verb:
    """An answer, which must be TwiML (`<Response>`)."""
    try:
        root = ET.fromstring(body.encode())
    except ET.ParseError as error:
        raise SimulatorError(f"the app's answer is not XML ({error}): {body[:200]}") from None
    if root.tag != "Response":
        raise SimulatorError(f"the app's answer is not TwiML: <{root.tag}>")
    return _verb(root)


def _verb(element: ET.Element) -> Verb:
    return Verb(element.tag, dict(element.attrib), (element.text or "").strip(), [_verb(child) for child in element])


@dataclass
class Step:
    """One webhook: what happened at Twilio's end, what was sent, and the
    TwiML the app answered."""

    note: str
    path: str
    shown: dict[str, str]
    twiml: Verb


@dataclass
class Walk:
    """A simulated call or text: its SID and every step."""

    kind: str  # call, sms, hangup
    sid: str
    steps: list[Step] = field(default_factory=list)
    outcome: str = ""
    # A call left in progress (--hold-open): end it with `hangup`.
    held_open: bool = False
    # An SMS: the reply the app wrote to the outbox.
    reply: "Reply | None" = None


@dataclass
class Reply:
    """The reply the app wrote to the outbox for a text."""

    to: str  # masked
    body: str
    status: str
    last_error: str | None


def describe(verb: Verb, transport: Transport | None = None) -> list[tuple[int, str]]:
    """The answer's verbs, one line each (with their depth), as a reader
    wants them: "Say (nl-BE): …", "Dial → +32…", "Record …"."""
    lines: list[tuple[int, str]] = []

    def path(url: str | None) -> str:
        if not url:
            return ""
        if transport is not None and url.startswith(transport.public_url + "/"):
            return url[len(transport.public_url):]
        return url

    def attrs(node: Verb, *names: str) -> str:
        shown = [f"{name}={path(node.attrs[name]) if name in ('action', 'url') else node.attrs[name]}"
                 for name in names if name in node.attrs]
        return f" [{', '.join(shown)}]" if shown else ""

    def walk(node: Verb, depth: int) -> None:
        if node.name == "Say":
            lines.append((depth, f"Say ({node.attrs.get('language', '?')}): {node.text}"))
        elif node.name == "Gather":
            lines.append((depth, f"Gather → {path(node.attrs.get('action'))}{attrs(node, 'numDigits', 'timeout')}"))
            for child in node.children:
                walk(child, depth + 1)
        elif node.name == "Dial":
            numbers = ", ".join(child.text for child in node.children if child.name == "Number") or node.text
            lines.append((depth, f"Dial → {numbers}{attrs(node, 'callerId', 'timeout', 'action')}"))
        elif node.name == "Record":
            lines.append((depth, f"Record{attrs(node, 'maxLength', 'finishOnKey', 'action')}"))
        elif node.name == "Redirect":
            lines.append((depth, f"Redirect → {path(node.text)}"))
        else:
            lines.append((depth, f"{node.name}{attrs(node, *node.attrs)}" + (f": {node.text}" if node.text else "")))

    for child in verb.children:
        walk(child, 0)
    if not verb.children:
        lines.append((0, "(empty <Response/>)"))
    return lines


def transcript(walk: Walk, transport: Transport | None = None) -> list[str]:
    """The walk as text, for the command line (in English when there is no
    request to take a language from)."""
    with nullcontext() if has_request_context() else force_locale("en"):
        out = []
        for number, step in enumerate(walk.steps, 1):
            out.append(f"{number}. {step.note}")
            shown = "  ".join(f"{key}={value}" for key, value in step.shown.items())
            out.append(f"   → POST {step.path}" + (f"  {shown}" if shown else ""))
            for depth, line in describe(step.twiml, transport):
                out.append("   ← " + "  " * depth + line)
        if walk.outcome:
            out.append(str(walk.outcome))
        return out
