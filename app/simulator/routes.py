"""Thin routes over app/web/simulator.py (and its transports and TwiML): a form, the walk it made."""

from flask import current_app, render_template, request
from flask_babel import gettext as _

from app.extensions import htmx
from app.services.core import access
from app.services.core.errors import InvalidInput
from app.services.hotline import twilio_gateway
from app.simulator import bp
from app.web import simulator, simulator_transport, simulator_twiml, unit_of_work
from app.web.auth import roles_required

DEFAULTS = {"from": simulator.DEFAULT_CALLER, "digits": "", "hold_open": "1", "sms_from": "+32470000004",
            "body": "VRIJ 3"}


def _field_message(field: str | None) -> str:
    messages = {
        "from": _("Enter a phone number such as +32470123456, or anonymous for a withheld number."),
        "sms_from": _("Enter a phone number such as +32470000004, or anonymous for a withheld number."),
        "to": _("The hotline's number (TWILIO_FROM_NUMBER) is not a phone number."),
        "digits": _("Keys are up to %(n)d of 0-9, * and #.", n=simulator.MAX_KEYS),
        "body": _("Write the text to send, at most %(n)d characters.", n=simulator.MAX_BODY),
        "sid": _("A call's SID starts with CA."),
    }
    return messages.get(field or "", _("Check the form."))


def _page(form, *, walk=None, transport=None, error=None, field=None, status=200):
    steps = [(step, simulator_twiml.describe(step.twiml, transport)) for step in walk.steps] if walk else []
    context = dict(form=form, walk=walk, steps=steps, error=error, field=field,
                   twilio_configured=twilio_gateway.client(current_app.config) is not None)
    template = "simulator/_transcript.html" if htmx and request.method == "POST" else "simulator/index.html"
    return render_template(template, **context), status


def _simulate(form, run, field_of=None):
    """Run a simulation in-process; the page with its steps, or what went wrong."""
    # The webhooks run in sessions of their own: this request holds no
    # transaction (nor, on SQLite, the write lock) while they do.
    unit_of_work.commit_now()
    transport = simulator_transport.InProcess(current_app._get_current_object())
    try:
        walk = run(transport)
    except InvalidInput as error:
        field = (field_of or {}).get(error.field, error.field)
        return _page(form, error=_field_message(field), field=field, status=400)
    except simulator_transport.SimulatorError as error:
        return _page(form, error=_("The app did not answer as Twilio expects: %(error)s", error=str(error)),
                     status=502)
    return _page(form, walk=walk, transport=transport)


@bp.route("")
@roles_required(*access.SIMULATOR_USERS)
def index():
    return _page(DEFAULTS)


@bp.route("/call", methods=["POST"])
@roles_required(*access.SIMULATOR_USERS)
def call():
    form = {**DEFAULTS, "hold_open": "", **request.form.to_dict()}
    return _simulate(form, lambda transport: simulator.simulate_call(
        transport,
        number=form.get("from", ""),
        hotline=current_app.config.get("TWILIO_FROM_NUMBER"),
        digits=form.get("digits", ""),
        answer=not form.get("no_answer"),
        consent=bool(form.get("consent")),
        hold_open=bool(form.get("hold_open")),
    ))


@bp.route("/hangup", methods=["POST"])
@roles_required(*access.SIMULATOR_USERS)
def hangup():
    form = {**DEFAULTS, **request.form.to_dict()}
    return _simulate(form, lambda transport: simulator.hangup(transport, form.get("sid", "")))


@bp.route("/sms", methods=["POST"])
@roles_required(*access.SIMULATOR_USERS)
def sms():
    form = {**DEFAULTS, **request.form.to_dict()}
    return _simulate(form, lambda transport: simulator.simulate_sms(
        transport, number=form.get("sms_from", ""), body=form.get("body", ""),
        hotline=current_app.config.get("TWILIO_FROM_NUMBER"),
    ), field_of={"from": "sms_from"})
