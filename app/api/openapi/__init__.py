"""The machine-readable description of API v1, served at /api/v1/openapi.json.

Tests check that every route of the API blueprint is described here (and
nothing else), and validate the API's answers against these schemas.

The description is put together from one module per area of the API, each
with its SCHEMAS and PATHS, in the order of the document.
"""

from app.api.openapi import (
    alerts,
    callbacks,
    calls,
    holds_and_referrals,
    placement,
    registry,
    statistics,
    voicemails,
    waiting_list,
)

PARTS = (registry, holds_and_referrals, placement, waiting_list, calls, callbacks, voicemails, alerts, statistics)
SCHEMAS = {name: schema for part in PARTS for name, schema in part.SCHEMAS.items()}
PATHS = {path: item for part in PARTS for path, item in part.PATHS.items()}


def openapi_document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Opvang API",
            "version": "1",
            "description": "Crisis-bed capacity and hotline operations. Errors are "
            '`{"error": {"code", "message", "field"?}}`; lists page with `limit` and `cursor` '
            'and a `Link: <…>; rel="next"` header.',
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "`flask tokens create EMAIL` or the admin's user page."},
                "session": {"type": "apiKey", "in": "cookie", "name": "session",
                            "description": "The web UI's session; writes then need the X-CSRFToken header."},
            },
            "schemas": SCHEMAS,
        },
        "paths": PATHS,
    }
