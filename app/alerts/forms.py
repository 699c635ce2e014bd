"""The alert rule form. Like the admin forms it only reads and shows the
fields: app/services/alerts/rules.py validates them (the form is never
`validate()`d, so the service's message, next to its field, is the only one).
Its fields carry the names of the API's fields, so that the field an
InvalidInput names is the one that shows the message."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField

from app.labels import ALERT_CHANNEL_LABELS, ALERT_METRIC_LABELS
from app.models.alerts import ALERT_CHANNELS, ALERT_METRICS, HOTLINE_METRICS
from app.presenters import kind_label
from app.services.alerts import rules
from app.web.forms import MultiCheckboxField

COUNTS = ("threshold", "critical_at", "for_minutes", "margin", "keep_firing_minutes", "repeat_minutes",
          "escalate_after_minutes")


class RuleForm(FlaskForm):
    name = StringField(_l("Name"))
    metric = SelectField(_l("Watches"), choices=[SelectChoice(m, ALERT_METRIC_LABELS[m]) for m in ALERT_METRICS])
    region = SelectField(_l("Region"), choices=[])
    kinds = MultiCheckboxField(_l("Capacity kinds (their free places are added up)"), choices=[])
    active_from = StringField(_l("Staffed from"))
    active_to = StringField(_l("Staffed until"))
    window_minutes = StringField(_l("Missed calls counted over the last (minutes)"))
    threshold = StringField(_l("Threshold"))
    critical_at = StringField(_l("Critical at"))
    for_minutes = StringField(_l("Minutes below the threshold before it fires"))
    margin = StringField(_l("Margin: resolved only at threshold + margin free places"))
    keep_firing_minutes = StringField(_l("Minutes at threshold + margin before it resolves"))
    repeat_minutes = StringField(_l("Repeat every (minutes) while unacknowledged"))
    escalate_after_minutes = StringField(_l("Escalate after (minutes) unacknowledged"))
    escalate_to = TextAreaField(_l("Escalate to (e-mail addresses of users)"))
    recipients = TextAreaField(_l("Recipients (e-mail addresses of users)"))
    quiet_from = StringField(_l("Quiet from"))
    quiet_to = StringField(_l("Quiet until"))
    channels = MultiCheckboxField(_l("Channels"), choices=[SelectChoice(c, ALERT_CHANNEL_LABELS[c])
                                                            for c in ALERT_CHANNELS])
    active = BooleanField(_l("Active"))

    def set_choices(self, regions, kinds, *, every_region: bool):
        """`regions` the user may make rules for; `every_region` for admins."""
        every = [SelectChoice("", _l("Every region, each on its own"))] if every_region else []
        self.region.choices = every + [SelectChoice(region.slug, region.name) for region in regions]
        self.kinds.choices = [SelectChoice(kind.code, kind_label(kind)) for kind in kinds]


def form_data(rule: dict) -> dict:
    """A rule in the API's shape (alert_rules.rule_fields, or the defaults of
    a new one) as the form shows it."""
    quiet = rule.get("quiet_hours") or {}
    active_hours = rule.get("active_hours") or {}
    return {
        **{name: "" if rule.get(name) is None else str(rule[name]) for name in (*COUNTS, "window_minutes")},
        "name": rule.get("name") or "",
        "metric": rule.get("metric") or "free_places",
        "active_from": active_hours.get("from") or "",
        "active_to": active_hours.get("to") or "",
        "region": rule.get("region") or "",
        "kinds": list(rule.get("kinds") or []),
        "escalate_to": ", ".join(rule.get("escalate_to") or []),
        "recipients": ", ".join(rule.get("recipients") or []),
        "quiet_from": quiet.get("from") or "",
        "quiet_to": quiet.get("to") or "",
        "channels": list(rule.get("channels") or []),
        "active": bool(rule.get("active")),
    }


def new_rule_data() -> dict:
    return form_data(rules.DEFAULTS)


def rule_from_form(form: RuleForm) -> dict:
    """The form's fields in the API's shape, for alert_rules.save_rule. Blank
    repeat and escalation mean never; blank quiet hours mean none. The form
    shows every metric's fields: those of the other metrics are left out
    (a hotline rule has no region or kinds; a region's no staffed hours)."""
    quiet_from, quiet_to = (form.quiet_from.data or "").strip(), (form.quiet_to.data or "").strip()
    active_from, active_to = (form.active_from.data or "").strip(), (form.active_to.data or "").strip()
    metric = form.metric.data or "free_places"
    hotline = metric in HOTLINE_METRICS
    return {
        **{name: getattr(form, name).data or "" for name in COUNTS},
        "name": form.name.data or "",
        "metric": metric,
        "region": None if hotline else form.region.data or None,
        "kinds": None if hotline else form.kinds.data or [],
        "active_hours": ({"from": active_from, "to": active_to} if metric == "operators_on_duty"
                         and (active_from or active_to) else None),
        "window_minutes": (form.window_minutes.data or None) if metric == "missed_calls" else None,
        "escalate_to": form.escalate_to.data or "",
        "recipients": form.recipients.data or "",
        "quiet_hours": {"from": quiet_from, "to": quiet_to} if quiet_from or quiet_to else None,
        "channels": form.channels.data or [],
        "active": bool(form.active.data),
    }
