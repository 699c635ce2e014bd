"""The daily statistics in API v1 (API.md "Statistics"): managers for their
own regions, admins for all."""

from flask import jsonify, request
from flask_login import current_user

from app import clock
from app.api import bp
from app.api.serializers import region_daily_json
from app.services.core import access
from app.services.statistics import region_daily
from app.web.auth import roles_required


@bp.route("/stats/daily")
@roles_required(*access.STATISTICS_READERS)
def daily_statistics():
    rows = region_daily.read(current_user, clock.now(), **{
        name: request.args.get(name) or None for name in ("region", "kind", "since", "until")})
    return jsonify([region_daily_json(row) for row in rows])
