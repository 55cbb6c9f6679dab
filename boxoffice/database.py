"""Setting up the database: the server check, the database and its three users, and schema upgrades.

The three users mirror the original design's roles:
  * owner   - full rights on the box-office schema; runs the migrations and owns the stored routines;
  * app     - what the web app connects as: DML on the tables and EXECUTE on the routines, nothing else;
  * reports - read-only: SELECT, and EXECUTE on GetEventRevenueByMonth (which runs with the caller's
              rights, so it cannot write either).
"""
from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine

from .config import DatabaseSettings
from .sqlfiles import execute_script_statement

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


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
    reports = f"{_quote_literal(settings.reports_url.username)}@'%'"
    statements += [
        f"GRANT ALL PRIVILEGES ON {database}.* TO {owner}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON {database}.* TO {app}",
        f"GRANT SELECT ON {database}.* TO {reports}",
    ]
    with server_engine(settings.superuser_url).begin() as connection:
        for statement in statements:
            execute_script_statement(connection, statement)


def grant_report_routines(settings: DatabaseSettings) -> None:
    """The reporting user may run the read-only reporting procedure, and nothing else."""
    if settings.superuser_url is None:
        return
    reports = f"{_quote_literal(settings.reports_url.username)}@'%'"
    with server_engine(settings.superuser_url).begin() as connection:
        execute_script_statement(
            connection,
            f"GRANT EXECUTE ON PROCEDURE {_quote_identifier(settings.name)}.GetEventRevenueByMonth TO {reports}")


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
        grant_report_routines(settings)


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
