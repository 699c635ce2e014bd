"""Command-line interface: `flask --app wsgi …`."""

import io
import sys
from contextlib import nullcontext

import click
from flask import Flask
from flask.cli import AppGroup

from app import clock
from app.extensions import db, writing
from app.services import accounts, demo, facility_files
from app.services.access import Actor
from app.services.errors import ServiceError

CLI_ACTOR = Actor(user=None, source="cli")
IMPORT_ACTOR = Actor(user=None, source="import")

users_cli = AppGroup("users", help="Manage users.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")
facilities_cli = AppGroup("facilities", help="Import and export facility files.")


def _fail(error: ServiceError):
    db.session.rollback()
    if isinstance(error, facility_files.FileInvalid):
        for problem in error.problems:
            click.echo(problem, err=True)
        raise click.ClickException(error.message)
    field = f" ({error.field})" if error.field else ""
    raise click.ClickException(f"{error.message}{field}")


@users_cli.command("create")
@click.argument("email")
@click.option("--name", help="Display name (default: the part of the e-mail before @).")
@click.option("--role", "roles", multiple=True, required=True,
              help="operator, shelter_staff, manager, partner or admin; repeat for several.")
@click.option("--region", "regions", multiple=True, help="Region slug; repeat for several.")
@click.option("--facility", "facilities", multiple=True, help="Facility slug; repeat for several.")
@click.option("--phone", help="Phone in E.164 form, for SMS commands and alerts.")
@click.option("--language", default="nl", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user(email, name, roles, regions, facilities, phone, language, password_stdin):
    """Create a user."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        user = accounts.save_user(
            CLI_ACTOR,
            clock.now(),
            email=email,
            name=name or email.split("@")[0],
            roles=list(roles),
            region_slugs=list(regions),
            facility_slugs=list(facilities),
            phone=phone,
            language=language,
            password=password,
        )
    except ServiceError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"created {user.email} ({', '.join(sorted(user.roles))})")


@tokens_cli.command("create")
@click.argument("email")
def create_token(email):
    """Make an API token for a user and print it (only the token)."""
    user = accounts.get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user {email}")
    try:
        token = accounts.create_token(CLI_ACTOR, user, clock.now())
    except ServiceError as error:
        _fail(error)
    db.session.commit()
    click.echo(token)


@facilities_cli.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--format", "format_", type=click.Choice(["csv", "tsv", "json"]),
              help="Default: by the file name's suffix, else by its content.")
def import_facilities(file, format_):
    """Create or update (by slug) the facilities in FILE (CSV, TSV or JSON).

    Every row is checked first; if any is bad, each bad line is reported and
    nothing is imported."""
    data = file.read()
    with writing():
        try:
            result = facility_files.import_file(IMPORT_ACTOR, data, clock.now(), format=format_, name=file.name)
        except ServiceError as error:
            _fail(error)
        db.session.commit()
    click.echo(f"imported {result.count} facilities: {len(result.created)} new, {len(result.updated)} updated")


@facilities_cli.command("export")
@click.option("--include-confidential", is_flag=True,
              help="Include the addresses of confidential facilities (a backup; audited).")
def export_facilities(include_confidential):
    """Write every facility to standard output as CSV, in the import format."""
    out = io.StringIO()
    # Only an export that reveals addresses writes (its audit events).
    with writing() if include_confidential else nullcontext():
        facility_files.export_csv(CLI_ACTOR, clock.now(), out, include_confidential=include_confidential)
        db.session.commit()
    click.echo(out.getvalue(), nl=False)


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Load nothing if the database already has regions.")
def seed_demo(if_empty):
    """Load the demo regions, organisations, facilities and users (again)."""
    with writing():
        if if_empty and not demo.is_empty():
            db.session.rollback()
            click.echo("The database already has regions: demo data not loaded.")
            return
        try:
            result = demo.load(clock.now())
        except ServiceError as error:
            _fail(error)
        db.session.commit()
    click.echo(
        f"Loaded {result.regions} regions, {result.organisations} organisations "
        f"({result.justice_houses} houses of justice) and {result.facilities.count} facilities "
        f"({len(demo.STALE)} of them stale)."
    )
    click.echo("")
    click.echo(_table(
        ("e-mail", "password", "roles", "scope"),
        [
            (user.email, demo.PASSWORD, ", ".join(sorted(user.roles)), _scope(user))
            for user in result.users
        ],
    ))


def _scope(user) -> str:
    regions = [r.slug for r in user.regions]
    if len(regions) == len(demo.REGIONS):
        regions = ["all regions"]
    return ", ".join(regions + [f.slug for f in user.facilities]) or "-"


def _table(header: tuple, rows: list[tuple]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    lines = [header, tuple("-" * width for width in widths), *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(facilities_cli)
    app.cli.add_command(seed_demo)
