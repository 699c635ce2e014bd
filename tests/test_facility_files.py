"""`flask facilities import FILE` and `flask facilities export`: one format,
every bad line named, nothing written unless every row is good."""

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from app import clock
from app.extensions import db
from app.models import AuditEvent, CapacityChange, CapacityUnit, Facility, Organisation
from app.services import demo
from app.services.core.access import Actor
from app.services.registry import facility_files
from app.services.registry.capacity import all_kinds
from tests import factories

IMPORTER = Actor(user=None, source="import")


def good_row(slug="hulppunt-test", **fields) -> dict:
    row = {
        "slug": slug,
        "name": "Hulppunt Test",
        "type": "relief_point",
        "region": "antwerpen",
        "organisation": "",
        "municipality": "Mechelen",
        "postcode": "2800",
        "street": "Grote Markt 1",
        "lat": "51.0257",
        "lon": "4.4776",
        "confidential": "no",
        "intake_phone": "+3215000999",
        "intake_hours": "mon 09:00-17:00; wed 09:00-12:00",
        "open_for_intake": "yes",
        "closed_reason": "",
        "stale_after_hours": "24",
        "genders": "female,male",
        "children": "yes",
        "max_children": "3",
        "max_child_age": "12",
        "wheelchair": "yes",
        "pets": "no",
        "high_security": "no",
        "languages": "nl,fr,ar",
        "intake_slot_total": "5",
        "intake_slot_available": "2",
    }
    row.update({key: str(value) for key, value in fields.items()})
    return row


def refuge_row(slug="vluchthuis-test", **fields) -> dict:
    row = good_row(
        slug,
        name="Vluchthuis Test",
        type="refuge",
        street="Verborgen Pad 7",
        lat="51.2111",
        lon="4.4222",
        confidential="yes",
        intake_hours="24/7",
        genders="female",
        intake_slot_total="",
        intake_slot_available="",
        refuge_place_total="10",
        refuge_place_available="4",
        family_room_total="3",
        family_room_available="1",
        family_room_room_size="4",
    )
    row.update(fields)
    return row


def to_csv(rows: list[dict], delimiter=",", extra_columns=()) -> bytes:
    names = list(dict.fromkeys([name for row in rows for name in row] + list(extra_columns)))
    out = io.StringIO()
    writer = csv.DictWriter(out, names, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def snapshot() -> dict:
    """Every row the import could write to."""
    def rows(model, order):
        return [
            {c.name: getattr(obj, c.key) for c in model.__table__.columns}
            for obj in db.session.scalars(select(model).order_by(order))
        ]

    db.session.expire_all()
    return {
        "facilities": rows(Facility, Facility.id),
        "units": rows(CapacityUnit, CapacityUnit.id),
        "changes": rows(CapacityChange, CapacityChange.id),
        "audit": rows(AuditEvent, AuditEvent.id),
    }


def by_slug(slug) -> Facility:
    db.session.expire_all()
    return db.session.scalar(select(Facility).where(Facility.slug == slug))


def units_of(facility) -> dict:
    return {unit.kind.code: (unit.total, unit.available, unit.room_size) for unit in facility.units}


@pytest.fixture
def regions(app):
    for slug in ("antwerpen", "limburg"):
        factories.region(slug)
    db.session.add(Organisation(slug="caw-antwerpen", name="CAW Antwerpen", kind="caw"))
    db.session.commit()


# Import: the three formats ---------------------------------------------------------------


def test_import_csv_creates_facilities_with_history_from_the_import(runner, regions, tmp_path):
    path = write(tmp_path, "facilities.csv", to_csv([good_row(organisation="caw-antwerpen"), refuge_row()]))

    result = runner.invoke(args=["facilities", "import", path])

    assert result.exit_code == 0, result.output
    assert "imported 2 facilities: 2 new, 0 updated" in result.output
    point = by_slug("hulppunt-test")
    assert (point.type, point.region.slug, point.organisation.slug) == ("relief_point", "antwerpen", "caw-antwerpen")
    assert (point.municipality, point.postcode, point.lat, point.lon) == ("Mechelen", "2800", 51.0257, 4.4776)
    assert point.genders == ["female", "male"] and point.languages == ["nl", "fr", "ar"]
    assert (point.children, point.max_children, point.max_child_age, point.wheelchair) == (True, 3, 12, True)
    assert point.intake_hours["always"] is False
    assert point.intake_hours["weekly"]["mon"] == [["09:00", "17:00"]]
    assert units_of(point) == {"intake_slot": (5, 2, None)}
    refuge = by_slug("vluchthuis-test")
    assert refuge.confidential and refuge.street == "Verborgen Pad 7"
    assert units_of(refuge) == {"refuge_place": (10, 4, None), "family_room": (3, 1, 4)}
    changes = db.session.scalars(select(CapacityChange)).all()
    assert changes and {change.source for change in changes} == {"import"}
    assert all(change.actor_id is None for change in changes)


def test_import_tsv(runner, regions, tmp_path):
    path = write(tmp_path, "facilities.tsv", to_csv([good_row(), refuge_row()], delimiter="\t"))

    result = runner.invoke(args=["facilities", "import", path])

    assert result.exit_code == 0, result.output
    assert units_of(by_slug("hulppunt-test")) == {"intake_slot": (5, 2, None)}
    assert by_slug("vluchthuis-test").languages == ["nl", "fr", "ar"]


def test_tsv_and_json_are_recognised_by_content_without_a_suffix(regions):
    tsv = to_csv([good_row()], delimiter="\t")
    assert facility_files.detect_format(tsv) == facility_files.Format.TSV
    assert facility_files.detect_format(b'  [{"slug": "x"}]') == facility_files.Format.JSON
    assert facility_files.detect_format(to_csv([good_row()])) == facility_files.Format.CSV

    result = facility_files.import_file(IMPORTER, tsv, clock.now(), name="upload")

    assert result.created == ["hulppunt-test"]


def test_import_json_with_native_values(runner, regions, tmp_path):
    items = [
        {
            "slug": "crisis-json",
            "name": "Crisiscentrum JSON",
            "type": "crisis_centre",
            "region": "limburg",
            "municipality": "Hasselt",
            "postcode": "3500",
            "lat": 50.93,
            "lon": 5.33,
            "intake_hours": {"always": True},
            "stale_after_hours": 8,
            "genders": ["female", "x"],
            "children": True,
            "max_children": 2,
            "languages": ["nl", "tr"],
            "crisis_bed_total": 6,
            "crisis_bed_available": 0,
            "emergency_bed_total": 2,
        },
        good_row(),
    ]
    path = write(tmp_path, "facilities.json", json.dumps(items).encode())

    result = runner.invoke(args=["facilities", "import", path])

    assert result.exit_code == 0, result.output
    crisis = by_slug("crisis-json")
    assert crisis.genders == ["female", "x"] and crisis.children and crisis.max_children == 2
    assert crisis.stale_after_hours == 8 and crisis.intake_hours["always"] is True
    # available defaults to total when a file leaves it out
    assert units_of(crisis) == {"crisis_bed": (6, 0, None), "emergency_bed": (2, 2, None)}
    assert by_slug("hulppunt-test") is not None


# Import: bad files write nothing ----------------------------------------------------------


def test_bad_csv_reports_every_bad_line_and_imports_nothing(runner, regions, tmp_path):
    factories.facility("hulppunt-test", units={"intake_slot": (5, 5)}, type="relief_point")
    db.session.commit()
    before = snapshot()
    rows = [
        good_row(name="Renamed"),  # line 2: good, but must not be written either
        good_row("bad-postcode", postcode="12a"),  # line 3
        good_row("bad-count", intake_slot_total="lots"),  # line 4
        good_row("hulppunt-test"),  # line 5: the slug of line 2 again
        good_row("too-many", intake_slot_total="3", intake_slot_available="9"),  # line 6
        good_row("nowhere", region="atlantis"),  # line 7
        good_row("no-org", organisation="caw-nergens"),  # line 8
    ]
    path = write(tmp_path, "bad.csv", to_csv(rows, extra_columns=["spaceship_total"]))

    result = runner.invoke(args=["facilities", "import", path])

    assert result.exit_code != 0
    assert result.stderr.splitlines() == [
        "line 1: unknown column spaceship_total",
        "line 3: postcode must be a Belgian postcode of 4 digits",
        "line 4: intake_slot_total must be a whole number, not 'lots'",
        "line 5: slug hulppunt-test is also on line 2",
        "line 6: intake_slot_available must be between 0 and 3",
        "line 7: unknown region 'atlantis'",
        "line 8: unknown organisation 'caw-nergens'",
        "Error: 7 problems in the file: nothing imported",
    ]
    assert snapshot() == before


def test_line_numbers_count_values_that_span_lines(regions):
    rows = [good_row("closed", open_for_intake="no", closed_reason="Storm damage.\nBack on Monday."),
            good_row("bad", postcode="99")]
    with pytest.raises(facility_files.FileInvalid) as raised:
        facility_files.import_file(IMPORTER, to_csv(rows), clock.now(), name="f.csv")
    assert raised.value.problems == ["line 4: postcode must be a Belgian postcode of 4 digits"]


def test_a_row_with_more_values_than_columns_is_refused(regions):
    lines = to_csv([good_row(), good_row("other")]).split(b"\n")
    lines[2] += b",extra"
    with pytest.raises(facility_files.FileInvalid) as raised:
        facility_files.import_file(IMPORTER, b"\n".join(lines), clock.now(), name="f.csv")
    assert raised.value.problems == ["line 3: more values than there are columns"]
    assert db.session.scalar(select(func.count()).select_from(Facility)) == 0


def test_bad_json_items_are_numbered(runner, regions, tmp_path):
    before = snapshot()
    items = [good_row(), "not an object", good_row("b", genders="martian"), good_row("c", colour="blue")]
    path = write(tmp_path, "bad.json", json.dumps(items).encode())

    result = runner.invoke(args=["facilities", "import", path])

    assert result.exit_code != 0
    assert "item 2: a facility must be an object" in result.stderr
    assert "item 3: genders: unknown martian (use female, male, x)" in result.stderr
    assert "item 4: unknown field colour" in result.stderr
    assert "item 1" not in result.stderr
    assert snapshot() == before


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("empty.csv", b"", "the file has no facilities"),
        ("header-only.csv", b"slug,name\n", "the file has no facilities"),
        ("broken.json", b"[{", "not valid JSON"),
        ("number.json", b"42", "JSON must be a list of facilities"),
        ("latin1.csv", "slug,name\nx,Café\n".encode("latin-1"), "the file is not UTF-8 text"),
    ],
)
def test_unreadable_files_are_refused(runner, regions, tmp_path, name, data, message):
    before = snapshot()
    result = runner.invoke(args=["facilities", "import", write(tmp_path, name, data)])
    assert result.exit_code != 0
    assert message in result.stderr
    assert snapshot() == before


def test_unknown_format_option_is_refused(runner, regions, tmp_path):
    result = runner.invoke(args=["facilities", "import", "--format", "xml", write(tmp_path, "f.csv", b"")])
    assert result.exit_code != 0


# Import: updates by slug ------------------------------------------------------------------


def test_reimport_updates_by_slug_and_writes_history_with_source_import(runner, regions, tmp_path, clock):
    factories.facility("hulppunt-test", type="relief_point", units={"intake_slot": (5, 5)})
    db.session.commit()
    facility_id = by_slug("hulppunt-test").id
    clock.advance(hours=1)
    path = write(tmp_path, "f.csv", to_csv([good_row(name="Hulppunt Nieuw", intake_slot_available="1")]))

    result = runner.invoke(args=["facilities", "import", path])

    assert result.exit_code == 0, result.output
    assert "0 new, 1 updated" in result.output
    point = by_slug("hulppunt-test")
    assert point.id == facility_id and point.name == "Hulppunt Nieuw"
    assert db.session.scalar(select(func.count()).select_from(Facility)) == 1
    unit = point.units[0]
    assert (unit.available, unit.updated_at, unit.updated_by_id) == (1, clock.now(), None)
    last = db.session.scalars(select(CapacityChange).order_by(CapacityChange.id.desc())).first()
    assert (last.field, last.before, last.after, last.source, last.at) == ("available", 5, 1, "import", clock.now())
    event = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (event.action, event.object_id, event.details["source"]) == ("facility.update", facility_id, "import")


def test_reimport_with_blank_address_keeps_a_confidential_facilitys_address(regions):
    facility_files.import_file(IMPORTER, to_csv([refuge_row(), good_row()]), clock.now(), name="f.csv")
    blank = {"street": "", "lat": "", "lon": ""}

    facility_files.import_file(
        IMPORTER, to_csv([refuge_row(name="Vluchthuis Hernoemd", **blank), good_row(**blank)]), clock.now(),
        name="f.csv",
    )

    refuge = by_slug("vluchthuis-test")
    assert refuge.name == "Vluchthuis Hernoemd"
    assert (refuge.street, refuge.lat, refuge.lon) == ("Verborgen Pad 7", 51.2111, 4.4222)
    # A public facility's blank address is a blank address.
    point = by_slug("hulppunt-test")
    assert (point.street, point.lat, point.lon) == (None, None, None)


# Export -----------------------------------------------------------------------------------


def confidential_rows() -> list[dict]:
    with open(demo.DATA_FILE, newline="", encoding="utf-8") as file:
        return [row for row in csv.DictReader(file) if row["confidential"] == "yes"]


@pytest.fixture
def demo_data(app):
    demo.load(clock.now())
    db.session.commit()


def test_export_without_the_flag_has_no_confidential_address_and_audits_nothing(runner, demo_data):
    refuges = confidential_rows()
    assert len(refuges) >= 3
    audit_before = db.session.scalar(select(func.count()).select_from(AuditEvent))

    result = runner.invoke(args=["facilities", "export"])

    assert result.exit_code == 0, result.output
    for refuge in refuges:
        assert refuge["street"] not in result.stdout
        assert refuge["lat"] not in result.stdout and refuge["lon"] not in result.stdout
    exported = {row["slug"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert len(exported) == db.session.scalar(select(func.count()).select_from(Facility))
    for refuge in refuges:
        row = exported[refuge["slug"]]
        assert (row["postcode"], row["street"], row["lat"], row["lon"]) == ("", "", "", "")
        assert row["municipality"] == refuge["municipality"] and row["refuge_place_total"]
    assert exported["crisiscentrum-antwerpen"]["street"] == "Lange Gasthuisstraat 27"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == audit_before


def test_export_with_the_flag_includes_addresses_and_audits_each_reveal(runner, demo_data, clock):
    refuges = confidential_rows()

    result = runner.invoke(args=["facilities", "export", "--include-confidential"])

    assert result.exit_code == 0, result.output
    exported = {row["slug"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    for refuge in refuges:
        row = exported[refuge["slug"]]
        assert (row["street"], float(row["lat"]), float(row["lon"])) == (
            refuge["street"], float(refuge["lat"]), float(refuge["lon"]))
    reveals = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "facility.reveal_address")).all()
    revealed_ids = {event.object_id for event in reveals}
    assert revealed_ids == {by_slug(refuge["slug"]).id for refuge in refuges}
    assert all(event.at == clock.now() and event.details["source"] == "cli" for event in reveals)
    summary = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "facility.export"))
    assert summary.details["include_confidential"] is True
    assert sorted(summary.details["revealed"]) == sorted(refuge["slug"] for refuge in refuges)


def export(runner, *flags) -> str:
    result = runner.invoke(args=["facilities", "export", *flags])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_export_then_import_gives_the_same_facilities(runner, demo_data, tmp_path):
    original = export(runner, "--include-confidential")
    # Change every facility: names, counts, addresses.
    changed = []
    for row in csv.DictReader(io.StringIO(original)):
        row["name"] += " (oud)"
        row["street"] = "Andere Straat 1"
        for code in ("crisis_bed", "refuge_place", "intake_slot", "offender_slot"):
            if row[f"{code}_total"]:
                row[f"{code}_available"] = "0"
        changed.append(row)
    assert runner.invoke(args=["facilities", "import", write(tmp_path, "changed.csv", to_csv(changed))]).exit_code == 0
    assert export(runner, "--include-confidential") != original

    result = runner.invoke(args=["facilities", "import", write(tmp_path, "original.csv", original.encode())])

    assert result.exit_code == 0, result.output
    assert export(runner, "--include-confidential") == original


def test_export_without_addresses_imported_back_erases_no_address(runner, demo_data, tmp_path):
    # Nor their postcodes, which it leaves blank too, though a postcode is required.
    full = export(runner, "--include-confidential")
    partial = export(runner)

    result = runner.invoke(args=["facilities", "import", write(tmp_path, "partial.csv", partial.encode())])

    assert result.exit_code == 0, result.output
    assert export(runner, "--include-confidential") == full


def test_export_defuses_formulas_and_an_import_restores_them_exactly(runner, regions, tmp_path):
    typed = {"name": "@Hulppunt", "street": "-1 Kelderstraat", "closed_reason": '=HYPERLINK("http://x","y")',
             "municipality": "'=Mechelen"}  # already quoted by hand: stays as typed
    # Typed as they are (JSON is not for spreadsheets: nothing to undo there).
    facility_files.import_file(IMPORTER, json.dumps([good_row(open_for_intake="no", **typed)]).encode(),
                               clock.now(), name="f.json")
    db.session.commit()

    exported = export(runner)

    row = next(csv.DictReader(io.StringIO(exported)))
    assert (row["name"], row["street"], row["closed_reason"], row["municipality"]) == (
        "'@Hulppunt", "'-1 Kelderstraat", "'=HYPERLINK(\"http://x\",\"y\")", "''=Mechelen")
    assert (row["intake_phone"], row["intake_slot_total"], row["lat"]) == ("+3215000999", "5", "51.0257")
    before = snapshot()["facilities"]
    result = runner.invoke(args=["facilities", "import", write(tmp_path, "back.csv", exported.encode())])
    assert result.exit_code == 0, result.output
    assert export(runner) == exported
    point = by_slug("hulppunt-test")
    assert {name: getattr(point, name) for name in typed} == typed
    assert snapshot()["facilities"] == before


def test_export_columns_are_the_import_columns(runner, demo_data):
    header = export(runner).splitlines()[0].split(",")
    assert header == facility_files.columns(all_kinds())
    assert header[:3] == ["slug", "name", "type"]
