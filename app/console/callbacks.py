"""A call's call-back in the console (app.services.hotline.callbacks): the
"Call back" button beside the safety flags, shown only when a call-back may
start (a confirmation to tick when `safe to call back` is unknown), the
"consent given live" form, the refusals in words, and the attempts with
their results. The number is never on a page.

    POST /console/calls/<id>/consent    consent given live, with a note
    POST /console/calls/<id>/callback   call back (confirm_unknown=1 when unknown)

Both answer the fragment `console/_callback.html` to htmx, or redirect to
the call's page with a message.
"""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import clock
from app.console import bp
from app.extensions import htmx
from app.models import Call
from app.services.core import access
from app.services.core.errors import InvalidInput, ServiceError
from app.services.hotline import call_records, callbacks, twilio_gateway
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required


def refusal_text(error: ServiceError) -> str:
    """A refusal in the operator's words."""
    limit = current_app.config["CALLBACK_DAILY_LIMIT"]
    texts = {
        "no_consent": _("No call-back: the caller's number is not kept for one (no consent, or it has been "
                        "erased). An SMS conversation's number is never called."),
        "not_safe_to_call_back": _("No call-back: this contact is marked not safe to call back."),
        "confirm_unknown": _("Whether it is safe to call back is unknown: tick the confirmation to call back "
                             "anyway."),
        "attempt_open": _("A call-back to this contact is under way."),
        "too_many_attempts": _("No call-back: this contact has been called back %(n)d times in the last 24 hours, "
                               "the most allowed.", n=limit),
        "sms_contact": _("An SMS contact's number is kept for its conversation only: it is never called back."),
        "withheld": _("The number is withheld: there is no number to call back."),
        "number_mismatch": _("Twilio's number for this call is not the caller's: nothing was kept."),
        "unavailable": _("Twilio could not be asked for the call's number (not configured, or not "
                                "answering): nothing was kept. Try again."),
    }
    if error.code in texts:
        return texts[error.code]
    if isinstance(error, InvalidInput) and error.field == "phone":
        return _("You need a phone number on your account to call back: Twilio rings it first. Ask an "
                 "administrator to add yours.")
    if isinstance(error, InvalidInput) and error.field == "note":
        return _("The note is too long (at most %(n)d characters).", n=callbacks.MAX_NOTE)
    return error.message


def callback_context(call: Call, now, **extra) -> dict:
    """What the call page's call-back part shows: whether the button is there
    (and its confirmation), why not, and the attempts."""
    may_call_back = current_user.has_role(*access.CALL_WORKERS) and call.channel == "voice"
    refused = callbacks.refusal(call, now, confirm_unknown=True,
                                daily_limit=current_app.config["CALLBACK_DAILY_LIMIT"]) if may_call_back else None
    context = dict(
        may_call_back=may_call_back,
        callback_allowed=may_call_back and refused is None and bool(current_user.phone),
        callback_needs_confirmation=call.safe_to_call_back is None,
        callback_refusal=refusal_text(refused) if refused is not None and refused.code != "no_consent" else None,
        callback_attempts=callbacks.attempts_of(call),
        callback_number_kept=call_records.number_kept_for_callback(call, now),
        callback_error=None,
        callback_done=None,
        consent_note="",
    )
    context.update(extra)
    return context


def _answer(call_id: int, *, error: str | None, done: str | None, status: int, **extra):
    contact = call_records.get_by_id(call_id)
    if not htmx:
        flash(error or done, "error" if error else "success")
        return redirect(url_for("console.call", call_id=call_id))
    context = callback_context(contact, clock.now(), callback_error=error, callback_done=done, **extra)
    return render_template("console/_callback.html", call=contact, **context), status


@bp.route("/calls/<int:call_id>/consent", methods=["POST"])
@roles_required(*access.CALL_WORKERS)
def callback_consent(call_id: int):
    """The caller agreed on the phone to be called back: recorded, and the
    number read from Twilio and kept sealed."""
    contact = call_records.get_by_id(call_id)
    config = current_app.config
    note = request.form.get("note", "")
    try:
        with unit_of_work.change():
            callbacks.record_live_consent(current_actor(), contact, clock.now(), note,
                                          twilio_gateway.client(config), hash_key=config["CALLER_HASH_KEY"],
                                          retention_days=config["CALLBACK_NUMBER_RETENTION_DAYS"])
    except ServiceError as exc:
        # Twilio not answering (503) is said in the fragment too: htmx swaps no 5xx answer.
        return _answer(call_id, error=refusal_text(exc), done=None, status=exc.status if exc.status < 500 else 200,
                       consent_note=note)
    return _answer(call_id, error=None, done=_("Consent recorded: the number is kept, encrypted, for the "
                                               "call-back."), status=200)


@bp.route("/calls/<int:call_id>/callback", methods=["POST"])
@roles_required(*access.CALL_WORKERS)
def start_callback(call_id: int):
    """Call back: the attempt is committed, then Twilio rings the operator's phone."""
    contact = call_records.get_by_id(call_id)
    config = current_app.config
    try:
        with unit_of_work.change():
            attempt = callbacks.start_callback(current_actor(), contact, clock.now(),
                                               confirm_unknown=request.form.get("confirm_unknown") == "1",
                                               daily_limit=config["CALLBACK_DAILY_LIMIT"])
    except ServiceError as exc:
        return _answer(call_id, error=refusal_text(exc), done=None, status=exc.status)
    unit_of_work.commit_now()
    twilio = twilio_gateway.client(config)
    callbacks.dial_operator(attempt, twilio, config, clock.now())
    unit_of_work.commit_now()
    if attempt.result == "failed":
        return _answer(call_id, error=_("Twilio could not ring your phone: the call-back failed. Try again."),
                       done=None, status=200)
    if twilio is None:
        done = _("Twilio is not configured: nothing rings. Play the call-back with: flask --app wsgi hotline "
                 "simulate callback %(id)d", id=contact.id)
    else:
        done = _("Your phone rings: press 1 to call the contact.")
    return _answer(call_id, error=None, done=done, status=202)
