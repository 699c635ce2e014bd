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
    "child_protection": _l("Child protection"),
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
REFERRAL_STATUS_LABELS = {"proposed": _l("Proposed"), "accepted": _l("Accepted"), "declined": _l("Declined"),
                          "arrived": _l("Arrived")}

# Why a placement result matched, or what it lacks (app.services.placement.ranking.Reason).
REASON_LABELS = {
    "language": _l("speaks %(value)s"),
    "wheelchair": _l("wheelchair access"),
    "high_security": _l("high security"),
    "pets": _l("pets welcome"),
    "children": _l("children up to %(value)s"),
    "always_open": _l("24/7"),
    "room": _l("room for %(value)s"),
}
UNMET_LABELS = {
    "language": _l("does not speak %(value)s"),
    "high_security": _l("no high security"),
    "pets": _l("no pets"),
}
CLIENT_TYPE_CHOICES = {"victim": _l("Victim"), "offender": _l("Offender"), "couple": _l("Couple")}
NEED_LABELS = {"wheelchair": _l("Wheelchair access"), "pets": _l("Pets"), "high_security": _l("High security")}
TURN_AWAY_REASON_LABELS = {
    "full": _l("full: no free place that fits"),
    "ineligible": _l("no facility takes this household"),
    "closed": _l("places exist, but closed for intake"),
}
CLIENT_GENDER_LABELS = {"female": _l("Woman"), "male": _l("Man"), "x": _l("X (non-binary)")}

# The hotline: calls and SMS contacts in the operator console.
CHANNEL_LABELS = {"voice": _l("Phone call"), "sms": _l("SMS")}
CALL_STATUS_LABELS = {
    "ringing": _l("ringing"), "in-progress": _l("in progress"), "voicemail": _l("voicemail"),
    "completed": _l("completed"), "no-answer": _l("no answer"), "busy": _l("busy"), "failed": _l("failed"),
    "canceled": _l("canceled"),
}
OUTCOME_LABELS = {
    "placed": _l("Placed"), "held": _l("Place held"), "referred": _l("Referred"), "advice": _l("Advice given"),
    "callback": _l("Call-back to make"), "dropped": _l("Contact lost"), "emergency": _l("Sent to emergency services"),
}
VOICEMAIL_OUTCOME_LABELS = {
    "callback": _l("To be called back"), "advice": _l("Advice given"),
    "emergency": _l("Sent to emergency services"), "no_action": _l("Nothing to act on"),
}
SAFETY_FLAG_LABELS = {"safe_to_call_back": _l("Safe to call back"),
                      "safe_to_leave_message": _l("Safe to leave a message")}
OUTBOX_STATUS_LABELS = {
    "pending": _l("waiting to be sent"), "sending": _l("sending"), "sent": _l("sent"), "delivered": _l("delivered"),
    "failed": _l("not sent"), "undeliverable": _l("cannot be sent"),
}

# Alerts (flow C): the manager pages and the user form.
ALERT_CHANNEL_LABELS = {"sms": _l("SMS"), "email": _l("E-mail")}
ALERT_STATE_LABELS = {"pending": _l("pending"), "firing": _l("firing"), "resolved": _l("resolved")}
ALERT_EVENT_LABELS = {
    "pending": _l("Below the threshold (pending)"), "fired": _l("Fired"), "critical": _l("Critical level reached"),
    "repeated": _l("Repeated"), "escalated": _l("Escalated"), "acknowledged": _l("Acknowledged"),
    "resolved": _l("Resolved"), "cancelled": _l("Cancelled"),
}
ACK_SOURCE_LABELS = {"web": _l("with the button"), "api": _l("through the API"), "sms": _l("by SMS (OK code)")}
CANCEL_REASON_LABELS = {
    "out_of_scope": _l("the rule no longer watches this region"),
    "rule_changed": _l("the rule was changed"), "rule_deactivated": _l("the rule was deleted or deactivated"),
    "outside_active_hours": _l("the staffed hours ended"),
}
# What an alert rule watches (AlertRule.metric).
ALERT_METRIC_LABELS = {
    "free_places": _l("Free places in a region"), "operators_on_duty": _l("Hotline: operators on duty"),
    "missed_calls": _l("Hotline: missed calls"),
}
# How a hold ended (PRODUCT.md, "Hold outcome"), and why the facility declined.
HOLD_OUTCOME_LABELS = {
    "admitted": _l("arrived and confirmed"), "declined": _l("declined by the facility"),
    "no_show": _l("no-show"), "elsewhere": _l("found a place elsewhere"), "cancelled": _l("cancelled"),
    "expired": _l("expired"), "lapsed": _l("lapsed: not accepted in time"),
}
# The outcomes a release offers: the maker's, and the facility's staff's too.
RELEASE_OUTCOME_CHOICES = {"no_show": _l("No-show"), "elsewhere": _l("Found a place elsewhere"),
                           "cancelled": _l("Cancelled")}
DECLINE_REASON_LABELS = {"not_eligible": _l("Not eligible"), "no_room": _l("No room after all"),
                         "safety": _l("Safety"), "other": _l("Other")}
CALLBACK_STATUS_LABELS = {"calling_operator": _l("Ringing the operator"), "calling_caller": _l("Ringing the caller"),
                          "in_progress": _l("In progress"), "ended": _l("Ended")}
CALLBACK_RESULT_LABELS = {
    "answered": _l("Answered"),
    "no_answer": _l("No answer"),
    "busy": _l("Busy"),
    "voicemail": _l("Answering machine: hung up, no message left"),
    "operator_no_answer": _l("The operator did not answer"),
    "failed": _l("Failed"),
}
