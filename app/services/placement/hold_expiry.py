"""The scheduler's hold expiry: overdue holds are marked expired, and whoever
made each one is told (issue 5, item 6).

Reads already treat an overdue hold as expired (Hold.status_at); marking it
makes lists and the history say so, and the notice tells the operator or
partner that the place is no longer theirs. The notice names the facility,
the kind and the hold's number: never the household, the note, the call or
anything else about the person the place was for.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from app.clock import local_zone
from app.extensions import db
from app.models import CapacityUnit, Hold
from app.services.core import audit
from app.services.core.access import SYSTEM
from app.services.delivery import notices
from app.services.placement import holds
from app.texts import jobs, sms

PURPOSE = "hold_expired"


def notice_key(hold: Hold, channel: str) -> str:
    return f"hold-expired:{hold.id}:{channel}"


def expire_and_notify(now: datetime) -> dict:
    """Mark the overdue holds expired (holds.expire_overdue) and write a
    notice to each one's maker: an SMS to their phone, else an e-mail, in
    their language. A hold already marked is never marked or announced again.
    Returns how many were expired and notified."""
    expired = holds.expire_overdue(now)
    if not expired:
        return {"expired": 0, "notified": 0}
    loaded = db.session.scalars(
        select(Hold)
        .where(Hold.id.in_([hold.id for hold in expired]))
        .options(joinedload(Hold.unit).joinedload(CapacityUnit.facility), joinedload(Hold.created_by))
        .order_by(Hold.id)
        .execution_options(populate_existing=True)
    ).unique()
    zone = local_zone()
    notified = 0
    for hold in loaded:
        audit.record(SYSTEM, "hold.expire", now, hold, unit=hold.unit_id, places=hold.places)
        maker = hold.created_by
        if maker is None or not maker.active:
            continue
        channel = notices.channel_for(maker)
        lang = jobs.language(maker.language)
        expired_at = hold.expires_at.astimezone(zone)
        time = expired_at.strftime("%H:%M" if expired_at.date() == now.astimezone(zone).date() else "%d/%m %H:%M")
        values = dict(hold=hold.id, count=hold.places, kind=sms.kind_name(hold.unit.kind, lang, hold.places),
                      facility=hold.unit.facility.name, time=time)
        sent = notices.send_once(
            now, key=notice_key(hold, channel), user=maker, channel=channel, purpose=PURPOSE,
            body=jobs.text(lang, "hold_expired", **values),
            subject=jobs.text(lang, "hold_expired_subject", **values),
        )
        notified += sent is not None
    return {"expired": len(expired), "notified": notified}
