from flask import jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import text

from app.extensions import db
from app.main import bp


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
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means the database does not answer
        db.session.rollback()
        return jsonify({"status": "down", "database": "down"}), 503
    return jsonify({"status": "ok", "database": "ok"})
