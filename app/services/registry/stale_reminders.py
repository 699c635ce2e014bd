"""Stale-data reminders (issue 5, item 6; PRODUCT.md flow A): a facility
whose counts are older than its stale_after is reminded, once per stale
spell, and its region's managers are told once if it is still stale
STALE_ESCALATION_HOURS after the reminder.

A facility is stale while any of its units is (stale_at ≤ now), as the
dashboard counts it. A spell is kept in `stale_reminders` (one row per stale
facility): the job creates it when it first finds the facility stale,
reminds the staff at once, escalates later, and deletes the row when it
finds the facility fresh again — so that the next spell reminds anew. The
spell cannot be derived from the units alone: updating one of two stale
units moves the facility's earliest stale_at without ending the spell, so a
key made from it would remind twice in one spell.

A facility must be fresh while the job looks for the spell to end: it always
is, since a refresh makes it fresh for at least an hour (the shortest
stale_after) and the job runs more often than that (STALE_REMINDER_SECONDS).

Each notice also carries a dedup key, "stale:<facility>:<spell's stale_at,
ISO>:<reminded|escalated>:<user>:<channel>", so that nothing goes out twice
even if the spell's row were written twice.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from app.extensions import db
from app.models import CapacityUnit, Facility, User, UserRole
from app.models.scheduling import StaleReminder
from app.models.user import user_facilities, user_regions
from app.services.delivery import notices
from app.texts import jobs

REMIND = "stale_reminder"
ESCALATE = "stale_escalation"


def notice_key(spell: StaleReminder, step: str, user: User, channel: str) -> str:
    since = spell.stale_since.astimezone(UTC).isoformat()
    return f"stale:{spell.facility_id}:{since}:{step}:{user.id}:{channel}"


def stale_facilities(now: datetime) -> dict[int, tuple[datetime, datetime]]:
    """Facility id → (earliest stale_at, oldest update) of its stale units."""
    rows = db.session.execute(
        select(CapacityUnit.facility_id, func.min(CapacityUnit.stale_at), func.min(CapacityUnit.updated_at))
        .where(CapacityUnit.stale_at <= now)
        .group_by(CapacityUnit.facility_id)
    )
    return {facility_id: (stale_at, updated_at) for facility_id, stale_at, updated_at in rows}


def _users_by(link, key_column, ids, role: str) -> dict[int, list[User]]:
    """Active users with `role`, per facility or region id (through `link`)."""
    if not ids:
        return {}
    rows = db.session.execute(
        select(key_column, User)
        .join(link, link.c.user_id == User.id)
        .where(key_column.in_(ids), User.active.is_(True), User.role_rows.any(UserRole.role == role))
        .order_by(User.id)
    )
    found = defaultdict(list)
    for key, user in rows:
        found[key].append(user)
    return found


def remind_stale(now: datetime) -> dict:
    """One look at every facility's freshness: end the spells of facilities
    fresh again, remind the staff of newly stale ones, tell the managers of
    those still stale a while after their reminder. Returns the counts."""
    escalate_after = timedelta(hours=current_app.config["STALE_ESCALATION_HOURS"])
    stale = stale_facilities(now)
    spells = {spell.facility_id: spell for spell in db.session.scalars(select(StaleReminder))}

    ended = 0
    for facility_id, spell in spells.items():
        if facility_id not in stale:
            db.session.delete(spell)
            ended += 1
    for facility_id, (stale_at, _) in stale.items():
        if facility_id not in spells:
            spells[facility_id] = StaleReminder(facility_id=facility_id, stale_since=stale_at)
            db.session.add(spells[facility_id])

    to_remind = [spells[fid] for fid in stale if spells[fid].reminded_at is None]
    to_escalate = [
        spells[fid] for fid in stale
        if spells[fid].reminded_at is not None and spells[fid].escalated_at is None
        and now >= spells[fid].reminded_at + escalate_after
    ]
    counts = {"stale": len(stale), "ended": ended, "reminded": len(to_remind), "escalated": len(to_escalate),
              "messages": 0}
    if not to_remind and not to_escalate:
        db.session.flush()
        return counts

    facilities = {
        facility.id: facility
        for facility in db.session.scalars(
            select(Facility).options(joinedload(Facility.region))
            .where(Facility.id.in_([spell.facility_id for spell in to_remind + to_escalate]))
        )
    }
    staff = _users_by(user_facilities, user_facilities.c.facility_id,
                      [spell.facility_id for spell in to_remind], "shelter_staff")
    managers = _users_by(user_regions, user_regions.c.region_id,
                         {facilities[spell.facility_id].region_id for spell in to_escalate}, "manager")

    for spell in to_remind:
        facility = facilities[spell.facility_id]
        last_update = stale[spell.facility_id][1]
        for user in staff.get(facility.id, []):
            counts["messages"] += _remind(now, spell, facility, user, now - last_update) is not None
        spell.reminded_at = now
    for spell in to_escalate:
        facility = facilities[spell.facility_id]
        last_update = stale[spell.facility_id][1]
        for user in managers.get(facility.region_id, []):
            counts["messages"] += _escalate(now, spell, facility, user, now - last_update) is not None
        spell.escalated_at = now
    db.session.flush()
    return counts


def _remind(now: datetime, spell: StaleReminder, facility: Facility, user: User, since_update: timedelta):
    channel = notices.channel_for(user)
    lang = jobs.language(user.language)
    # Someone working for several facilities names the one a count is for.
    code = f" {facility.slug}" if len(user.facilities) > 1 else ""
    values = dict(facility=facility.name, ago=jobs.ago(lang, since_update), code=code,
                  page=notices.page_url(f"/shelter/{facility.id}"))
    return notices.send_once(
        now, key=notice_key(spell, "reminded", user, channel), user=user, channel=channel, purpose=REMIND,
        body=jobs.text(lang, "stale_sms" if channel == "sms" else "stale_email", **values),
        subject=jobs.text(lang, "stale_subject", **values),
    )


def _escalate(now: datetime, spell: StaleReminder, facility: Facility, user: User, since_update: timedelta):
    channel = notices.channel_for(user)
    lang = jobs.language(user.language)
    values = dict(facility=facility.name, region=facility.region.name, ago=jobs.ago(lang, since_update),
                  reminded=jobs.ago(lang, now - spell.reminded_at))
    return notices.send_once(
        now, key=notice_key(spell, "escalated", user, channel), user=user, channel=channel, purpose=ESCALATE,
        body=jobs.text(lang, "stale_escalation", **values),
        subject=jobs.text(lang, "stale_escalation_subject", **values),
    )
