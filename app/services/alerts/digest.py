"""The managers' daily digest (issue 5, item 6): an e-mail to each active
manager about their regions — yesterday's headline figures from the daily
statistics (hours without a free place per kind, turn-aways, requests
opened) with a link to each region's report, yesterday's shortages (alerts
that were firing, their longest duration and lowest free places),
yesterday's turn-aways, and the facilities stale now — in the manager's language.

The job runs every hour or so; on each run it sends the digest of yesterday
(the local day) to every manager who has not had it yet: the dedup key
"digest:<day>:<user>:email" makes it once per day and manager, whenever and
however often the job runs. Facility and region names only: never an address,
and nothing about a caller.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from app.clock import local_zone
from app.extensions import db
from app.models import Alert, AlertEvent, AlertRule, CapacityUnit, Facility, Region, User, UserRole
from app.services.delivery import notices
from app.services.placement.turn_aways import per_region_and_day
from app.services.statistics import report
from app.texts import jobs

PURPOSE = "digest"
# Stale facilities listed per region at most; the rest are counted.
MAX_STALE_LISTED = 25


def notice_key(day: date, user: User) -> str:
    return f"digest:{day.isoformat()}:{user.id}:email"


@dataclass
class Shortage:
    region_id: int
    rule: str
    episodes: int
    longest: timedelta
    lowest: int
    still_firing: bool


@dataclass
class StaleFacility:
    region_id: int
    name: str
    last_update: datetime


def daily_digest(now: datetime) -> dict:
    """Write yesterday's digest to every active manager who has not had it;
    returns the day and how many were written."""
    zone = local_zone()
    day = now.astimezone(zone).date() - timedelta(days=1)
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    managers = [
        user for user in db.session.scalars(
            select(User).where(User.active.is_(True), User.role_rows.any(UserRole.role == "manager"))
            .order_by(User.id)
        )
        if user.regions and not notices.already_sent(notice_key(day, user))
    ]
    if not managers:
        return {"day": day.isoformat(), "sent": 0}
    region_ids = {region.id for user in managers for region in user.regions}
    regions = {region.id: region for user in managers for region in user.regions}
    shortages = shortages_between(region_ids, start, end, now)
    turn_aways = {count.region_id: count
                  for count in per_region_and_day(region_ids, day, day, now, zone)}
    stale = stale_now(region_ids, now)
    headlines = {headline.region.id: headline for headline in report.headlines(day, region_ids)}
    sent = 0
    for user in managers:
        lang = jobs.language(user.language)
        body = compose(lang, day, [regions[region.id] for region in user.regions], shortages, turn_aways, stale, now,
                       headlines)
        message = notices.send_once(
            now, key=notice_key(day, user), user=user, channel="email", purpose=PURPOSE, body=body,
            subject=jobs.text(lang, "digest_subject", day=jobs.day(lang, day)),
        )
        sent += message is not None
    return {"day": day.isoformat(), "sent": sent}


def shortages_between(region_ids, start: datetime, end: datetime, now: datetime) -> dict[int, list[Shortage]]:
    """Per region, each rule's alerts that were firing at some moment in
    [start, end): how many, the longest (until resolved, or until `now` when
    still firing) and the lowest free places seen up to `end`."""
    alerts = list(db.session.execute(
        select(Alert.id, Alert.region_id, AlertRule.name, Alert.fired_at, Alert.resolved_at, Alert.free)
        .join(AlertRule, AlertRule.id == Alert.rule_id)
        .where(Alert.region_id.in_(region_ids), Alert.fired_at.is_not(None), Alert.fired_at < end,
               (Alert.resolved_at.is_(None)) | (Alert.resolved_at >= start))
        .order_by(Alert.id)
    ))
    if not alerts:
        return {}
    lowest_seen = dict(db.session.execute(
        select(AlertEvent.alert_id, func.min(AlertEvent.free))
        .where(AlertEvent.alert_id.in_([row.id for row in alerts]), AlertEvent.at < end,
               AlertEvent.free.is_not(None))
        .group_by(AlertEvent.alert_id)
    ).all())
    grouped: dict[tuple[int, str], Shortage] = {}
    for row in alerts:
        lasted = (row.resolved_at or now) - row.fired_at
        lowest = lowest_seen.get(row.id, row.free)
        shortage = grouped.get((row.region_id, row.name))
        if shortage is None:
            grouped[(row.region_id, row.name)] = Shortage(row.region_id, row.name, 1, lasted, lowest,
                                                          row.resolved_at is None)
        else:
            shortage.episodes += 1
            shortage.longest = max(shortage.longest, lasted)
            shortage.lowest = min(shortage.lowest, lowest)
            shortage.still_firing = shortage.still_firing or row.resolved_at is None
    result = defaultdict(list)
    for shortage in grouped.values():
        result[shortage.region_id].append(shortage)
    return result


def stale_now(region_ids, now: datetime) -> dict[int, list[StaleFacility]]:
    """Per region, the facilities with a stale unit at `now`, the longest
    without an update first."""
    rows = db.session.execute(
        select(Facility.region_id, Facility.name, func.min(CapacityUnit.updated_at).label("last_update"))
        .join(CapacityUnit, CapacityUnit.facility_id == Facility.id)
        .where(Facility.region_id.in_(region_ids), CapacityUnit.stale_at <= now)
        .group_by(Facility.id, Facility.region_id, Facility.name)
        .order_by(func.min(CapacityUnit.updated_at), Facility.name)
    )
    result = defaultdict(list)
    for region_id, name, last_update in rows:
        result[region_id].append(StaleFacility(region_id, name, last_update))
    return result


def report_url(region: Region, day: date) -> str:
    """The region's report of the day's month (the month so far)."""
    return notices.page_url(f"/reports/{region.slug}?month={day:%Y-%m}")


def headline_line(lang: str, region: Region, headline: report.Headline | None, day: date) -> str:
    page = report_url(region, day)
    if headline is None:
        return jobs.text(lang, "digest_no_figures", region=region.name, page=page)
    zero = ", ".join(jobs.text(lang, "digest_zero", kind=kind.label(lang),
                               duration=jobs.duration(lang, timedelta(hours=hours)))
                     for kind, hours in headline.hours_at_zero) or jobs.text(lang, "digest_no_places")
    return jobs.text(lang, "digest_region_figures", region=region.name, zero=zero, turn_aways=headline.turn_aways,
                     opened=headline.requests_opened, page=page,
                     provisional="" if headline.final else jobs.text(lang, "digest_provisional"))


def compose(lang: str, day: date, regions: list[Region], shortages, turn_aways, stale, now: datetime,
            headlines: dict[int, report.Headline]) -> str:
    """The digest's text for the manager of `regions`, in `lang`."""
    t = jobs.text
    regions = sorted(regions, key=lambda region: region.name)
    lines = [t(lang, "digest_intro", day=jobs.day(lang, day), regions=", ".join(r.name for r in regions)), ""]

    lines.append(t(lang, "digest_figures"))
    lines += [headline_line(lang, region, headlines.get(region.id), day) for region in regions]
    lines.append("")

    found = [(region, shortage) for region in regions
             for shortage in sorted(shortages.get(region.id, []), key=lambda s: s.rule)]
    lines.append(t(lang, "digest_shortages") if found else t(lang, "digest_no_shortages"))
    for region, shortage in found:
        lines.append(
            t(lang, "digest_shortage", region=region.name, rule=shortage.rule, episodes=shortage.episodes,
              longest=jobs.duration(lang, shortage.longest), lowest=shortage.lowest)
            + (t(lang, "digest_still_firing") if shortage.still_firing else "")
        )
    lines.append("")

    counted = [(region, turn_aways[region.id]) for region in regions if region.id in turn_aways]
    lines.append(t(lang, "digest_turn_aways") if counted else t(lang, "digest_no_turn_aways"))
    for region, count in counted:
        reasons = ", ".join(f"{jobs.reason(lang, code)} {n}" for code, n in sorted(count.by_reason.items()))
        lines.append(t(lang, "digest_turn_away", region=region.name, count=count.count, reasons=reasons))
    lines.append("")

    listed = [(region, stale.get(region.id, [])) for region in regions if stale.get(region.id)]
    lines.append(t(lang, "digest_stale") if listed else t(lang, "digest_no_stale"))
    for region, facilities in listed:
        for facility in facilities[:MAX_STALE_LISTED]:
            lines.append(t(lang, "digest_stale_facility", region=region.name, facility=facility.name,
                           ago=jobs.ago(lang, now - facility.last_update)))
        if len(facilities) > MAX_STALE_LISTED:
            lines.append(t(lang, "digest_more", region=region.name, n=len(facilities) - MAX_STALE_LISTED))
    lines.append("")
    lines.append(t(lang, "digest_footer", page=notices.page_url("/dashboard/")))
    return "\n".join(lines)
