"""Opvang: crisis-bed capacity and hotline operations."""

import os
import secrets
import tempfile
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import DEVELOPMENT_SWITCH, ENVIRONMENT_KEYS, Defaults, Development

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    """Build the app: defaults, then `instance/config.py`, then the environment,
    then `config` (tests pass one)."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(Defaults)
    if _switched_on(os.environ.get(DEVELOPMENT_SWITCH)):
        app.config.from_object(Development)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(_from_environment())
    if config:
        app.config.update(config)
    _derive_settings(app)
    _check_settings(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    from app import cli, errors
    from app.clock import SystemClock
    from app.extensions import babel, csrf, db, htmx, login_manager, migrate
    from app.web import auth, request_checks, reveals, security_headers, unit_of_work

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=auth.select_locale, timezone_selector=auth.select_timezone)
    app.extensions["clock"] = app.config.get("CLOCK") or SystemClock()

    auth.init_app(app)
    errors.init_app(app)
    security_headers.init_app(app)
    request_checks.init_app(app)
    cli.init_app(app)
    _register_blueprints(app)
    _register_template_helpers(app)
    reveals.init_app(app)
    # Last: its hook then runs first after a view (see init_app).
    unit_of_work.init_app(app)
    return app


def _from_environment() -> dict:
    values = {}
    for key, kind in ENVIRONMENT_KEYS.items():
        raw = os.environ.get(key)
        if raw is None or raw == "":
            continue
        if kind is bool:
            values[key] = _switched_on(raw)
        else:
            values[key] = kind(raw)
    return values


def _switched_on(raw: str | None) -> bool:
    return (raw or "").lower() in ("1", "true", "yes", "on")


def _derive_settings(app: Flask) -> None:
    # Owner only: the folder holds the keys and, by default, the database.
    os.makedirs(app.instance_path, mode=0o700, exist_ok=True)
    url = app.config.get("DATABASE_URL")
    if not url:
        database = Path(app.instance_path) / "opvang.db"
        # Made here, owner-only, before SQLite would make it with the umask's mode.
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))
        url = f"sqlite:///{database}"
    # psycopg 3 is the PostgreSQL driver; accept the plain URL form too.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path), "secret_key")
    if not app.config.get("CALLER_HASH_KEY"):
        app.config["CALLER_HASH_KEY"] = _instance_secret(Path(app.instance_path), "caller_hash_key")
    # Webhooks are signed with Twilio's auth token; without Twilio (the
    # embedded default) the simulator signs with a token of this installation.
    app.config["HOTLINE_SIGNING_TOKEN"] = (
        app.config.get("TWILIO_AUTH_TOKEN")
        or app.config.get("HOTLINE_SIGNING_TOKEN")
        or _instance_secret(Path(app.instance_path), "hotline_signing_token")
    )


def _check_settings(app: Flask) -> None:
    """Settings that would otherwise fail later, at a worse moment: a
    ValueError saying which and why stops the app from starting."""
    from app.services.hotline.conversations import checked_auto_replies

    app.config["SMS_AUTO_REPLY"] = checked_auto_replies(app.config["SMS_AUTO_REPLY"], app.config["HOTLINE_HOURS"])


def _instance_secret(folder: Path, name: str) -> str:
    """A random secret kept in the instance folder, for the embedded default.
    Production sets SECRET_KEY and CALLER_HASH_KEY in the environment.

    The secret is written whole to an owner-only temporary file, then linked
    to its name, which fails if the name exists: of processes starting at once,
    the first link wins and every process reads that one secret."""
    path = folder / name
    if not path.exists():
        descriptor, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_hex(32))
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: theirs is the secret
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def _register_blueprints(app: Flask) -> None:
    from app.admin import bp as admin_bp
    from app.alerts import bp as alerts_bp
    from app.api import bp as api_bp
    from app.auth import bp as auth_bp
    from app.console import bp as console_bp
    from app.dashboard import bp as dashboard_bp
    from app.holds import bp as holds_bp
    from app.hotline import bp as hotline_bp
    from app.main import bp as main_bp
    from app.outbox import bp as outbox_bp
    from app.placement import bp as placement_bp
    from app.reports import bp as reports_bp
    from app.shelter import bp as shelter_bp
    from app.simulator import bp as simulator_bp
    from app.web.numbers import RecordIdConverter

    # Every <int:…> in a route is a record id, in ASCII digits and the database's range.
    app.url_map.converters["int"] = RecordIdConverter
    for blueprint in (main_bp, auth_bp, dashboard_bp, shelter_bp, api_bp, admin_bp, holds_bp, hotline_bp,
                      placement_bp, simulator_bp, outbox_bp, console_bp, alerts_bp, reports_bp):
        app.register_blueprint(blueprint)


def _register_template_helpers(app: Flask) -> None:
    from app import presenters
    from app.web import hold_presenters

    app.jinja_env.globals.update(presenters.template_globals())
    app.jinja_env.globals.update(hold_presenters.template_globals())
    app.jinja_env.filters.update(presenters.template_filters())
