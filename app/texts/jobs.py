"""What the scheduler's notices say, per language ("nl", "fr", "en").

Content, not UI: an SMS or an e-mail is read outside the app, in the language
of its recipient (their own setting), so each language is written out here in
full, like app/texts/sms.py. Every key exists in all three languages
(tests/test_jobs.py checks it). Texts that may go by SMS stay within the GSM
03.38 alphabet (é, è and à are in it; ê, ç, em dashes and curly quotes are
not). No text ever names an address or anything about a caller.
"""

from datetime import date, timedelta

from app.texts import sms

LANGUAGES = sms.LANGUAGES

TEXTS = {
    "nl": {
        # To whoever made a hold that expired (SMS, or e-mail without a phone).
        "hold_expired": "Opvang: je reservering {hold} van {count} {kind} bij {facility} is verlopen om {time}. "
                        "De plaats is weer vrij. Nog nodig? Maak een nieuwe reservering.",
        "hold_expired_subject": "Opvang: reservering {hold} verlopen",
        # To whoever made a hold that ended otherwise without the household
        # placed: the contact is back among the unmet demand.
        "hold_lapsed": "Opvang: je reservering {hold} van {count} {kind} bij {facility} is niet aanvaard "
                       "voor {time} en vervallen. Zoek een andere plaats.",
        "hold_lapsed_subject": "Opvang: reservering {hold} niet aanvaard",
        "hold_declined": "Opvang: {facility} heeft je reservering {hold} van {count} {kind} geweigerd om {time}. "
                         "Zoek een andere plaats.",
        "hold_declined_subject": "Opvang: reservering {hold} geweigerd",
        "hold_no_show": "Opvang: je reservering {hold} van {count} {kind} bij {facility} is om {time} "
                        "afgesloten: niemand kwam opdagen. Nog nodig? Zoek een nieuwe plaats.",
        "hold_no_show_subject": "Opvang: reservering {hold}: niemand kwam",
        # To every operator on duty when a freed place may fit a waiting request:
        # its number alone, never a facility, household or risk.
        "placement_offer": "Opvang: aanvraag {request}: er is misschien een plaats.",
        "placement_offer_subject": "Opvang: aanvraag {request}: er is misschien een plaats",
        # To a facility's staff when its counts are stale.
        "stale_sms": "{facility}: werk je aantallen bij, laatste update {ago} geleden. "
                     "Antwoord VRIJ n{code} of open {page}",
        "stale_email": "{facility}: werk je aantallen bij, laatste update {ago} geleden.\n\n"
                       "Open {page} of stuur VRIJ n{code} per sms naar het opvangnummer.",
        "stale_subject": "Opvang: werk de aantallen van {facility} bij",
        # To the region's managers when the facility is still stale.
        "stale_escalation": "Opvang: {facility} ({region}) heeft zijn aantallen al {ago} niet bijgewerkt, "
                            "ook niet na een herinnering {reminded} geleden.",
        "stale_escalation_subject": "Opvang: {facility} werkt zijn aantallen niet bij",
        # The managers' daily digest (e-mail).
        "digest_subject": "Opvang: overzicht van {day}",
        "digest_intro": "Overzicht van {day} voor {regions}.",
        "digest_shortages": "Tekorten (alarmen die afgingen):",
        "digest_shortage": "- {region}, {rule}: {episodes}x, langste {longest}, laagste aantal vrij {lowest}",
        "digest_still_firing": " (nog actief)",
        "digest_no_shortages": "Geen tekorten.",
        "digest_turn_aways": "Niet geplaatst (geen plaats gevonden):",
        "digest_turn_away": "- {region}: {count} ({reasons})",
        "digest_no_turn_aways": "Niemand niet geplaatst.",
        "digest_stale": "Nu verouderde aantallen:",
        "digest_stale_facility": "- {region}, {facility}: laatste update {ago} geleden",
        "digest_no_stale": "Alle voorzieningen zijn bijgewerkt.",
        "digest_more": "- {region}: en nog {n} andere",
        "digest_footer": "Details op {page}",
        "digest_figures": "Cijfers van de dag:",
        "digest_region_figures": "- {region}: {zero}; {turn_aways} niet geplaatst; wachtlijst: {opened} "
                                 "nieuw{provisional}. Rapport: {page}",
        "digest_zero": "{kind} {duration} zonder vrije plaats",
        "digest_no_places": "geen plaatsen",
        "digest_no_figures": "- {region}: nog geen cijfers voor die dag. Rapport: {page}",
        "digest_provisional": " (voorlopig)",
        "reasons": {"full": "vol", "ineligible": "geen passende plaats", "closed": "gesloten"},
        "hours": "{n} u",
        "hours_minutes": "{h} u {m} min",
        "minutes": "{n} min",
        "days": "{n} dagen",
        "date": "{d:%d-%m-%Y}",
    },
    "fr": {
        "hold_expired": "Opvang : votre réservation {hold} de {count} {kind} à {facility} a expiré à {time}. "
                        "La place est de nouveau libre. Toujours nécessaire ? Faites une nouvelle réservation.",
        "hold_expired_subject": "Opvang : réservation {hold} expirée",
        "hold_lapsed": "Opvang : votre réservation {hold} de {count} {kind} à {facility} n'a pas été acceptée "
                       "avant {time} et a pris fin. Cherchez une autre place.",
        "hold_lapsed_subject": "Opvang : réservation {hold} non acceptée",
        "hold_declined": "Opvang : {facility} a refusé votre réservation {hold} de {count} {kind} à {time}. "
                         "Cherchez une autre place.",
        "hold_declined_subject": "Opvang : réservation {hold} refusée",
        "hold_no_show": "Opvang : votre réservation {hold} de {count} {kind} à {facility} a été close à {time} : "
                        "personne ne s'est présenté. Toujours besoin ? Cherchez une nouvelle place.",
        "hold_no_show_subject": "Opvang : réservation {hold} : personne n'est venu",
        "placement_offer": "Opvang : demande {request} : une place pourrait convenir.",
        "placement_offer_subject": "Opvang : demande {request} : une place pourrait convenir",
        "stale_sms": "{facility} : mettez vos chiffres à jour, dernière mise à jour il y a {ago}. "
                     "Répondez LIBRE n{code} ou ouvrez {page}",
        "stale_email": "{facility} : mettez vos chiffres à jour, dernière mise à jour il y a {ago}.\n\n"
                       "Ouvrez {page} ou envoyez LIBRE n{code} par SMS au numéro d'Opvang.",
        "stale_subject": "Opvang : mettez à jour les chiffres de {facility}",
        "stale_escalation": "Opvang : {facility} ({region}) n'a pas mis ses chiffres à jour depuis {ago}, "
                            "malgré un rappel il y a {reminded}.",
        "stale_escalation_subject": "Opvang : {facility} ne met pas ses chiffres à jour",
        "digest_subject": "Opvang : résumé du {day}",
        "digest_intro": "Résumé du {day} pour {regions}.",
        "digest_shortages": "Pénuries (alertes déclenchées) :",
        "digest_shortage": "- {region}, {rule} : {episodes} fois, la plus longue {longest}, "
                           "minimum de places libres {lowest}",
        "digest_still_firing": " (toujours active)",
        "digest_no_shortages": "Aucune pénurie.",
        "digest_turn_aways": "Demandes non satisfaites (aucune place trouvée) :",
        "digest_turn_away": "- {region} : {count} ({reasons})",
        "digest_no_turn_aways": "Aucune demande non satisfaite.",
        "digest_stale": "Données périmées maintenant :",
        "digest_stale_facility": "- {region}, {facility} : dernière mise à jour il y a {ago}",
        "digest_no_stale": "Toutes les structures sont à jour.",
        "digest_more": "- {region} : et {n} autres",
        "digest_footer": "Détails sur {page}",
        "digest_figures": "Chiffres du jour :",
        "digest_region_figures": "- {region} : {zero} ; {turn_aways} demandes non satisfaites ; liste d'attente : "
                                 "{opened} nouvelles{provisional}. Rapport : {page}",
        "digest_zero": "{kind} : {duration} sans place libre",
        "digest_no_places": "aucune place",
        "digest_no_figures": "- {region} : pas encore de chiffres pour ce jour. Rapport : {page}",
        "digest_provisional": " (provisoire)",
        "reasons": {"full": "complet", "ineligible": "aucune place adaptée", "closed": "fermé"},
        "hours": "{n} h",
        "hours_minutes": "{h} h {m} min",
        "minutes": "{n} min",
        "days": "{n} jours",
        "date": "{d:%d/%m/%Y}",
    },
    "en": {
        "hold_expired": "Opvang: your hold {hold} of {count} {kind} at {facility} expired at {time}. "
                        "The place is free again. Still needed? Make a new hold.",
        "hold_expired_subject": "Opvang: hold {hold} expired",
        "hold_lapsed": "Opvang: your hold {hold} of {count} {kind} at {facility} was not accepted by {time} "
                       "and has lapsed. Please look for another place.",
        "hold_lapsed_subject": "Opvang: hold {hold} not accepted",
        "hold_declined": "Opvang: {facility} declined your hold {hold} of {count} {kind} at {time}. "
                         "Please look for another place.",
        "hold_declined_subject": "Opvang: hold {hold} declined",
        "hold_no_show": "Opvang: your hold {hold} of {count} {kind} at {facility} was closed at {time}: "
                        "nobody came. Still needed? Look for a new place.",
        "hold_no_show_subject": "Opvang: hold {hold}: nobody came",
        "placement_offer": "Opvang: request {request}: a place may fit.",
        "placement_offer_subject": "Opvang: request {request}: a place may fit",
        "stale_sms": "{facility}: please update your counts, last update {ago} ago. "
                     "Reply FREE n{code} or open {page}",
        "stale_email": "{facility}: please update your counts, last update {ago} ago.\n\n"
                       "Open {page} or text FREE n{code} to the Opvang number.",
        "stale_subject": "Opvang: please update the counts of {facility}",
        "stale_escalation": "Opvang: {facility} ({region}) has not updated its counts for {ago}, "
                            "even after a reminder {reminded} ago.",
        "stale_escalation_subject": "Opvang: {facility} does not update its counts",
        "digest_subject": "Opvang: summary of {day}",
        "digest_intro": "Summary of {day} for {regions}.",
        "digest_shortages": "Shortages (alerts that fired):",
        "digest_shortage": "- {region}, {rule}: {episodes}x, longest {longest}, lowest free {lowest}",
        "digest_still_firing": " (still firing)",
        "digest_no_shortages": "No shortages.",
        "digest_turn_aways": "Turn-aways (no place found):",
        "digest_turn_away": "- {region}: {count} ({reasons})",
        "digest_no_turn_aways": "No turn-aways.",
        "digest_stale": "Stale counts now:",
        "digest_stale_facility": "- {region}, {facility}: last update {ago} ago",
        "digest_no_stale": "Every facility is up to date.",
        "digest_more": "- {region}: and {n} more",
        "digest_footer": "Details at {page}",
        "digest_figures": "The day's figures:",
        "digest_region_figures": "- {region}: {zero}; {turn_aways} turned away; waiting list: {opened} "
                                 "new{provisional}. Report: {page}",
        "digest_zero": "{kind} {duration} without a free place",
        "digest_no_places": "no places",
        "digest_no_figures": "- {region}: no figures for that day yet. Report: {page}",
        "digest_provisional": " (provisional)",
        "reasons": {"full": "full", "ineligible": "no suitable place", "closed": "closed"},
        "hours": "{n} h",
        "hours_minutes": "{h} h {m} min",
        "minutes": "{n} min",
        "days": "{n} days",
        "date": "{d:%d/%m/%Y}",
    },
}


def language(code: str | None) -> str:
    return sms.language(code)


def text(lang: str, key: str, **values) -> str:
    return TEXTS[language(lang)][key].format(**values)


def day(lang: str, value: date) -> str:
    return TEXTS[language(lang)]["date"].format(d=value)


def ago(lang: str, delta: timedelta) -> str:
    """How long, roughly: whole hours up to two days, then whole days."""
    hours = max(int(delta.total_seconds() // 3600), 0)
    if hours >= 48:
        return text(lang, "days", n=hours // 24)
    return text(lang, "hours", n=hours)


def duration(lang: str, delta: timedelta) -> str:
    """An alert's duration: minutes, or hours and minutes."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return text(lang, "minutes", n=minutes)
    hours, minutes = divmod(minutes, 60)
    if minutes == 0:
        return text(lang, "hours", n=hours)
    return text(lang, "hours_minutes", h=hours, m=minutes)


def reason(lang: str, code: str) -> str:
    return TEXTS[language(lang)]["reasons"].get(code, code)
