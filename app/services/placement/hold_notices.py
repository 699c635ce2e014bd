"""The notice to whoever made a hold that ended without the household placed
(PRODUCT.md, "Hold outcome"): expired, lapsed (the facility did not answer),
declined by the facility, or closed as a no-show. The contact is back among
the unmet demand, and the operator or partner should look again.

The notice names the facility, the kind, the hold's number and when: never
the household, the note, the call or anything else about the person the place
was for. One notice per hold and channel (its dedup key), by SMS to a phone,
else by e-mail, in the maker's language.
"""

from datetime import datetime

from app.clock import local_zone
from app.models import Hold, OutboxMessage
from app.services.core.access import Actor
from app.services.delivery import notices
from app.texts import jobs, sms

# The outcomes told, and so the texts app/texts/jobs.py has ("hold_<outcome>").
TOLD_OUTCOMES = ("declined", "no_show", "expired", "lapsed")


def notice_key(hold: Hold, channel: str) -> str:
    return f"hold-{hold.outcome.replace('_', '-')}:{hold.id}:{channel}"


def tell_maker(actor: Actor, hold: Hold, now: datetime) -> OutboxMessage | None:
    """Write the notice of `hold`'s outcome to its maker, unless they ended it
    themselves, are gone or deactivated, or were told already (then None)."""
    maker = hold.created_by
    if hold.outcome not in TOLD_OUTCOMES or maker is None or not maker.active or actor.user_id == maker.id:
        return None
    channel = notices.channel_for(maker)
    lang = jobs.language(maker.language)
    zone = local_zone()
    # Expired and lapsed: when it ran out; declined and no-show: now.
    ended_at = (hold.expires_at if hold.outcome in ("expired", "lapsed") else now).astimezone(zone)
    time = ended_at.strftime("%H:%M" if ended_at.date() == now.astimezone(zone).date() else "%d/%m %H:%M")
    values = dict(hold=hold.id, count=hold.places, kind=sms.kind_name(hold.unit.kind, lang, hold.places),
                  facility=hold.unit.facility.name, time=time)
    return notices.send_once(
        now, key=notice_key(hold, channel), user=maker, channel=channel, purpose=f"hold_{hold.outcome}",
        body=jobs.text(lang, f"hold_{hold.outcome}", **values),
        subject=jobs.text(lang, f"hold_{hold.outcome}_subject", **values),
    )
