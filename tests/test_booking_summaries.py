"""InsertBooking writes its booking's sales summaries itself, each summary row once, and the insert triggers
of sql/objects/40_sales_summary.sql stand aside for exactly the rows it is writing (named by the session
variables @boxoffice_insert_booking_code and @boxoffice_insert_booking_id). Its summary block is a copy of
what the writers there add, kept for its cost (docs/benchmarks.md, "InsertBooking: inline summaries vs
calling the writers"); these tests hold the copy to the same raw-row sums as tests/test_reports_summaries.py
holds the triggers. The summaries still equal the raw rows: for bookings of seats of several categories
(their tickets are summarised from the tickets themselves) or of one (from the booking's own figures), with
a VIP rate and a promo code, free of charge (no payment) with one category or several, refunded afterwards
on the same connection; and after a booking refused once it had written its rows, the triggers summarise
the session's next rows again.

Each test runs in the caller's transaction (as the app calls InsertBooking) and with autocommit on.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tests.builders import (
    ECONOMY, PREMIUM, STANDARD, book, committed, hold_seats, make_customer, make_discount, make_event,
    make_past_booking, make_venue, now, refund_tickets, rows,
)
from tests.test_reports_summaries import DAY, assert_summaries_equal_the_raw_rows, summaries


@pytest.fixture(params=["in_the_callers_transaction", "with_autocommit_on"])
def conn(request, owner_engine):
    if request.param == "in_the_callers_transaction":
        yield request.getfixturevalue("db_session").connection()
    else:
        with committed(owner_engine) as connection:
            yield connection


def ticket_ids(conn, booking_id: int) -> list[int]:
    return [t for (t,) in rows(conn, "SELECT ticket_id FROM tickets WHERE booking_id = :b ORDER BY ticket_id",
                               b=booking_id)]


def test_bookings_through_insert_booking_are_summarised_as_their_rows_add_up(conn):
    venue = make_venue(conn, rows=4, seats_per_row=6, categories={"A": PREMIUM, "C-D": ECONOMY})
    event = make_event(conn, venue, prices={PREMIUM: Decimal("95.00"), STANDARD: Decimal("47.50"),
                                             ECONOMY: Decimal("33.33")})
    vip = make_customer(conn, vip=True, rate=Decimal("0.1250"))
    regular = make_customer(conn)
    promo = make_discount(conn, kind="percent", value=Decimal("15"))
    gift = make_discount(conn, kind="fixed", value=Decimal("500.00"))
    before = summaries(conn)

    # Three categories, a VIP rate and a promo code: shares with a rounding remainder.
    several = book(conn, event, vip, seats=event.seat_ids("A1", "A2", "B1", "C1", "C2"), promo=promo.code)
    # One category, twice the same customer, hour and categories.
    book(conn, event, regular, seats=event.seat_ids("D1", "D2", "D3"))
    one = book(conn, event, regular, seats=event.seat_ids("B4"))
    # Free of charge: no payment.
    free = book(conn, event, regular, seats=event.seat_ids("A5", "A6"), promo=gift.code)
    assert free["total"] == Decimal("0.00")
    # Free of charge, of two categories, for a VIP: tickets read back with no paid share and no payment.
    free_vip = book(conn, event, vip, seats=event.seat_ids("B5", "C5"), promo=gift.code)
    assert free_vip["total"] == Decimal("0.00") and free_vip["vip_discount"] > 0
    # One category, a VIP rate and a promo code, paid.
    book(conn, event, vip, seats=event.seat_ids("D4", "D5"), promo=promo.code)
    assert_summaries_equal_the_raw_rows(conn)

    refund_tickets(conn, several["booking_id"], ticket_ids(conn, several["booking_id"])[:2])
    refund_tickets(conn, one["booking_id"], ticket_ids(conn, one["booking_id"]))
    assert_summaries_equal_the_raw_rows(conn)
    assert summaries(conn) != before
    assert rows(conn, "SELECT @boxoffice_insert_booking_code, @boxoffice_insert_booking_id") == [(None, None)]


def test_after_a_booking_refused_once_its_rows_were_written_the_sessions_next_rows_are_summarised(conn):
    event = make_event(conn, make_venue(conn))
    customer = make_customer(conn)
    owner = hold_seats(conn, event, event.seat_ids("A1", "A2"))

    # The payments table refuses these last four digits: the booking and its tickets are written by then.
    with pytest.raises(sa.exc.DBAPIError) as refusal:
        book(conn, event, customer, owner=owner, last_four="42x2")

    assert refusal.value.orig.args[0] == 4025
    assert rows(conn, "SELECT @boxoffice_insert_booking_code, @boxoffice_insert_booking_id") == [(None, None)]
    booked = book(conn, event, customer, owner=owner)
    past = make_past_booking(conn, event, customer, event.seat_ids("B1"), now() - DAY)
    refund_tickets(conn, booked["booking_id"], ticket_ids(conn, booked["booking_id"])[:1])
    refund_tickets(conn, past.booking_id, past.ticket_ids)
    assert_summaries_equal_the_raw_rows(conn)
