"""Webhook requests signed exactly as Twilio signs them."""

from twilio.request_validator import RequestValidator

PUBLIC_URL = "https://hotline.opvang.test"  # HOTLINE_PUBLIC_URL in the tests' configuration
TOKEN = "test-hotline-signing-token"


def signature(path: str, params: dict, token: str = TOKEN, public_url: str = PUBLIC_URL) -> str:
    return RequestValidator(token).compute_signature(public_url + path, params)


def signed_post(client, path: str, params: dict, **kwargs):
    """POST form `params` to `path` (with its query string) as Twilio would."""
    headers = {"X-Twilio-Signature": signature(path, params), **kwargs.pop("headers", {})}
    return client.post(path, data=params, headers=headers, **kwargs)
