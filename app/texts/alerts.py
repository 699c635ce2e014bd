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
"""

from dataclasses import dataclass
from datetime import datetime

from app.texts import sms as sms_texts

LANGUAGES = ("nl", "fr", "en")
NOTICE_EVENTS = ("fired", "critical", "repeated", "escalated", "resolved")


@dataclass(frozen=True)
class NoticeFacts:
    code: str  # the acknowledgement code (Alert.code)
    rule_name: str
    region: str  # the region's name
    kinds: list  # CapacityKind rows (code, labels), in the rule's order
    free: int
    threshold: int
    critical_at: int
    full: int  # facilities open for intake with none of these kinds free
    stale: int  # facilities whose counts of these kinds are stale
    since: datetime | None  # local time the episode fired (or started)
    minutes: int = 0  # for "escalated": unacknowledged for this long


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
    return SMS[lang][event].format(**_values(facts, lang))


def email(event: str, lang: str, facts: NoticeFacts) -> tuple[str, str]:
    """(subject, body) of the e-mail."""
    lang = language(lang)
    values = _values(facts, lang)
    subject = SUBJECTS[lang][event].format(**values)
    lines = [OPENINGS[lang][event].format(**values), ""]
    lines += [line.format(**values) for line in LINES[lang]]
    if event != "resolved":
        lines += ["", ACKNOWLEDGE[lang].format(**values)]
    lines += ["", SIGNATURE[lang]]
    return subject[:200], "\n".join(lines) + "\n"
