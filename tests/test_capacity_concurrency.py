"""No lost update: many people changing one count at once, through the API,
against the real database (a SQLite file, or PostgreSQL in CI)."""

import itertools
import random
import threading

from sqlalchemy import select

from app.extensions import db
from app.models import CapacityChange, CapacityUnit
from tests import factories as make
from tests.api import call

THREADS = 16
CHANGES_PER_THREAD = 8


def test_sixteen_threads_changing_one_count_lose_no_update(app, client):
    facility = make.facility(units={"crisis_bed": (200, 100)})
    staff = make.user("shelter_staff", facilities_=[facility])
    db.session.commit()
    token = make.token_for(staff)
    db.session.commit()
    unit_id = facility.units[0].id
    path = f"/api/v1/facilities/{facility.id}"

    applied = [0] * THREADS
    conflicts = [0] * THREADS
    failures = []
    start = threading.Barrier(THREADS)

    def worker(n: int):
        rng = random.Random(n)
        own_client = app.test_client()
        start.wait()
        try:
            for _ in range(CHANGES_PER_THREAD):
                delta = rng.choice((-1, 1))
                while True:
                    unit = call(own_client, "GET", path, token).get_json()["units"][0]
                    response = call(own_client, "PATCH", f"/api/v1/units/{unit_id}", token,
                                    json={"available": unit["available"] + delta, "version": unit["version"]})
                    if response.status_code == 200:
                        applied[n] += delta
                        break
                    assert response.status_code == 409, response.get_json()
                    conflicts[n] += 1
        except Exception as error:  # noqa: BLE001 - reported below, with the thread
            failures.append((n, repr(error)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    print(f"conflicts retried: {sum(conflicts)}")

    db.session.rollback()
    unit = db.session.get(CapacityUnit, unit_id)
    changes = db.session.scalars(
        select(CapacityChange).where(CapacityChange.unit_id == unit_id, CapacityChange.field == "available")
        .order_by(CapacityChange.id)
    ).all()
    api_changes = [c for c in changes if c.source == "api"]
    # Every change that answered 200 is in the count, and in the history once.
    assert unit.available == 100 + sum(applied)
    assert len(api_changes) == THREADS * CHANGES_PER_THREAD
    assert unit.version == 1 + THREADS * CHANGES_PER_THREAD
    # The history is one unbroken chain: each change starts where the last ended.
    for earlier, later in itertools.pairwise(changes):
        assert later.before == earlier.after
    assert changes[-1].after == unit.available
    assert all(abs(c.after - c.before) == 1 for c in api_changes)
