"""Placement search: from a household's needs to the places it may take, best first.

One service for the API (`POST /api/v1/placements/search`) and the operator UI:

    criteria = parse_criteria(data)        # a dict, as JSON or a form gives it
    outcome = search(actor, criteria, now, preference_km=current_app.config["PLACEMENT_PREFERENCE_KM"])
    # the caller's unit of work commits it (the search row, a turn-away)

`parse_criteria(data) -> Criteria` (app.services.placement.criteria) checks the
criteria; the fields it takes are listed there.

`search(actor, criteria, now, *, preference_km, zone=None, record=True) -> SearchOutcome`:

    outcome.results        list[Result], best first (at most criteria.limit)
    outcome.search         the PlacementSearch row written (its id: `search_id` for a hold);
                           None with record=False (a live preview: writes nothing at all, no
                           search row and no turn-away)
    outcome.beyond_region  whether it looked past the postcode's region
    outcome.turn_away      the contact's TurnAway when nothing fits (recorded once per
                           contact, reason full | ineligible | closed), else None;
                           always None with record=False
    outcome.place          the places.Place searched from
    outcome.excluded_by_danger    how many facilities the danger places left out of the
                           results: they pass every other rule of the search (of the kinds
                           asked for, eligible, open for intake, with free places for the
                           household once holds count) and would have ranked ahead of the last
                           result; when fewer than `limit` results were found, all such in the
                           scope the results come from (the region, or everywhere)
    outcome.excluded_facility_ids every facility the danger places leave out, fitting or not,
                           found when first asked for (a read of its own: searches and
                           previews do not pay for it). requests.file finds them alike

A `Result` carries the facility's id, name, region slug, intake phone and
intake hours; the unit's id, kind, free places, room size, and the places a
hold for this household takes; `distance_km`, `updated_at`, `stale`,
`open_now`, `opens_at` (local, when intake is closed at this moment),
`beyond_region`, `interpreter_needed` (languages were asked and the facility
speaks none of them), and `reasons` / `unmet` (`Reason`s: a `code`, a `value` and
an English `text` as the API answers it; the UI translates from code and
value). It never carries an address or coordinates.

Eligibility is hard: a unit is proposed only if its kind is one asked for;
the facility takes the gender, the children (at all, how many, how old, boys
up to its max_boy_age), is not near a danger place (app.services.placement.danger),
has wheelchair access when needed, is open for intake (the switch), is not
avoided, and — for offenders and couples — is not confidential; and the unit
has enough free places for the household (available − places held by active,
unexpired holds): a place per person for kinds counting persons, one room
whose `room_size` fits the household for rooms, one slot for slots.

Ranking (PRODUCT.md flow B): see app.services.placement.ranking.

Speed (bench/placement.py: 10,000 facilities, 30,000 units): the search
reads in steps outward from the searched place (app.services.placement.nearby);
SQL (app.services.placement.candidates) narrows by kinds, region, the units' intake switch and availability,
room size, the facility's booleans and numbers, how far the public point
and the penalty of unmet preferences may put it (languages by their bits,
Facility.language_mask: the index holds all it needs to tell), and genders
on the JSON list's text; it sums each unit's holds. The ranker decodes
genders and intake hours once per distinct value and checks them again,
counts unmet preferences alike, measures distances and ranks. Display fields are read for the results
alone. Statements are built once per number of preferences (everything else
is bound) and reused.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select

from app.extensions import db
from app.models import CapacityUnit, Facility, PlacementSearch, Region, TurnAway
from app.services.core.access import PLACEMENT_SEARCHERS, Actor
from app.services.core.errors import Forbidden
from app.services.placement import candidates, turn_aways
from app.services.placement.candidates import (
    F_GENDERS,
    F_HOURS,
    F_LANGUAGES,
    U_AVAILABLE,
    U_FACILITY,
    U_ID,
    U_KIND,
    U_OPEN,
    U_REGION,
    U_ROOM,
)
from app.services.placement.criteria import Criteria, DangerPlace, linked_call_id
from app.services.placement.danger import excluded_facilities
from app.services.placement.nearby import best
from app.services.placement.ranking import Ranker, Reason, places_needed
from app.services.registry import intake_hours, places
from app.services.registry.capacity import held_places


@dataclass(frozen=True)
class Result:
    facility_id: int
    facility_name: str
    region: str  # slug
    intake_phone: str | None
    intake_hours: dict  # the weekly schedule; intake_hours_text is its short form
    unit_id: int
    kind: str
    free: int
    room_size: int | None
    places: int  # what a hold for this household takes: persons, or one room or slot
    distance_km: float | int  # whole km for a confidential facility
    updated_at: datetime
    stale: bool
    open_now: bool
    opens_at: datetime | None  # local; set when intake is closed at this moment
    beyond_region: bool
    interpreter_needed: bool
    reasons: tuple[Reason, ...]
    unmet: tuple[Reason, ...]

    @property
    def intake_hours_text(self) -> str:
        return intake_hours.to_text(self.intake_hours)


@dataclass
class SearchOutcome:
    results: list[Result]
    search: PlacementSearch | None
    beyond_region: bool
    turn_away: TurnAway | None
    place: places.Place
    excluded_by_danger: int = 0
    # Kept for excluded_facility_ids alone, in memory for this search's lifetime: never stored.
    danger_places: tuple[DangerPlace, ...] = field(default=(), repr=False)

    @cached_property
    def excluded_facility_ids(self) -> frozenset[int]:
        """Every facility the danger places leave out, fitting or not: found when asked
        (reads the database), not by every search and preview."""
        return excluded_facilities(self.danger_places)


_DETAILS = (select(CapacityUnit.id, CapacityUnit.updated_at, Facility.name, Facility.intake_phone, Region.slug)
            .join(Facility, Facility.id == CapacityUnit.facility_id)
            .join(Region, Region.id == CapacityUnit.region_id)
            .where(CapacityUnit.id.in_(bindparam("ids", expanding=True))))


def _results(criteria: Criteria, ranker: Ranker, chosen: list[tuple]) -> list[Result]:
    if not chosen:
        return []
    details = {
        unit_id: (updated_at, name, phone, region)
        for unit_id, updated_at, name, phone, region in db.session.execute(
            _DETAILS, {"ids": [row[U_ID] for _, row, _, _ in chosen]})
    }
    codes = {kind.id: kind.code for kind in criteria.kinds}
    results = []
    for key, row, free, needed in chosen:
        updated_at, name, phone, region = details[row[U_ID]]
        schedule, open_now, opens_at = ranker.hours(row[F_HOURS])
        reasons, unmet = ranker.reasons_and_unmet(row)
        results.append(Result(
            facility_id=row[U_FACILITY],
            facility_name=name,
            region=region,
            intake_phone=phone,
            intake_hours=schedule,
            unit_id=row[U_ID],
            kind=codes[row[U_KIND]],
            free=free,
            room_size=row[U_ROOM],
            places=needed,
            distance_km=key[3],
            updated_at=updated_at,
            stale=key[1],
            open_now=open_now,
            opens_at=opens_at,
            beyond_region=row[U_REGION] != ranker.home_region_id,
            interpreter_needed=bool(criteria.languages) and not ranker.languages(row[F_LANGUAGES])[0],
            reasons=reasons,
            unmet=unmet,
        ))
    return results


def _turn_away_reason(criteria: Criteria, ranker: Ranker, region_id: int | None, now: datetime) -> str:
    """Why nothing fits, in the scope last searched: `closed` when eligible
    facilities with enough free places exist but all are switched closed;
    `full` when eligible facilities exist but none has enough free places;
    else `ineligible`."""
    rows = candidates.read(criteria, now, region_id, only_open=False)
    eligible = [row for row in rows if row[U_FACILITY] not in ranker.excluded and not ranker.in_danger(row)
                and (criteria.gender is None or ranker.takes_gender(row[F_GENDERS]))]
    if not eligible:
        return "ineligible"
    persons = criteria.persons
    closed = []
    for row in eligible:
        needed = places_needed(ranker.counts[row[U_KIND]], row[U_ROOM], persons)
        if not row[U_OPEN] and needed is not None and row[U_AVAILABLE] >= needed:
            closed.append((row, needed))
    if closed:
        held = held_places((row[U_ID] for row, _ in closed), now)
        if any(row[U_AVAILABLE] - held.get(row[U_ID], 0) >= needed for row, needed in closed):
            return "closed"
    return "full"


_REGION_ID = select(Region.id).where(Region.slug == bindparam("slug"))


def search(actor: Actor, criteria: Criteria, now: datetime, *, preference_km: float,
           zone: ZoneInfo | None = None, record: bool = True) -> SearchOutcome:
    """Run a placement search (see the module's docstring): rank what fits,
    write the PlacementSearch row, and record the contact's turn-away when
    nothing fits. With `record=False` (a live preview) write nothing at all
    (outcome.search is None). Does not commit. `zone` defaults to the app's time zone."""
    if not actor.has_role(*PLACEMENT_SEARCHERS):
        raise Forbidden("searching places needs the role operator, manager, partner or admin")
    linked_call_id(actor, criteria.call_id)
    if zone is None:
        from app.clock import local_zone

        zone = local_zone()
    home = db.session.scalar(_REGION_ID, {"slug": criteria.place.region})
    ranker = Ranker(criteria, now, zone, preference_km, home)

    beyond = criteria.beyond_region is True
    scope = None if beyond else home
    chosen: list[tuple] = []
    if beyond or home is not None:
        chosen = best(criteria, ranker, scope, now)
    if not chosen and criteria.beyond_region is None:
        beyond, scope = True, None
        chosen = best(criteria, ranker, None, now)
    results = _results(criteria, ranker, chosen)
    outcome = SearchOutcome(results=results, search=None, beyond_region=beyond, turn_away=None,
                            place=criteria.place, excluded_by_danger=ranker.left_out_ahead_of(chosen),
                            danger_places=criteria.danger_places)
    if not record:
        return outcome

    # The contact: the call, else the session, else this search alone (known once written).
    contact = criteria.call_id is not None or criteria.session is not None
    key = turn_aways.contact_key(call_id=criteria.call_id, session=criteria.session) if contact else "search:"
    row = PlacementSearch(at=now, created_by_id=actor.user_id, contact_key=key, call_id=criteria.call_id,
                          region_id=home, criteria=criteria.stored(), result_count=len(results))
    db.session.add(row)
    db.session.flush()
    if not contact:
        row.contact_key = key = turn_aways.contact_key(search_id=row.id)

    outcome.search = row
    if not results:
        if scope is None and not beyond:
            reason = "ineligible"  # the region has no facilities at all: it is not in the registry
        else:
            reason = _turn_away_reason(criteria, ranker, scope, now)
        outcome.turn_away = turn_aways.record(actor, now, key=key, reason=reason, criteria=criteria.stored(),
                                              region_id=home, call_id=criteria.call_id, search_id=row.id)
    return outcome
