"""PRODUCT.md section 5, rule 1: a confidential address reaches only the
facility's own staff and admins. Every GET route of `app.url_map` (pages,
their htmx fragments, API answers, CSV exports), and the placement search, is
read by each role that may not see the refuge's address (tests/world.py):
neither its street, nor its coordinates, nor its postcode (API.md: null for
everyone but the facility's staff and admins) may be in any answer.
"""

import re

from tests import world as make_world
from tests.api import call
from tests.world import LAT, LON, POSTCODE, REFUGE_NAME, STREET

NOT_ENTITLED = ("anonymous", "partner", "other_staff", "operator", "other_manager", "manager")
ENTITLED = ("own_staff", "admin")
HTMX = {"HX-Request": "true"}
CRITERIA = {"client_type": "victim", "adults": "1", "gender": "female", "postcode": "2000"}
# The postcode as a word of its own: not inside a longer number or a token.
POSTCODE_SHOWN = re.compile(rf"(?<![\w.-]){POSTCODE}(?![\w.-])")


def secrets() -> list[str]:
    """The street, and the coordinates as a page, a JSON answer or a CSV could
    print them: 3 to 7 decimals, with a point or a comma."""
    found = [STREET, STREET.split()[0]]
    for number in (LAT, LON):
        for decimals in range(3, 8):
            printed = f"{number:.{decimals}f}"
            found += [printed, printed.replace(".", ",")]
    return found


def reads(app, world) -> list[tuple[str, str, dict]]:
    """(method, path, request arguments) of every GET route, plain and as
    htmx asks for a fragment; then the reads that need a query string to show
    the refuge, and the placement search (a POST that only reads)."""
    found = [
        ("GET", path, headers)
        for rule in app.url_map.iter_rules() if "GET" in rule.methods
        for path in make_world.paths(app, rule, world)
        for headers in ({}, HTMX)
    ]
    query = "&".join(f"{name}={value}" for name, value in CRITERIA.items())
    found += [
        ("GET", "/dashboard/?region=antwerpen", {}),
        ("GET", "/dashboard/?region=antwerpen", HTMX),
        ("GET", "/api/v1/facilities?region=antwerpen&kind=crisis_bed", {}),
        ("GET", f"/api/v1/holds?facility={world.refuge_id}", {}),
        ("GET", "/holds?show=all", {}),
        ("GET", f"/placement/?run=1&{query}", {}),
        ("POST", "/placement/search", {"data": CRITERIA, "headers": HTMX}),
        ("POST", "/api/v1/placements/search", {"json": {**CRITERIA, "adults": 1}}),
    ]
    return [(method, path, {"headers": extra} if method == "GET" else extra) for method, path, extra in found]


def everything_seen(app, world, role) -> dict[str, str]:
    """Each answer `role` gets, by request."""
    client = make_world.client_of(app, world, role)
    seen = {}
    for method, path, kwargs in reads(app, world):
        htmx = " (htmx)" if kwargs.get("headers") == HTMX else ""
        response = client.open(path, method=method, buffered=True, **kwargs)
        seen[f"{method} {path}{htmx}"] = response.get_data(as_text=True)
    return seen


def test_nobody_else_gets_the_confidential_address(app, clock):
    world = make_world.build(clock)
    leaks = []
    for role in NOT_ENTITLED:
        seen = everything_seen(app, world, role)
        if role != "anonymous":  # they do see the refuge...
            assert any(REFUGE_NAME in text for text in seen.values()), role
        leaks += [f"{role}: {request} shows {secret!r}"  # ...but never where it is
                  for request, text in seen.items() for secret in secrets() if secret in text]
        leaks += [f"{role}: {request} shows the postcode" for request, text in seen.items()
                  if POSTCODE_SHOWN.search(text)]
    assert not leaks, "\n".join(leaks)


def test_own_staff_and_admins_do_see_it(app, clock):
    world = make_world.build(clock)
    for role in ENTITLED:
        seen = "\n".join(everything_seen(app, world, role).values())
        assert STREET in seen and str(LAT) in seen and str(LON) in seen, role
        assert POSTCODE_SHOWN.search(seen), role


def test_partners_see_no_address_at_all(app, clock):
    world = make_world.build(clock)
    client = make_world.client_of(app, world, "partner")
    body = call(client, "GET", f"/api/v1/facilities/{world.point_id}").get_json()
    assert "address" not in body and "lat" not in body
    assert not any(world.open_street in text for text in everything_seen(app, world, "partner").values())


def test_operators_see_open_addresses(app, clock):
    world = make_world.build(clock)
    client = make_world.client_of(app, world, "operator")
    body = call(client, "GET", f"/api/v1/facilities/{world.point_id}").get_json()
    assert body["address"]["street"] == world.open_street
