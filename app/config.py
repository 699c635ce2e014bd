"""Configuration defaults.

`create_app` loads these first, then `instance/config.py`, then the environment
(every key below may be set as an environment variable of the same name), then
the mapping a caller passes (tests).
"""

import orjson

# Keys read from the environment, with the type each is converted to.
ENVIRONMENT_KEYS = {
    "DATABASE_URL": str,
    "SECRET_KEY": str,
    "TIMEZONE": str,
    "TWILIO_ACCOUNT_SID": str,
    "TWILIO_AUTH_TOKEN": str,
    "TWILIO_FROM_NUMBER": str,
    "TWILIO_API_BASE": str,
    "HOTLINE_PUBLIC_URL": str,
    "HOTLINE_SIMULATOR_PAGE": bool,
    "CALLER_HASH_KEY": str,
    "CALLBACK_NUMBER_RETENTION_DAYS": int,
    "CALLBACK_CALLER_ID": str,
    "CALLBACK_DAILY_LIMIT": int,
    "SMS_CONVERSATION_HOURS": int,
    "HOTLINE_HOURS": str,
    "SMTP_HOST": str,
    "SMTP_PORT": int,
    "SMTP_USER": str,
    "SMTP_PASSWORD": str,
    "MAIL_FROM": str,
    "ALERT_EVALUATION_SECONDS": int,
    "OUTBOX_DELIVERY_SECONDS": int,
    "HOLD_EXPIRY_SECONDS": int,
    "STALE_REMINDER_SECONDS": int,
    "STALE_ESCALATION_HOURS": int,
    "DIGEST_SECONDS": int,
    "STATS_DAILY_SECONDS": int,
    "RETENTION_DAYS_CALL_NOTES": int,
    "RETENTION_DAYS_SMS_BODIES": int,
    "RETENTION_DAYS_OUTBOX": int,
    "RETENTION_DAYS_SEARCHES": int,
    "RETENTION_DAYS_RATE_COUNTERS": int,
    "RETENTION_DAYS_RECORDINGS": int,
    "RETENTION_PURGE_SECONDS": int,
    "SCHEDULER_LEASE_SECONDS": float,
    "SCHEDULER_RENEW_SECONDS": float,
    "SCHEDULER_STALE_SECONDS": float,
    "OUTBOX_BATCH_SIZE": int,
    "OUTBOX_CLAIM_SECONDS": float,
    "OUTBOX_MAX_ATTEMPTS": int,
    "OUTBOX_RETRY_BASE_SECONDS": float,
    "OUTBOX_RETRY_MAX_SECONDS": float,
    "HOLD_DEFAULT_MINUTES": int,
    "HOLD_LONGEST_MINUTES": int,
    "HOLD_ACCEPT_MINUTES": int,
    "PLACEMENT_PREFERENCE_KM": float,
    "DANGER_RADIUS_KM": float,
    "PLACEMENT_REQUEST_HOURS": int,
    "PLACEMENT_OFFER_MINUTES": int,
    "PLACEMENT_REQUEST_EXPIRY_SECONDS": int,
    "PLACEMENT_OFFER_EXPIRY_SECONDS": int,
    "PLACEMENT_INTAKE_OPENING_SECONDS": int,
    "LOGIN_FREE_FAILURES_PER_ACCOUNT": int,
    "LOGIN_FREE_FAILURES_PER_ADDRESS": int,
    "LOGIN_THROTTLE_MAX_WAIT_MINUTES": int,
    "LOGIN_THROTTLE_QUIET_MINUTES": int,
    "SESSION_COOKIE_SECURE": bool,
    "REMEMBER_COOKIE_SECURE": bool,
    "SESSION_ABSOLUTE_HOURS": float,
    "SESSION_IDLE_MINUTES": float,
    "TRUSTED_PROXIES": int,
}


class Defaults:
    # None means: SQLite file `instance/opvang.db`.
    DATABASE_URL = None
    # None means: a random key kept in `instance/secret_key`, made on first start.
    SECRET_KEY = None
    TIMEZONE = "Europe/Brussels"
    LANGUAGES = ("nl", "en", "fr")
    BABEL_DEFAULT_LOCALE = "nl"
    BABEL_TRANSLATION_DIRECTORIES = "translations"

    # hide_parameters: a failed statement's error message (and so any log of it)
    # never carries the values it wrote, which may be a household's details.
    # json_deserializer: the JSON columns are read with orjson, several times
    # faster than json.loads; a region's year report reads ~9,000 of them.
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True, "hide_parameters": True, "json_deserializer": orjson.loads}
    # Larger request bodies are refused with 413 before anything reads them.
    MAX_CONTENT_LENGTH = 1024 * 1024

    # How many proxies (load balancer, nginx) stand in front of the app and set
    # X-Forwarded-For/-Proto/-Host: their values are believed for that many hops,
    # so that audit events and rate limits see the client, not the proxy.
    # 0: none, the headers are ignored (anyone could forge them).
    TRUSTED_PROXIES = 0

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Cookies go over https only; off only in the development configuration
    # (`Development` below), since a proxy in front of gunicorn is production.
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = True
    # A web session ends this long after sign-in whatever happens (a night
    # shift and its handover fit), and after this long without a click
    # (the pages' own polling does not count).
    SESSION_ABSOLUTE_HOURS = 13
    SESSION_IDLE_MINUTES = 60
    # CSRF is checked in a before_request hook, so that bearer-token API calls
    # and signed Twilio webhooks can be exempted per request.
    WTF_CSRF_CHECK_DEFAULT = False
    WTF_CSRF_TIME_LIMIT = None

    # werkzeug's password hashing; the tests choose a fast one.
    PASSWORD_HASH_METHOD = "scrypt"
    # Failed sign-ins (app/services/accounts/login_throttle.py): past this many
    # free failures for one e-mail address from one address, or from one address
    # (an office may share one), attempts from there wait 1, 2, 4 ... minutes, up
    # to the maximum; a streak is forgotten after its wait and the quiet minutes.
    LOGIN_FREE_FAILURES_PER_ACCOUNT = 5
    LOGIN_FREE_FAILURES_PER_ADDRESS = 20
    LOGIN_THROTTLE_MAX_WAIT_MINUTES = 60
    LOGIN_THROTTLE_QUIET_MINUTES = 15

    TWILIO_ACCOUNT_SID = None
    TWILIO_AUTH_TOKEN = None
    TWILIO_FROM_NUMBER = None
    TWILIO_API_BASE = "https://api.twilio.com"
    HOTLINE_PUBLIC_URL = "http://127.0.0.1:5000"
    # Set from TWILIO_AUTH_TOKEN when Twilio is configured (see create_app).
    HOTLINE_SIGNING_TOKEN = None
    # The development page /hotline-simulator, also without debug mode. Never in production.
    HOTLINE_SIMULATOR_PAGE = False
    CALLER_HASH_KEY = None
    CALLBACK_NUMBER_RETENTION_DAYS = 30
    # The number a call-back shows, on the operator's phone and the caller's
    # (E.164, a Twilio number of the account); None: TWILIO_FROM_NUMBER, else
    # the hotline number the caller dialled.
    CALLBACK_CALLER_ID = None
    # Call-back attempts per contact in any 24 hours, whatever their result:
    # a caller is not rung again and again (PRODUCT.md rule 9).
    CALLBACK_DAILY_LIMIT = 3
    # A help-seeker's texts are one SMS contact while the conversation's last
    # message is younger than this; a later text starts a new contact.
    SMS_CONVERSATION_HOURS = 12
    # When the hotline answers, as the automatic reply to a first text says it.
    HOTLINE_HOURS = "24/7"
    # The automatic reply to a help-seeker's first text, per language ("nl",
    # "fr", "en"; "{hours}" becomes HOTLINE_HOURS): in the language of that
    # text when its words tell (app/texts/sms.py), else all three, one a line.
    # Someone else may read the phone, so these name no organisation and no
    # subject, ask when it is safe to write back and suggest deleting the
    # conversation: keep it so. Set in instance/config.py, e.g.
    # SMS_AUTO_REPLY = {"nl": "Bedankt voor je bericht. ..."}; a language left
    # out keeps its text below. Checked at start-up (a bad value stops the app
    # with a message): known languages, no empty text, no placeholder but
    # {hours}, all three together at most one SMS of 1600 characters. Plain
    # GSM 03.38 characters keep it in 160-character segments (see app/texts/sms.py).
    SMS_AUTO_REPLY = {
        "nl": "Bedankt voor je bericht. We antwoorden zo snel mogelijk (bereikbaar {hours}). Laat weten wanneer we "
              "je veilig kunnen terugschrijven. Wis dit gesprek als iemand anders je telefoon kan zien. "
              "Dringend? Bel 112.",
        "fr": "Merci pour votre message. Nous répondons au plus vite (joignables {hours}). Dites-nous quand nous "
              "pouvons vous répondre sans risque. Effacez cette conversation si quelqu'un d'autre peut voir votre "
              "téléphone. Urgent ? Appelez le 112.",
        "en": "Thank you for your message. We reply as soon as we can (available {hours}). Tell us when it is safe "
              "to write back. Delete this conversation if someone else may see your phone. Urgent? Call 112.",
    }

    SMTP_HOST = None
    SMTP_PORT = 25
    SMTP_USER = None
    SMTP_PASSWORD = None
    MAIL_FROM = "opvang@localhost"

    ALERT_EVALUATION_SECONDS = 60
    OUTBOX_DELIVERY_SECONDS = 10
    HOLD_EXPIRY_SECONDS = 60
    # Stale-data reminders: how often the job looks (keep it under an hour, the
    # shortest stale_after, so that it sees every facility that became fresh),
    # and how long after reminding a facility's staff, while it is still stale,
    # the region's managers are told.
    STALE_REMINDER_SECONDS = 300
    STALE_ESCALATION_HOURS = 6
    # The managers' daily digest: the job looks this often and sends once per
    # day, for yesterday, on its first run after local midnight.
    DIGEST_SECONDS = 3600
    # The daily statistics (app/services/statistics/daily.py `run`): this
    # often today's figures are brought up to date, and the days past finalised.
    STATS_DAILY_SECONDS = 900

    # Retention (PRODUCT.md section 5, rule 6), in days, enforced by the
    # scheduler's retention jobs (app/services/scheduling/retention.py `purge`, and
    # `delete_expired_recordings` for the recordings at Twilio). A record
    # is purged once it is older than its window; one just inside is kept.
    #
    #   what                                     key                              default  how
    #   caller's full number (sealed), kept for  CALLBACK_NUMBER_RETENTION_DAYS   30       erased; hash and masked
    #     a call-back or an SMS conversation                                               number stay
    #   what was noted about a contact: a call's RETENTION_DAYS_CALL_NOTES        90       blanked; the call's facts
    #     notes, needs and risk answers; a                                                 (times, channel, status,
    #     hold's household and note; a referral's                                          outcome, language,
    #     and a turn-away's note                                                           operator, flags) stay
    #   SMS texts of help-seeker conversations,  RETENTION_DAYS_SMS_BODIES        30       bodies blanked (a message
    #     in and out (and their outbox copies)                                             still to send is kept)
    #   outbox rows sent, delivered, failed or   RETENTION_DAYS_OUTBOX            90       deleted (pending or
    #     undeliverable                                                                    sending: never)
    #   placement search criteria (and the copy  RETENTION_DAYS_SEARCHES          90       blanked; time, region,
    #     a turn-away keeps)                                                               result count stay
    #   rate-limit counters (keys may hold an    RETENTION_DAYS_RATE_COUNTERS     2        deleted
    #     IP address)
    #   a voicemail's recording (at Twilio),     RETENTION_DAYS_RECORDINGS        30       deleted at Twilio (job
    #     handled or not, from when it was left                                            delete_recordings); its
    #                                                                                      sid cleared once Twilio
    #                                                                                      answered 204 or 404, else
    #                                                                                      kept and tried again
    #   audit events, capacity history, alerts   -                                -        kept (append-only record)
    RETENTION_DAYS_CALL_NOTES = 90
    RETENTION_DAYS_SMS_BODIES = 30
    RETENTION_DAYS_OUTBOX = 90
    RETENTION_DAYS_SEARCHES = 90
    RETENTION_DAYS_RATE_COUNTERS = 2
    RETENTION_DAYS_RECORDINGS = 30
    # The retention purge (numbers kept past their time) and the deletion of
    # recordings at Twilio, in seconds.
    RETENTION_PURGE_SECONDS = 3600

    # The scheduler's lease: the acting scheduler renews it every
    # SCHEDULER_RENEW_SECONDS for SCHEDULER_LEASE_SECONDS; a standby takes over
    # once it has expired. /healthz says `degraded` when the heartbeat (the
    # last renewal) is older than SCHEDULER_STALE_SECONDS.
    SCHEDULER_LEASE_SECONDS = 30
    SCHEDULER_RENEW_SECONDS = 5
    SCHEDULER_STALE_SECONDS = 60

    # Outbox delivery: messages claimed per run, and for how long a claim
    # holds (a row claimed by a process that died is taken up again after it);
    # transient failures are retried with exponential backoff and jitter from
    # BASE up to MAX seconds between attempts, until MAX_ATTEMPTS.
    OUTBOX_BATCH_SIZE = 50
    OUTBOX_CLAIM_SECONDS = 120
    OUTBOX_MAX_ATTEMPTS = 10
    OUTBOX_RETRY_BASE_SECONDS = 30
    OUTBOX_RETRY_MAX_SECONDS = 3600

    # How long a hold keeps a place unless extended, in minutes; for a call
    # screened high risk the longest hold is offered instead. On a kind that
    # requires the facility's acceptance, a hold waits this long for its answer
    # (keeping its places) and lapses unanswered.
    HOLD_DEFAULT_MINUTES = 120
    HOLD_LONGEST_MINUTES = 240
    HOLD_ACCEPT_MINUTES = 60

    # Placement search: each unmet preference (a language not spoken, high
    # security or pets asked for and absent) ranks a place as this many km further.
    PLACEMENT_PREFERENCE_KM = 25
    # A danger place's radius when none is given, in km (1 to 100): a search
    # leaves out every facility within it (PRODUCT.md section 5, rule 8).
    DANGER_RADIUS_KM = 15

    # The waiting list (PRODUCT.md flow D): a request stays open this many
    # hours unless placed or withdrawn; a freed place offered to it waits this
    # many minutes for the desk before it passes to the next request. The
    # scheduler looks for overdue requests and offers, and for facilities
    # that entered their intake hours, every so many seconds.
    PLACEMENT_REQUEST_HOURS = 72
    PLACEMENT_OFFER_MINUTES = 15
    PLACEMENT_REQUEST_EXPIRY_SECONDS = 300
    PLACEMENT_OFFER_EXPIRY_SECONDS = 30
    PLACEMENT_INTAKE_OPENING_SECONDS = 300

    # Dashboard polling interval, in seconds, and facilities per page.
    DASHBOARD_REFRESH_SECONDS = 15
    DASHBOARD_PAGE_SIZE = 50
    # How often a shelter page asks for new holds, in seconds.
    SHELTER_REFRESH_SECONDS = 15
    # How often the operator console's live list (and an SMS conversation) refresh, in seconds.
    CONSOLE_REFRESH_SECONDS = 5
    # How often the managers' alerts page refreshes, in seconds, and past alerts per page.
    ALERTS_REFRESH_SECONDS = 15
    ALERTS_PAGE_SIZE = 25


# Set in the environment by `make run` (the Makefile): the app on plain http
# at 127.0.0.1 for one developer. Applied over Defaults, before
# `instance/config.py` and the environment.
DEVELOPMENT_SWITCH = "OPVANG_DEVELOPMENT"


class Development:
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
