"""How codes read for people: one place for every label, shared by the forms,
the pages and the fragments (templates get them as `labels`)."""

from flask_babel import lazy_gettext as _l

ROLE_LABELS = {
    "operator": _l("Operator (hotline)"),
    "shelter_staff": _l("Shelter staff"),
    "manager": _l("Regional manager"),
    "partner": _l("Partner (police, justice house)"),
    "admin": _l("Administrator"),
}
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English", "fr": "Français"}
ORGANISATION_KIND_LABELS = {
    "caw": _l("CAW (general welfare centre)"),
    "crisis_centre": _l("Crisis centre"),
    "justice_house": _l("Justice house"),
    "police_zone": _l("Police zone"),
    "other": _l("Other"),
}
FACILITY_TYPE_LABELS = {
    "crisis_centre": _l("Crisis centre"),
    "refuge": _l("Refuge"),
    "relief_point": _l("Relief point"),
    "offender_programme": _l("Offender programme"),
}
GENDER_LABELS = {"female": _l("Women"), "male": _l("Men"), "x": _l("X (non-binary)")}
COUNTS_LABELS = {"persons": _l("Persons"), "rooms": _l("Rooms (one per household)"),
                 "slots": _l("Slots (one per household)")}
CLIENT_TYPE_LABELS = {"victim": _l("Victims"), "offender": _l("Offenders"), "couple": _l("Couples")}
DAY_LABELS = {
    "mon": _l("Monday"), "tue": _l("Tuesday"), "wed": _l("Wednesday"), "thu": _l("Thursday"),
    "fri": _l("Friday"), "sat": _l("Saturday"), "sun": _l("Sunday"),
}
