"""Thin routes over app/services/hotline/ (calls, call_records, call_log, conversations, outbox,
placement for the SMS replies and turn-aways).

From a ringing phone to a held place: the live list links to the call's page
(one click), its "Search placement" posts the call to the search, which
pre-fills itself from the call's record and runs (two), and each result's
Hold links the hold to the call (three).

Who: operators, managers and admins open every page here; working a call
(taking it, recording it, answering by SMS, recording a turn-away) is for
operators and managers, as the services say. Partners and shelter staff get
403 everywhere: they never see a call, a note or a number. The hotline's
figures are for managers and admins only.
"""

import csv
import io
import logging
from datetime import timedelta

from flask import Response, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from app import clock
from app.clock import iso_local, local_zone
from app.console import bp
from app.console.callbacks import callback_context
from app.console.presenters import call_duration, call_fate, caller_text, minutes_text, seconds_text, waiting_text
from app.extensions import db, htmx
from app.models import Call
from app.models.facility import LANGUAGES
from app.models.hotline import OUTCOMES, VOICEMAIL_OUTCOMES
from app.models.placement import RISK_LEVELS, TURN_AWAY_REASONS
from app.presenters import kind_label
from app.services.core import access, spreadsheet
from app.services.core.errors import Conflict, InvalidInput, NotFound
from app.services.hotline import call_records, calls, conversations, figures, risk, twilio_gateway, voicemails
from app.services.hotline.call_log import LogFilters, call_takers, log_query, parse_log_filters
from app.services.placement import closing, holds, offers, referrals, turn_aways
from app.services.placement import requests as waiting_list
from app.services.placement import search as placement
from app.services.placement.criteria import parse_criteria
from app.services.registry import capacity, regions
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required
from app.web.delivery import deliver_now
from app.web.holds import minute_choices
from app.web.numbers import positive_int
from app.web.search_form import criteria_data

log = logging.getLogger(__name__)

LIST_FIELDS = ("needs", "languages")
LOG_PAGE_SIZE = 50
CSV_COLUMNS = ("id", "sid", "channel", "caller", "language", "status", "started_at", "answered_at", "ended_at",
               "duration_s", "operator", "safe_to_call_back", "safe_to_leave_message", "callback_requested",
               "outcome")


def _refresh_seconds() -> int:
    return current_app.config["CONSOLE_REFRESH_SECONDS"]


def _may_work() -> bool:
    return current_user.has_role(*access.CALL_WORKERS)


def _may_screen() -> bool:
    return current_user.has_role(*access.RISK_SCREENERS)


# --- the live console ------------------------------------------------------------


def _live_context(now) -> dict:
    window = timedelta(hours=current_app.config["SMS_CONVERSATION_HOURS"])
    rows = calls.live(now, sms_window=window)
    last = call_records.last_messages(call.id for call in rows if call.channel == "sms")
    return dict(rows=rows, last=last, now=now, refresh_seconds=_refresh_seconds())


def _duty_context(error: str | None = None) -> dict:
    return dict(on_duty_now=calls.on_duty_operators(), duty_error=error)


@bp.route("/")
@roles_required(*access.CALL_READERS)
def index():
    now = clock.now()
    offered = {"open_offers": offers.open_offers(now)} if current_user.has_role(*access.REQUEST_KEEPERS) else {}
    return render_template("console/index.html", **_live_context(now), **_duty_context(), **offered)


@bp.route("/live")
@roles_required(*access.CALL_READERS)
def live():
    """The live list's fragment; it polls itself."""
    return render_template("console/_live.html", **_live_context(clock.now()))


@bp.route("/duty", methods=["POST"])
@roles_required(*access.CALL_READERS)
def duty():
    """Switch yourself on or off duty: on duty, hotline calls ring on your phone."""
    choice = request.form.get("on")
    error, status = None, 200
    try:
        if choice not in ("0", "1"):
            raise InvalidInput("on must be 0 or 1", field="on")
        with unit_of_work.change():
            calls.set_on_duty(current_actor(), current_user._get_current_object(), choice == "1", clock.now())
    except InvalidInput as exc:
        error, status = _duty_error(exc), exc.status
    if not htmx:
        if error:
            flash(error, "error")
        return redirect(url_for("console.index"))
    return render_template("console/_duty.html", **_duty_context(error)), status


def _duty_error(exc: InvalidInput) -> str:
    if exc.field == "phone":
        return _("You need a phone number to go on duty: calls are put through to it. Ask an administrator "
                 "to add yours.")
    if exc.field == "on_duty":
        return _("Only operators go on duty.")
    return exc.message


# --- a call's page ---------------------------------------------------------------


def _record_form(call: Call) -> MultiDict:
    """The record form's values from what the call holds (the caller's
    language ticked while no languages are recorded)."""
    needs = call.needs or {}
    form = MultiDict()
    for name in ("client_type", "adults", "gender", "postcode"):
        if needs.get(name) is not None:
            form[name] = str(needs[name])
    if needs.get("children"):
        form["children"] = ", ".join(str(age) for age in needs["children"])
    languages = needs.get("languages") or ([call.language] if call.language else [])
    for name, values in (("needs", needs.get("needs") or []), ("languages", languages)):
        for value in values:
            form.add(name, value)
    for name in call_records.FLAG_FIELDS:
        value = getattr(call, name)
        form[name] = "unknown" if value is None else ("yes" if value else "no")
    form["notes"] = call.notes or ""
    form["outcome"] = call.outcome or ""
    return form


def _call_context(call: Call, now, **extra) -> dict:
    context = dict(
        call=call,
        now=now,
        may_work=_may_work(),
        form=_record_form(call),
        earlier=calls.earlier_contacts(call),
        holds=call_records.holds_of(call),
        referrals=call_records.referrals_of(call),
        turn_away=call_records.turn_away_of(call),
        messages=call_records.conversation(call) if call.channel == "sms" else [],
        sms_number_kept=conversations.number_kept(call, now),
        safety_advice=conversations.safety_advice(call) if call.channel == "sms" else None,
        waiting=waiting_text(call, now, call_records.last_messages([call.id]).get(call.id)),
        languages=LANGUAGES,
        outcomes=OUTCOMES,
        turn_away_reasons=TURN_AWAY_REASONS,
        refresh_seconds=_refresh_seconds(),
        sees_risk=access.may_see_risk_level(current_user),
        **_voicemail_context(),
    )
    context.update(callback_context(call, now))
    if _may_screen():
        context.update(_risk_context(call))
    context.update(extra)
    return context


def _risk_context(call: Call, **extra) -> dict:
    """The screening beside the call: only for operators and managers
    (PRODUCT.md section 5, rule 11); an admin's call page has no answers."""
    items, scale = risk.instrument()
    context = dict(
        call=call,
        may_screen=True,
        risk_items=items,
        risk_scale=scale,
        risk_answers=dict(call.risk_answers or {}),
        assessment=risk.assess(call.risk_answers or {}, items, scale),
        risk_history=risk.history(call),
        child_at_risk=risk.child_at_risk(call),
        child_protection=risk.child_protection_organisations(),
        risk_override=(call.risk_level if call.risk_override_reason else ""),
        risk_reason=call.risk_override_reason or "",
        risk_levels=RISK_LEVELS,
        risk_error=None,
        referral_made=None,
    )
    context.update(extra)
    return context


@bp.route("/calls/<int:call_id>")
@roles_required(*access.CALL_READERS)
def call(call_id: int):
    contact = call_records.get_by_id(call_id)
    now = clock.now()
    results = _results_context(contact, call_records.search_criteria(contact), now) if _may_work() else {}
    return render_template("console/call.html", **_call_context(contact, now, **results))


# --- the workspace: the places that fit, as the operator types ----------------------


def _workspace_criteria(call: Call, form) -> dict:
    """The search criteria of the workspace's form as typed (saved or not),
    tied to the call; the call's saved needs when the form carries none (a
    Hold pressed without JavaScript)."""
    data = criteria_data(form) if "postcode" in form else call_records.search_criteria(call)
    data.update(call_id=str(call.id), session=f"call-{call.id}")
    return data


def _results_context(call: Call, data: dict, now, **extra) -> dict:
    """The ranked places for the criteria `data`, recording nothing; while
    who or where is missing, a hint instead (not an error: the operator is
    still listening)."""
    kinds = capacity.all_kinds()
    context = dict(outcome=None, error=None, preview_hint=False, workspace_call=call,
                   kind_names={kind.code: kind_label(kind) for kind in kinds}, hold_minutes=minute_choices(call))
    context.update(extra)
    if not (data.get("client_type") and data.get("postcode")):
        context["preview_hint"] = True
        return context
    try:
        criteria = parse_criteria(data)
        context["outcome"] = placement.search(current_actor(), criteria, now, record=False,
                                              preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
    except InvalidInput as exc:
        context["error"] = exc
    return context


@bp.route("/calls/<int:call_id>/preview", methods=["POST"])
@roles_required(*access.CALL_WORKERS)
def preview(call_id: int):
    """The results as the operator types: the search without a record (no
    search row, no turn-away: a half-typed postcode is no unmet demand)."""
    contact = call_records.get_by_id(call_id)
    now = clock.now()
    context = _results_context(contact, _workspace_criteria(contact, request.form), now)
    return render_template("placement/_results.html", now=now, **context), 400 if context["error"] else 200


@bp.route("/calls/<int:call_id>/hold", methods=["POST"])
@roles_required(*access.CALL_WORKERS)
def hold(call_id: int):
    """A result's Hold on the call's page: the criteria travel in the body
    (the workspace's form, danger places included, never a URL); the search
    runs once more, recorded, as the hold's search, and the place is held
    for the call. A place gone meanwhile is said in place, ranked again."""
    contact = call_records.get_by_id(call_id)
    now = clock.now()
    unit_id = request.form.get("unit_id", "")
    data = _workspace_criteria(contact, request.form)
    try:
        with unit_of_work.change():
            criteria = parse_criteria(data)
            outcome = placement.search(current_actor(), criteria, now,
                                       preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
            made = holds.create(current_actor(), now, unit_id=unit_id, persons=criteria.persons,
                                household=request.form.get("household") or None, call_id=contact.id,
                                search_id=outcome.search.id, minutes=request.form.get("minutes") or None)
    except (InvalidInput, NotFound) as exc:
        if not htmx:
            flash(_("Not held: %(message)s", message=exc.message), "error")
            return redirect(url_for("console.call", call_id=call_id))
        return render_template("placement/_hold.html", unit_id=unit_id, error=exc.message), exc.status
    except Conflict as exc:
        gone = _("This place went meanwhile: the places are ranked again.")
        if not htmx:
            flash(gone, "error")
            return redirect(url_for("console.call", call_id=call_id))
        context = _results_context(contact, data, now, gone_unit=unit_id, gone_message=gone)
        return render_template("placement/_results.html", now=now, **context), exc.status, {
            "HX-Retarget": "#results", "HX-Reswap": "outerHTML"}
    if not htmx:
        flash(_("Held until %(time)s", time=format_datetime(made.expires_at, "HH:mm")), "success")
        return redirect(url_for("console.call", call_id=call_id))
    return render_template("console/_held.html", unit_id=unit_id, hold=made, now=now,
                           holds=call_records.holds_of(contact)), 201


def _record_data(form) -> dict:
    """The record fields the form sent (its checkbox lists carry an empty
    hidden value, so that "none ticked" is sent too)."""
    return {name: (form.getlist(name) if name in LIST_FIELDS else form.get(name))
            for name in call_records.RECORD_FIELDS if name in form}


@bp.route("/calls/<int:call_id>", methods=["POST"])
@roles_required(*access.CALL_READERS)
def save(call_id: int):
    """Save the needs, safety flags, notes and outcome: all or nothing; as
    the operator types (htmx aimed at #save-status), everything that is
    right, so that notes and flags are never lost to a half-typed postcode.
    An outcome that closes the contact without a place records its turn-away
    (closing.close_contact)."""
    contact = call_records.get_by_id(call_id)
    now = clock.now()
    autosave = bool(htmx) and request.headers.get("HX-Target") == "save-status"
    needs_error = None
    try:
        with unit_of_work.change():
            data = _record_data(request.form)
            if autosave:
                changed, needs_error = call_records.save_as_typed(current_actor(), contact, data, now)
            else:
                changed = call_records.update(current_actor(), contact, data, now)
            if "outcome" in changed:
                closing.close_contact(current_actor(), contact, now,
                                      preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
    except InvalidInput as exc:
        if not htmx:
            flash(_("Not saved: %(message)s", message=exc.message), "error")
            return redirect(url_for("console.call", call_id=call_id))
        if autosave:
            return render_template("console/_save_status.html", record_error=exc, saved_at=None), exc.status
        form = MultiDict(request.form)
        return render_template("console/_record.html", **_call_context(contact, now, form=form, record_error=exc,
                                                                         saved=None)), exc.status
    if not htmx:
        flash(_("Saved."), "success")
        return redirect(url_for("console.call", call_id=call_id))
    if autosave:
        return render_template("console/_save_status.html", record_error=needs_error, saved_at=now)
    return render_template("console/_record.html", **_call_context(contact, now, saved=changed, record_error=None))


def _voicemail_context(error: str | None = None) -> dict:
    return dict(may_listen=current_user.has_role(*access.VOICEMAIL_LISTENERS),
                recordings_reachable=twilio_gateway.configured(current_app.config),
                voicemail_outcomes=VOICEMAIL_OUTCOMES, voicemail_error=error)


@bp.route("/calls/<int:call_id>/voicemail", methods=["POST"])
@roles_required(*access.VOICEMAIL_HANDLERS)
def handle_voicemail(call_id: int):
    """Mark the contact's voicemail handled, with what it needed: it leaves
    the live list. A colleague who handled it first is said in place."""
    voicemail = voicemails.get(call_id)
    error, status = None, 200
    try:
        with unit_of_work.change():
            voicemails.handle(current_actor(), voicemail, request.form.get("outcome") or None, clock.now())
    except (InvalidInput, Conflict) as exc:
        error, status = _voicemail_error(exc), exc.status
    if not htmx:
        flash(error or _("The voicemail is handled."), "error" if error else "success")
        return redirect(url_for("console.call", call_id=call_id))
    return render_template("console/_voicemail.html", call=voicemails.get(call_id), may_work=_may_work(),
                           **_voicemail_context(error)), status


def _voicemail_error(exc: InvalidInput | Conflict) -> str:
    if isinstance(exc, Conflict):
        return _("Someone handled this voicemail already.")
    return _("Choose what the voicemail needed.")


@bp.route("/calls/<int:call_id>/take", methods=["POST"])
@roles_required(*access.CALL_READERS)
def take(call_id: int):
    """Take the call (or, explicitly, take it over from a colleague)."""
    contact = call_records.get_by_id(call_id)
    now = clock.now()
    error, status = None, 200
    try:
        with unit_of_work.change():
            call_records.take(current_actor(), contact, now, take_over=request.form.get("take_over") == "1")
    except Conflict as exc:
        error, status = exc.message, exc.status
    contact = call_records.get_by_id(call_id)
    if not htmx:
        flash(error or _("The call is yours."), "error" if error else "success")
        return redirect(url_for("console.call", call_id=call_id))
    return render_template("console/_take.html", call=contact, may_work=_may_work(), take_error=error), status


@bp.route("/calls/<int:call_id>/conversation")
@roles_required(*access.CALL_READERS)
def conversation(call_id: int):
    """An SMS contact's messages; the call page polls it."""
    contact = call_records.get_by_id(call_id)
    return render_template("console/_conversation.html", call=contact, messages=call_records.conversation(contact),
                           now=clock.now(), refresh_seconds=_refresh_seconds())


@bp.route("/calls/<int:call_id>/reply", methods=["POST"])
@roles_required(*access.CALL_READERS)
def reply(call_id: int):
    """Answer the help-seeker by SMS: written to the outbox with the
    conversation, committed, then one attempt to send it before the answer
    (deliver_now). A failed send shows in the conversation with its error."""
    contact = call_records.get_by_id(call_id)
    now = clock.now()
    body = request.form.get("body", "")
    error, status = None, 201
    try:
        with unit_of_work.change():
            sent = conversations.reply(current_actor(), contact, body, now)
            outbox_id = sent.outbox.id
    except (InvalidInput, Conflict) as exc:
        error, status = _reply_error(exc), exc.status
    else:
        body = ""
        deliver_now(outbox_id)
    contact = call_records.get_by_id(call_id)
    if not htmx:
        flash(error or _("Sent to the outbox."), "error" if error else "success")
        return redirect(url_for("console.call", call_id=call_id))
    return render_template("console/_sms.html", **_call_context(contact, clock.now(), reply_body=body,
                                                                 reply_error=error)), status


def _reply_error(exc) -> str:
    if isinstance(exc, Conflict):
        return _("This contact's number is no longer kept: it cannot be answered by SMS.")
    if exc.field == "body":
        return _("Write a message of at most %(n)d characters.", n=conversations.MAX_BODY)
    return exc.message


@bp.route("/calls/<int:call_id>/turn-away", methods=["POST"])
@roles_required(*access.CALL_READERS)
def turn_away(call_id: int):
    """"No place found": the contact is recorded as a turn-away, once."""
    contact = call_records.get_by_id(call_id)
    try:
        with unit_of_work.change():
            recorded, created = turn_aways.record_turn_away(current_actor(), clock.now(),
                                                            reason=request.form.get("reason"), call_id=contact.id)
    except InvalidInput as exc:
        return render_template("console/_turn_away.html", call=contact, turn_away=None, may_work=_may_work(),
                               turn_away_reasons=TURN_AWAY_REASONS, turn_away_error=exc.message), exc.status
    if not htmx:
        flash(_("Recorded as a turn-away."), "success")
        return redirect(url_for("console.call", call_id=call_id))
    return render_template("console/_turn_away.html", call=contact, turn_away=recorded, created=created,
                           may_work=_may_work(), turn_away_reasons=TURN_AWAY_REASONS), 201 if created else 200


# --- the waiting list ---------------------------------------------------------------


def _offers_context(now) -> dict:
    return dict(open_offers=offers.open_offers(now), now=now, refresh_seconds=_refresh_seconds())


@bp.route("/requests")
@roles_required(*access.REQUEST_KEEPERS)
def requests_page():
    """The waiting list: risk level, then the longest waiting first; by region."""
    now = clock.now()
    region = request.args.get("region") or None
    try:
        rows = waiting_list.listing(current_user, "open", region)
    except InvalidInput as error:
        flash(error.message, "error")
        rows, region = waiting_list.listing(current_user, "open"), None
    return render_template("console/requests.html", rows=rows, region=region, all_regions=regions.all_regions(),
                           **_offers_context(now))


@bp.route("/offers")
@roles_required(*access.REQUEST_KEEPERS)
def offers_fragment():
    """The open offers' fragment; it polls itself, so every operator on duty sees a new one at once."""
    return render_template("console/_offers.html", **_offers_context(clock.now()))


def _answer_offer(offer_id: int, answer, done: str):
    offer = offers.get(offer_id)
    now = clock.now()
    try:
        with unit_of_work.change():
            answer(offer, now)
    except (Conflict, InvalidInput) as error:
        message = _("This offer is no longer open.") if isinstance(error, Conflict) else error.message
        if htmx:
            return render_template("console/_offers.html", offer_error=message, **_offers_context(now)), error.status
        flash(message, "error")
        return redirect(url_for("console.requests_page"))
    if htmx:
        return render_template("console/_offers.html", offer_done=done, **_offers_context(now))
    flash(done, "success")
    return redirect(url_for("console.requests_page"))


@bp.route("/offers/<int:offer_id>/take", methods=["POST"])
@roles_required(*access.REQUEST_KEEPERS)
def take_offer(offer_id: int):
    """"Hold this place": one click takes the offer and makes the hold for the request."""
    return _answer_offer(offer_id, lambda offer, now: offers.take(current_actor(), offer, now),
                         _("Held for request %(id)s.", id=offers.get(offer_id).request_id))


@bp.route("/offers/<int:offer_id>/pass", methods=["POST"])
@roles_required(*access.REQUEST_KEEPERS)
def pass_offer(offer_id: int):
    """"Pass": the place goes to the next request."""
    return _answer_offer(offer_id, lambda offer, now: offers.decline(current_actor(), offer, now),
                         _("Passed on to the next request."))


@bp.route("/calls/<int:call_id>/risk", methods=["POST"])
@roles_required(*access.RISK_SCREENERS)
def save_risk(call_id: int):
    """Save the screening on every change (htmx): the answers, and an
    override with its reason; answers the fragment with the new level."""
    contact = call_records.get_by_id(call_id)
    items, _scale = risk.instrument()
    answers = {item.key: request.form.get(f"risk-{item.key}") for item in items}
    level, reason = request.form.get("level") or None, request.form.get("reason", "")
    try:
        with unit_of_work.change():
            risk.save_answers(current_actor(), contact, answers, level, reason, clock.now())
    except InvalidInput as exc:
        if not htmx:
            flash(_("Not saved: %(message)s", message=exc.message), "error")
            return redirect(url_for("console.call", call_id=call_id))
        # The operator's choices as they sent them, with what is wrong.
        sent = {key: value for key, value in answers.items() if value}
        return render_template("console/_risk.html", **_risk_context(
            contact, risk_answers=sent, risk_override=level or "", risk_reason=reason,
            risk_error=_risk_error(exc))), exc.status
    if not htmx:
        return redirect(url_for("console.call", call_id=call_id, _anchor="risk"))
    return render_template("console/_risk.html", **_risk_context(call_records.get_by_id(call_id)))


def _risk_error(exc: InvalidInput) -> str:
    if exc.field == "reason" and request.form.get("reason", "").strip():
        return exc.message
    if exc.field == "reason":
        return _("Give a reason for the level you set: the computed level stands until you do.")
    return exc.message


@bp.route("/calls/<int:call_id>/child-protection", methods=["POST"])
@roles_required(*access.RISK_SCREENERS)
def refer_child_protection(call_id: int):
    """One click from the screening's "child at risk" prompt: a referral of
    the contact to a child-protection organisation."""
    contact = call_records.get_by_id(call_id)
    organisation_id = request.form.get("organisation_id")
    if organisation_id not in {str(organisation.id) for organisation in risk.child_protection_organisations()}:
        error = InvalidInput("choose a child-protection organisation", field="organisation_id")
        return render_template("console/_risk.html", **_risk_context(contact, risk_error=error.message)), 400
    with unit_of_work.change():
        made = referrals.create(current_actor(), clock.now(), call_id=contact.id, organisation_id=organisation_id)
    if not htmx:
        flash(_("Referred to %(name)s.", name=made.organisation.name), "success")
        return redirect(url_for("console.call", call_id=call_id))
    return render_template("console/_risk.html", **_risk_context(call_records.get_by_id(call_id), referral_made=made))


# --- the call log ----------------------------------------------------------------


@bp.route("/log")
@roles_required(*access.CALL_READERS)
def call_log():
    try:
        filters = parse_log_filters(request.args)
    except InvalidInput as exc:
        return render_template("console/log.html", filters=LogFilters(), raw=request.args, pagination=None,
                               log_error=exc, operators=call_takers(), outcomes=OUTCOMES,
                               now=clock.now()), exc.status
    pagination = db.paginate(log_query(filters, clock.local_zone()),
                             page=request.args.get("page", 1, type=positive_int), per_page=LOG_PAGE_SIZE,
                             error_out=False)
    return render_template("console/log.html", filters=filters, raw=request.args, pagination=pagination,
                           log_error=None, operators=call_takers(), outcomes=OUTCOMES, now=clock.now())


def _csv_row(call: Call) -> list:
    # The operator's name is the only free text (typed by someone); masked
    # numbers, codes and times are the system's own.
    flag = {True: "yes", False: "no", None: "unknown"}
    return [call.id, call.sid, call.channel, call.caller_masked, call.language or "", call.status,
            iso_local(call.started_at), iso_local(call.answered_at) or "", iso_local(call.ended_at) or "",
            "" if call.duration_s is None else call.duration_s,
            spreadsheet.text_cell(call.operator.name) if call.operator else "", flag[call.safe_to_call_back],
            flag[call.safe_to_leave_message], "yes" if call.callback_requested else "no", call.outcome or ""]


@bp.route("/log.csv")
@roles_required(*access.CALL_READERS)
def call_log_csv():
    """The log as CSV, with the page's filters: masked numbers only, and no
    notes (they may hold personal data) nor needs."""
    filters = parse_log_filters(request.args)  # a bad filter: 400, said in the error page
    query = log_query(filters, clock.local_zone()).execution_options(yield_per=500)

    def rows():
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for call in db.session.scalars(query):
            writer.writerow(_csv_row(call))
            if out.tell() > 64_000:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()

    day = filters.day.isoformat() if filters.day else "all"
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="calls-{day}.csv"'})


# --- the hotline's own figures ------------------------------------------------------


@bp.route("/hotline")
@roles_required(*access.HOTLINE_FIGURE_READERS)
def hotline_figures():
    """Today and this week, per hotline number dialled (and all together when
    there are several), and what became of each of today's calls."""
    now = clock.now()
    zone = local_zone()
    per_number, together = figures.today_and_week(now, zone)
    numbers = sorted(per_number, key=lambda number: (number is None, number or ""))
    tables = [(number, [per_number[number].today, per_number[number].week]) for number in numbers]
    totals = [together.today, together.week] if len(numbers) > 1 else None
    return render_template("console/hotline.html", now=now, tables=tables, totals=totals,
                           calls_today=figures.per_call(figures.today(now, zone), now))


# Template helpers of this blueprint's pages.
@bp.context_processor
def _helpers() -> dict:
    return {"caller_text": caller_text, "call_duration": call_duration, "waiting_text": waiting_text,
            "minutes_text": minutes_text, "seconds_text": seconds_text, "call_fate": call_fate}
