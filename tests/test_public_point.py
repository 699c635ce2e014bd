"""The point each facility's distance is measured from (Facility.public_lat,
public_lon): its own coordinates, or its municipality's centre when it is
confidential or has none; and its languages as bits (language_mask). Kept by
facilities.save, backfilled by the migration that added them."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import Facility
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput
from app.services.registry import facilities, facility_files, places
from app.services.registry.capacity import all_kinds
from tests import factories as make
from tests.conftest import make_app

SETUP = Actor(user=None, source="import")
GENT, AALST, ANTWERPEN = places.centre_of("Gent"), places.centre_of("Aalst"), places.centre_of("Antwerpen")
BEFORE = "2db11e53bb7b"  # the revision before the public point


def point(facility) -> tuple[float, float]:
    db.session.expire_all()
    row = db.session.get(Facility, facility.id)
    return row.public_lat, row.public_lon


def resave(facility, **changes) -> Facility:
    """Save a facility again as the admin form and the import do: every
    field, some changed."""
    data = facilities.as_row(facility, all_kinds(), include_address=True)
    data.update(changes)
    return facilities.save(SETUP, facilities.validate(data, all_kinds()), clock.now(), facility=facility)


def test_a_facility_is_measured_from_its_own_coordinates_unless_confidential(app):
    public = make.facility("open", region_slug="oost-vlaanderen", municipality="Gent", postcode="9000",
                           lat=51.07, lon=3.74)
    secret = make.facility("secret", region_slug="oost-vlaanderen", type="refuge", confidential="yes",
                           municipality="Aalst", postcode="9300", lat=51.06, lon=3.73)
    unplaced = make.facility("unplaced", region_slug="oost-vlaanderen", municipality="Aalst", postcode="9300",
                             lat=None, lon=None)
    # A section the postcode table does not name is placed by its postcode.
    section = make.facility("section", municipality="Borgerhout", postcode="2140", type="refuge",
                            confidential="yes", lat=51.21, lon=4.43)
    db.session.commit()
    assert point(public) == (51.07, 3.74)
    assert point(secret) == AALST  # not its own 51.06, 3.73
    assert point(unplaced) == AALST
    assert point(section) == ANTWERPEN


def test_the_public_point_follows_every_change_that_moves_it(app):
    refuge = make.facility("refuge", region_slug="oost-vlaanderen", type="refuge", municipality="Gent",
                           postcode="9000", lat=51.07, lon=3.74)
    db.session.commit()
    assert point(refuge) == (51.07, 3.74)

    resave(refuge, confidential="yes")
    assert point(refuge) == GENT
    resave(refuge, municipality="Aalst", postcode="9300")
    assert point(refuge) == AALST
    resave(refuge, lat=51.0, lon=3.9)  # its own coordinates move: still its municipality's centre
    assert point(refuge) == AALST
    resave(refuge, confidential="no")
    assert point(refuge) == (51.0, 3.9)
    resave(refuge, lat="", lon="")
    assert point(refuge) == AALST
    resave(refuge, municipality="Gent", postcode="9000")
    assert point(refuge) == GENT
    db.session.commit()
    assert point(refuge) == GENT


def test_an_admin_switching_confidential_on_and_off_moves_the_point(app):
    admin = make.user("admin")
    refuge = make.facility("refuge", region_slug="oost-vlaanderen", type="refuge", municipality="Gent",
                           postcode="9000", lat=51.07, lon=3.74)
    db.session.commit()
    client = app.test_client()
    make.login(client, admin)

    def post(**changes):
        unit = refuge.units[0]
        form = {
            "slug": "refuge", "name": refuge.name, "type": "refuge", "region": "oost-vlaanderen",
            "organisation": "", "municipality": "Gent", "postcode": "9000", "street": "Straat 1",
            "lat": "51.07", "lon": "3.74", "intake_phone": "+3232000000", "hours_always": "y",
            "open_for_intake": "y", "closed_reason": "", "stale_after_hours": "12", "genders": ["female"],
            "languages": ["nl"], "crisis_bed_total": str(unit.total), "crisis_bed_available": str(unit.available),
            "crisis_bed_version": str(unit.version), **changes,
        }
        response = client.post(f"/admin/facilities/{refuge.id}", data=form)
        assert response.status_code == 303, response.get_data(as_text=True)

    post(confidential="y")
    assert point(refuge) == GENT
    post(confidential="y", municipality="Aalst", postcode="9300")
    assert point(refuge) == AALST
    post()  # the checkbox left out: not confidential
    assert point(refuge) == (51.07, 3.74)


def test_an_import_keeps_the_point_of_a_confidential_facility_without_its_address(app):
    refuge = make.facility("refuge", region_slug="oost-vlaanderen", type="refuge", confidential="yes",
                           municipality="Gent", postcode="9000", lat=51.07, lon=3.74)
    db.session.commit()
    row = facilities.as_row(refuge, all_kinds(), include_address=False)  # exported without the address
    row.update(municipality="Aalst", postcode="9300")
    facility_files.apply(SETUP, facility_files.check([facility_files.Row("line 2", row)], all_kinds()), clock.now())
    db.session.commit()
    db.session.expire_all()
    refuge = db.session.get(Facility, refuge.id)
    assert (refuge.lat, refuge.lon) == (51.07, 3.74)
    assert point(refuge) == AALST


def test_the_language_bits_follow_the_languages(app):
    shelter = make.facility("shelter", languages="fr,nl,uk")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Facility, shelter.id).language_mask == 0b100_0000_0011  # nl, fr, …, uk
    resave(shelter, languages="ar")
    db.session.expire_all()
    assert db.session.get(Facility, shelter.id).language_mask == 1 << 4
    assert facilities.language_mask([]) == 0


def test_a_place_no_table_knows_is_refused_and_nothing_is_written(app):
    make.region("oost-vlaanderen")
    data = {"slug": "nowhere", "name": "Nowhere", "type": "refuge", "region": "oost-vlaanderen",
            "municipality": "Nergenshuizen", "postcode": "9999", "genders": "female", "languages": "nl",
            "crisis_bed_total": 4}
    with pytest.raises(InvalidInput) as raised:
        facilities.validate(data, all_kinds())
    assert raised.value.field == "postcode" and "unknown postcode 9999" in raised.value.message
    # A known postcode is enough, whatever the municipality is called.
    assert facilities.validate(dict(data, postcode="9000"), all_kinds())["municipality"] == "Nergenshuizen"
    assert db.session.scalar(select(func.count()).select_from(Facility)) == 0


# --- the migration, on a database that already has facilities ----------------------------


@pytest.fixture
def scratch_url(database_url, tmp_path):
    """An empty database of the suite's kind of its own: a file, or a
    PostgreSQL database beside the suite's."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    import psycopg

    url = sa.engine.make_url(database_url)
    name = f"{url.database}_public_point"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_REGIONS = sa.table("regions", sa.column("id", sa.Integer), sa.column("slug", sa.String), sa.column("name", sa.String))
_FACILITIES = sa.table(
    "facilities", *(sa.column(name, sa.Integer) for name in ("id", "region_id", "stale_after_hours")),
    *(sa.column(name, sa.String) for name in ("slug", "name", "type", "municipality", "postcode")),
    *(sa.column(name, sa.Float) for name in ("lat", "lon")),
    *(sa.column(name, sa.Boolean) for name in ("confidential", "open_for_intake", "children", "wheelchair",
                                               "pets", "high_security")),
    *(sa.column(name, sa.JSON) for name in ("intake_hours", "genders", "languages")),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_UNITS = sa.table(
    "capacity_units", *(sa.column(name, sa.Integer) for name in (
        "facility_id", "region_id", "kind_id", "total", "available", "version")),
    sa.column("facility_open", sa.Boolean),
    *(sa.column(name, sa.DateTime(timezone=True)) for name in ("updated_at", "stale_at")),
)


def _old_facility(id_, slug, municipality, postcode, lat, lon, confidential, languages=("nl",)):
    return {"id": id_, "region_id": 1, "stale_after_hours": 12, "slug": slug, "name": slug, "type": "refuge",
            "municipality": municipality, "postcode": postcode, "lat": lat, "lon": lon,
            "confidential": confidential, "open_for_intake": True, "children": False, "wheelchair": False,
            "pets": False, "high_security": False, "intake_hours": {"always": True, "weekly": {}},
            "genders": ["female"], "languages": list(languages), "created_at": datetime(2026, 1, 1, tzinfo=UTC)}


def _columns(table="facilities") -> dict:
    return {column["name"]: column for column in sa.inspect(db.engine).get_columns(table)}


def _migrated_app(url, facilities_rows):
    """An app on `url`, migrated to the revision before the public point,
    with these facilities (and a unit of the first, pointing at it)."""
    app = make_app(url)
    with app.app_context():
        upgrade(revision=BEFORE)
        with db.engine.begin() as conn:
            conn.execute(sa.insert(_REGIONS), [{"id": 1, "slug": "oost-vlaanderen", "name": "Oost-Vlaanderen"}])
            conn.execute(sa.insert(_FACILITIES), facilities_rows)
            kind_id = conn.scalar(sa.text("SELECT id FROM capacity_kinds WHERE code = 'crisis_bed'"))
            moment = datetime(2026, 1, 1, tzinfo=UTC)
            conn.execute(sa.insert(_UNITS), [{
                "facility_id": facilities_rows[0]["id"], "region_id": 1, "kind_id": kind_id, "total": 5,
                "available": 3, "version": 1, "facility_open": True, "updated_at": moment, "stale_at": moment}])
        db.engine.dispose()
    return app


def test_flask_db_upgrade_gives_existing_facilities_their_point(scratch_url):
    app = _migrated_app(scratch_url, [
        _old_facility(1, "secret", "Aalst", "9300", 51.06, 3.73, True),
        _old_facility(2, "open", "Gent", "9000", 51.07, 3.74, False, languages=("fr", "uk", "ar")),
        _old_facility(3, "unplaced", "Gent", "9000", None, None, False),
        _old_facility(4, "section", "Borgerhout", "2140", 51.21, 4.43, True),
    ])
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        rows = {slug: (lat, lon) for slug, lat, lon in db.session.execute(
            select(Facility.slug, Facility.public_lat, Facility.public_lon))}
        assert rows == {"secret": AALST, "open": (51.07, 3.74), "unplaced": GENT, "section": ANTWERPEN}
        masks = dict(db.session.execute(select(Facility.slug, Facility.language_mask)).all())
        assert masks == {"secret": 1, "open": facilities.language_mask(["fr", "uk", "ar"]), "unplaced": 1,
                         "section": 1}
        columns = _columns()
        assert not any(columns[name]["nullable"] for name in ("public_lat", "public_lon", "language_mask"))
        indexes = {index["name"]: index["column_names"] for index in sa.inspect(db.engine).get_indexes("facilities")}
        assert indexes["ix_facilities_public_point"] == [
            "public_lat", "public_lon", "language_mask", "high_security", "pets"]
        assert indexes["ix_facilities_region_public_point"] == [
            "region_id", "public_lat", "public_lon", "language_mask", "high_security", "pets"]
        assert db.session.scalar(sa.text("SELECT count(*) FROM capacity_units WHERE facility_id = 1")) == 1
        db.session.remove()

        # And back, and up again.
        downgrade(revision=BEFORE)
        assert not {"public_lat", "public_lon", "language_mask"} & set(_columns())
        upgrade()
        assert db.session.scalar(select(Facility.public_lat).where(Facility.slug == "secret")) == AALST[0]
        db.session.remove()
        db.engine.dispose()


def test_the_upgrade_refuses_a_facility_it_cannot_place_and_changes_nothing(scratch_url):
    app = _migrated_app(scratch_url, [
        _old_facility(1, "fine", "Gent", "9000", None, None, True),
        _old_facility(2, "lost", "Nergenshuizen", "9999", None, None, True),
    ])
    with app.app_context():
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 1
        # flask db upgrade says which, and how to mend them.
        assert "give each a Belgian postcode, then upgrade again: lost (Nergenshuizen, 9999)\n" in result.output
        db.session.remove()
        assert "public_lat" not in _columns()
        with db.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == BEFORE
        db.engine.dispose()
