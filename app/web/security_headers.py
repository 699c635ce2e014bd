"""The headers every answer carries (pages, fragments, API JSON, TwiML,
static files, errors): a Content-Security-Policy that allows no inline script,
inline style, plugin or framing, and the headers older browsers need for the
same. The pages hold no inline code for this reason: their script is
static/opvang.js, their style static/opvang.css, and htmx is told not to
inject its indicator style (the htmx-config meta tag in base.html)."""

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

# A chart (app/reports) is an SVG answer of its own, shown by the page as an
# <img>: pygal styles it with an inline <style> element, which `style-src
# 'self'` would block. An SVG answer gets this policy instead: its inline
# style applies, and nothing else loads or runs (no script at all, no
# request out), as an image should. The page that shows it keeps the strict one.
SVG_IMAGE_POLICY = "; ".join((
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))

# Opvang uses none of these browser features; no page (or anything injected
# into one) may ask for them. Only features browsers know: an unknown one is
# reported as an error in the console.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in ("accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment",
                    "usb")
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # Links from Opvang to elsewhere never tell where they came from: its
    # URLs name facilities, calls and holds.
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": PERMISSIONS_POLICY,
    # frame-ancestors for browsers that predate it.
    "X-Frame-Options": "DENY",
}
# Over https, browsers are told to come back over https only, for a year.
STRICT_TRANSPORT_SECURITY = f"max-age={365 * 24 * 3600}"


def init_app(app: Flask) -> None:
    app.after_request(_add_security_headers)


def _add_security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if response.mimetype == "image/svg+xml":
        response.headers["Content-Security-Policy"] = SVG_IMAGE_POLICY
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = STRICT_TRANSPORT_SECURITY
    return response
