"""Command-line interface: `flask --app wsgi …`."""

import io
import sys
from contextlib import nullcontext

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from app import clock
from app.extensions import db, writing
from app.services import demo, demo_history
from app.services.accounts import users as accounts
from app.services.core.access import Actor
from app.services.core.errors import ServiceError
from app.services.core.validation import calendar_date
from app.services.registry import facility_files
from app.services.scheduling import retention
from app.services.statistics import daily as daily_statistics
from app.services.statistics import export as statistics_export
from app.web import simulator, simulator_twiml
from app.web.simulator_transport import InProcess, OverHttp, SimulatorError

CLI_ACTOR = Actor(user=None, source="cli")
IMPORT_ACTOR = Actor(user=None, source="import")

users_cli = AppGroup("users", help="Manage users.")
tokens_cli = AppGroup("tokens", help="Manage API tokens.")
facilities_cli = AppGroup("facilities", help="Import and export facility files.")
hotline_cli = AppGroup("hotline", help="The hotline: simulate Twilio, erase kept numbers, sweep recordings.")
stats_cli = AppGroup("stats", help="The daily statistics.")


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


# Configured, these send texts and e-mails for real: no demo data then.
LIVE_DELIVERY_SETTINGS = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMTP_HOST")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Load nothing if the database already has regions.")
def seed_demo(if_empty):
    """Load the demo regions, organisations, facilities and users (again).
    Refused where Twilio or SMTP is configured, or users other than the demo's exist."""
    with writing():
        if if_empty and not demo.is_empty():
            db.session.rollback()
            click.echo("The database already has regions: demo data not loaded.")
            return
        try:
            demo.check_may_load(live_settings=[key for key in LIVE_DELIVERY_SETTINGS if current_app.config.get(key)])
            result = demo.load(clock.now(), history_days=demo_history.HISTORY_DAYS)
        except ServiceError as error:
            _fail(error)
        db.session.commit()
    click.echo(
        f"Loaded {result.regions} regions, {result.organisations} organisations "
        f"({result.justice_houses} houses of justice), {result.facilities.count} facilities "
        f"({len(demo.STALE)} of them stale) and {result.alert_rules} alert "
        f"rule{'' if result.alert_rules == 1 else 's'}."
    )
    if result.history:
        past = result.history
        click.echo(
            f"Made up {len(past.days)} days of history before today, with their daily statistics: "
            f"{past.changes} count changes, {past.holds} holds, {past.turn_aways} turn-aways, "
            f"{past.requests} requests, {past.referrals} referrals and {past.calls} calls."
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


# --- the hotline ---------------------------------------------------------------


@hotline_cli.group("simulate")
def simulate_cli():
    """Play Twilio: signed webhooks to the running app (or --in-process).

    A call or a text walks through the app as Twilio would drive it, without
    a Twilio account: each step, what was sent and the TwiML answered."""


def _transport_options(command):
    command = click.option("--in-process", is_flag=True,
                           help="No server: through the app's test client, on this app's database.")(command)
    return click.option("--url", metavar="URL",
                        help="Where the app runs (default: HOTLINE_PUBLIC_URL, http://127.0.0.1:5000 "
                             "in the embedded default).")(command)


def _transport(url, in_process):
    app = current_app._get_current_object()
    if in_process:
        return InProcess(app)
    config = app.config
    try:
        return OverHttp(url or config["HOTLINE_PUBLIC_URL"], config["HOTLINE_PUBLIC_URL"],
                                  config["HOTLINE_SIGNING_TOKEN"])
    except ServiceError as error:
        _fail(error)


def _hotline_number(to):
    return to or current_app.config.get("TWILIO_FROM_NUMBER")


def _run_simulation(transport, simulate):
    try:
        walk = simulate()
    except ServiceError as error:
        _fail(error)
    except SimulatorError as error:
        raise click.ClickException(str(error)) from None
    with force_locale("en"):
        click.echo(f"{walk.kind} {walk.sid} → {transport.target}")
        click.echo("\n".join(simulator_twiml.transcript(walk, transport)))
    if walk.held_open:
        where = " --in-process" if isinstance(transport, InProcess) else f" --url {transport.target}"
        click.echo(f"Hang up with: flask --app wsgi hotline simulate hangup {walk.sid}{where}")
    return walk


@simulate_cli.command("call")
@click.option("--from", "number", default="+32470123456", show_default=True,
              help="The caller's number, or 'anonymous' for a withheld one.")
@click.option("--to", help="The hotline's number (default: TWILIO_FROM_NUMBER, else +3220000000).")
@click.option("--digits", default="", help="Keys pressed in the language menu: 1 nl, 2 fr, 3 en (none: Dutch).")
@click.option("--no-answer", is_flag=True, help="No operator answers: the caller goes to the voicemail.")
@click.option("--consent", is_flag=True, help="In the voicemail, the caller presses 1 for a call-back.")
@click.option("--hold-open", is_flag=True,
              help="Stop once an operator took the call: it stays live in the console (end it with hangup).")
@_transport_options
def simulate_call(number, to, digits, no_answer, consent, hold_open, url, in_process):
    """A call to the hotline: menu, operators on duty (the first accepts) or voicemail, hang-up."""
    transport = _transport(url, in_process)
    _run_simulation(transport, lambda: simulator.simulate_call(
        transport, number=number, hotline=_hotline_number(to), digits=digits, answer=not no_answer,
        consent=consent, hold_open=hold_open))


@simulate_cli.command("hangup")
@click.argument("sid")
@click.option("--duration", type=click.IntRange(0, 14400), help="The call's length in seconds.")
@_transport_options
def simulate_hangup(sid, duration, url, in_process):
    """The caller of call SID (left open with --hold-open) hangs up."""
    transport = _transport(url, in_process)
    _run_simulation(transport, lambda: simulator.hangup(transport, sid, duration))


@simulate_cli.command("callback")
@click.argument("call_id", type=click.IntRange(1))
@click.option("--operator-ignores", is_flag=True, help="The operator does not press 1 (operator did not answer).")
@click.option("--answer", type=click.Choice(simulator.CALLBACK_ANSWERS), default="human", show_default=True,
              help="How the caller's phone answers: a person, unsure (unknown), an answering machine, "
                   "nobody (no-answer), busy.")
@_transport_options
def simulate_callback(call_id, operator_ignores, answer, url, in_process):
    """The call-back under way for contact CALL_ID (press Call back in the console first): the operator's
    phone and its whisper, the key 1, the caller's leg. Never prints the number."""
    transport = _transport(url, in_process)
    _run_simulation(transport, lambda: simulator.simulate_callback(
        transport, call_id, operator_presses=not operator_ignores, answer=answer))


@simulate_cli.command("sms")
@click.argument("body")
@click.option("--from", "number", required=True,
              help="The sender: a staff phone (commands such as VRIJ 3) or any other number (a help-seeker).")
@click.option("--to", help="The hotline's number (default: TWILIO_FROM_NUMBER, else +3220000000).")
@_transport_options
def simulate_sms(body, number, to, url, in_process):
    """A text to the hotline with BODY; prints the reply the app put in the outbox."""
    transport = _transport(url, in_process)
    _run_simulation(transport, lambda: simulator.simulate_sms(transport, number=number, body=body,
                                                              hotline=_hotline_number(to)))


@hotline_cli.command("erase-numbers")
def erase_numbers():
    """Erase the kept (sealed) caller numbers whose retention has passed."""
    with writing():
        erased = retention.erase_expired_numbers(clock.now())
        db.session.commit()
    click.echo(f"erased {erased} kept caller numbers")


@stats_cli.command("rebuild")
@click.option("--since", required=True, help="The first day to compute again, YYYY-MM-DD (up to today).")
def rebuild_statistics(since):
    """Compute the daily statistics again from a day on; days whose detail the
    retention purge has removed are skipped (their figures stay) and named."""
    with writing():
        try:
            results = daily_statistics.rebuild(calendar_date(since, "since"), clock.now())
        except ServiceError as error:
            _fail(error)
        db.session.commit()
    for name, result in results.items():
        click.echo(f"{name}: rebuilt {len(result.rebuilt)} days{_days(result.rebuilt)}")
        if result.skipped:
            click.echo(f"{name}: skipped {len(result.skipped)} days, their detail purged{_days(result.skipped)}")


@stats_cli.command("export")
@click.option("--since", required=True, help="The first day, YYYY-MM-DD.")
@click.option("--until", required=True, help="The last day, YYYY-MM-DD.")
@click.option("--out", required=True, help="FILE.db (SQLite, with metadata.json beside it for Datasette) or "
                                            "FILE.csv (one FILE-<table>.csv per table).")
@click.option("--per", default="month", show_default=True, help="week (ISO) or month.")
def export_statistics(since, until, out, per):
    """Write the de-identified statistics for readers outside Opvang
    (PRODUCT.md rule 11): whole weeks or months that are over, small areas
    merged, counts under 5 suppressed."""
    try:
        result = statistics_export.export(since=since, until=until, out=out, per=per, now=clock.now())
    except ServiceError as error:
        _fail(error)
    periods = result.periods
    click.echo(f"{per}s {periods[0].label} to {periods[-1].label} ({len(periods)})")
    for name, count in result.rows.items():
        click.echo(f"{name}: {count} rows")
    for note in result.notes:
        click.echo(note)
    for path in result.files:
        click.echo(f"wrote {path}")


def _days(days) -> str:
    return f" ({days[0]} to {days[-1]})" if len(days) > 1 else f" ({days[0]})" if days else ""


@hotline_cli.command("sweep-recordings")
def sweep_recordings():
    """Once: delete at Twilio the voicemail recordings past their retention
    that no call refers to (the purge used to forget them without deleting)."""
    with writing():
        try:
            counts = retention.sweep_orphaned_recordings(clock.now())
        except ServiceError as error:
            _fail(error)
    click.echo(f"{counts['listed']} recordings at Twilio older than {current_app.config['RETENTION_DAYS_RECORDINGS']} "
               f"days: {counts['deleted']} deleted, {counts['failed']} failed (run again), {counts['referenced']} "
               f"still referred to by a call (deleted by the scheduler's delete_recordings job), "
               f"{counts['not_ours']} of calls Opvang does not know (left alone)")
    if counts["failed"]:
        raise click.exceptions.Exit(1)


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
    app.cli.add_command(facilities_cli)
    app.cli.add_command(hotline_cli)
    app.cli.add_command(stats_cli)
    app.cli.add_command(seed_demo)
