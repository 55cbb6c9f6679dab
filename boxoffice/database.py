"""Setting up the database: the server check, the database and its three users, and schema upgrades.

The three users mirror the original design's roles:
  * owner   - full rights on the box-office schema; runs the migrations and owns the stored routines;
  * app     - what the web app connects as: DML on the tables and EXECUTE on the routines, nothing else;
  * reports - read-only: SELECT on every table and view but the secrets (REPORTS_HIDDEN_TABLES and
              _COLUMNS), and EXECUTE on GetEventRevenueByMonth (which runs with the caller's rights, so it
              cannot write either).
"""
from __future__ import annotations

import time
from pathlib import Path

import pymysql
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine

from .config import DatabaseSettings
from .sqlfiles import execute_script_statement

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# What the reporting user may not read: credentials, tokens that act for someone (a saved card, a shared
# dashboard, a browser's seat hold, a waiting-room visitor, a ticket at the door, a payment's idempotency key)
# and the text of mail (which carries password reset links). Tables with such a column are granted column
# by column without it; the sign-in counters (who tried to sign in from where) not at all. A column whose name
# looks secret must be listed here: tests/test_database_users.py looks for ones that are not.
REPORTS_HIDDEN_COLUMNS: dict[str, frozenset[str]] = {
    "customers": frozenset({"password_hash"}),
    "staff_users": frozenset({"password_hash"}),
    "saved_payment_methods": frozenset({"gateway_token"}),
    "gateway_cards": frozenset({"token"}),
    "report_shares": frozenset({"token_hash"}),
    "outbox_emails": frozenset({"body_text"}),
    "event_seats": frozenset({"hold_owner", "hold_customer_id", "hold_address"}),
    "tickets": frozenset({"ticket_code"}),
    "bookings": frozenset({"idempotency_key"}),
    "payment_attempts": frozenset({"idempotency_key", "hold_owner"}),
    "gateway_charges": frozenset({"idempotency_key"}),
    "gateway_refunds": frozenset({"idempotency_key"}),
    "waiting_list_entries": frozenset({"offer_token"}),
    # The visitor's id is what their signed admission to an on-sale waiting room is bound to.
    "waiting_room_visitors": frozenset({"visitor_id"}),
}
# Registrations waiting for their e-mail (a password hash, an address) are no one's business but the person's.
REPORTS_HIDDEN_TABLES = frozenset({"sign_in_throttles", "sign_in_budgets", "registrations"})
NO_SUCH_GRANT = (1141, 1147)


class DatabaseUnavailable(RuntimeError):
    """The database server cannot be reached; the message says what to do."""


def _quote_literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _quote_identifier(value: str) -> str:
    return "`" + value.replace("`", "``") + "`"


def server_engine(url: URL) -> Engine:
    """An engine on the server itself (no default database), for creating databases and users."""
    return sa.create_engine(url.set(database=None), poolclass=sa.pool.NullPool)


def wait_for_server(url: URL, seconds: float = 30.0) -> None:
    """Wait until the server answers, or raise DatabaseUnavailable saying how to start one."""
    deadline = time.monotonic() + seconds
    engine = server_engine(url)
    while True:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
            return
        except sa.exc.OperationalError as error:
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(
                    f"Cannot reach the MariaDB/MySQL server at {url.host}:{url.port} as {url.username!r}: "
                    f"{error.orig}.\nStart one (on Debian: apt-get install mariadb-server, then "
                    "`make db-server`), or set DATABASE_SUPERUSER_URL to an account that may create "
                    "databases and users."
                ) from error
            time.sleep(0.5)


def create_database_and_users(settings: DatabaseSettings) -> None:
    """Create the database and the three users with their rights. Safe to run again: passwords and
    rights are brought back to what the configuration says."""
    if settings.superuser_url is None:
        return
    database = _quote_identifier(settings.name)
    statements = [
        f"CREATE DATABASE IF NOT EXISTS {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
    ]
    for url in (settings.owner_url, settings.app_url, settings.reports_url):
        user = f"{_quote_literal(url.username)}@'%'"
        password = _quote_literal(url.password or "")
        statements += [
            f"CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {password}",
            f"ALTER USER {user} IDENTIFIED BY {password}",
        ]
    owner = f"{_quote_literal(settings.owner_url.username)}@'%'"
    app = f"{_quote_literal(settings.app_url.username)}@'%'"
    # The reporting user's rights are table by table, given once the schema is at head (grant_reports).
    statements += [
        f"GRANT ALL PRIVILEGES ON {database}.* TO {owner}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON {database}.* TO {app}",
    ]
    with server_engine(settings.superuser_url).begin() as connection:
        for statement in statements:
            execute_script_statement(connection, statement)


def grant_reports(settings: DatabaseSettings) -> None:
    """The reporting user's rights, brought to what they should be for the schema as it is: SELECT on every
    table and view but the hidden ones, column by column on tables with hidden columns, and EXECUTE on the
    read-only reporting procedure. Rights given before that are now too wide (the schema-wide SELECT of
    older set-ups, a table-wide SELECT on a table that has since gained a secret) are taken back, so
    running it again converges."""
    if settings.superuser_url is None:
        return
    database = _quote_identifier(settings.name)
    reports = f"{_quote_literal(settings.reports_url.username)}@'%'"
    grantee = f"'{settings.reports_url.username}'@'%'"
    with server_engine(settings.superuser_url).begin() as connection:
        def read(sql: str) -> list:
            return list(connection.execute(sa.text(sql), {"db": settings.name, "grantee": grantee}))

        columns: dict[str, list[str]] = {}
        for table, column in read("""SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS
                                      WHERE TABLE_SCHEMA = :db ORDER BY TABLE_NAME, ORDINAL_POSITION"""):
            columns.setdefault(table, []).append(column)
        table_grants = {table for (table,) in read("""
            SELECT TABLE_NAME FROM information_schema.TABLE_PRIVILEGES
             WHERE GRANTEE = :grantee AND TABLE_SCHEMA = :db AND PRIVILEGE_TYPE = 'SELECT'""")}
        column_grants = set(read("""
            SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMN_PRIVILEGES
             WHERE GRANTEE = :grantee AND TABLE_SCHEMA = :db AND PRIVILEGE_TYPE = 'SELECT'"""))

        statements = []
        for table, names in columns.items():
            on = f"{database}.{_quote_identifier(table)}"
            hidden = REPORTS_HIDDEN_COLUMNS.get(table, frozenset())
            whole = table not in REPORTS_HIDDEN_TABLES and not hidden
            if table in table_grants and not whole:
                statements.append(f"REVOKE SELECT ON {on} FROM {reports}")
            taken_back = [name for name in names if (table, name) in column_grants
                          and (table in REPORTS_HIDDEN_TABLES or name in hidden)]
            if taken_back:
                statements.append(f"REVOKE SELECT ({', '.join(map(_quote_identifier, taken_back))}) ON {on} FROM {reports}")
            if whole:
                statements.append(f"GRANT SELECT ON {on} TO {reports}")
            elif table not in REPORTS_HIDDEN_TABLES:
                shown = ", ".join(_quote_identifier(name) for name in names if name not in hidden)
                statements.append(f"GRANT SELECT ({shown}) ON {on} TO {reports}")
        statements.append(f"GRANT EXECUTE ON PROCEDURE {database}.GetEventRevenueByMonth TO {reports}")
        try:
            # The schema-wide SELECT that set-ups before schema 0006 gave (taken back once, then not there).
            execute_script_statement(connection, f"REVOKE SELECT ON {database}.* FROM {reports}")
        except pymysql.err.MySQLError as error:
            if error.args[0] not in NO_SUCH_GRANT:
                raise
        for statement in statements:
            execute_script_statement(connection, statement)


def alembic_config(owner_url: URL) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["owner_url"] = owner_url
    return config


def upgrade(settings: DatabaseSettings, revision: str = "head") -> None:
    """Bring the schema to `revision` (Alembic), then re-apply the views, triggers and procedures."""
    command.upgrade(alembic_config(settings.owner_url), revision)
    # The procedures exist once the schema is at head (see migrations/env.py).
    if current_revision(settings) == head_revision():
        grant_reports(settings)


def current_revision(settings: DatabaseSettings) -> str | None:
    engine = sa.create_engine(settings.owner_url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config(URL.create("mysql+pymysql")))
    return script.get_current_head()


def drop_database(settings: DatabaseSettings) -> None:
    """Drop the database (the users stay). Used by the test set-up to start from nothing."""
    if settings.superuser_url is None:
        raise DatabaseUnavailable("Dropping the database needs DATABASE_SUPERUSER_URL.")
    with server_engine(settings.superuser_url).begin() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote_identifier(settings.name)}")


def set_up(settings: DatabaseSettings) -> None:
    """Everything a fresh server needs: wait for it, database and users, schema at head."""
    wait_for_server(settings.superuser_url or settings.owner_url)
    create_database_and_users(settings)
    upgrade(settings)
