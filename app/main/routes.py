from flask import current_app, jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from app import clock
from app.extensions import db
from app.main import bp
from app.services.scheduling import lease


@bp.route("/")
def index():
    """Send each user to where their work is."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if current_user.has_role("shelter_staff") and current_user.facilities and not current_user.has_role(
        "operator", "manager", "admin"
    ):
        return redirect(url_for("shelter.index"))
    return redirect(url_for("dashboard.index"))


@bp.route("/healthz")
def healthz():
    """200 while the database answers; `degraded` (still 200, so that a load
    balancer keeps the web nodes) when the scheduler's heartbeat is stale or
    no scheduler ever ran."""
    try:
        db.session.execute(text("SELECT 1"))
        age = lease.heartbeat_age(clock.now())
    except Exception:  # noqa: BLE001 - any failure means the database does not answer (the 503 rolls back)
        return jsonify({"status": "down", "database": "down"}), 503
    fresh = age is not None and age <= current_app.config["SCHEDULER_STALE_SECONDS"]
    return jsonify({
        "status": "ok" if fresh else "degraded",
        "database": "ok",
        "scheduler": {"ok": fresh, "heartbeat_age_s": None if age is None else round(age)},
    })
