"""Admin forms. They read and show the fields; the services validate them
(they are never `validate()`d here, so a service's message is the only one)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)

from app.labels import (
    ALERT_CHANNEL_LABELS,
    CLIENT_TYPE_LABELS,
    COUNTS_LABELS,
    FACILITY_TYPE_LABELS,
    GENDER_LABELS,
    LANGUAGE_NAMES,
    ORGANISATION_KIND_LABELS,
    ROLE_LABELS,
)
from app.models.alerts import ALERT_CHANNELS
from app.models.capacity import CLIENT_TYPES, COUNTS
from app.models.facility import FACILITY_TYPES, GENDERS, LANGUAGES
from app.models.geography import ORGANISATION_KINDS
from app.models.user import ROLES
from app.services.accounts.users import USER_LANGUAGES
from app.services.registry.intake_hours import DAYS
from app.web.forms import MultiCheckboxField


def _choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


class UserForm(FlaskForm):
    email = StringField(_l("E-mail address"))
    name = StringField(_l("Name"))
    roles = MultiCheckboxField(_l("Roles"), choices=_choices((role, ROLE_LABELS[role]) for role in ROLES))
    regions = MultiCheckboxField(_l("Regions (for managers and regional alerts)"), choices=[])
    facilities = MultiCheckboxField(_l("Facilities (for shelter staff)"), choices=[])
    phone = StringField(_l("Mobile phone (E.164, like +32470123456)"))
    language = SelectField(_l("Language"), choices=_choices((code, LANGUAGE_NAMES[code]) for code in USER_LANGUAGES))
    alert_channels = MultiCheckboxField(_l("Alert notices by"), default=list(ALERT_CHANNELS),
                                        choices=_choices((c, ALERT_CHANNEL_LABELS[c]) for c in ALERT_CHANNELS))
    password = PasswordField(_l("New password (leave empty to keep it)"))

    def set_choices(self, regions, facilities):
        self.regions.choices = _choices((region.slug, region.name) for region in regions)
        self.facilities.choices = _choices((f.slug, f"{f.name} ({f.municipality})") for f in facilities)


class RegionForm(FlaskForm):
    slug = StringField(_l("Slug (lowercase letters, digits and dashes)"))
    name = StringField(_l("Name"))


class OrganisationForm(FlaskForm):
    slug = StringField(_l("Slug (lowercase letters, digits and dashes)"))
    name = StringField(_l("Name"))
    kind = SelectField(_l("Kind"), choices=_choices((k, ORGANISATION_KIND_LABELS[k]) for k in ORGANISATION_KINDS))
    region = SelectField(_l("Region"), choices=[])
    phone = StringField(_l("Phone (E.164, like +3232000000)"))
    email = StringField(_l("E-mail address"))

    def set_choices(self, regions):
        self.region.choices = _choices([("", _l("(none)"))] + [(region.slug, region.name) for region in regions])


class KindForm(FlaskForm):
    code = StringField(_l("Code (lowercase letters, digits and underscores)"))
    label_nl = StringField(_l("Label in Dutch"))
    label_en = StringField(_l("Label in English"))
    label_fr = StringField(_l("Label in French"))
    counts = SelectField(_l("Counts"), choices=_choices((c, COUNTS_LABELS[c]) for c in COUNTS))
    serves = MultiCheckboxField(_l("Serves"), choices=_choices((t, CLIENT_TYPE_LABELS[t]) for t in CLIENT_TYPES))
    position = StringField(_l("Position in lists"))
    requires_acceptance = BooleanField(_l("Requires the facility's acceptance"))


class RiskItemForm(FlaskForm):
    key = StringField(_l("Key (lowercase letters, digits and underscores)"))
    label_nl = StringField(_l("Question in Dutch"))
    label_fr = StringField(_l("Question in French"))
    label_en = StringField(_l("Question in English"))
    weight = StringField(_l("Weight of a yes (0 to 100)"))
    critical = BooleanField(_l("Critical: the contact is not screened until it is answered"))
    child_at_risk = BooleanField(_l("Child at risk: a yes prompts a referral to child protection"))
    active = BooleanField(_l("Active (an inactive item keeps its answers but counts in no new score)"))
    position = StringField(_l("Position in lists"))


class RiskScaleForm(FlaskForm):
    name = StringField(_l("Name of the instrument"))
    elevated_at = StringField(_l("Elevated from a score of"))
    high_at = StringField(_l("High from a score of"))
    validated = BooleanField(_l("This is our region's validated instrument"))


class FacilityForm(FlaskForm):
    """The facility's own fields. The weekly intake hours and the units are
    fields named by day and by kind, read in `hours_from_form`/`units_from_form`."""

    slug = StringField(_l("Slug (lowercase letters, digits and dashes)"))
    name = StringField(_l("Name"))
    type = SelectField(_l("Type"), choices=_choices((t, FACILITY_TYPE_LABELS[t]) for t in FACILITY_TYPES))
    region = SelectField(_l("Region"), choices=[])
    organisation = SelectField(_l("Organisation"), choices=[])
    municipality = StringField(_l("Municipality"))
    postcode = StringField(_l("Postcode"))
    street = StringField(_l("Street and number"))
    lat = StringField(_l("Latitude"))
    lon = StringField(_l("Longitude"))
    confidential = BooleanField(_l("Confidential address (only its own staff and admins see it)"))
    intake_phone = StringField(_l("Intake phone (E.164, like +3232000000)"))
    open_for_intake = BooleanField(_l("Open for intake"))
    closed_reason = TextAreaField(_l("Why it is closed for intake"))
    stale_after_hours = StringField(_l("Counts are stale after (hours)"))
    genders = MultiCheckboxField(_l("Takes in"), choices=_choices((g, GENDER_LABELS[g]) for g in GENDERS))
    children = BooleanField(_l("Takes in children"))
    max_children = StringField(_l("At most this many children"))
    max_child_age = StringField(_l("Children up to this age"))
    max_boy_age = StringField(_l("Boys up to this age (empty: as children)"))
    wheelchair = BooleanField(_l("Wheelchair accessible"))
    pets = BooleanField(_l("Pets allowed"))
    high_security = BooleanField(_l("High security"))
    languages = MultiCheckboxField(_l("Languages spoken"), choices=_choices((code, code) for code in LANGUAGES))

    FIELDS = (
        "slug", "name", "type", "region", "organisation", "municipality", "postcode", "street", "lat", "lon",
        "confidential", "intake_phone", "open_for_intake", "closed_reason", "stale_after_hours", "genders",
        "children", "max_children", "max_child_age", "max_boy_age", "wheelchair", "pets", "high_security", "languages",
    )

    def set_choices(self, regions, organisations):
        self.region.choices = _choices((region.slug, region.name) for region in regions)
        self.organisation.choices = _choices([("", _l("(none)"))] + [(o.slug, o.name) for o in organisations])


def hours_from_form(formdata) -> dict:
    """What the per-day editor shows: the 24/7 box and one text per day."""
    return {
        "always": bool(formdata.get("hours_always")),
        "days": {day: formdata.get(f"hours_{day}", "").strip() for day in DAYS},
    }


def hours_from_model(hours: dict) -> dict:
    return {
        "always": bool(hours.get("always")),
        "days": {day: ",".join(f"{a}-{b}" for a, b in hours.get("weekly", {}).get(day, [])) for day in DAYS},
    }


def hours_value(hours: dict):
    """The editor's values in a form `facilities.validate` reads: '24/7', the
    text form ('mon 08:00-12:00,13:00-17:00; tue …'), or, when no day has
    hours, an empty week, which the service refuses with its own message."""
    if hours["always"]:
        return "24/7"
    # A ';' would start another day in the text form: each box is its own day.
    parts = [f"{day} {text.replace(';', ',')}" for day, text in hours["days"].items() if text]
    return "; ".join(parts) if parts else {"always": False, "weekly": {}}


UNIT_PARTS = ("total", "available", "room_size", "version")


def units_from_form(formdata, kinds) -> dict:
    return {kind.code: {part: formdata.get(f"{kind.code}_{part}", "").strip() for part in UNIT_PARTS}
            for kind in kinds}


def units_from_model(facility) -> dict:
    units = {unit.kind.code: unit for unit in facility.units} if facility else {}
    return {
        code: {"total": str(unit.total), "available": str(unit.available),
               "room_size": "" if unit.room_size is None else str(unit.room_size), "version": str(unit.version)}
        for code, unit in units.items()
    }
