"""Capacity history is append-only, and counts stay within their unit."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import CapacityChange
from app.services.core.access import Actor
from app.services.registry import capacity
from tests import factories as make


def test_history_rows_cannot_be_updated_or_deleted(app):
    make.facility(units={"crisis_bed": (4, 1)})
    db.session.commit()
    change = db.session.scalars(select(CapacityChange)).first()
    change.after = 3
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    db.session.delete(db.session.scalars(select(CapacityChange)).first())
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()


def test_the_database_refuses_available_above_total(app):
    facility = make.facility(units={"crisis_bed": (4, 1)})
    db.session.commit()
    facility.units[0].available = 5
    with pytest.raises(IntegrityError):
        db.session.flush()


def test_a_change_is_refused_for_a_stale_version_without_writing(app, clock):
    facility = make.facility(units={"crisis_bed": (4, 1)})
    staff = make.user("shelter_staff", facilities_=[facility])
    db.session.commit()
    actor = Actor(staff, "web")
    unit = facility.units[0]
    capacity.set_available(actor, unit, 2, 1, clock.now())
    db.session.commit()
    count = len(capacity.history(unit, limit=100))
    with pytest.raises(capacity.Conflict) as conflict:
        capacity.set_available(actor, unit, 3, 1, clock.now())
    assert conflict.value.current["unit"] is unit and unit.available == 2
    db.session.rollback()
    assert len(capacity.history(unit, limit=100)) == count


def test_units_follow_their_facility_region_and_intake_switch(app, clock):
    """The database cascades a facility's region and intake switch to its
    units, which the regional totals read."""
    from app.models import CapacityUnit, Facility

    facility = make.facility(units={"crisis_bed": (4, 1), "emergency_bed": (2, 2)})
    gent = make.region("oost-vlaanderen")
    db.session.commit()
    capacity.set_open_for_intake(Actor(make.user("admin"), "web"), facility, False, "Flooded", clock.now())
    facility.region = gent
    db.session.commit()
    rows = db.session.execute(
        select(CapacityUnit.region_id, CapacityUnit.facility_open).where(CapacityUnit.facility_id == facility.id)
    ).all()
    assert rows == [(gent.id, False), (gent.id, False)]
    totals = {t.region.slug: t.by_kind for t in capacity.region_totals(clock.now())}
    assert totals["oost-vlaanderen"]["crisis_bed"].free == 0 and totals["antwerpen"]["crisis_bed"].total == 0
    assert db.session.get(Facility, facility.id).units[0].version == 1  # not a count change


def test_a_unit_cannot_disagree_with_its_facility(app):
    from app.models import CapacityUnit

    facility = make.facility(units={"crisis_bed": (4, 1)})
    db.session.commit()
    with pytest.raises(IntegrityError):
        db.session.execute(
            CapacityUnit.__table__.update().where(CapacityUnit.facility_id == facility.id).values(facility_open=False)
        )
