"""Facility files: import from CSV, TSV or JSON, export to CSV, in one format.

The format is `facilities.COLUMNS` followed by `<kind>_total`,
`<kind>_available` and `<kind>_room_size` per capacity kind; one row per
facility. An import checks every row first and names each bad one by its
place in the file (`line 4` in CSV/TSV, the header being line 1; `item 3` in
JSON); it writes nothing unless every row is good. Nothing here commits: on
FileInvalid the caller rolls back.

The export neutralises free-text cells that a spreadsheet would take for a
formula (app/services/core/spreadsheet.py); a CSV/TSV import undoes it, so
that an export imported back is the same facilities.
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from sqlite_utils.utils import Format, RowError, RowsFromFileError, rows_from_file

from app.extensions import db
from app.models import CapacityKind, CapacityUnit, Facility, Organisation, Region
from app.services.core import audit, spreadsheet
from app.services.core.access import Actor
from app.services.core.errors import InvalidInput, ServiceError
from app.services.registry import facilities
from app.services.registry.capacity import all_kinds

UNIT_SUFFIXES = ("total", "available", "room_size")
FORMATS_BY_SUFFIX = {".csv": Format.CSV, ".tsv": Format.TSV, ".tab": Format.TSV, ".json": Format.JSON}
FORMATS_BY_NAME = {"csv": Format.CSV, "tsv": Format.TSV, "json": Format.JSON}
# The columns people type freely: the cells of an export a spreadsheet could
# take for a formula. The others are validated numbers, yes/no, codes and
# slugs, and an E.164 phone number (which starts with + by right).
TEXT_COLUMNS = ("name", "municipality", "street", "closed_reason", "intake_hours")
# Where sqlite-utils puts the values of a row that has more than the header.
_EXTRAS = "\x00extras"


class FileInvalid(InvalidInput):
    """A file that cannot be imported; `problems` names every bad line."""

    def __init__(self, problems: list[str]):
        count = len(problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the file: nothing imported")
        self.problems = problems


@dataclass
class Row:
    where: str  # "line 4" or "item 3"
    data: dict


@dataclass
class CheckedRow:
    where: str
    clean: dict


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.created) + len(self.updated)


def columns(kinds: Iterable[CapacityKind]) -> list[str]:
    """Every column of a facility file, in order."""
    return list(facilities.COLUMNS) + [f"{kind.code}_{suffix}" for kind in kinds for suffix in UNIT_SUFFIXES]


def detect_format(data: bytes, name: str | None = None) -> Format:
    """The format by the file's suffix, else by its content: JSON when it
    starts with [ or {, TSV when its first line has a tab, else CSV."""
    if name:
        by_suffix = FORMATS_BY_SUFFIX.get(PurePath(name).suffix.lower())
        if by_suffix is not None:
            return by_suffix
    start = data.lstrip()[:1]
    if start in (b"[", b"{"):
        return Format.JSON
    first_line = data.split(b"\n", 1)[0]
    return Format.TSV if b"\t" in first_line else Format.CSV


def parse(data: bytes, format: Format, kinds: list[CapacityKind]) -> tuple[list[Row], list[str]]:
    """The file's rows, each with its place in the file, and the problems of
    the file as a whole (unreadable, unknown columns, extra values)."""
    known = set(columns(kinds))
    if format == Format.JSON:
        return _parse_json(data, known)
    if format in (Format.CSV, Format.TSV):
        return _parse_delimited(data, format, known)
    raise InvalidInput(f"cannot read {format.name} files: use CSV, TSV or JSON", field="format")


def _parse_json(data: bytes, known: set[str]) -> tuple[list[Row], list[str]]:
    try:
        items, _ = rows_from_file(io.BytesIO(data), format=Format.JSON)
    except ValueError as error:  # also UnicodeDecodeError
        return [], [f"not valid JSON: {error}"]
    except RowsFromFileError:
        return [], ["JSON must be a list of facilities (objects)"]
    rows, problems = [], []
    for number, item in enumerate(items, start=1):
        where = f"item {number}"
        if not isinstance(item, dict):
            problems.append(f"{where}: a facility must be an object")
            continue
        unknown = sorted(set(item) - known)
        if unknown:
            problems.append(f"{where}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
        rows.append(Row(where, item))
    return rows, problems


def _parse_delimited(data: bytes, format: Format, known: set[str]) -> tuple[list[Row], list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], ["the file is not UTF-8 text"]
    dialect = csv.excel_tab if format == Format.TSV else csv.excel
    problems = []
    try:
        header, starts = _record_lines(text, dialect)
    except csv.Error as error:
        return [], [f"cannot read the file: {error}"]
    if header is None:
        return [], []
    if any(not name.strip() for name in header):
        problems.append("line 1: a column has no name")
    duplicates = sorted({name for name in header if name.strip() and header.count(name) > 1})
    if duplicates:
        problems.append(f"line 1: column{'s' if len(duplicates) > 1 else ''} {', '.join(duplicates)} "
                        "more than once")
    unknown = [name for name in dict.fromkeys(header) if name.strip() and name not in known]
    if unknown:
        problems.append(f"line 1: unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")

    rows = []
    try:
        # Read as CSV with the dialect: for Format.TSV sqlite-utils would not
        # pass extras_key on, and would raise at a row with extra values.
        records, _ = rows_from_file(io.BytesIO(data), format=Format.CSV, dialect=dialect, extras_key=_EXTRAS)
        for number, record in enumerate(records):
            where = f"line {starts[number] if number < len(starts) else number + 2}"
            record = dict(record)
            if record.pop(_EXTRAS, None):
                problems.append(f"{where}: more values than there are columns")
            for name in TEXT_COLUMNS:
                if isinstance(record.get(name), str):
                    record[name] = spreadsheet.read_text_cell(record[name])
            rows.append(Row(where, record))
    except (csv.Error, RowError) as error:
        problems.append(f"cannot read the file: {error}")
    return rows, problems


def _record_lines(text: str, dialect) -> tuple[list[str] | None, list[int]]:
    """The header, and the line each record starts on, skipping blank lines
    as csv.DictReader does (a quoted value may span several lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header = next(reader, None)
    starts = []
    last = reader.line_num
    for record in reader:
        if record:
            starts.append(last + 1)
        last = reader.line_num
    return header, starts


def check(rows: list[Row], kinds: list[CapacityKind], problems: list[str] | None = None) -> list[CheckedRow]:
    """Validate every row, and that slugs are unique in the file and regions
    and organisations exist. Raises FileInvalid naming every problem."""
    problems = list(problems or [])
    regions = set(db.session.scalars(select(Region.slug)))
    organisations = set(db.session.scalars(select(Organisation.slug)))
    first_seen: dict[str, str] = {}
    checked = []
    for row in rows:
        bad = False
        slug = str(row.data.get("slug") or "").strip()
        if slug in first_seen:
            problems.append(f"{row.where}: slug {slug} is also on {first_seen[slug]}")
            bad = True
        elif slug:
            first_seen[slug] = row.where
        try:
            clean = facilities.validate(_with_stored_address(row.data, slug), kinds)
        except InvalidInput as error:
            problems.append(f"{row.where}: {error.message}")
            continue
        if clean["region"] not in regions:
            problems.append(f"{row.where}: unknown region {clean['region']!r}")
            bad = True
        if clean["organisation"] and clean["organisation"] not in organisations:
            problems.append(f"{row.where}: unknown organisation {clean['organisation']!r}")
            bad = True
        if not bad:
            checked.append(CheckedRow(row.where, clean))
    if not rows and not problems:
        problems.append("the file has no facilities")
    if problems:
        raise FileInvalid(problems)
    return checked


def _with_stored_address(data: dict, slug: str) -> dict:
    """The row, with a blank postcode, street, or lat and lon of a facility
    stored as confidential taken from the stored facility: a file exported
    without the confidential addresses must not erase them (nor fail for the
    postcode it leaves blank)."""
    existing = db.session.scalar(select(Facility).where(Facility.slug == slug)) if slug else None
    if existing is None or not existing.confidential:
        return data
    kept = dict(data)
    for name in ("postcode", "street"):
        if _blank(data.get(name)):
            kept[name] = getattr(existing, name)
    if _blank(data.get("lat")) and _blank(data.get("lon")):
        kept["lat"], kept["lon"] = existing.lat, existing.lon
    return kept


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def apply(actor: Actor, rows: list[CheckedRow], now: datetime) -> ImportResult:
    """Create or update (by slug) the checked rows' facilities, with history
    written under the actor's source."""
    result = ImportResult()
    for row in rows:
        clean = dict(row.clean)
        existing = db.session.scalar(select(Facility).where(Facility.slug == clean["slug"]))
        try:
            facilities.save(actor, clean, now)
        except ServiceError as error:
            raise FileInvalid([f"{row.where}: {error.message}"]) from error
        (result.updated if existing is not None else result.created).append(clean["slug"])
    return result


def import_file(actor: Actor, data: bytes, now: datetime, *, format: str | Format | None = None,
                name: str | None = None) -> ImportResult:
    """Import a facility file: everything, or nothing (FileInvalid)."""
    if isinstance(format, str):
        if format.lower() not in FORMATS_BY_NAME:
            raise InvalidInput("format must be csv, tsv or json", field="format")
        format = FORMATS_BY_NAME[format.lower()]
    format = format or detect_format(data, name)
    kinds = all_kinds()
    rows, problems = parse(data, format, kinds)
    return apply(actor, check(rows, kinds, problems), now)


def export_csv(actor: Actor, now: datetime, out: TextIO, *, include_confidential: bool = False) -> int:
    """Write every facility to `out` as CSV, by slug; return how many.

    Confidential addresses (postcode, street, lat, lon) stay blank unless
    `include_confidential`: then each one revealed is audited (PRODUCT.md
    section 5, rules 1 and 5). Free-text cells are neutralised for
    spreadsheets."""
    kinds = all_kinds()
    query = (
        select(Facility)
        .options(
            selectinload(Facility.units).joinedload(CapacityUnit.kind),
            joinedload(Facility.region),
            joinedload(Facility.organisation),
        )
        .order_by(Facility.slug)
    )
    writer = csv.DictWriter(out, fieldnames=columns(kinds), lineterminator="\n")
    writer.writeheader()
    revealed = []
    count = 0
    for facility in db.session.scalars(query).unique():
        row = facilities.as_row(facility, kinds, include_address=include_confidential)
        writer.writerow({**row, **{name: spreadsheet.text_cell(row[name]) for name in TEXT_COLUMNS}})
        count += 1
        if include_confidential and facility.confidential:
            revealed.append(facility)
    if include_confidential:
        for facility in revealed:
            audit.record(actor, "facility.reveal_address", now, facility, via="export")
        audit.record(actor, "facility.export", now, include_confidential=True, facilities=count,
                     revealed=[facility.slug for facility in revealed])
    return count

