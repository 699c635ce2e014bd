"""Checks every request passes before a view reads it.

A NUL character can travel in a URL (%00) or a form field, and PostgreSQL
refuses it in any text it is asked to compare or store: the query fails with
a server error instead of "unknown region". No real value holds one, so a
request carrying one is refused here, once, with a clear 400, before any view
or query sees it. (JSON text goes through app.services.core.validation.text,
which refuses it too.)"""

from flask import Flask, request

from app.services.core.errors import InvalidInput


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_characters)


def refuse_nul_characters() -> None:
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if "\x00" in name or "\x00" in value:
                field = name.replace("\x00", "")
                raise InvalidInput(f"{field} must not contain a NUL character", field=field)
