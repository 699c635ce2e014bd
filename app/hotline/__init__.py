"""Twilio's webhooks: `/hotline/voice…` and `/hotline/sms…`.

Every request must carry a valid `X-Twilio-Signature` for the full public URL
Twilio called (HOTLINE_PUBLIC_URL + path + query string) and its form
parameters (PRODUCT.md section 5, rule 4); otherwise 403, and nothing is
stored. CSRF does not apply: the signature is the proof of origin.
"""

import hmac
import logging
from datetime import timedelta
from urllib.parse import urlparse

from flask import Blueprint, abort, current_app, request
from twilio.request_validator import RequestValidator, add_port, remove_port

from app import clock
from app.extensions import csrf
from app.services.core import rate_limits
from app.web import unit_of_work

log = logging.getLogger(__name__)
bp = Blueprint("hotline", __name__, url_prefix="/hotline")
csrf.exempt(bp)

# Failed signatures per source address per minute before answers turn to 429.
# Only failures count: Twilio's own (valid) requests are never limited, even
# when a proxy makes them share an address with an attacker.
FAILURE_LIMIT = 20
FAILURE_WINDOW = timedelta(minutes=1)


def public_url() -> str:
    """The URL Twilio called, as Twilio saw it: never the request's own host,
    which a proxy rewrites."""
    query = request.query_string.decode()
    return current_app.config["HOTLINE_PUBLIC_URL"].rstrip("/") + request.path + (f"?{query}" if query else "")


def action_url(path: str) -> str:
    """An absolute URL for a TwiML `action`, from HOTLINE_PUBLIC_URL."""
    return current_app.config["HOTLINE_PUBLIC_URL"].rstrip("/") + path


def signing_token() -> str:
    return current_app.config["HOTLINE_SIGNING_TOKEN"]


def signed_by_twilio(signature: str) -> bool:
    """Whether `signature` is Twilio's for the public URL and the form
    parameters. Twilio signs the URL with or without its port, so both are
    accepted, as RequestValidator.validate does; but that computes both
    signatures every time, and this the second only when the first does not
    match (a third of the signature check's time: bench/hotline.py)."""
    if not signature:
        return False
    validator = RequestValidator(signing_token())
    parsed = urlparse(public_url())
    return any(
        hmac.compare_digest(validator.compute_signature(url, request.form).encode(), signature.encode())
        for url in (remove_port(parsed), add_port(parsed))
    )


@bp.before_request
def check_signature():
    signature = request.headers.get("X-Twilio-Signature", "")
    if signed_by_twilio(signature):
        return None
    now = clock.now()
    key = f"webhook-signature:{request.remote_addr}"
    # Over the limit, a forged request writes nothing, not even its count (nor a log line).
    if rate_limits.current(key, now, FAILURE_WINDOW) >= FAILURE_LIMIT:
        abort(429, "too many requests with a bad signature")
    rate_limits.count(key, now, FAILURE_WINDOW)
    # The failure counts although the answer is an error: it is what limits forged webhooks.
    unit_of_work.commit_now()
    log.warning("hotline webhook %s refused: %s signature", request.path, "bad" if signature else "missing")
    abort(403, "missing or invalid X-Twilio-Signature")


from app.hotline import callback, sms, voice  # noqa: E402, F401  (routes on `bp`)
