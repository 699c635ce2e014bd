from flask import current_app, render_template, request
from flask_login import current_user

from app import clock
from app.dashboard import bp
from app.extensions import db, htmx
from app.models import Facility
from app.services.core.access import visible_region_ids
from app.services.registry import capacity
from app.services.registry.presenters import present
from app.web.auth import login_required
from app.web.numbers import positive_int


@bp.route("/")
@login_required
def index():
    """The region at a glance: totals per region and kind, then the chosen
    region's facilities. Polls itself for the fragment."""
    now = clock.now()
    region_ids = visible_region_ids(current_user)
    totals = capacity.region_totals(now, region_ids)
    slug = request.args.get("region")
    selected = next((t.region for t in totals if t.region.slug == slug), None)
    if selected is None and totals:
        own = {f.region_id for f in current_user.facilities} | {r.id for r in current_user.regions}
        selected = next((t.region for t in totals if t.region.id in own), totals[0].region)
    pagination = None
    facilities = []
    if selected:
        query = capacity.facilities_query({selected.id}).order_by(Facility.name, Facility.id)
        pagination = db.paginate(query, page=request.args.get("page", 1, type=positive_int),
                                 per_page=current_app.config["DASHBOARD_PAGE_SIZE"], error_out=False)
        facilities = [present(facility, current_user) for facility in pagination.items]
    shown_units = [unit for facility in facilities for unit in facility.units]
    context = dict(
        now=now,
        totals=totals,
        selected=selected,
        pagination=pagination,
        facilities=facilities,
        figures=capacity.UnitFigures(shown_units, now),
        kinds=_kinds_present(totals),
        refresh_seconds=current_app.config["DASHBOARD_REFRESH_SECONDS"],
    )
    if htmx:
        return render_template("dashboard/_fragment.html", **context)
    return render_template("dashboard/index.html", **context)


def _kinds_present(totals) -> list:
    """The kinds some visible region has places of: the dashboard's columns."""
    codes = {code for t in totals for code, counts in t.by_kind.items() if counts.total}
    return [kind for kind in capacity.all_kinds() if kind.code in codes]
