"""The schema: the models mirror the live tables; the migrations upgrade a database in place without losing
rows; the sql/ files apply with the real mariadb client too; the runner splits those files as the client does.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.dialects import mysql

from boxoffice import database, models  # noqa: F401  (models fill db.metadata)
from boxoffice.config import DatabaseSettings
from boxoffice.extensions import db
from boxoffice.sqlfiles import SQL_DIR, split_statements
from tests.builders import book, make_customer, make_event, make_past_booking, make_venue, now, rows


def drop_scratch(settings: DatabaseSettings) -> None:
    """Drop a scratch database and its three users."""
    database.drop_database(settings)
    with database.server_engine(settings.superuser_url).begin() as server:
        for url in (settings.owner_url, settings.app_url, settings.reports_url):
            server.execute(sa.text("DROP USER IF EXISTS :user@'%'"), {"user": url.username})


@pytest.fixture
def scratch(test_database) -> Iterator[DatabaseSettings]:
    """Settings for an empty scratch database of our own, with its users; all dropped afterwards."""
    settings = DatabaseSettings.from_env({**os.environ, "BOXOFFICE_DB": f"{test_database.name}_upgrade"})
    drop_scratch(settings)
    database.create_database_and_users(settings)
    try:
        yield settings
    finally:
        drop_scratch(settings)


# ---------------------------------------------------------------- the models and the live schema

def test_the_models_and_the_migrated_schema_have_no_differences(owner_engine):
    with owner_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)

    assert differences == []


def spelled(column_type: sa.types.TypeEngine) -> str:
    """A column type as MySQL DDL spells it, less what does not change the column (display widths,
    collations). Alembic's comparison overlooks enum values, UNSIGNED and character sets; this does not."""
    text = str(column_type.compile(dialect=mysql.dialect()))
    text = re.sub(r"\b(INTEGER|TINYINT|SMALLINT|BIGINT)\(\d+\)", r"\1", text)
    text = re.sub(r" COLLATE \w+", "", text)
    return text.replace("NUMERIC", "DECIMAL").replace("BOOL", "TINYINT")


def default_text(default) -> str | None:
    if default is None:
        return None
    text = default if isinstance(default, str) else str(default.compile(dialect=mysql.dialect()))
    text = {"false": "0", "true": "1", "now()": "current_timestamp()"}.get(text, text).strip("'")
    return re.sub(r"^(\d+)\.0+$", r"\1", text)


def test_every_column_has_the_same_type_nullability_and_default_in_the_model_and_the_table(owner_engine):
    live = sa.inspect(owner_engine)
    model, table_columns = {}, {}
    for name, table in db.metadata.tables.items():
        for column in table.columns:
            default = column.server_default.arg if isinstance(column.server_default, sa.DefaultClause) else None
            model[name, column.name] = (spelled(column.type), column.nullable, default_text(default),
                                        column.primary_key)
        primary_key = set(live.get_pk_constraint(name)["constrained_columns"])
        for column in live.get_columns(name):
            table_columns[name, column["name"]] = (spelled(column["type"]), column["nullable"],
                                                   default_text(column.get("default")),
                                                   column["name"] in primary_key)

    assert model == table_columns


def test_the_generated_column_is_a_stored_column_in_the_model_and_the_table(owner_engine):
    live = {c["name"]: c for c in sa.inspect(owner_engine).get_columns("tickets")}["holds_seat"]["computed"]
    computed = models.Ticket.__table__.c.holds_seat.computed

    def squeezed(sql) -> str:
        """Without spaces, backticks, case or the parentheses the server wraps the expression in."""
        return re.sub(r"^\((.*)\)$", r"\1", re.sub(r"[\s`]", "", str(sql)).lower())

    assert (squeezed(computed.sqltext), computed.persisted) == (squeezed(live["sqltext"]), live["persisted"])


# ---------------------------------------------------------------- upgrading in place

def test_upgrading_from_the_first_revision_keeps_every_row_and_the_checkout_still_works(scratch):
    database.upgrade(scratch, "0001")
    assert database.current_revision(scratch) == "0001"
    owner_engine = sa.create_engine(scratch.owner_url, poolclass=sa.pool.NullPool,
                                    connect_args={"init_command": "SET time_zone = '+00:00'"})
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as owner:
        event = make_event(owner, make_venue(owner))
        customer = make_customer(owner)
        old = make_past_booking(owner, event, customer, event.seat_ids("A1", "A2"), now() - dt.timedelta(days=1))

    database.upgrade(scratch)

    assert database.current_revision(scratch) == database.head_revision()
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as owner:
        assert rows(owner, "SELECT title FROM events WHERE event_id = :e", e=event.event_id) == [(event.title,)]
        assert rows(owner, "SELECT email FROM customers") == [(customer.email,)]
        assert rows(owner, "SELECT total FROM bookings") == [(old.total,)]
        assert rows(owner, "SELECT COUNT(*) FROM tickets WHERE booking_id = :b", b=old.booking_id) == [(2,)]
        assert rows(owner, "SELECT state, COUNT(*) FROM event_seats GROUP BY state ORDER BY state") == [
            ("available", 10), ("sold", 2)]
        assert book(owner, event, customer, seats=event.seat_ids("B1"))["tickets"] == 1
    owner_engine.dispose()


# ---------------------------------------------------------------- the mariadb command-line client

def schema_catalogue(server: sa.Connection, schema: str) -> dict[str, set]:
    """What a schema holds, from information_schema: tables and their columns, views, triggers, routines."""
    def names(sql: str) -> set:
        return set(rows(server, sql, schema=schema))

    return {
        "tables": names("""SELECT table_name FROM information_schema.tables WHERE table_schema = :schema
                           AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'"""),
        "columns": names("""SELECT table_name, column_name, column_type, is_nullable, column_default, extra
                              FROM information_schema.columns WHERE table_schema = :schema
                               AND table_name <> 'alembic_version'"""),
        "views": names("SELECT table_name FROM information_schema.views WHERE table_schema = :schema"),
        "triggers": names("""SELECT trigger_name, event_object_table, action_timing, event_manipulation
                               FROM information_schema.triggers WHERE trigger_schema = :schema"""),
        "routines": names("""SELECT routine_name, routine_type, security_type FROM information_schema.routines
                              WHERE routine_schema = :schema"""),
    }


@pytest.fixture
def client_database(test_database) -> Iterator[str]:
    name = f"{test_database.name}_client"
    with database.server_engine(test_database.superuser_url).begin() as server:
        server.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        server.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        yield name
    finally:
        with database.server_engine(test_database.superuser_url).begin() as server:
            server.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


def test_the_sql_files_apply_with_the_mariadb_client_to_the_same_schema_as_the_migrations(
        test_database, client_database):
    superuser = test_database.superuser_url
    command = ["mariadb", "-h", superuser.host, "-P", str(superuser.port or 3306), "-u", superuser.username]
    if superuser.password:
        command.append(f"--password={superuser.password}")
    files = sorted((SQL_DIR / "migrations").glob("*.sql")) + sorted((SQL_DIR / "objects").glob("*.sql"))

    for path in files:
        with path.open("rb") as script:
            applied = subprocess.run([*command, client_database], stdin=script, capture_output=True, text=True)
        assert applied.returncode == 0, f"{path.name}: {applied.stderr}"

    with database.server_engine(superuser).connect() as server:
        by_client = schema_catalogue(server, client_database)
        by_migrations = schema_catalogue(server, test_database.name)
    assert by_client == by_migrations
    assert {"TopRevenueEvents", "PaymentSummary"} <= {name for (name,) in by_client["views"]}
    named = {"check_booking_date", "update_seat_availability"}
    assert named <= {trigger[0] for trigger in by_client["triggers"]}
    assert {"InsertBooking", "GetEventRevenueByMonth", "PriceHold"} <= {routine[0] for routine in by_client["routines"]}


# ---------------------------------------------------------------- the statement splitter

@pytest.mark.parametrize("script, statements", [
    ("SELECT 1; SELECT 2;\n", ["SELECT 1", "SELECT 2"]),
    ("SELECT 1;\nSELECT 2", ["SELECT 1", "SELECT 2"]),
    (";;\n;", []),
], ids=["two_statements", "last_without_delimiter", "only_delimiters"])
def test_split_statements_splits_at_each_delimiter(script, statements):
    assert split_statements(script) == statements


def test_split_statements_keeps_a_routine_body_whole_inside_a_delimiter_block():
    script = ("DROP PROCEDURE IF EXISTS p;\n"
              "DELIMITER $$\n"
              "CREATE PROCEDURE p()\nBEGIN\n    SELECT 1;\n    SELECT 2;\nEND$$\n"
              "delimiter ;\n"
              "SELECT 3;\n")

    assert split_statements(script) == [
        "DROP PROCEDURE IF EXISTS p",
        "CREATE PROCEDURE p()\nBEGIN\n    SELECT 1;\n    SELECT 2;\nEND",
        "SELECT 3",
    ]


@pytest.mark.parametrize("script, statements", [
    ("INSERT INTO t VALUES ('a;b', \"c;d\");", ["INSERT INTO t VALUES ('a;b', \"c;d\")"]),
    ("DELIMITER $$\nSELECT 'cost: $$5'$$\nDELIMITER ;\n", ["SELECT 'cost: $$5'"]),
    ("SELECT 'it''s; fine', 'back\\'slash;';", ["SELECT 'it''s; fine', 'back\\'slash;'"]),
    ("SELECT `odd;name` FROM t;", ["SELECT `odd;name` FROM t"]),
    ("SELECT '-- not a comment', '/* nor this */', '# nor this';",
     ["SELECT '-- not a comment', '/* nor this */', '# nor this'"]),
    ("SELECT 'one\nDELIMITER $$\ntwo';", ["SELECT 'one\nDELIMITER $$\ntwo'"]),
], ids=["semicolons_in_quotes", "delimiter_in_quotes", "escaped_quotes", "backticks", "comment_marks_in_quotes",
        "delimiter_line_in_quotes"])
def test_split_statements_ignores_delimiters_inside_quotes(script, statements):
    assert split_statements(script) == statements


@pytest.mark.parametrize("script, statements", [
    ("-- a comment; with a semicolon\nSELECT 1;", ["SELECT 1"]),
    ("SELECT 1; /* a block; comment */ SELECT 2;", ["SELECT 1", "SELECT 2"]),
    ("/* it's\n   two lines; */\nSELECT 1;", ["SELECT 1"]),
    ("# a hash comment; too\nSELECT 1;", ["SELECT 1"]),
    ("SELECT 5--1;", ["SELECT 5--1"]),
    ("-- only a comment\n", []),
], ids=["line_comment", "block_comment", "quote_in_block_comment", "hash_comment", "double_minus_without_space",
        "nothing_but_a_comment"])
def test_split_statements_drops_comments(script, statements):
    assert split_statements(script) == statements


@pytest.mark.parametrize("path", sorted(SQL_DIR.glob("*/*.sql")), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_every_statement_of_the_sql_files_is_whole(path: Path):
    for statement in split_statements(path.read_text(encoding="utf-8")):
        assert re.match(r"(CREATE|DROP|ALTER|INSERT|UPDATE|DELETE|SELECT|WITH|SET|CALL)\b", statement), statement[:80]
        assert statement.count("(") == statement.count(")"), statement[:80]
