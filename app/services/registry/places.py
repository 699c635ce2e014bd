"""Where people are: a postcode or a municipality name to a place with a region and coordinates.

Reads app/geo/postcodes.csv (built by app/geo/build_postcodes.py) once per process and keeps it,
read-only: static data, so every worker holding its own copy is fine. Coordinates are a
municipality's centre, the same for each of its postcodes.
"""

import csv
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.services.core.errors import InvalidInput

TABLE = Path(__file__).resolve().parents[2] / "geo" / "postcodes.csv"
EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
MAX_QUERY = 100
_POSTCODE = re.compile(r"^(\d{4})(?:\s+(.+))?$")


@dataclass(frozen=True)
class Place:
    postcode: str
    municipality: str  # Dutch name
    municipality_fr: str
    region: str  # Opvang region slug: antwerpen, brussel, … (Walloon provinces: henegouwen, luik, …)
    lat: float
    lon: float
    nis: str  # the municipality's NIS (REFNIS) code
    # The farthest the municipality's land may reach from its centre, km: an upper bound
    # (app/geo/build_postcodes.py), for danger places (PRODUCT.md section 5, rule 8).
    extent_km: float


@dataclass(frozen=True)
class _Table:
    by_postcode: dict[str, Place]  # the postcode's primary municipality
    by_postcode_all: dict[str, tuple[Place, ...]]  # every municipality of the postcode, primary first
    by_name: dict[str, Place]  # folded Dutch and French names; the municipality's first postcode
    by_nis: dict[str, Place]


def fold(text: str) -> str:
    """Case, accents and punctuation folded: "Liège", "liege", "LIEGE" are one name, and so are
    "Mont-de-l’Enclus" and "mont de l enclus"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return " ".join(re.findall(r"[a-z0-9]+", plain))


@cache
def _table() -> _Table:
    by_postcode_all: dict[str, list[Place]] = {}
    by_name: dict[str, Place] = {}
    by_nis: dict[str, Place] = {}
    with TABLE.open(encoding="utf-8", newline="") as handle:
        # Sorted by postcode, primary municipality first: a municipality's first row has its
        # lowest postcode.
        for row in csv.DictReader(handle):
            place = Place(
                postcode=row["postcode"],
                municipality=row["municipality"],
                municipality_fr=row["municipality_fr"],
                region=row["region"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                nis=row["nis"],
                extent_km=float(row["extent_km"]),
            )
            by_postcode_all.setdefault(place.postcode, []).append(place)
            by_nis.setdefault(place.nis, place)
            for name in (place.municipality, place.municipality_fr):
                by_name.setdefault(fold(name), place)
    return _Table(
        by_postcode={code: places[0] for code, places in by_postcode_all.items()},
        by_postcode_all={code: tuple(places) for code, places in by_postcode_all.items()},
        by_name=by_name,
        by_nis=by_nis,
    )


def lookup(text: str | int | None, field: str = "postcode") -> Place:
    """A postcode ("9000"), a municipality's Dutch or French name ("Gent", "gand", "Liège", "Luik"),
    or both ("9000 Gent"). A postcode of two municipalities (1040, 1050, 1804) gives the one it
    is mainly theirs (Etterbeek, Elsene, Vilvoorde); a name gives the municipality's lowest
    postcode. Raises InvalidInput naming `field` for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)  # a postcode sent as a JSON number
    if text is not None and not isinstance(text, str):
        raise InvalidInput(f"{field} must be a postcode or a municipality's name", field=field)
    query = (text or "").strip()
    if not query:
        raise InvalidInput(f"{field} is required: a postcode or a municipality", field=field)
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"{field} is too long (at most {MAX_QUERY} characters)", field=field)
    table = _table()
    match = _POSTCODE.match(query)
    if match:
        postcode, name = match.groups()
        places = table.by_postcode_all.get(postcode)
        if places is None:
            raise InvalidInput(f"unknown postcode {postcode}: no Belgian municipality has it", field=field)
        if name is None:
            return table.by_postcode[postcode]
        for place in places:
            if fold(name) in (fold(place.municipality), fold(place.municipality_fr)):
                return place
        raise InvalidInput(f"postcode {postcode} is not in {name}", field=field)
    place = table.by_name.get(fold(query))
    if place is None:
        raise InvalidInput(
            f"unknown postcode or municipality {query!r}: give a Belgian postcode (4 digits) "
            "or a municipality's name in Dutch or French",
            field=field,
        )
    return place


def centre_of(municipality: str | None, postcode: str | None = None) -> tuple[float, float]:
    """The (lat, lon) of a municipality's centre, by its Dutch or French name or NIS code: where
    distances to a confidential facility are measured from. A name the table does not know (a
    section, "Borgerhout") falls back to the municipality of `postcode` when one is given."""
    place = municipality_of(municipality, postcode)
    return place.lat, place.lon


def municipality_of(municipality: str | None, postcode: str | None = None) -> Place:
    """A municipality's place by its Dutch or French name or NIS code, falling back to the
    municipality of `postcode` (as centre_of)."""
    table = _table()
    key = (municipality or "").strip()
    place = table.by_nis.get(key) or table.by_name.get(fold(key))
    if place is None and postcode:
        place = table.by_postcode.get(postcode.strip())
    if place is None:
        raise InvalidInput(f"unknown municipality {municipality!r}", field="municipality")
    return place


def municipalities() -> tuple[Place, ...]:
    """Every municipality once (its lowest postcode's place)."""
    return tuple(_table().by_nis.values())


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in kilometres between two points in decimal degrees."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
