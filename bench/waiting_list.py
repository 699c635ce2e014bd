"""National-scale benchmark of the waiting list: what a count rising costs.

    .venv/bin/python bench/waiting_list.py [--updates 500] [--requests 1000] [--seed 1] [--check] [--keep]

Builds the registry of bench/placement.py (10,000 facilities in 11 regions,
30,000 units, their geography, intake hours and holds; no history rows). Then
times whole capacity updates that raise a count: capacity.set_available on a
random unit of an open facility with room to rise, by one, which runs the
waiting list's matching (offers.places_freed: the unit read and locked
with its offerable places, the waiting requests read in waiting-list order
and judged by the search's rules, the offers made and audited), flushed.
The requests were filed without matching, so the unit's places free before
the rise are offered too: an update may make several offers, not one (the
run prints how many). Each update is rolled back to a
savepoint afterwards, so that every one starts from the same registry and
list. Two cases, in turns of 50 updates so that whatever else the machine
does weighs on both alike:

  (a) no open requests;
  (b) --requests open requests all over the country (the varied households
      of bench/placement.py, every risk level, opened over the last day).

Aim: (b) at most 20 ms p95 and at most 1.5x (a); --check makes a miss exit 1.
The temporary directory is deleted at the end (unless --keep).
"""

import argparse
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import placement  # noqa: E402  (bench/placement.py, beside this file)
import registry  # noqa: E402
from sqlalchemy import insert, select, update  # noqa: E402

from app import create_app  # noqa: E402
from app.clock import FrozenClock  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import CapacityUnit, PlacementOffer, PlacementRequest, Region  # noqa: E402
from app.services.accounts import users  # noqa: E402
from app.services.core.access import Actor  # noqa: E402
from app.services.placement.criteria import parse_criteria  # noqa: E402
from app.services.registry import capacity  # noqa: E402

NOW = registry.NOW
AIM_P95_MS = 20.0
AIM_RATIO = 1.5
TURN = 50


def file_requests(n: int, rng: random.Random) -> None:
    """`n` open requests, as requests.file would store them, in one insert."""
    regions = dict(db.session.execute(select(Region.slug, Region.id)).all())
    rows = []
    for data in placement.varied_searches(n, rng):
        data.pop("limit", None)
        criteria = parse_criteria(data)
        opened = NOW - timedelta(minutes=rng.randrange(24 * 60))
        rows.append({"status": "open", "opened_at": opened, "expires_at": opened + timedelta(hours=72),
                     "region_id": regions.get(criteria.place.region), "criteria": criteria.stored(),
                     "risk_level": rng.choice(("standard", "elevated", "high", None)),
                     "excluded_facility_ids": list(criteria.avoid_facilities)})
    db.session.execute(insert(PlacementRequest), rows)
    db.session.commit()


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100)[94] * 1000


def measure(app, updates: int, n_requests: int, seed: int) -> bool:
    rng = random.Random(seed)
    with app.app_context():
        admin = users.save_user(Actor(user=None, source="import"), NOW, email="admin@bench.example",
                                name="Bench Admin", roles=["admin"], password=registry.PASSWORD)
        db.session.commit()
        actor = Actor(user=admin, source="api")
        file_requests(n_requests, rng)
        unit_ids = list(db.session.scalars(select(CapacityUnit.id).where(
            CapacityUnit.facility_open.is_(True), CapacityUnit.available < CapacityUnit.total)))

        def one_update():
            savepoint = db.session.begin_nested()
            unit = db.session.get(CapacityUnit, rng.choice(unit_ids))
            start = time.perf_counter()
            capacity.set_available(actor, unit, unit.available + 1, unit.version, NOW)
            db.session.flush()
            took = time.perf_counter() - start
            made = db.session.query(PlacementOffer).count()
            savepoint.rollback()
            return took, made

        def set_open(open_: bool):
            db.session.execute(update(PlacementRequest).values(status="open" if open_ else "withdrawn"))
            db.session.commit()

        for case in (False, True):  # warm up both
            set_open(case)
            for _ in range(20):
                one_update()
        times = {"(a) no open requests": [], f"(b) {n_requests:,} open requests": []}
        offered = offers = 0
        done = 0
        while done < updates:
            for case, name in ((False, "(a) no open requests"), (True, f"(b) {n_requests:,} open requests")):
                set_open(case)
                for _ in range(TURN):
                    took, made = one_update()
                    times[name].append(took)
                    offered += bool(made) and case
                    offers += made if case else 0
            done += TURN
    a, b = (p95(t) for t in times.values())
    for name, values in times.items():
        print(f"{name:32} p50 {statistics.median(values) * 1000:6.2f} ms   p95 {p95(values):6.2f} ms   "
              f"({len(values)} updates)")
    print(f"updates that made an offer in (b): {offered} of {len(times[f'(b) {n_requests:,} open requests'])}, "
          f"{offers / max(offered, 1):.1f} offers each on average")
    met = b <= AIM_P95_MS and b <= AIM_RATIO * a
    print(f"aim: (b) p95 <= {AIM_P95_MS:.0f} ms and <= {AIM_RATIO}x (a): (b)/(a) = {b / a:.2f}: "
          f"{'met' if met else 'MISSED'}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=500, help="timed updates per case (default 500)")
    parser.add_argument("--requests", type=int, default=1000, help="open requests in (b) (default 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check", action="store_true", help="exit 1 if (b) misses its aim")
    parser.add_argument("--keep", action="store_true", help="keep the database and print where it is")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="opvang-bench-requests-"))
    path = workdir / "registry.db"
    try:
        app = create_app({
            "SECRET_KEY": "bench", "CALLER_HASH_KEY": "bench", "DATABASE_URL": f"sqlite:///{path}",
            "WTF_CSRF_ENABLED": False, "CLOCK": FrozenClock(NOW), "TIMEZONE": str(placement.ZONE),
        })
        rng = random.Random(args.seed)
        began = time.perf_counter()
        made = registry.build(app, path, rng, changes=0)
        placement.add_geography_and_holds(path, rng)
        print(f"built {made['facilities']:,} facilities, {made['units']:,} units in "
              f"{time.perf_counter() - began:.1f} s")
        met = measure(app, args.updates, args.requests, args.seed + 1)
        return 1 if args.check and not met else 0
    finally:
        if args.keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
