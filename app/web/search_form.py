"""The placement search's criteria as a form sends them: the search page and
the call page's workspace (its preview and its Hold) read them alike."""

from app.services.placement.criteria import FIELDS

# The form's fields that are lists (checkboxes) rather than one value.
LIST_FIELDS = ("needs", "languages", "kinds")


def criteria_data(values) -> dict:
    """What the form sent, as parse_criteria takes it: empty fields (and the
    hidden empty item of a checkbox list) left out, so that defaults apply;
    fields that are no criteria (a call's notes, its outcome) are ignored."""
    data = {}
    for name in FIELDS:
        if name in LIST_FIELDS:
            items = [item for item in values.getlist(name) if item]
            if items:
                data[name] = items
        elif values.get(name, "").strip():
            data[name] = values.get(name).strip()
    return data
