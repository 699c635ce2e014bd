"""The request's unit of work: whatever a request writes is committed once,
when its view has answered, or not at all.

* The answer decides. A view that answers a success (status < 400, a
  redirect included) is committed; an error answer (>= 400) is rolled back,
  whether an error handler made it (app.errors: a ServiceError, an
  HTTPException, a CSRF error, any exception) or the view returned it itself
  (a fragment with a 409 inline): an error answer never leaves a partial write.
* The commit happens before the answer leaves. Should it fail, the answer is
  not sent: the failure goes to the error handler for exceptions
  (app.errors), which answers 500, "nothing was saved", in the format the
  client asked for.
* A view whose answer reads what it changed (a fragment, JSON), or that
  catches a service error and answers it itself (a fragment with the error,
  or a redirect with a flash), makes its change inside `change()`. Done, the
  change is flushed and every object is read afresh, so that the answer
  shows what will be committed (ids, foreign keys, the database's values),
  as a commit would leave it; failed, what the request wrote is undone at
  once, so that the answer shows the state as it was and a redirect does not
  commit half a change.
* `commit_now()` is the explicit exception: writes that must stay whatever
  the answer (counts of refused sign-ins or forged webhooks, answered
  401/403/429), a message that is sent before the view answers (the outbox's
  claim needs the message committed), and the webhooks' guards, which answer
  a failed commit in their own format (TwiML) rather than as an error page.
* `writes_from_here()`: a read (GET) that must write (the audit of a
  voicemail's listening) lets go of what it read and writes as a writer.

The CLI and the scheduler's jobs are not requests: they commit once per
command or job themselves (app/cli.py, scheduler/runner.py).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, Response, current_app, g

from app.extensions import WRITING_READ, db


def init_app(app: Flask) -> None:
    """Bind the unit of work; `create_app` calls this after every other
    `after_request` hook is registered, so that it runs first and the hooks
    after it see the final answer (a commit failure's included)."""
    app.after_request(_finish)


def _finish(response: Response) -> Response:
    if response.status_code >= 400:
        db.session.rollback()
        return response
    if not db.session().in_transaction():  # nothing since the last commit (e.g. a webhook's own)
        return response
    try:
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - the answer becomes the error handler's
        db.session.rollback()
        return current_app.make_response(current_app.handle_user_exception(error))
    return response


def commit_now() -> None:
    """Commit what the request wrote so far, before the view answers (see
    the module's docstring for when). What the view writes afterwards is
    committed, or rolled back, at the end as usual."""
    db.session.commit()


def writes_from_here() -> None:
    """A read (GET) that writes from here on, e.g. the audit event of a
    listening: what it read so far is let go (nothing was written), and its
    next transaction begins as a writer's. On SQLite a reader's transaction
    cannot take the write lock once another writer has committed (it fails at
    once, app.extensions._begin_sqlite); on PostgreSQL this changes nothing."""
    g.setdefault(WRITING_READ, True)
    db.session.commit()


def roll_back() -> None:
    """Undo what the request wrote so far: for the error handlers, before
    they render an answer (which must not read a half-done write, nor trip
    over a failed transaction)."""
    db.session.rollback()


@contextmanager
def change() -> Iterator[None]:
    """The view's change (see the module's docstring): flushed and read
    afresh when the block is done; when it raises, the request's writes are
    rolled back at once (a request makes one change) and the exception goes
    on to the view's `except`."""
    try:
        yield
        db.session.flush()
    except Exception:
        db.session.rollback()
        raise
    db.session.expire_all()
