"""The daily statistics in API v1 (API.md "Statistics"): managers for their
own regions (the hotline's: every manager), admins for all."""

from flask import jsonify, request
from flask_login import current_user

from app import clock
from app.api import bp
from app.api.serializers import hotline_daily_json, region_daily_json
from app.services.core import access
from app.services.statistics import hotline_daily, region_daily
from app.web.auth import roles_required


@bp.route("/stats/daily")
@roles_required(*access.STATISTICS_READERS)
def daily_statistics():
    rows = region_daily.read(current_user, clock.now(), **{
        name: request.args.get(name) or None for name in ("region", "kind", "since", "until")})
    return jsonify([region_daily_json(row) for row in rows])


@bp.route("/stats/hotline-daily")
@roles_required(*access.HOTLINE_FIGURE_READERS)
def hotline_daily_statistics():
    rows = hotline_daily.read(current_user, clock.now(), since=request.args.get("since") or None,
                              until=request.args.get("until") or None)
    return jsonify([hotline_daily_json(row) for row in rows])
