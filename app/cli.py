"""Command-line interface: `flask --app wsgi …`."""

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from app import clock
from app.extensions import db
from app.services import accounts
from app.services.access import Actor
from app.services.errors import ServiceError

CLI_ACTOR = Actor(user=None, source="cli")

users_cli = AppGroup("users", help="Manage users.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")


def _fail(error: ServiceError):
    db.session.rollback()
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


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
