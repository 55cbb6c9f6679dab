"""The three database users (boxoffice/database.py) have the rights their roles need and no more: reports
reads, app reads and writes rows and books, owner changes the schema. Each test connects as the user itself."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

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
