"""Thin routes over app/services/alerts/episodes.py and rules.py.

Who: the alert list and the rules are for managers and admins. The alert
list is scoped as alerts.alerts_for scopes it (admins every region, managers
their own, and the hotline's alerts for every manager); an alert's timeline and its acknowledgement are for whoever it
asks to act (access.may_acknowledge_alert: admins, the region's managers, the
operators its rule names). Everyone else gets 403. The rules editor lists the rules alert_rules.rules_for gives, and
alert_rules.save_rule decides what may be saved: an invalid rule comes back
with the message next to its field, status 400, and nothing saved.
"""

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app import clock
from app.alerts import bp
from app.alerts.forms import RuleForm, form_data, new_rule_data, rule_from_form
from app.alerts.presenters import ack_refusal, is_fallback, timeline
from app.extensions import htmx
from app.models import AlertRule
from app.services.alerts import episodes
from app.services.alerts import rules as alert_rules
from app.services.core import access
from app.services.core.errors import Conflict, Forbidden, InvalidInput
from app.services.registry import capacity, regions
from app.web import unit_of_work
from app.web.auth import current_actor, roles_required
from app.web.numbers import positive_int

# Open episodes: one per rule and region at most.
CURRENT_LIMIT = 500


# --- alerts -----------------------------------------------------------------------


@bp.route("/")
@roles_required(*access.ALERT_READERS)
def index():
    """Current alerts (firing, critical first, then pending) and past ones,
    paged by `before` (an alert id). Polls itself for the fragment."""
    actor = current_actor()
    before = request.args.get("before", type=positive_int)
    current = sorted(episodes.alerts_for(actor, "firing", limit=CURRENT_LIMIT)
                     + episodes.alerts_for(actor, "pending", limit=CURRENT_LIMIT),
                     key=lambda alert: (alert.state != "firing", not alert.critical, -alert.id))
    page_size = current_app.config["ALERTS_PAGE_SIZE"]
    past = episodes.alerts_for(actor, "resolved", limit=page_size + 1, before_id=before)
    context = dict(
        current=current,
        past=past[:page_size],
        older=past[page_size - 1].id if len(past) > page_size else None,
        before=before,
        now=clock.now(),
        refresh_seconds=current_app.config["ALERTS_REFRESH_SECONDS"],
    )
    if htmx:
        return render_template("alerts/_alerts.html", **context)
    return render_template("alerts/index.html", **context)


@bp.route("/<int:alert_id>")
@roles_required(*access.ALERT_RECIPIENTS)
def show(alert_id: int):
    """The alert's timeline: what happened, who was told by what, who acknowledged."""
    alert = episodes.get_alert(alert_id)
    if not access.may_acknowledge_alert(current_user, alert):
        raise Forbidden("this alert is for the managers of its region")
    return render_template("alerts/show.html", alert=alert, entries=timeline(alert), is_fallback=is_fallback,
                           now=clock.now())


@bp.route("/<int:alert_id>/ack", methods=["POST"])
@roles_required(*access.ALERT_RECIPIENTS)
def acknowledge(alert_id: int):
    alert = episodes.get_alert(alert_id)
    try:
        with unit_of_work.change():
            episodes.acknowledge(current_actor(), alert, clock.now())
    except Conflict:
        flash(ack_refusal(alert), "error")
    else:
        flash(_("Alert %(code)s acknowledged: no more reminders or escalation. Everyone who was told hears when "
                "it is resolved.", code=alert.code), "success")
    if request.form.get("back") == "show":
        return redirect(url_for("alerts.show", alert_id=alert.id), 303)
    return redirect(url_for("alerts.index"), 303)


# --- rules ------------------------------------------------------------------------


@bp.route("/rules")
@roles_required(*access.ALERT_READERS)
def rules():
    return render_template("alerts/rules.html", rules=alert_rules.rules_for(current_actor()),
                           kinds={kind.code: kind for kind in capacity.all_kinds()})


def _rule_page(rule: AlertRule | None):
    if rule is not None and not access.may_edit_alert_rule(current_user, rule.region_id, rule.metric):
        raise Forbidden("managers edit the rules of their own regions only")
    if request.method == "GET":
        form = RuleForm(data=form_data(alert_rules.rule_fields(rule)) if rule is not None else new_rule_data())
    else:
        form = RuleForm()
    own = access.alert_region_ids(current_user)
    form.set_choices([region for region in regions.all_regions() if own is None or region.id in own],
                     capacity.all_kinds(), every_region=own is None)
    if request.method == "POST":
        try:
            with unit_of_work.change():
                saved = alert_rules.save_rule(current_actor(), clock.now(), rule_from_form(form), rule)
        except InvalidInput as exc:
            return render_template("alerts/rule_form.html", form=form, rule=rule, error=exc), 400
        flash(_("Alert rule %(name)s saved.", name=saved.name), "success")
        return redirect(url_for("alerts.rules"), 303)
    return render_template("alerts/rule_form.html", form=form, rule=rule, error=None)


@bp.route("/rules/new", methods=["GET", "POST"])
@roles_required(*access.ALERT_READERS)
def new_rule():
    return _rule_page(None)


@bp.route("/rules/<int:rule_id>", methods=["GET", "POST"])
@roles_required(*access.ALERT_READERS)
def edit_rule(rule_id: int):
    return _rule_page(alert_rules.get_rule(rule_id))


@bp.route("/rules/<int:rule_id>/delete", methods=["POST"])
@roles_required(*access.ALERT_READERS)
def delete_rule(rule_id: int):
    """A rule without alerts is deleted; one with alerts is deactivated, so
    that their timelines stay."""
    rule = alert_rules.get_rule(rule_id)
    name = rule.name
    outcome = alert_rules.delete_rule(current_actor(), clock.now(), rule)
    if outcome == "deleted":
        flash(_("Alert rule %(name)s deleted.", name=name), "success")
    else:
        flash(_("Alert rule %(name)s had alerts: it is deactivated, so that their timelines stay.", name=name),
              "success")
    return redirect(url_for("alerts.rules"), 303)
