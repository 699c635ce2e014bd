"""Every answer carries the security headers (app/web/security_headers.py),
whatever made it: a page, an htmx fragment, the API, a Twilio webhook, a
static file, an error. And no template holds code the Content-Security-Policy
would block: no inline script, event handler, style attribute or javascript: URL."""

import re
from pathlib import Path

import pytest

from tests import factories
from tests.api import call
from tests.twilio_signing import signed_post

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"

EXPECTED = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

CALL = {"AccountSid": "AC" + "0" * 32, "CallSid": "CA" + "1" * 32, "From": "+32470123456", "To": "+3232000000",
        "Direction": "inbound", "CallStatus": "ringing"}


def assert_secured(response):
    for header, value in EXPECTED.items():
        assert response.headers.get(header) == value, f"{header} on {response.status} {response.mimetype}"
    permissions = response.headers.get("Permissions-Policy", "")
    for feature in ("camera", "microphone", "geolocation"):
        assert f"{feature}=()" in permissions


@pytest.fixture
def operator_client(client):
    factories.region("antwerpen")
    factories.login(client, factories.user("operator"))
    return client


def test_a_page_and_its_fragment(operator_client):
    page = operator_client.get("/dashboard/")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    assert_secured(page)
    fragment = operator_client.get("/dashboard/", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert_secured(fragment)


def test_the_sign_in_page(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_secured(response)


def test_an_api_answer_and_an_api_error(client):
    token = factories.token_for(factories.user("operator"))
    answer = call(client, "GET", "/api/v1/regions", token)
    assert answer.status_code == 200 and answer.is_json
    assert_secured(answer)
    refused = call(client, "GET", "/api/v1/regions")
    assert refused.status_code == 401 and refused.is_json
    assert_secured(refused)


def test_error_pages(operator_client):
    missing = operator_client.get("/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert_secured(missing)
    wrong_method = operator_client.delete("/dashboard/")
    assert wrong_method.status_code == 405
    assert_secured(wrong_method)


def test_static_files(client):
    for name in ("opvang.js", "htmx.min.js", "opvang.css"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert_secured(response)
        response.close()


def test_a_webhook_answer_and_its_refusal(client):
    answer = signed_post(client, "/hotline/voice", CALL)
    assert answer.status_code == 200 and answer.mimetype in ("text/xml", "application/xml")
    assert_secured(answer)
    unsigned = client.post("/hotline/voice", data=CALL)
    assert unsigned.status_code == 403
    assert_secured(unsigned)


# What a Content-Security-Policy without 'unsafe-inline' blocks, as it may
# appear in a template. A <script> must load its code from a file (src=).
INLINE_CODE = {
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "htmx hx-on attribute": re.compile(r"\s(data-)?hx-on", re.IGNORECASE),
    "script element without src": re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.IGNORECASE),
    "style element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def inline_code(text: str) -> list[str]:
    return [what for what, pattern in INLINE_CODE.items() if pattern.search(text)]


def test_the_scan_finds_inline_code():
    assert inline_code('<select name="language" onchange="this.form.submit()">') == ["event handler attribute"]
    assert inline_code('<button hx-on:click="go()">') == ["htmx hx-on attribute"]
    assert inline_code("<script>alert(1)</script>") == ["script element without src"]
    assert inline_code('<li style="margin-left: 1rem">') == ["style attribute"]
    assert inline_code('<a href="javascript:void(0)">') == ["javascript: URL"]
    assert inline_code('<script src="/static/opvang.js" defer></script>') == []
    assert inline_code('<select name="language" data-submit-on-change>') == []


def test_no_template_holds_inline_code():
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert templates
    found = {str(path.relative_to(TEMPLATES)): inline_code(path.read_text()) for path in templates}
    assert {name: kinds for name, kinds in found.items() if kinds} == {}
