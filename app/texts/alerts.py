"""What alert notices say, per language ("nl", "fr", "en").

Content, not UI (like app/texts/sms.py): a notice is read on a phone
or in a mailbox, in its recipient's own language. Every key exists in all three
languages. An SMS names the alert's code, the region, the kind(s), the free
places, the threshold, how many facilities are full and how many have stale
counts, and how to acknowledge ("Reply OK 17"); it stays within 160 GSM
characters for ordinary region and kind names (tests/test_alerts.py checks).
An e-mail has a subject and a slightly longer body. A notice never holds an
address, a phone number or anything about a caller: only the figures below.

    sms(event, lang, facts) -> str
    email(event, lang, facts) -> (subject, body)

`event` is one of NOTICE_EVENTS; `facts` a NoticeFacts.

The hotline's alerts (facts.metric in HOTLINE_METRICS) have their own texts
(HOTLINE_*): no region, no kinds, no facilities, just the count watched (the
operators on duty, or the calls missed in the window) and the threshold; never
anything about a caller. A firing operators_on_duty alert closed because the
staffed hours ended says so (facts.hours_over) in its "resolved" notice.
"""

from dataclasses import dataclass
from datetime import datetime

from app.models.alerts import HOTLINE_METRICS
from app.texts import sms as sms_texts

LANGUAGES = ("nl", "fr", "en")
NOTICE_EVENTS = ("fired", "critical", "repeated", "escalated", "resolved")


@dataclass(frozen=True)
class NoticeFacts:
    code: str  # the acknowledgement code (Alert.code)
    rule_name: str
    region: str | None  # the region's name; None for the hotline's metrics
    kinds: list  # CapacityKind rows (code, labels), in the rule's order
    free: int
    threshold: int
    critical_at: int
    full: int  # facilities open for intake with none of these kinds free
    stale: int  # facilities whose counts of these kinds are stale
    since: datetime | None  # local time the episode fired (or started)
    minutes: int = 0  # for "escalated": unacknowledged for this long
    metric: str = "free_places"  # AlertRule.metric; for the hotline's, `free` is the count watched
    window_minutes: int | None = None  # missed_calls: the window counted
    active_hours: tuple[str, str] | None = None  # operators_on_duty: the staffed hours ("08:00", "22:00")
    hours_over: bool = False  # "resolved" because the staffed hours ended


SMS = {
    "nl": {
        "fired": "Opvang alarm {code}: {what} in {region} (drempel {threshold}); {facts}. Antwoord OK {code}",
        "critical": "Opvang KRITIEK {code}: {what} in {region} (drempel {threshold}); {facts}. Antwoord OK {code}",
        "repeated": "Opvang herinnering {code}: nog {what} in {region} (drempel {threshold}); {facts}. "
                    "Antwoord OK {code}",
        "escalated": "Opvang escalatie {code}: {minutes} min onbevestigd. {what} in {region} (drempel {threshold}); "
                     "{facts}. Antwoord OK {code}",
        "resolved": "Opvang alarm {code} opgelost: {what} in {region} (drempel {threshold}).",
    },
    "fr": {
        "fired": "Opvang alerte {code} : {what}, région {region} (seuil {threshold}) ; {facts}. Répondez OK {code}",
        "critical": "Opvang CRITIQUE {code} : {what}, région {region} (seuil {threshold}) ; {facts}. "
                    "Répondez OK {code}",
        "repeated": "Opvang rappel {code} : encore {what}, région {region} (seuil {threshold}) ; {facts}. "
                    "Répondez OK {code}",
        "escalated": "Opvang escalade {code} : {minutes} min sans réponse. {what}, {region} (seuil {threshold}) ; "
                     "{facts}. Répondez OK {code}",
        "resolved": "Opvang alerte {code} résolue : {what}, région {region} (seuil {threshold}).",
    },
    "en": {
        "fired": "Opvang alert {code}: {what} in {region} (threshold {threshold}); {facts}. Reply OK {code}",
        "critical": "Opvang CRITICAL {code}: {what} in {region} (threshold {threshold}); {facts}. Reply OK {code}",
        "repeated": "Opvang reminder {code}: still {what} in {region} (threshold {threshold}); {facts}. "
                    "Reply OK {code}",
        "escalated": "Opvang escalation {code}: {minutes} min unacknowledged. {what} in {region} "
                     "(threshold {threshold}); {facts}. Reply OK {code}",
        "resolved": "Opvang alert {code} resolved: {what} in {region} (threshold {threshold}).",
    },
}

# "{full} full, {stale} stale", with French agreeing in number.
FACTS = {
    "nl": lambda full, stale: f"{full} vol, {stale} verouderd",
    "fr": lambda full, stale: f"{full} {'complets' if sms_texts.several('fr', full) else 'complet'}, "
                              f"{stale} pas à jour",
    "en": lambda full, stale: f"{full} full, {stale} stale",
}

# Free places of several kinds: "2 vrij (crisisbedden, noodbedden)".
SEVERAL_KINDS = {
    "nl": "{free} vrij ({kinds})",
    "fr": "{free} {places} ({kinds})",
    "en": "{free} free ({kinds})",
}

SUBJECTS = {
    "nl": {
        "fired": "Opvang alarm {code}: {what} in {region}",
        "critical": "Opvang KRITIEK alarm {code}: {what} in {region}",
        "repeated": "Herinnering: Opvang alarm {code}: {what} in {region}",
        "escalated": "Escalatie: Opvang alarm {code} onbevestigd: {what} in {region}",
        "resolved": "Opgelost: Opvang alarm {code}: {what} in {region}",
    },
    "fr": {
        "fired": "Opvang alerte {code} : {what}, région {region}",
        "critical": "Opvang alerte CRITIQUE {code} : {what}, région {region}",
        "repeated": "Rappel : Opvang alerte {code} : {what}, région {region}",
        "escalated": "Escalade : Opvang alerte {code} sans réponse : {what}, région {region}",
        "resolved": "Résolue : Opvang alerte {code} : {what}, région {region}",
    },
    "en": {
        "fired": "Opvang alert {code}: {what} in {region}",
        "critical": "Opvang CRITICAL alert {code}: {what} in {region}",
        "repeated": "Reminder: Opvang alert {code}: {what} in {region}",
        "escalated": "Escalation: Opvang alert {code} unacknowledged: {what} in {region}",
        "resolved": "Resolved: Opvang alert {code}: {what} in {region}",
    },
}

# The e-mail's opening line per event, then the figures, then how to acknowledge.
OPENINGS = {
    "nl": {
        "fired": "Alarm {code} (regel \"{rule}\") ging af om {since}: te weinig vrije plaatsen.",
        "critical": "Alarm {code} (regel \"{rule}\") is KRITIEK: de vrije plaatsen zijn op of onder {critical_at}.",
        "repeated": "Herinnering: alarm {code} (regel \"{rule}\"), afgegaan om {since}, is nog niet bevestigd.",
        "escalated": "Alarm {code} (regel \"{rule}\"), afgegaan om {since}, is al {minutes} minuten niet "
                     "bevestigd. U krijgt het als escalatie.",
        "resolved": "Alarm {code} (regel \"{rule}\") is opgelost: de vrije plaatsen zijn weer voldoende.",
    },
    "fr": {
        "fired": "L'alerte {code} (règle \"{rule}\") s'est déclenchée à {since} : trop peu de places libres.",
        "critical": "L'alerte {code} (règle \"{rule}\") est CRITIQUE : les places libres sont à {critical_at} "
                    "ou moins.",
        "repeated": "Rappel : l'alerte {code} (règle \"{rule}\"), déclenchée à {since}, n'a pas encore été "
                    "confirmée.",
        "escalated": "L'alerte {code} (règle \"{rule}\"), déclenchée à {since}, est sans réponse depuis {minutes} "
                     "minutes. Elle vous est transmise par escalade.",
        "resolved": "L'alerte {code} (règle \"{rule}\") est résolue : les places libres suffisent à nouveau.",
    },
    "en": {
        "fired": "Alert {code} (rule \"{rule}\") fired at {since}: too few free places.",
        "critical": "Alert {code} (rule \"{rule}\") is CRITICAL: free places are at or below {critical_at}.",
        "repeated": "Reminder: alert {code} (rule \"{rule}\"), fired at {since}, is not acknowledged yet.",
        "escalated": "Alert {code} (rule \"{rule}\"), fired at {since}, has been unacknowledged for {minutes} "
                     "minutes. It is escalated to you.",
        "resolved": "Alert {code} (rule \"{rule}\") is resolved: there are enough free places again.",
    },
}

LINES = {
    "nl": ("Regio: {region}", "Soort(en): {kinds}", "Vrije plaatsen nu: {free} (drempel {threshold}, kritiek bij "
           "{critical_at})", "Opvangplaatsen vol: {full}", "Opvangplaatsen met verouderde aantallen: {stale} "
           "(hun aantallen tellen mee, maar kloppen misschien niet meer)"),
    "fr": ("Région : {region}", "Type(s) : {kinds}", "Places libres maintenant : {free} (seuil {threshold}, "
           "critique à {critical_at})", "Lieux complets : {full}", "Lieux aux compteurs pas à jour : {stale} "
           "(leurs places comptent, mais ne sont peut-être plus exactes)"),
    "en": ("Region: {region}", "Kind(s): {kinds}", "Free places now: {free} (threshold {threshold}, critical at "
           "{critical_at})", "Facilities full: {full}", "Facilities with stale counts: {stale} (their places are "
           "counted, but may be out of date)"),
}

ACKNOWLEDGE = {
    "nl": "Bevestigen: antwoord OK {code} per sms aan het hulplijnnummer, of op de alarmpagina. Daarna stoppen "
          "de herinneringen; iedereen hoort het wanneer het alarm is opgelost.",
    "fr": "Pour confirmer : répondez OK {code} par SMS au numéro de la ligne d'aide, ou sur la page des alertes. "
          "Les rappels s'arrêtent alors ; chacun est prévenu quand l'alerte est résolue.",
    "en": "To acknowledge: reply OK {code} by SMS to the hotline number, or on the alerts page. The reminders "
          "stop then; everyone is told when the alert is resolved.",
}

SIGNATURE = {"nl": "-- Opvang", "fr": "-- Opvang", "en": "-- Opvang"}


# --- the hotline's alerts ----------------------------------------------------

# The hotline where a region's name would be (also in the SMS `OK code` reply).
HOTLINE = {"nl": "hulplijn", "fr": "ligne d'aide", "en": "hotline"}

# "0 operators on duty", "3 missed calls in 60 min": (singular, plural) per metric.
HOTLINE_WHAT = {
    "nl": {"operators_on_duty": ("{n} operator van dienst", "{n} operators van dienst"),
           "missed_calls": ("{n} gemiste oproep in {window} min", "{n} gemiste oproepen in {window} min")},
    "fr": {"operators_on_duty": ("{n} écoutant de garde", "{n} écoutants de garde"),
           "missed_calls": ("{n} appel manqué en {window} min", "{n} appels manqués en {window} min")},
    "en": {"operators_on_duty": ("{n} operator on duty", "{n} operators on duty"),
           "missed_calls": ("{n} missed call in {window} min", "{n} missed calls in {window} min")},
}

HOTLINE_SMS = {
    "nl": {
        "fired": "Opvang alarm {code}: hulplijn: {what} (drempel {threshold}). Antwoord OK {code}",
        "critical": "Opvang KRITIEK {code}: hulplijn: {what} (drempel {threshold}). Antwoord OK {code}",
        "repeated": "Opvang herinnering {code}: hulplijn: nog {what} (drempel {threshold}). Antwoord OK {code}",
        "escalated": "Opvang escalatie {code}: {minutes} min onbevestigd. Hulplijn: {what} (drempel {threshold}). "
                     "Antwoord OK {code}",
        "resolved": "Opvang alarm {code} opgelost: hulplijn: {what} (drempel {threshold}).",
        "hours_over": "Opvang alarm {code} afgesloten: einde van de permanentie om {to}; {what}.",
    },
    "fr": {
        "fired": "Opvang alerte {code} : ligne d'aide : {what} (seuil {threshold}). Répondez OK {code}",
        "critical": "Opvang CRITIQUE {code} : ligne d'aide : {what} (seuil {threshold}). Répondez OK {code}",
        "repeated": "Opvang rappel {code} : ligne d'aide : encore {what} (seuil {threshold}). Répondez OK {code}",
        "escalated": "Opvang escalade {code} : {minutes} min sans réponse. Ligne d'aide : {what} "
                     "(seuil {threshold}). Répondez OK {code}",
        "resolved": "Opvang alerte {code} résolue : ligne d'aide : {what} (seuil {threshold}).",
        "hours_over": "Opvang alerte {code} close : fin de la permanence à {to} ; {what}.",
    },
    "en": {
        "fired": "Opvang alert {code}: hotline: {what} (threshold {threshold}). Reply OK {code}",
        "critical": "Opvang CRITICAL {code}: hotline: {what} (threshold {threshold}). Reply OK {code}",
        "repeated": "Opvang reminder {code}: hotline: still {what} (threshold {threshold}). Reply OK {code}",
        "escalated": "Opvang escalation {code}: {minutes} min unacknowledged. Hotline: {what} "
                     "(threshold {threshold}). Reply OK {code}",
        "resolved": "Opvang alert {code} resolved: hotline: {what} (threshold {threshold}).",
        "hours_over": "Opvang alert {code} closed: staffed hours over at {to}; {what}.",
    },
}

HOTLINE_SUBJECTS = {
    "nl": {
        "fired": "Opvang alarm {code}: hulplijn: {what}",
        "critical": "Opvang KRITIEK alarm {code}: hulplijn: {what}",
        "repeated": "Herinnering: Opvang alarm {code}: hulplijn: {what}",
        "escalated": "Escalatie: Opvang alarm {code} onbevestigd: hulplijn: {what}",
        "resolved": "Opgelost: Opvang alarm {code}: hulplijn: {what}",
        "hours_over": "Afgesloten: Opvang alarm {code}: einde van de permanentie",
    },
    "fr": {
        "fired": "Opvang alerte {code} : ligne d'aide : {what}",
        "critical": "Opvang alerte CRITIQUE {code} : ligne d'aide : {what}",
        "repeated": "Rappel : Opvang alerte {code} : ligne d'aide : {what}",
        "escalated": "Escalade : Opvang alerte {code} sans réponse : ligne d'aide : {what}",
        "resolved": "Résolue : Opvang alerte {code} : ligne d'aide : {what}",
        "hours_over": "Close : Opvang alerte {code} : fin de la permanence",
    },
    "en": {
        "fired": "Opvang alert {code}: hotline: {what}",
        "critical": "Opvang CRITICAL alert {code}: hotline: {what}",
        "repeated": "Reminder: Opvang alert {code}: hotline: {what}",
        "escalated": "Escalation: Opvang alert {code} unacknowledged: hotline: {what}",
        "resolved": "Resolved: Opvang alert {code}: hotline: {what}",
        "hours_over": "Closed: Opvang alert {code}: staffed hours over",
    },
}

# The e-mail's opening line where it differs from a region's alert (repeated
# and escalated read the same: OPENINGS).
HOTLINE_OPENINGS = {
    "nl": {
        "fired": "Alarm {code} (regel \"{rule}\") ging af om {since}: {problem}.",
        "critical": "Alarm {code} (regel \"{rule}\") is KRITIEK: {critical}.",
        "resolved": "Alarm {code} (regel \"{rule}\") is opgelost: {better}.",
        "hours_over": "Alarm {code} (regel \"{rule}\") is afgesloten: de permanentie eindigde om {to}. De regel "
                      "kijkt opnieuw vanaf {from}.",
    },
    "fr": {
        "fired": "L'alerte {code} (règle \"{rule}\") s'est déclenchée à {since} : {problem}.",
        "critical": "L'alerte {code} (règle \"{rule}\") est CRITIQUE : {critical}.",
        "resolved": "L'alerte {code} (règle \"{rule}\") est résolue : {better}.",
        "hours_over": "L'alerte {code} (règle \"{rule}\") est close : la permanence a pris fin à {to}. La règle "
                      "veille de nouveau à partir de {from}.",
    },
    "en": {
        "fired": "Alert {code} (rule \"{rule}\") fired at {since}: {problem}.",
        "critical": "Alert {code} (rule \"{rule}\") is CRITICAL: {critical}.",
        "resolved": "Alert {code} (rule \"{rule}\") is resolved: {better}.",
        "hours_over": "Alert {code} (rule \"{rule}\") is closed: the staffed hours ended at {to}. The rule "
                      "watches again from {from}.",
    },
}

# What is wrong, critical, better again, per metric.
HOTLINE_REASONS = {
    "nl": {
        "operators_on_duty": {"problem": "te weinig operators van dienst",
                              "critical": "{critical_at} of minder operators van dienst",
                              "better": "er zijn weer genoeg operators van dienst"},
        "missed_calls": {"problem": "oproepen blijven onbeantwoord",
                         "critical": "{critical_at} of meer gemiste oproepen in {window} minuten",
                         "better": "er blijven weer minder oproepen onbeantwoord"},
    },
    "fr": {
        "operators_on_duty": {"problem": "trop peu d'écoutants de garde",
                              "critical": "{critical_at} écoutants de garde ou moins",
                              "better": "il y a de nouveau assez d'écoutants de garde"},
        "missed_calls": {"problem": "des appels restent sans réponse",
                         "critical": "{critical_at} appels manqués ou plus en {window} minutes",
                         "better": "moins d'appels restent sans réponse"},
    },
    "en": {
        "operators_on_duty": {"problem": "too few operators on duty",
                              "critical": "{critical_at} or fewer operators on duty",
                              "better": "enough operators are on duty again"},
        "missed_calls": {"problem": "calls go unanswered",
                         "critical": "{critical_at} or more missed calls in {window} minutes",
                         "better": "fewer calls go unanswered again"},
    },
}

HOTLINE_LINES = {
    "nl": {"operators_on_duty": ("Hulplijn", "Operators van dienst nu: {free} (drempel {threshold}, kritiek bij "
                                 "{critical_at})", "Permanentie: {from}-{to}"),
           "missed_calls": ("Hulplijn", "Gemiste oproepen in de laatste {window} minuten: {free} (drempel "
                            "{threshold})")},
    "fr": {"operators_on_duty": ("Ligne d'aide", "Écoutants de garde maintenant : {free} (seuil {threshold}, "
                                 "critique à {critical_at})", "Permanence : {from}-{to}"),
           "missed_calls": ("Ligne d'aide", "Appels manqués ces {window} dernières minutes : {free} (seuil "
                            "{threshold})")},
    "en": {"operators_on_duty": ("Hotline", "Operators on duty now: {free} (threshold {threshold}, critical at "
                                 "{critical_at})", "Staffed hours: {from}-{to}"),
           "missed_calls": ("Hotline", "Missed calls in the last {window} minutes: {free} (threshold "
                            "{threshold})")},
}


def scope(region: str | None, lang: str) -> str:
    """Where an alert is: its region's name, or the hotline."""
    return region if region is not None else HOTLINE[language(lang)]


def _hotline_what(facts: NoticeFacts, lang: str) -> str:
    one, more = HOTLINE_WHAT[lang][facts.metric]
    return (more if sms_texts.several(lang, facts.free) else one).format(n=facts.free, window=facts.window_minutes)


def _hotline_values(facts: NoticeFacts, lang: str) -> dict:
    start, end = facts.active_hours or ("-", "-")
    values = {
        "code": facts.code, "threshold": facts.threshold, "critical_at": facts.critical_at, "free": facts.free,
        "minutes": facts.minutes, "rule": facts.rule_name, "window": facts.window_minutes, "from": start, "to": end,
        "what": _hotline_what(facts, lang), "since": facts.since.strftime("%H:%M") if facts.since else "-",
    }
    reasons = HOTLINE_REASONS[lang][facts.metric]
    return {**values, **{key: text.format(**values) for key, text in reasons.items()}}


def _hotline_key(event: str, facts: NoticeFacts) -> str:
    return "hours_over" if event == "resolved" and facts.hours_over else event


def _hotline_email(event: str, lang: str, facts: NoticeFacts) -> tuple[str, str]:
    values = _hotline_values(facts, lang)
    key = _hotline_key(event, facts)
    opening = HOTLINE_OPENINGS[lang].get(key) or OPENINGS[lang][event]
    lines = [opening.format(**values), ""]
    lines += [line.format(**values) for line in HOTLINE_LINES[lang][facts.metric]]
    if event != "resolved":
        lines += ["", ACKNOWLEDGE[lang].format(**values)]
    lines += ["", SIGNATURE[lang]]
    return HOTLINE_SUBJECTS[lang][key].format(**values)[:200], "\n".join(lines) + "\n"


def language(code: str | None) -> str:
    return code if code in LANGUAGES else sms_texts.DEFAULT_LANGUAGE


def kinds_list(kinds, lang: str) -> str:
    """The kinds, in the plural: "crisis beds, emergency beds"."""
    return ", ".join(sms_texts.kind_name(kind, lang, 2) for kind in kinds)


def what(facts: NoticeFacts, lang: str) -> str:
    """"2 crisis beds free", or "2 free (crisis beds, emergency beds)"."""
    lang = language(lang)
    if len(facts.kinds) == 1:
        kind = facts.kinds[0]
        return f"{facts.free} {sms_texts.kind_name(kind, lang, facts.free)} {sms_texts.free_word(lang, facts.free)}"
    places = "places libres" if sms_texts.several("fr", facts.free) else "place libre"
    return SEVERAL_KINDS[lang].format(free=facts.free, places=places, kinds=kinds_list(facts.kinds, lang))


def _values(facts: NoticeFacts, lang: str) -> dict:
    return {
        "code": facts.code, "region": facts.region, "threshold": facts.threshold, "critical_at": facts.critical_at,
        "free": facts.free, "full": facts.full, "stale": facts.stale, "minutes": facts.minutes,
        "what": what(facts, lang), "facts": FACTS[lang](facts.full, facts.stale), "rule": facts.rule_name,
        "kinds": kinds_list(facts.kinds, lang), "since": facts.since.strftime("%H:%M") if facts.since else "-",
    }


def sms(event: str, lang: str, facts: NoticeFacts) -> str:
    lang = language(lang)
    if facts.metric in HOTLINE_METRICS:
        return HOTLINE_SMS[lang][_hotline_key(event, facts)].format(**_hotline_values(facts, lang))
    return SMS[lang][event].format(**_values(facts, lang))


def email(event: str, lang: str, facts: NoticeFacts) -> tuple[str, str]:
    """(subject, body) of the e-mail."""
    lang = language(lang)
    if facts.metric in HOTLINE_METRICS:
        return _hotline_email(event, lang, facts)
    values = _values(facts, lang)
    subject = SUBJECTS[lang][event].format(**values)
    lines = [OPENINGS[lang][event].format(**values), ""]
    lines += [line.format(**values) for line in LINES[lang]]
    if event != "resolved":
        lines += ["", ACKNOWLEDGE[lang].format(**values)]
    lines += ["", SIGNATURE[lang]]
    return subject[:200], "\n".join(lines) + "\n"
