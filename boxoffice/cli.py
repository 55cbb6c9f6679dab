"""Command line: `flask --app wsgi db setup|upgrade`, `flask --app wsgi demo load`, `flask --app wsgi staff create`,
`flask --app wsgi mail send`."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from . import database

db_cli = AppGroup("db", help="Create and upgrade the box-office database.")
demo_cli = AppGroup("demo", help="Demo data.")
staff_cli = AppGroup("staff", help="Box-office staff accounts.")
mail_cli = AppGroup("mail", help="The outbox of customer mail.")
payments_cli = AppGroup("payments", help="Payment attempts and refunds.")
jobs_cli = AppGroup("jobs", help="The once-only jobs (reconciler, mail sender).")


@payments_cli.command("reconcile")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many rows of each kind.")
def payments_reconcile(limit: int) -> None:
    """Finish every payment attempt and refund left between states (see boxoffice/services/reconciler.py)."""
    from .services import reconciler

    click.echo(reconciler.reconcile(limit=limit).describe())


@jobs_cli.command("run")
def jobs_run() -> None:
    """One pass of the reconciler and the mail sender, unless another node is running one now."""
    from . import jobs

    done = jobs.run_pass()
    if done.reconciliation is None:
        click.echo("Another node is running the jobs; nothing done.")
        return
    click.echo(done.reconciliation.describe())
    click.echo(str(done.delivery))


@db_cli.command("setup")
def db_setup() -> None:
    """Create the database and its three users (as DATABASE_SUPERUSER_URL), then upgrade the schema."""
    settings = current_app.config["DATABASE"]
    try:
        database.set_up(settings)
    except database.DatabaseUnavailable as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Database {settings.name} is at schema revision {database.current_revision(settings)}.")


@db_cli.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Upgrade the schema in place (as the owner user) and re-apply views, triggers and procedures."""
    settings = current_app.config["DATABASE"]
    database.upgrade(settings, revision)
    click.echo(f"Database {settings.name} is at schema revision {database.current_revision(settings)}.")


@db_cli.command("drop")
@click.confirmation_option(prompt="This deletes every booking in the database. Go on?")
def db_drop() -> None:
    """Drop the database (the users stay)."""
    database.drop_database(current_app.config["DATABASE"])


@demo_cli.command("load")
@click.option("--scale", type=click.Choice(["tiny", "small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@click.option("--if-empty", is_flag=True, help="Do nothing if the database already has events.")
def demo_load(scale: str, seed: int, if_empty: bool) -> None:
    """Fill the database with generated venues, events, customers, bookings and payments."""
    from . import demo_data

    settings = current_app.config["DATABASE"]
    if if_empty and demo_data.has_events(settings):
        click.echo("The database already has events; demo data not loaded.")
        return
    summary = demo_data.load(settings, scale=scale, seed=seed, progress=True)
    click.echo(summary.describe())


@staff_cli.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.password_option()
def staff_create(email: str, full_name: str, password: str) -> None:
    """Create an admin (or reset the password of an existing one)."""
    from .services.accounts import create_staff

    create_staff(email, full_name, password)
    click.echo(f"Admin {email} is ready.")


@mail_cli.command("send")
@click.option("--limit", type=int, default=100, show_default=True, help="At most this many messages.")
def mail_send(limit: int) -> None:
    """Run one delivery pass of the outbox: compose waiting mail and send what is due over SMTP
    (BOXOFFICE_SMTP_HOST; without it mail is only composed and stays queued)."""
    from .services import mail

    done = mail.deliver_due(limit)
    click.echo(done.describe() + ("" if current_app.config["SMTP"] else " (No SMTP server configured: nothing was sent.)"))


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(staff_cli)
    app.cli.add_command(mail_cli)
    app.cli.add_command(payments_cli)
    app.cli.add_command(jobs_cli)
