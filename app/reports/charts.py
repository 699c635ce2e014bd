"""A report's tables for people: their captions, headers and row labels in
the user's language, as an HTML table, a CSV file and a pygal chart.

The three are made from one `Labelled` table, so the CSV holds exactly the
figures the page shows. Colour is never the only signal: a line chart's
series each have their own dash pattern, a bar chart's bars carry their
series' name and value, and every value is in the table beside the chart.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date
from xml.etree import ElementTree

import pygal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pygal.style import Style

from app import labels
from app.presenters import kind_label
from app.services.statistics import report

TITLES = {
    "occupancy": _l("Free and total places per day"),
    "hours-at-zero": _l("Hours without a free place"),
    "turn-aways": _l("Turn-aways by reason"),
    "households": _l("Households turned away"),
    "requests": _l("Requests on the waiting list"),
    "holds": _l("Holds by outcome"),
    "referrals": _l("Referrals accepted"),
    "hotline": _l("The hotline's calls"),
}
MEASURES = {
    "day": _l("Day"),
    "kind": _l("Kind of place"),
    "category": _l("Household"),
    "number": _l("Hotline number"),
    "mean_free": _l("free places (mean)"),
    "mean_total": _l("total places (mean)"),
    "hours_at_zero": _l("Hours at zero free"),
    "days_at_zero": _l("Days with hours at zero"),
    "days": _l("Days computed"),
    "total": _l("All turn-aways"),
    "households": _l("Households"),
    "requests_opened": _l("Opened"),
    "closed_placed": _l("Closed: placed"),
    "closed_withdrawn": _l("Closed: withdrawn"),
    "closed_expired": _l("Closed: expired"),
    "request_wait_median_h": _l("Median wait of those closed (hours)"),
    "referrals_accepted": _l("Accepted"),
    "referral_accept_median_h": _l("Median hours to acceptance"),
    "offered": _l("Calls offered"),
    "answered": _l("Answered"),
    "missed": _l("Missed"),
    "menu_hangups": _l("Hung up in the menu"),
    "voicemails": _l("Voicemails"),
    "callbacks": _l("Called back"),
    "median_answer_s": _l("Median seconds to answer"),
    **labels.TURN_AWAY_REASON_LABELS,
    **labels.HOLD_OUTCOME_LABELS,
}
CATEGORY_GROUPS = {
    "households": _l("Households"),
    "child_ages": _l("Children aged"),
    "needs": _l("Needs"),
    "client_types": _l("Client type"),
    "languages": _l("Language"),
}
HOUSEHOLD_ITEMS = {"all": _l("all"), "with_children": _l("with children"), **labels.NEED_LABELS,
                   **labels.CLIENT_TYPE_LABELS, **labels.LANGUAGE_NAMES}
# The figures drawn, when not every column after the first: those of one unit.
DRAWN = {
    "hours-at-zero": ("hours_at_zero",),
    "turn-aways": report.TURN_AWAY_REASONS,
    "requests": ("requests_opened", "closed_placed", "closed_withdrawn", "closed_expired"),
    "referrals": ("referrals_accepted",),
    "hotline": report.HOTLINE_FIGURES,
}
# Okabe and Ito's palette, told apart by people with any colour vision.
STYLE = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#222222", foreground_strong="#000000",
    foreground_subtle="#666666", font_family="system-ui, sans-serif",
    colors=("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"),
)
# A line series' own dash pattern (SVG stroke-dasharray), by its position.
DASHES = ("none", "10,5", "2,4", "14,4,3,4", "6,3,1,3,1,3", "1,6", "18,6", "4,2")
# Longer line charts draw no dots, and name every n-th day on their axis.
DOTS_UP_TO_DAYS = 62
AXIS_LABELS = 12
INTERNAL_USE = _l("internal use — not for publication")


@dataclass
class Labelled:
    """A table as the user reads it: its caption, headers, row labels and cells."""

    name: str
    caption: str
    headers: list[str]
    rows: list[list[str]]
    table: report.Table


def _column(key: str, kinds: dict) -> str:
    measure, _sep, kind_code = key.partition(":")
    if kind_code:
        return f"{kind_label(kinds[kind_code])}: {MEASURES[measure]}"
    return str(MEASURES[key])


def _row_label(value, kinds: dict) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if value in kinds:
        return kind_label(kinds[value])
    group, sep, item = str(value).partition(":")
    if sep:
        return f"{CATEGORY_GROUPS[group]}: {HOUSEHOLD_ITEMS.get(item, item)}"
    return str(value) or _("(no number)")


def cell(value) -> str:
    """A figure as the table and the CSV write it: nothing for no figure."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else str(value)
    return str(value)


def labelled(name: str, found: report.Report) -> Labelled:
    table = report.TABLES[name](found)
    kinds = {kind.code: kind for kind in found.kinds}
    return Labelled(
        name=name,
        caption=str(TITLES[name]),
        headers=[_column(key, kinds) for key in table.columns],
        rows=[[_row_label(row[0], kinds), *(cell(value) for value in row[1:])] for row in table.rows],
        table=table,
    )


def csv_text(shown: Labelled, found: report.Report) -> str:
    """The table as CSV: a first line that says it is for internal use (and
    what it covers), then the header row and the rows as the page has them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"# {INTERNAL_USE} · {found.region.name} · {shown.caption} · "
                     f"{found.period.since.isoformat()} – {found.period.until.isoformat()}"])
    writer.writerow(shown.headers)
    writer.writerows(shown.rows)
    return out.getvalue()


def svg(shown: Labelled) -> bytes:
    """The table drawn by pygal: the occupancy as lines over the days, the
    others as bars per row. Without pygal's script (it renders none with
    `js=[]` but its configuration): the chart is an image, nothing runs in it."""
    table, rows = shown.table, shown.table.rows
    drawn = DRAWN.get(shown.name) or table.columns[1:]
    indexes = [table.columns.index(key) for key in drawn]
    options = dict(js=[], style=STYLE, title=shown.caption, width=900, height=420, legend_at_bottom=True,
                   truncate_legend=-1, truncate_label=-1, explicit_size=False)
    if shown.name == "occupancy":
        every = max(1, len(rows) // AXIS_LABELS)
        chart = pygal.Line(**options, show_dots=len(rows) <= DOTS_UP_TO_DAYS, x_label_rotation=30,
                           x_labels_major_every=every, show_minor_x_labels=False)
        chart.x_labels = [row[0] for row in shown.rows]
        for position, index in enumerate(indexes):
            chart.add(shown.headers[index], [row[index] for row in rows],
                      stroke_style={"width": 2, "dasharray": DASHES[position % len(DASHES)]})
    else:
        horizontal = shown.name == "households"
        chart = (pygal.HorizontalBar if horizontal else pygal.Bar)(
            **options, print_values=True, print_labels=len(indexes) > 1, show_legend=len(indexes) > 1)
        chart.x_labels = [row[0] for row in shown.rows]
        for index in indexes:
            series = shown.headers[index]
            chart.add(series, [{"value": row[index], "label": series} for row in rows])
    tree = chart.render_tree()
    for defs in tree.iter("defs"):
        for script in defs.findall("script"):
            defs.remove(script)
    return ElementTree.tostring(tree, encoding="utf-8", xml_declaration=True)
