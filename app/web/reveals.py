"""Audit of confidential addresses shown to anyone but the facility's own
staff (PRODUCT.md section 5, rule 5): `present` sends `address_revealed`
(app/services/registry/presenters.py), and this records it as the audit event
`facility.reveal_address`, once per facility and

* web session: the facilities already audited are kept in the signed session
  cookie, so a page read again writes nothing more; signing in or out
  starts afresh;
* API user and day: a bearer call has no session, so a facility is audited
  again once 24 hours have passed since this user's last audited reveal of it
  (by the audit events themselves; a user's tokens count as one).

Apart from this event, a read stays a read. The event is committed with the
request's answer, so the session remembers a facility only when the answer
commits (status < 400); otherwise the next read audits it again."""

from datetime import timedelta

from flask import Flask, Response, g, has_request_context, session
from flask_login import user_logged_in, user_logged_out

from app import clock
from app.services.core import audit
from app.services.registry.presenters import address_revealed
from app.web.auth import bearer_token, current_actor

ACTION = "facility.reveal_address"
SESSION_KEY = "audited_reveals"
API_INTERVAL = timedelta(days=1)


def init_app(app: Flask) -> None:
    """Listen to the presenter (one receiver, however many apps), and keep the
    session's list after the unit of work has answered: call before
    `unit_of_work.init_app`, whose hook must run first."""
    address_revealed.connect(_audit_reveal)
    app.after_request(_remember_audited)
    # A sign-in starts a session of its own; signing out ends it (the cookie may stay).
    user_logged_in.connect(_forget_audited, app)
    user_logged_out.connect(_forget_audited, app)


def _audit_reveal(sender, *, facility, viewer) -> None:
    if not has_request_context():  # the CLI's export audits its own reveals
        return
    audited = g.setdefault("audited_reveals", set())
    if facility.id in audited:
        return
    audited.add(facility.id)
    actor = current_actor()
    now = clock.now()
    if bearer_token():
        if audit.recorded_after(actor, ACTION, facility, now - API_INTERVAL):
            return
    elif facility.id in session.get(SESSION_KEY, ()):
        return
    audit.record(actor, ACTION, now, facility, via=actor.source)


def _forget_audited(sender, **_) -> None:
    session.pop(SESSION_KEY, None)


def _remember_audited(response: Response) -> Response:
    remembered = set(session.get(SESSION_KEY, ())) if "audited_reveals" in g and not bearer_token() else set()
    audited_now = g.get("audited_reveals", set()) - remembered
    if audited_now and response.status_code < 400:
        session[SESSION_KEY] = sorted(remembered | audited_now)
    return response
