"""The placement search's form, as the search page and the operator console both send it.

`criteria_data(values)` turns the form (a MultiDict) into what
app.services.placement.criteria.parse_criteria takes; the danger places come as
repeated `danger_place` / `danger_radius` pairs (app/templates/placement/_danger_places.html)
and are read by `danger_places_from_form`. The form is always posted: neither the household
nor a danger place ever travels in a URL.
"""

from app.services.placement.criteria import FIELDS

# The form's fields that are lists (checkboxes) rather than one value.
LIST_FIELDS = ("needs", "languages", "kinds")


def danger_places_from_form(values) -> list[dict]:
    """The danger places of the form's `danger_place` / `danger_radius`
    pairs, in order, as parse_criteria takes them: a pair whose place is
    blank is left out; a blank radius takes the default."""
    names = values.getlist("danger_place")
    radii = values.getlist("danger_radius")
    found = []
    for position, name in enumerate(names):
        name = name.strip()
        if not name:
            continue
        radius = radii[position].strip() if position < len(radii) else ""
        found.append({"postcode": name, **({"radius_km": radius} if radius else {})})
    return found


def criteria_data(values) -> dict:
    """What the form sent, as parse_criteria takes it: empty fields left out,
    so that defaults apply."""
    data = {}
    for name in FIELDS:
        if name in LIST_FIELDS:
            items = [item for item in values.getlist(name) if item]
            if items:
                data[name] = items
        elif name == "danger_places":
            danger = danger_places_from_form(values)
            if danger:
                data[name] = danger
        elif values.get(name, "").strip():
            data[name] = values.get(name).strip()
    return data
