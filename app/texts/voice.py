"""What callers and operators hear on the hotline, per language.

This is content, not UI: each language is written out here in full (not
through the translation catalogues), and every key exists in every language
(tests/test_hotline_voice.py checks it). `VOICE_LANGUAGES` is the `language`
attribute of `<Say>` for each.
"""

LANGUAGES = ("nl", "fr", "en")
DEFAULT = "nl"
# The key a caller presses in the language menu.
MENU_DIGITS = {"1": "nl", "2": "fr", "3": "en"}
VOICE_LANGUAGES = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB"}

TEXTS = {
    "nl": {
        # The menu: each line is spoken in its own language.
        "menu": "Welkom bij de hulplijn. Voor Nederlands, druk 1.",
        "emergency": "Bent u of is iemand anders in direct gevaar? Hang dan op en bel 112. "
                     "Voor de politie belt u 101.",
        "connecting": "We verbinden u nu door met een medewerker. Een ogenblik geduld.",
        "voicemail": "Er is op dit moment niemand beschikbaar. Spreek na de toon een kort bericht in "
                     "en druk daarna op hekje.",
        "callback_offer": "Mogen we u terugbellen op het nummer waarmee u nu belt? Druk dan 1. "
                          "Zo niet, druk 2 of hang op.",
        "callback_from": "We bellen vanaf het nummer {number}.",
        "callback_yes": "Dank u. We bellen u zo snel mogelijk terug. Bent u in direct gevaar, bel dan 112.",
        "callback_no": "We bellen u niet terug. U kunt ons altijd opnieuw bellen. "
                       "Bent u in direct gevaar, bel dan 112.",
        "callback_withheld": "Uw nummer is afgeschermd, dus we kunnen u niet terugbellen. "
                             "Bel ons gerust opnieuw. Bent u in direct gevaar, bel dan 112.",
        "thanks": "Bedankt voor uw oproep. Tot ziens.",
        "trouble": "Er is een technisch probleem. Bent u in direct gevaar, bel dan 112; de politie: 101. "
                   "Probeer ons zo dadelijk opnieuw.",
        # To the operator, in the operator's language; {language} is the caller's.
        "whisper": "Een oproep voor de hulplijn, in het {language}. Druk 1 om het gesprek aan te nemen.",
        "whisper_taken": "Een collega heeft deze oproep al aangenomen.",
        # A call-back, to the operator's phone: bare, nothing a personal voicemail should keep.
        "callback_whisper": "Terugbellen, contact {contact}. Druk 1.",
        "callback_no_message": "Er mag geen bericht achterblijven: een antwoordapparaat wordt opgehangen. "
                               "Kunnen we niet horen of er iemand opneemt, dan wordt u toch verbonden: "
                               "zeg pas wie u bent als u zeker weet dat het de juiste persoon is.",
        "callback_answered": "Het terugbelgesprek is beëindigd.",
        "callback_no_answer": "Er werd niet opgenomen.",
        "callback_busy": "De lijn is bezet.",
        "callback_voicemail": "Een antwoordapparaat nam op: er is opgehangen zonder bericht.",
        "callback_failed": "Het terugbellen is mislukt.",
        "language_names": {"nl": "Nederlands", "fr": "Frans", "en": "Engels"},
    },
    "fr": {
        "menu": "Bienvenue à la ligne d'aide. Pour le français, appuyez sur 2.",
        "emergency": "Si vous ou quelqu'un d'autre êtes en danger immédiat, raccrochez et appelez le 112. "
                     "Pour la police, appelez le 101.",
        "connecting": "Nous vous mettons en relation avec un collaborateur. Un instant, s'il vous plaît.",
        "voicemail": "Personne n'est disponible pour le moment. Laissez un court message après le bip, "
                     "puis appuyez sur la touche dièse.",
        "callback_offer": "Pouvons-nous vous rappeler au numéro avec lequel vous appelez ? Appuyez sur 1. "
                          "Sinon, appuyez sur 2 ou raccrochez.",
        "callback_from": "Nous appellerons depuis le numéro {number}.",
        "callback_yes": "Merci. Nous vous rappellerons dès que possible. En cas de danger immédiat, appelez le 112.",
        "callback_no": "Nous ne vous rappellerons pas. Vous pouvez nous appeler à tout moment. "
                       "En cas de danger immédiat, appelez le 112.",
        "callback_withheld": "Votre numéro est masqué, nous ne pouvons donc pas vous rappeler. "
                             "N'hésitez pas à nous rappeler. En cas de danger immédiat, appelez le 112.",
        "thanks": "Merci de votre appel. Au revoir.",
        "trouble": "Nous avons un problème technique. En cas de danger immédiat, appelez le 112 ; "
                   "la police : le 101. Veuillez nous rappeler dans un instant.",
        "whisper": "Un appel pour la ligne d'aide, en {language}. Appuyez sur 1 pour accepter l'appel.",
        "whisper_taken": "Un collègue a déjà pris cet appel.",
        "callback_whisper": "Rappel, contact {contact}. Appuyez sur 1.",
        "callback_no_message": "Aucun message ne peut être laissé : un répondeur est raccroché. "
                               "Si nous ne pouvons pas savoir si une personne a répondu, vous êtes mis en "
                               "relation : ne dites qui vous êtes qu'une fois sûr que c'est la bonne personne.",
        "callback_answered": "Le rappel est terminé.",
        "callback_no_answer": "Personne n'a répondu.",
        "callback_busy": "La ligne est occupée.",
        "callback_voicemail": "Un répondeur a répondu : raccroché sans message.",
        "callback_failed": "Le rappel a échoué.",
        "language_names": {"nl": "néerlandais", "fr": "français", "en": "anglais"},
    },
    "en": {
        "menu": "Welcome to the helpline. For English, press 3.",
        "emergency": "If you or someone else is in immediate danger, hang up and call 112. "
                     "For the police, call 101.",
        "connecting": "We are putting you through to someone who can help. Please hold.",
        "voicemail": "No one is available right now. Please leave a short message after the tone, "
                     "then press the hash key.",
        "callback_offer": "If we may call you back on the number you are calling from, press 1. "
                          "If not, press 2 or hang up.",
        "callback_from": "We will call from the number {number}.",
        "callback_yes": "Thank you. We will call you back as soon as we can. If you are in immediate danger, "
                        "call 112.",
        "callback_no": "We will not call you back. You can call us again at any time. "
                       "If you are in immediate danger, call 112.",
        "callback_withheld": "Your number is withheld, so we cannot call you back. Please call us again. "
                             "If you are in immediate danger, call 112.",
        "thanks": "Thank you for calling. Goodbye.",
        "trouble": "We have a technical problem. If you are in immediate danger, call 112; the police: 101. "
                   "Please call us again in a moment.",
        "whisper": "A helpline call, in {language}. Press 1 to accept the call.",
        "whisper_taken": "A colleague has already taken this call.",
        "callback_whisper": "Call-back, contact {contact}. Press 1.",
        "callback_no_message": "No message may be left: an answering machine is hung up on. "
                               "If we could not tell whether a person answered, you are connected anyway: "
                               "say who you are only once you are sure it is the right person.",
        "callback_answered": "The call-back has ended.",
        "callback_no_answer": "There was no answer.",
        "callback_busy": "The line is busy.",
        "callback_voicemail": "An answering machine picked up: hung up without a message.",
        "callback_failed": "The call-back failed.",
        "language_names": {"nl": "Dutch", "fr": "French", "en": "English"},
    },
}


def language(value: str | None) -> str:
    """`value` if it is a hotline language, else the default (Dutch)."""
    return value if value in TEXTS else DEFAULT


def text(lang: str, key: str, **values) -> str:
    message = TEXTS[language(lang)][key]
    return message.format(**values) if values else message
