"""The three database users (boxoffice/database.py) have the rights their roles need and no more: reports
reads, app reads and writes rows and books, owner changes the schema. Each test connects as the user itself."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from boxoffice import database

from tests.builders import (
    book, committed, hold_seats, make_customer, make_discount, make_event, make_past_booking, make_venue, now, rows,
)

TABLE_ACCESS_DENIED = 1142
ROUTINE_ACCESS_DENIED = 1370


def engine_for(url: sa.URL) -> sa.Engine:
    return sa.create_engine(url, poolclass=sa.pool.NullPool,
                            connect_args={"init_command": "SET time_zone = '+00:00'"})


@pytest.fixture
def as_reports(test_database) -> Iterator[sa.Connection]:
    with engine_for(test_database.reports_url).connect() as connection:
        yield connection


@pytest.fixture
def as_app(test_database) -> Iterator[sa.Connection]:
    """The app user, in a transaction that is rolled back at the end."""
    with engine_for(test_database.app_url).connect() as connection:
        yield connection
        connection.rollback()


def errno_of(statement: str, connection: sa.Connection) -> int:
    with pytest.raises(sa.exc.DBAPIError) as refusal:
        connection.exec_driver_sql(statement)
    return refusal.value.orig.args[0]


# ---------------------------------------------------------------- reports: read-only

@pytest.mark.parametrize("statement", [
    "INSERT INTO venues (name, city, address) VALUES ('Pirate Hall', 'Anywhere', 'Nowhere')",
    "UPDATE events SET status = 'cancelled'",
    "DELETE FROM bookings",
    "CREATE TABLE reports_probe (id INT)",
], ids=["insert", "update", "delete", "create_table"])
def test_the_reports_user_cannot_change_anything(as_reports, statement):
    assert errno_of(statement, as_reports) == TABLE_ACCESS_DENIED


@pytest.mark.parametrize("statement", [
    "CALL InsertBooking(1, 1, 'x', NULL, 'card', 'visa', '4242', 'ref', 10.00, NULL, NULL, FALSE)",
    "CALL PriceHold(1, 'x', NULL, NULL, @a, @b, @c, @d, @e, @f)",
], ids=["InsertBooking", "PriceHold"])
def test_the_reports_user_cannot_call_any_procedure_but_the_report(as_reports, statement):
    assert errno_of(statement, as_reports) == ROUTINE_ACCESS_DENIED


def test_the_reports_user_reads_the_views_and_the_monthly_revenue(owner_engine, test_database):
    with committed(owner_engine) as owner:
        event = make_event(owner, make_venue(owner))
        booking = make_past_booking(owner, event, make_customer(owner), event.seat_ids("A1", "A2"),
                                    now() - dt.timedelta(days=2))

        with engine_for(test_database.reports_url).connect() as reports:
            top = rows(reports, "SELECT net_revenue, tickets_sold FROM TopRevenueEvents WHERE event_id = :e",
                       e=event.event_id)
            methods = rows(reports, "SELECT method_code FROM PaymentSummary WHERE amount_captured > 0")
            monthly = rows(reports, "CALL GetEventRevenueByMonth(:e, NULL, '2000-01-01', UTC_DATE())",
                           e=event.event_id)

    assert top == [(booking.total, 2)]
    assert ("card",) in methods
    assert [(bookings, tickets, gross) for _, bookings, tickets, gross, _, _ in monthly] == [(1, 2, booking.total)]


# ---------------------------------------------------------------- reports: no secrets

COLUMN_ACCESS_DENIED = 1143
HIDDEN_COLUMNS = sorted((table, column) for table, columns in database.REPORTS_HIDDEN_COLUMNS.items()
                        for column in columns)
# Names that say "secret": a new column like these must be in database.REPORTS_HIDDEN_COLUMNS.
SECRET_LOOKING = "password|token|secret|hash|salt|idempotency|hold_owner|ticket_code"


@pytest.mark.parametrize("table, column", HIDDEN_COLUMNS, ids=[f"{t}.{c}" for t, c in HIDDEN_COLUMNS])
def test_the_reports_user_cannot_read_a_secret_column(as_reports, table, column):
    assert errno_of(f"SELECT {column} FROM {table} LIMIT 1", as_reports) == COLUMN_ACCESS_DENIED
    assert errno_of(f"SELECT * FROM {table} LIMIT 1", as_reports) in (TABLE_ACCESS_DENIED, COLUMN_ACCESS_DENIED)


@pytest.mark.parametrize("table", sorted(database.REPORTS_HIDDEN_TABLES))
def test_the_reports_user_cannot_read_who_tried_to_sign_in(as_reports, table):
    assert errno_of(f"SELECT COUNT(*) FROM {table}", as_reports) == TABLE_ACCESS_DENIED


def test_the_reports_user_reads_the_other_columns_of_a_table_with_a_secret(as_reports):
    as_reports.exec_driver_sql("SELECT customer_id, customer_type, email, full_name, city, created_at FROM customers")
    as_reports.exec_driver_sql("SELECT booking_id, booking_code, total, status FROM bookings")


def test_every_column_that_looks_secret_is_hidden_from_the_reports_user(owner_engine):
    with owner_engine.connect() as connection:
        looks_secret = rows(connection, """
            SELECT c.TABLE_NAME, c.COLUMN_NAME FROM information_schema.COLUMNS c
              JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
             WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' AND c.COLUMN_NAME REGEXP :names""",
                           names=SECRET_LOOKING)

    unlisted = [(table, column) for table, column in looks_secret if table not in database.REPORTS_HIDDEN_TABLES
                and column not in database.REPORTS_HIDDEN_COLUMNS.get(table, ())]
    assert unlisted == [], "add them to database.REPORTS_HIDDEN_COLUMNS"


def test_setting_up_again_takes_back_the_schema_wide_select_of_older_set_ups(test_database, as_reports):
    reports_user = f"'{test_database.reports_url.username}'@'%'"
    with database.server_engine(test_database.superuser_url).begin() as server:
        server.exec_driver_sql(f"GRANT SELECT ON `{test_database.name}`.* TO {reports_user}".replace("%", "%%"))

    database.set_up(test_database)
    database.set_up(test_database)

    with engine_for(test_database.reports_url).connect() as fresh:
        assert errno_of("SELECT password_hash FROM customers", fresh) == COLUMN_ACCESS_DENIED
        assert errno_of("SELECT COUNT(*) FROM sign_in_budgets", fresh) == TABLE_ACCESS_DENIED
        assert rows(fresh, "SELECT COUNT(*) >= 0 FROM events") == [(1,)]


@pytest.mark.parametrize("path", ["/admin/reports/", "/admin/reports/questions", "/admin/reports/download.html",
                                  "/admin/reports/export.csv?table=top-events",
                                  "/admin/reports/export.csv?table=question-02-top-vip-spenders"])
def test_the_reports_pages_still_render_through_the_reports_user(admin_client, demo_summary, path):
    response = admin_client.get(path)

    assert response.status_code == 200, response.get_data(as_text=True)[:2000]


# ---------------------------------------------------------------- app: rows and routines, no schema

def test_the_app_user_reads_writes_deletes_and_books(as_app):
    event = make_event(as_app, make_venue(as_app))
    customer = make_customer(as_app)
    promo = make_discount(as_app)
    owner = hold_seats(as_app, event, event.seat_ids("A1", "A2"))

    result = book(as_app, event, customer, owner=owner)
    deleted = as_app.execute(sa.text("DELETE FROM discounts WHERE discount_id = :d"),
                             {"d": promo.discount_id}).rowcount

    assert rows(as_app, "SELECT state FROM event_seats WHERE event_id = :e AND seat_id IN :s",
                e=event.event_id, s=event.seat_ids("A1", "A2")) == [("sold",), ("sold",)]
    assert rows(as_app, "SELECT COUNT(*) FROM tickets WHERE booking_id = :b", b=result["booking_id"]) == [(2,)]
    assert deleted == 1


@pytest.mark.parametrize("statement, errno", [
    ("CREATE TABLE app_probe (id INT)", TABLE_ACCESS_DENIED),
    ("DROP TABLE sign_in_budgets", TABLE_ACCESS_DENIED),
    ("ALTER TABLE venues ADD COLUMN app_probe INT", TABLE_ACCESS_DENIED),
    ("DROP PROCEDURE InsertBooking", ROUTINE_ACCESS_DENIED),
], ids=["create_table", "drop_table", "alter_table", "drop_procedure"])
def test_the_app_user_cannot_change_the_schema(as_app, statement, errno):
    assert errno_of(statement, as_app) == errno


# ---------------------------------------------------------------- owner: the schema

def test_the_owner_can_create_and_drop_a_table(owner_engine):
    def tables() -> list[tuple]:
        return rows(connection, "SELECT table_name FROM information_schema.tables "
                                "WHERE table_schema = DATABASE() AND table_name = 'owner_probe'")

    with owner_engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE owner_probe (id INT PRIMARY KEY)")
        try:
            assert tables() == [("owner_probe",)]
        finally:
            connection.exec_driver_sql("DROP TABLE IF EXISTS owner_probe")
        assert tables() == []
