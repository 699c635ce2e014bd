"""A region's report (PRODUCT.md flow F): thin routes over
app/services/statistics/report.py, which decides who reads what (managers
their own regions, admins all: everyone else 403).

The page shows each table with its chart as an <img>: the chart is its own
SVG answer (charts.svg), whose policy lets its inline style apply and nothing
else (app/web/security_headers.py, SVG_IMAGE_POLICY), so the page keeps its
strict one. Each table downloads as CSV for the same period. A bad period is
a 400: the page with the message beside the picker; the CSV and SVG answers
with the error alone."""

from flask import Response, render_template, request
from flask_login import current_user

from app import clock
from app.reports import bp, charts
from app.services.core import access
from app.services.core.errors import InvalidInput
from app.services.registry import regions
from app.services.statistics import days, report
from app.web.auth import roles_required

CHART = "any(" + ", ".join(f"'{name}'" for name in report.TABLES) + ")"


@bp.route("/")
@roles_required(*access.STATISTICS_READERS)
def index():
    """The regions whose reports the user reads."""
    allowed = access.statistics_region_ids(current_user)
    shown = [region for region in regions.all_regions() if allowed is None or region.id in allowed]
    return render_template("reports/index.html", regions=shown)


def _read(region_slug: str, chart: str) -> report.Report:
    now = clock.now()
    period = report.parse_period(request.args, days.local_day(now))
    return report.read(current_user, now, region_slug, period, tables=(chart,))


@bp.route("/<region_slug>")
@roles_required(*access.STATISTICS_READERS)
def region(region_slug: str):
    now = clock.now()
    # Who may read the region is decided first: a refusal is not a form error.
    shown_region = report.readable_region(current_user, region_slug)
    try:
        period = report.parse_period(request.args, days.local_day(now))
    except InvalidInput as error:
        return render_template("reports/region.html", region=shown_region, error=error, found=None, tables=[],
                               args=request.args, last_days=report.LAST_DAYS), 400
    found = report.read(current_user, now, region_slug, period)
    tables = [charts.labelled(name, found) for name in report.TABLES]
    return render_template("reports/region.html", region=shown_region, error=None, found=found, tables=tables,
                           args=period.args, last_days=report.LAST_DAYS)


@bp.route(f"/<region_slug>/<{CHART}:chart>.csv")
@roles_required(*access.STATISTICS_READERS)
def table_csv(region_slug: str, chart: str):
    found = _read(region_slug, chart)
    filename = f"{found.region.slug}-{chart}-{found.period.since.isoformat()}-{found.period.until.isoformat()}.csv"
    return Response(charts.csv_text(charts.labelled(chart, found), found), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"',
                             "Cache-Control": "private, no-store"})


@bp.route(f"/<region_slug>/<{CHART}:chart>.svg")
@roles_required(*access.STATISTICS_READERS)
def chart_svg(region_slug: str, chart: str):
    found = _read(region_slug, chart)
    return Response(charts.svg(charts.labelled(chart, found)), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, no-store"})
