"""What the hotline's SMS replies say, per language ("nl", "fr", "en").

Content, not UI: a text message is read on a phone, outside the app, in the
language of its recipient (a registered user's own setting). Every key exists
in all three languages. Characters stay within the GSM 03.38 alphabet (é, è
and à are in it; ê, ç, em dashes, curly quotes and bullets are not), so that a
reply is sent as plain 160-character segments, not as Unicode ones of 70.
"""

import re

LANGUAGES = ("nl", "fr", "en")
DEFAULT_LANGUAGE = "nl"

# How the default capacity kinds read in a sentence: (one, several). A kind an
# admin adds later reads as its label.
KIND_NAMES = {
    "crisis_bed": {"nl": ("crisisbed", "crisisbedden"), "fr": ("lit de crise", "lits de crise"),
                   "en": ("crisis bed", "crisis beds")},
    "refuge_place": {"nl": ("vluchthuisplaats", "vluchthuisplaatsen"),
                     "fr": ("place en maison d'accueil", "places en maison d'accueil"),
                     "en": ("refuge place", "refuge places")},
    "emergency_bed": {"nl": ("noodbed", "noodbedden"), "fr": ("lit d'urgence", "lits d'urgence"),
                      "en": ("emergency bed", "emergency beds")},
    "family_room": {"nl": ("gezinskamer", "gezinskamers"), "fr": ("chambre familiale", "chambres familiales"),
                    "en": ("family room", "family rooms")},
    "intake_slot": {"nl": ("intakemoment", "intakemomenten"), "fr": ("créneau d'accueil", "créneaux d'accueil"),
                    "en": ("intake slot", "intake slots")},
    "offender_slot": {"nl": ("plaats daderprogramma", "plaatsen daderprogramma"),
                      "fr": ("place programme auteurs", "places programme auteurs"),
                      "en": ("offender programme place", "offender programme places")},
}

# Further words a sender may use for a kind, in any of the three languages
# (besides its code, its labels and the names above).
KIND_ALIASES = {
    "crisis_bed": ("crisis", "crise", "crisisbed", "lit crise", "lits crise"),
    "refuge_place": ("vluchthuis", "refuge", "maison d'accueil", "opvangplaats"),
    "emergency_bed": ("nood", "urgence", "emergency", "overflow"),
    "family_room": ("gezin", "gezinskamer", "famille", "chambre famille", "family"),
    "intake_slot": ("intake", "accueil", "creneau"),
    "offender_slot": ("dader", "daderprogramma", "auteur", "auteurs", "offender"),
}

FREE = {"nl": ("vrij", "vrij"), "fr": ("libre", "libres"), "en": ("free", "free")}

TEXTS = {
    "nl": {
        "set": "{facility}: {count} {kind} {free} (van {total})",
        "status_unit": "{count} {kind} {free} (van {total})",
        "status_held": "{held} daarvan vastgehouden",
        "status_closed": "gesloten voor opname",
        "status_empty": "{facility}: geen aantallen",
        "help": "Opvang sms: VRIJ 3 = 3 plaatsen vrij (standaardsoort). VRIJ 1 gezinskamer = per soort. "
                "STATUS = je aantallen. HULP = deze uitleg.",
        "help_codes": " Meerdere opvangplaatsen: zet de code erachter, bv. VRIJ 3 {example}. Codes: {codes}.",
        "no_count": "Geef het aantal in cijfers, bv. VRIJ 3. Niets gewijzigd.",
        "bad_count": "{facility}: geef een aantal van 0 tot {total} {kind}. Niets gewijzigd.",
        "unknown_word": "Onbekende soort of code: {word}. Soorten bij {facility}: {kinds}. Niets gewijzigd.",
        "unknown_code": "Onbekende code: {word}. Jouw codes: {codes}. Niets gewijzigd.",
        "kind_not_here": "{facility} heeft geen {kind}. Soorten: {kinds}. Niets gewijzigd.",
        "need_code": "Je werkt voor meerdere opvangplaatsen: zet de code erachter, bv. VRIJ 3 {example}. "
                     "Codes: {codes}. Niets gewijzigd.",
        "no_facility": "Dit nummer hoort bij geen opvangplaats die je mag bijwerken. Niets gewijzigd.",
        "conflict": "{facility}: iemand anders wijzigde dit net, nu {count} {kind} {free}. Stuur je aantal opnieuw.",
        "inactive": "Opvang: met dit nummer kun je geen aantallen doorgeven. Niets gewijzigd.",
        "ack_done": "Opvang: alarm {code} ({region}) bevestigd. Geen herinneringen meer; iedereen hoort het als het "
                    "opgelost is.",
        "ack_unknown": "Opvang: geen alarm {code} dat jij kunt bevestigen. Niets gewijzigd.",
        "ack_already": "Opvang: alarm {code} was al bevestigd door {name} om {time}. Niets gewijzigd.",
        "ack_resolved": "Opvang: alarm {code} is al opgelost. Niets gewijzigd.",
        "ack_no_code": "Stuur OK en de code van het alarm, bv. OK K7RM4. Niets gewijzigd.",
        "help_ok": " OK K7RM4 = alarm K7RM4 bevestigen.",
    },
    "fr": {
        "set": "{facility} : {count} {kind} {free} (sur {total})",
        "status_unit": "{count} {kind} {free} (sur {total})",
        "status_held": "dont {held} réservé(s)",
        "status_closed": "fermé aux admissions",
        "status_empty": "{facility} : aucun compteur",
        "help": "Opvang SMS : LIBRE 3 = 3 places libres (type par défaut). LIBRE 1 chambre familiale = par type. "
                "STATUS = vos compteurs. AIDE = cette aide.",
        "help_codes": " Plusieurs lieux : ajoutez le code, p.ex. LIBRE 3 {example}. Codes : {codes}.",
        "no_count": "Indiquez le nombre en chiffres, p.ex. LIBRE 3. Rien n'a changé.",
        "bad_count": "{facility} : indiquez un nombre de 0 à {total} {kind}. Rien n'a changé.",
        "unknown_word": "Type ou code inconnu : {word}. Types à {facility} : {kinds}. Rien n'a changé.",
        "unknown_code": "Code inconnu : {word}. Vos codes : {codes}. Rien n'a changé.",
        "kind_not_here": "{facility} n'a pas de {kind}. Types : {kinds}. Rien n'a changé.",
        "need_code": "Vous travaillez pour plusieurs lieux : ajoutez le code, p.ex. LIBRE 3 {example}. "
                     "Codes : {codes}. Rien n'a changé.",
        "no_facility": "Ce numéro n'est lié à aucun lieu que vous pouvez mettre à jour. Rien n'a changé.",
        "conflict": "{facility} : quelqu'un d'autre vient de modifier, maintenant {count} {kind} {free}. "
                    "Renvoyez votre nombre.",
        "inactive": "Opvang : ce numéro ne peut pas transmettre de compteurs. Rien n'a changé.",
        "ack_done": "Opvang : alerte {code} ({region}) confirmée. Plus de rappels ; chacun sera prévenu quand elle "
                    "sera résolue.",
        "ack_unknown": "Opvang : aucune alerte {code} que vous pouvez confirmer. Rien n'a changé.",
        "ack_already": "Opvang : l'alerte {code} a déjà été confirmée par {name} à {time}. Rien n'a changé.",
        "ack_resolved": "Opvang : l'alerte {code} est déjà résolue. Rien n'a changé.",
        "ack_no_code": "Envoyez OK et le code de l'alerte, p.ex. OK K7RM4. Rien n'a changé.",
        "help_ok": " OK K7RM4 = confirmer l'alerte K7RM4.",
    },
    "en": {
        "set": "{facility}: {count} {kind} {free} (of {total})",
        "status_unit": "{count} {kind} {free} (of {total})",
        "status_held": "{held} of them held",
        "status_closed": "closed for intake",
        "status_empty": "{facility}: no counts",
        "help": "Opvang SMS: FREE 3 = 3 places free (default kind). FREE 1 family room = per kind. "
                "STATUS = your counts. HELP = this help.",
        "help_codes": " Several facilities: add the code, e.g. FREE 3 {example}. Codes: {codes}.",
        "no_count": "Give the number in digits, e.g. FREE 3. Nothing changed.",
        "bad_count": "{facility}: give a number from 0 to {total} {kind}. Nothing changed.",
        "unknown_word": "Unknown kind or code: {word}. Kinds at {facility}: {kinds}. Nothing changed.",
        "unknown_code": "Unknown code: {word}. Your codes: {codes}. Nothing changed.",
        "kind_not_here": "{facility} has no {kind}. Kinds: {kinds}. Nothing changed.",
        "need_code": "You work for several facilities: add the code, e.g. FREE 3 {example}. "
                     "Codes: {codes}. Nothing changed.",
        "no_facility": "This number belongs to no facility you may update. Nothing changed.",
        "conflict": "{facility}: someone else just changed this, now {count} {kind} {free}. Send your number again.",
        "inactive": "Opvang: this number cannot send counts. Nothing changed.",
        "ack_done": "Opvang: alert {code} ({region}) acknowledged. No more reminders; everyone is told when it is "
                    "resolved.",
        "ack_unknown": "Opvang: no alert {code} that you can acknowledge. Nothing changed.",
        "ack_already": "Opvang: alert {code} was already acknowledged by {name} at {time}. Nothing changed.",
        "ack_resolved": "Opvang: alert {code} is resolved already. Nothing changed.",
        "ack_no_code": "Send OK and the alert's code, e.g. OK K7RM4. Nothing changed.",
        "help_ok": " OK K7RM4 = acknowledge alert K7RM4.",
    },
}

# Words that tell a first text's language: common in one of the three and
# absent from the other two (so not "je", "me", "is", "in", "help", "merci").
# A text with more of one language's words than of any other's is in that
# language; any other text gets the automatic reply in all three.
LANGUAGE_WORDS = {
    "nl": frozenset("hallo hoi goedendag goedemorgen goedenavond ik mijn niet het een met van heb ben hulp nodig "
                    "alsjeblieft alstublieft kan kunnen wil wat waar hij zij mij thuis bang kunt jullie graag "
                    "bedankt dank ook maar".split()),
    "fr": frozenset("bonjour bonsoir salut j ai suis mon mes moi une aide besoin avec chez peur aidez pouvez "
                    "voulez vous il elle est et pour qui que mari aussi mais".split()),
    "en": frozenset("hello hi i im my the need am please can you not and with he she thanks thank someone "
                    "somebody scared want what where are this have husband also but".split()),
}
WORD = re.compile(r"[a-zà-ÿ]+")


def language_of(body: str | None) -> str | None:
    """The language `body` is written in, when its words tell (LANGUAGE_WORDS);
    None when they do not."""
    words = WORD.findall((body or "").lower())
    hits = {lang: sum(word in LANGUAGE_WORDS[lang] for word in words) for lang in LANGUAGES}
    best = max(hits, key=hits.get)
    if hits[best] == 0 or list(hits.values()).count(hits[best]) > 1:
        return None
    return best


def language(code: str | None) -> str:
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def text(lang: str, key: str, **values) -> str:
    return TEXTS[language(lang)][key].format(**values)


def several(lang: str, count: int) -> bool:
    """Whether `count` takes the plural: French says "0 lit", the others "0 bedden"."""
    return count > 1 if lang == "fr" else count != 1


def free_word(lang: str, count: int) -> str:
    """"vrij", "free"; French agrees "libre" with the count."""
    one, more = FREE[language(lang)]
    return more if several(lang, count) else one


def kind_name(kind, lang: str, count: int = 2) -> str:
    """A kind as it reads after a count in `lang`."""
    forms = KIND_NAMES.get(kind.code, {}).get(lang)
    if forms:
        return forms[1] if several(lang, count) else forms[0]
    return kind.label(lang).lower()
