"""The sales summaries (sql/migrations/0004_reporting.sql, kept by sql/objects/40_sales_summary.sql) and their
rollups (0020) always equal the raw bookings, tickets and payments added up in Python: after the demo generator's bulk INSERTs,
after bookings through InsertBooking and written straight into the tables, refunds, declined and failed
charges, check-ins, a customer becoming a VIP, and after all of it is deleted again; and when an existing
database is upgraded to them.

The summaries are compared whole, for every row of the database, with all-zero rows left out (a summary row
whose sales were all deleted stays, at zero).
"""
from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from boxoffice import database, errors
from boxoffice.config import DatabaseSettings
from tests.builders import (
    PREMIUM, STANDARD, book, committed, make_customer, make_discount, make_event, make_past_booking, make_venue, now,
    refund_tickets, rows,
)

DAY = dt.timedelta(days=1)
SUMMARIES = {
    "sales_by_period": ("grain", "period", "event_id", "customer_type"),
    "category_sales_by_period": ("grain", "period", "event_id", "category_id"),
    "payments_by_period": ("grain", "period", "method_id", "customer_type", "venue_id"),
    "customer_sales": ("customer_id",),
    "booking_hours": ("venue_id", "weekday", "hour"),
    "promo_sales": ("discount_id",),
    # The rollups of migration 0020, kept by triggers on the summaries above.
    "venue_sales_by_period": ("grain", "period", "venue_id", "customer_type"),
    "venue_category_sales_by_period": ("grain", "period", "venue_id", "category_id"),
    "buyer_counts": ("customer_type", "shard"),
}
# What each rollup adds up, from which summary, by which key.
ROLLUPS = {
    "venue_sales_by_period": ("sales_by_period", ("bookings", "booked_total", "refunded", "refunded_bookings",
                                                  "refunded_bookings_total")),
    "venue_category_sales_by_period": ("category_sales_by_period", ("tickets", "tickets_refunded", "revenue")),
}
# Columns that say where a row belongs rather than what it counts.
NOT_COUNTED = {"venue_id", "customer_type"}


def mappings(c: Connection, sql: str) -> list[dict]:
    return [dict(row) for row in c.execute(sa.text(sql)).mappings()]


def summaries(c: Connection) -> dict[str, dict[tuple, dict]]:
    """What the summary tables hold, without their all-zero rows."""
    found = {}
    for table, key in SUMMARIES.items():
        found[table] = {}
        for row in mappings(c, f"SELECT * FROM {table}"):
            figures = {name: value for name, value in row.items() if name not in key}
            if any(value for name, value in figures.items() if name not in NOT_COUNTED):
                found[table][tuple(row[name] for name in key)] = figures
    return found


class Totals:
    """Running totals per table and key, as the raw rows add them up."""

    def __init__(self):
        self.tables: dict[str, dict[tuple, dict]] = {table: {} for table in SUMMARIES}

    def add(self, table: str, key: tuple, labels: dict | None = None, **figures) -> None:
        row = self.tables[table].setdefault(key, {**(labels or {}), **{name: 0 for name in figures}})
        for name, value in figures.items():
            row[name] += value

    def at_both_grains(self, table: str, when: dt.datetime, key: tuple, labels: dict, **figures) -> None:
        self.add(table, ("day", when.date(), *key), labels, **figures)
        self.add(table, ("month", when.date().replace(day=1), *key), labels, **figures)

    def without_zero_rows(self) -> dict[str, dict[tuple, dict]]:
        return {table: {key: row for key, row in found.items()
                        if any(value for name, value in row.items() if name not in NOT_COUNTED)}
                for table, found in self.tables.items()}


def expected_summaries(c: Connection) -> dict[str, dict[tuple, dict]]:
    """The summaries worked out from the raw rows."""
    venue_of = dict(rows(c, "SELECT event_id, venue_id FROM events"))
    type_of = dict(rows(c, "SELECT customer_id, segment FROM customers"))
    bookings = {b["booking_id"]: b for b in mappings(c, """
        SELECT booking_id, event_id, customer_id, total, discount_id, promo_discount, booked_at, status FROM bookings""")}
    totals = Totals()

    def booking_sales(b: dict, **figures) -> None:
        customer_type = type_of[b["customer_id"]]
        totals.at_both_grains("sales_by_period", b["booked_at"], (b["event_id"], customer_type),
                              {"venue_id": venue_of[b["event_id"]]}, **{
                                  "bookings": 0, "booked_total": Decimal("0.00"), "charged": Decimal("0.00"),
                                  "refunded": Decimal("0.00"), "booked_seconds": 0, "refunded_bookings": 0,
                                  "refunded_bookings_total": Decimal("0.00"), **figures})

    def booking_money(b: dict, bookings_made: int, booked_total: Decimal, refunded: Decimal) -> None:
        totals.add("customer_sales", (b["customer_id"],), {"customer_type": type_of[b["customer_id"]]},
                   bookings=bookings_made, booked_total=booked_total, refunded=refunded,
                   net_spend=booked_total - refunded)
        row = totals.tables["customer_sales"][b["customer_id"],]
        row["standing"] = min(row["bookings"], 2)
        totals.add("booking_hours", (venue_of[b["event_id"]], b["booked_at"].weekday(), b["booked_at"].hour),
                   bookings=bookings_made, booked_total=booked_total, refunded=refunded)
        if b["discount_id"] is not None:
            totals.add("promo_sales", (b["discount_id"],), bookings=bookings_made, booked_total=booked_total,
                       promo_discount=b["promo_discount"] if bookings_made else Decimal("0.00"), refunded=refunded)

    for b in bookings.values():
        seconds = int((b["booked_at"] - dt.datetime(2000, 1, 1)).total_seconds())
        fully_refunded = b["status"] == "refunded"
        booking_sales(b, bookings=1, booked_total=b["total"], booked_seconds=seconds,
                      refunded_bookings=int(fully_refunded),
                      refunded_bookings_total=b["total"] if fully_refunded else Decimal("0.00"))
        booking_money(b, 1, b["total"], Decimal("0.00"))
    for t in mappings(c, "SELECT booking_id, category_id, status, paid_amount FROM tickets"):
        b = bookings[t["booking_id"]]
        sold = t["status"] != "refunded"
        totals.at_both_grains("category_sales_by_period", b["booked_at"], (b["event_id"], t["category_id"]),
                              {"venue_id": venue_of[b["event_id"]]}, tickets=int(sold),
                              tickets_refunded=int(not sold),
                              revenue=t["paid_amount"] if sold else Decimal("0.00"))
    for p in mappings(c, "SELECT booking_id, customer_id, method_id, kind, status, amount, created_at FROM payments"):
        b = bookings.get(p["booking_id"])
        captured = p["kind"] == "charge" and p["status"] == "captured"
        refund = p["kind"] == "refund"
        zero = Decimal("0.00")
        totals.at_both_grains(
            "payments_by_period", p["created_at"],
            (p["method_id"], type_of[p["customer_id"]], venue_of[b["event_id"]] if b else 0), None,
            charges=int(p["kind"] == "charge"), captured=int(captured), captured_amount=p["amount"] if captured else zero,
            declines=int(p["status"] == "declined"), failures=int(p["status"] == "failed"), refunds=int(refund),
            refunded_amount=p["amount"] if refund else zero)
        if b is not None:
            booking_sales(b, charged=p["amount"] if captured else zero, refunded=p["amount"] if refund else zero)
            if refund:
                booking_money(b, 0, zero, p["amount"])
    expected = totals.without_zero_rows()
    for rollup, (summary, figures) in ROLLUPS.items():
        # Keyed (grain, period, event, customer type or category): the same, per venue instead of per event.
        for (grain, period, _event, kind), row in expected[summary].items():
            totals.add(rollup, (grain, period, row["venue_id"], kind), **{name: row[name] for name in figures})
    for (customer_id,), row in expected["customer_sales"].items():
        if row["bookings"] > 0:
            totals.add("buyer_counts", (row["customer_type"], customer_id % 16), buyers=1,
                       repeat_buyers=int(row["bookings"] > 1))
    return totals.without_zero_rows()


def assert_summaries_equal_the_raw_rows(c: Connection) -> None:
    found, expected = summaries(c), expected_summaries(c)
    for table in SUMMARIES:
        assert found[table] == expected[table], table


def decline(c: Connection, customer, method: str, amount: str, at: dt.datetime, status: str = "declined") -> None:
    c.execute(sa.text("""INSERT INTO payments (kind, status, customer_id, method_id, amount, failure_reason, created_at)
                         SELECT 'charge', :status, :customer_id, method_id, :amount, 'Refused by a test', :at
                           FROM payment_methods WHERE code = :method"""),
              {"status": status, "customer_id": customer.customer_id, "amount": Decimal(amount), "at": at,
               "method": method})


def make_vip(c: Connection, customer) -> None:
    """A regular customer becomes a VIP, as boxoffice.services.accounts.make_vip does it."""
    c.execute(sa.text("DELETE FROM regular_customers WHERE customer_id = :c"), {"c": customer.customer_id})
    c.execute(sa.text("UPDATE customers SET customer_type = 'vip' WHERE customer_id = :c"), {"c": customer.customer_id})
    c.execute(sa.text("""INSERT INTO vip_customers (customer_id, customer_type, tier, discount_rate, member_since)
                         VALUES (:c, 'vip', 'silver', 0.0500, UTC_DATE())"""), {"c": customer.customer_id})


def sell_and_refund(c: Connection) -> tuple[int, int]:
    """Sales over three months at two venues: past bookings by four methods, bookings through InsertBooking
    (a VIP rate, a promo code, the rounding remainder on the last ticket), partial and full refunds, declined
    and failed charges, a check-in, a regular customer who becomes a VIP afterwards, and guests: one fully
    refunded, one who makes an account afterwards. Returns the ids of the customer who became a VIP and of the
    guest who made an account."""
    hall = make_venue(c, rows=3, seats_per_row=6, categories={"A": PREMIUM})
    club = make_venue(c, rows=2, seats_per_row=5)
    opened = now() - 100 * DAY
    gala = make_event(c, hall, prices={PREMIUM: Decimal("95.00"), STANDARD: Decimal("42.50")}, starts_in=10 * DAY,
                      sales_start=opened)
    gig = make_event(c, club, prices={STANDARD: Decimal("27.75")}, starts_in=5 * DAY, sales_start=opened)
    ann, bob = make_customer(c), make_customer(c)
    vip = make_customer(c, vip=True, rate=Decimal("0.1250"))
    guest, joins_later = make_customer(c, guest=True), make_customer(c, guest=True)

    a = make_past_booking(c, gala, ann, gala.seat_ids("A1", "A2", "B1"), now() - 80 * DAY)
    b = make_past_booking(c, gala, bob, gala.seat_ids("B5"), now() - 45 * DAY, method="paypal")
    make_past_booking(c, gig, ann, gig.seat_ids("A1", "A2"), now() - 45 * DAY + dt.timedelta(hours=3),
                      method="gift_card")
    d = make_past_booking(c, gig, bob, gig.seat_ids("B1", "B2"), now() - 20 * DAY, method="wallet")
    promo = make_discount(c, kind="percent", value=Decimal("15"))
    live = book(c, gala, vip, seats=gala.seat_ids("C1", "C2", "C3"), promo=promo.code, method="wallet")
    book(c, gig, bob, seats=gig.seat_ids("B4"))
    g = make_past_booking(c, gig, guest, gig.seat_ids("A4"), now() - 30 * DAY)
    make_past_booking(c, gig, guest, gig.seat_ids("A5"), now() - 29 * DAY, method="paypal")
    book(c, gala, joins_later, seats=gala.seat_ids("C5"))

    refund_tickets(c, a.booking_id, a.ticket_ids[2:], at=now() - 70 * DAY)
    refund_tickets(c, b.booking_id, b.ticket_ids, at=now() - 2 * DAY)
    refund_tickets(c, d.booking_id, d.ticket_ids[:1])
    live_tickets = [t for (t,) in rows(c, "SELECT ticket_id FROM tickets WHERE booking_id = :b ORDER BY ticket_id",
                                       b=live["booking_id"])]
    refund_tickets(c, live["booking_id"], live_tickets[:1])
    c.execute(sa.text("UPDATE tickets SET status = 'checked_in', checked_in_at = :at WHERE ticket_id = :t"),
              {"at": now(), "t": a.ticket_ids[0]})
    decline(c, ann, "card", "85.00", now() - 80 * DAY)
    decline(c, vip, "gift_card", "190.00", now() - 10 * DAY)
    decline(c, bob, "card", "27.75", now() - 3 * DAY, status="failed")
    make_vip(c, bob)
    refund_tickets(c, g.booking_id, g.ticket_ids, at=now() - 28 * DAY)
    c.execute(sa.text("UPDATE customers SET is_guest = FALSE, password_hash = 'made an account' WHERE customer_id = :c"),
              {"c": joins_later.customer_id})
    return bob.customer_id, joins_later.customer_id


def test_the_summaries_equal_the_raw_rows_after_bookings_refunds_declines_and_deletes(owner_engine, demo_summary):
    with owner_engine.connect() as c:
        assert_summaries_equal_the_raw_rows(c)   # the demo generator's bulk INSERTs
        before = summaries(c)

    with committed(owner_engine) as c:
        made_vip, joined = sell_and_refund(c)
        assert_summaries_equal_the_raw_rows(c)
        after_sales = summaries(c)
        assert rows(c, "SELECT customer_type FROM customer_sales WHERE customer_id IN (:v, :j) ORDER BY customer_id",
                    v=made_vip, j=joined) == [("vip",), ("regular",)], "counted under their segment now"
        assert rows(c, "SELECT DISTINCT customer_type FROM sales_by_period ORDER BY customer_type") == [
            ("regular",), ("vip",), ("guest",)], "guests are a segment of their own"

    with owner_engine.connect() as c:
        assert_summaries_equal_the_raw_rows(c)   # after every row made was deleted again
        assert summaries(c) == before
    assert after_sales != before


@pytest.mark.parametrize("column", ["event_id", "customer_id", "booked_at"])
def test_a_booking_cannot_move_to_another_event_customer_or_time(db_session, column):
    c = db_session.connection()
    event = make_event(c, make_venue(c))
    booking = make_past_booking(c, event, make_customer(c), event.seat_ids("A1"), now() - DAY)
    new_value = {"event_id": lambda: make_event(c, event.venue).event_id,
                 "customer_id": lambda: make_customer(c).customer_id,
                 "booked_at": lambda: now() - 2 * DAY}[column]()

    with pytest.raises(sa.exc.OperationalError) as refusal:
        c.execute(sa.text(f"UPDATE bookings SET {column} = :value WHERE booking_id = :b"),
                  {"value": new_value, "b": booking.booking_id})

    assert refusal.value.orig.args[0] == 30020
    assert isinstance(errors.from_database_error(refusal.value), errors.BookingUnchangeable)


# ---------------------------------------------------------------- upgrading an existing database

@pytest.fixture
def old_database(test_database) -> Iterator[DatabaseSettings]:
    """A scratch database of our own at revision 0003, before the summaries; dropped afterwards."""
    settings = DatabaseSettings.from_env({**os.environ, "BOXOFFICE_DB": f"{test_database.name}_summaries"})
    database.drop_database(settings)
    database.create_database_and_users(settings)
    database.upgrade(settings, "0003")
    try:
        yield settings
    finally:
        database.drop_database(settings)


def test_upgrading_a_database_with_sales_fills_the_summaries_from_its_rows(old_database):
    engine = sa.create_engine(old_database.owner_url, poolclass=sa.pool.NullPool,
                              connect_args={"init_command": "SET time_zone = '+00:00'"})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        hall = make_venue(c, rows=2, seats_per_row=5, categories={"A": PREMIUM})
        event = make_event(c, hall, sales_start=now() - 90 * DAY)
        ann, vip = make_customer(c), make_customer(c, vip=True)
        first = make_past_booking(c, event, ann, event.seat_ids("A1", "A2"), now() - 70 * DAY)
        make_past_booking(c, event, vip, event.seat_ids("B1"), now() - 5 * DAY, method="paypal")
        refund_tickets(c, first.booking_id, first.ticket_ids[:1], at=now() - 60 * DAY)
        decline(c, ann, "card", "12.00", now() - 71 * DAY)

    database.upgrade(old_database)

    with engine.connect() as c:
        assert rows(c, "SELECT COUNT(*) FROM sales_by_period WHERE grain = 'day'") == [(2,)]
        assert_summaries_equal_the_raw_rows(c)
    engine.dispose()
