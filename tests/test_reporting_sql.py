"""The reporting SQL (views TopRevenueEvents and PaymentSummary, procedure GetEventRevenueByMonth) gives the
same figures as the raw bookings, tickets and payments added up independently in Python.

The data is built inside the test's transaction, so the views and the procedure are read on that same
connection. Every figure is compared for every row the database holds, whatever else is in it.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tests.builders import (
    PREMIUM, STANDARD, book, make_customer, make_discount, make_event, make_past_booking, make_venue, now,
    refund_tickets, rows,
)

DAY = dt.timedelta(days=1)
ZERO = Decimal("0.00")


def mappings(tx, sql: str, **params) -> list[dict]:
    return [dict(row) for row in tx.execute(sa.text(sql), params).mappings()]


def decline(tx, customer, method: str, amount: str, at: dt.datetime, status: str = "declined") -> None:
    """A charge the gateway refused (or that failed): it has no booking."""
    tx.execute(sa.text("""INSERT INTO payments (kind, status, customer_id, method_id, amount, failure_reason, created_at)
                          SELECT 'charge', :status, :customer_id, method_id, :amount, 'Refused by a test', :at
                            FROM payment_methods WHERE code = :method"""),
               {"status": status, "customer_id": customer.customer_id, "amount": Decimal(amount), "at": at,
                "method": method})


@pytest.fixture
def tx(db_session):
    return db_session.connection()


@pytest.fixture
def sales(tx) -> SimpleNamespace:
    """Two venues, four events (one sells nothing), bookings spread over four months by card, wallet, PayPal
    and gift card, from regular and VIP customers, one of them through InsertBooking with a VIP rate and a
    promo code; partial and full refunds; declined and failed charges."""
    hall = make_venue(tx, rows=3, seats_per_row=6, categories={"A": PREMIUM}, city="Northtown")
    club = make_venue(tx, rows=2, seats_per_row=5, city="Southport")
    opened = now() - 150 * DAY
    prices = {PREMIUM: Decimal("95.00"), STANDARD: Decimal("42.50")}
    gala = make_event(tx, hall, prices=prices, starts_in=10 * DAY, sales_start=opened)
    matinee = make_event(tx, hall, prices=prices, starts_in=45 * DAY, sales_start=opened)
    gig = make_event(tx, club, prices={STANDARD: Decimal("27.75")}, starts_in=5 * DAY, sales_start=opened)
    unsold = make_event(tx, club, prices={STANDARD: Decimal("30.00")}, starts_in=20 * DAY, sales_start=opened)
    ann, bob = make_customer(tx), make_customer(tx)
    vip = make_customer(tx, vip=True, rate=Decimal("0.1250"))

    a = make_past_booking(tx, gala, ann, gala.seat_ids("A1", "A2", "B1"), now() - 110 * DAY)
    b = make_past_booking(tx, gala, vip, gala.seat_ids("C1", "C2"), now() - 75 * DAY, method="wallet")
    c = make_past_booking(tx, gala, bob, gala.seat_ids("B5"), now() - 75 * DAY + dt.timedelta(hours=5),
                          method="paypal")
    d = make_past_booking(tx, matinee, bob, matinee.seat_ids("A3", "A4"), now() - 40 * DAY, method="gift_card")
    make_past_booking(tx, matinee, ann, matinee.seat_ids("B2"), now() - 3 * DAY)
    e = make_past_booking(tx, gig, vip, gig.seat_ids("A1", "A2", "A3", "A4"), now() - 40 * DAY)
    make_past_booking(tx, gig, ann, gig.seat_ids("B1"), now() - 110 * DAY, method="paypal")
    promo = make_discount(tx, kind="percent", value=Decimal("15"))
    live = book(tx, gig, vip, seats=gig.seat_ids("B3", "B4", "B5"), promo=promo.code, method="wallet")

    refund_tickets(tx, a.booking_id, a.ticket_ids[2:], at=now() - 100 * DAY)
    refund_tickets(tx, c.booking_id, c.ticket_ids, at=now() - 2 * DAY)
    refund_tickets(tx, d.booking_id, d.ticket_ids[:1], at=now() - 39 * DAY)
    refund_tickets(tx, e.booking_id, e.ticket_ids, at=now() - 30 * DAY)
    live_tickets = [t for (t,) in rows(tx, "SELECT ticket_id FROM tickets WHERE booking_id = :b ORDER BY ticket_id",
                                       b=live["booking_id"])]
    refund_tickets(tx, live["booking_id"], live_tickets[:1])
    decline(tx, ann, "card", "85.00", now() - 75 * DAY)
    decline(tx, ann, "card", "42.50", now() - 74 * DAY)
    decline(tx, vip, "wallet", "190.00", now() - 40 * DAY)
    decline(tx, bob, "paypal", "27.75", now() - 3 * DAY, status="failed")
    decline(tx, vip, "card", "95.00", now() - 1 * DAY, status="failed")
    assert live["total"] < live["subtotal"]
    return SimpleNamespace(events=[gala, matinee, gig, unsold], hall=hall, club=club, gala=gala, gig=gig,
                           unsold=unsold)


def raw(tx) -> SimpleNamespace:
    """Every row the figures are made of, untouched."""
    return SimpleNamespace(
        events=mappings(tx, "SELECT event_id, venue_id, seats_total FROM events"),
        bookings=mappings(tx, "SELECT booking_id, event_id, total, booked_at FROM bookings"),
        tickets=mappings(tx, "SELECT booking_id, event_id, status FROM tickets"),
        payments=mappings(tx, "SELECT kind, status, booking_id, customer_id, method_id, amount FROM payments"),
        customer_types=dict(rows(tx, "SELECT customer_id, segment FROM customers")),
    )


# ---------------------------------------------------------------- TopRevenueEvents

def expected_top_revenue(data: SimpleNamespace) -> dict[int, dict]:
    event_of_booking = {b["booking_id"]: b["event_id"] for b in data.bookings}
    gross, refunded, sold = defaultdict(Decimal), defaultdict(Decimal), defaultdict(int)
    for p in data.payments:
        if p["kind"] == "charge" and p["status"] == "captured":
            gross[event_of_booking[p["booking_id"]]] += p["amount"]
        elif p["kind"] == "refund":
            refunded[event_of_booking[p["booking_id"]]] += p["amount"]
    for t in data.tickets:
        if t["status"] != "refunded":
            sold[t["event_id"]] += 1
    net = {e["event_id"]: gross[e["event_id"]] - refunded[e["event_id"]] for e in data.events}
    return {
        e["event_id"]: {
            "gross_revenue": gross[e["event_id"]] + ZERO,
            "refunded": refunded[e["event_id"]] + ZERO,
            "net_revenue": net[e["event_id"]] + ZERO,
            "tickets_sold": sold[e["event_id"]],
            "occupancy_pct": (Decimal(100 * sold[e["event_id"]]) / e["seats_total"]).quantize(
                Decimal("0.1"), ROUND_HALF_UP) if e["seats_total"] else None,
            "revenue_rank": 1 + sum(other > net[e["event_id"]] for other in net.values()),
        }
        for e in data.events
    }


def test_top_revenue_events_equals_the_raw_payments_and_tickets_added_up(tx, sales):
    view = {row.pop("event_id"): row for row in mappings(tx, """
        SELECT event_id, gross_revenue, refunded, net_revenue, tickets_sold, occupancy_pct, revenue_rank
          FROM TopRevenueEvents""")}

    expected = expected_top_revenue(raw(tx))

    assert view == expected
    assert [expected[e.event_id]["tickets_sold"] for e in sales.events] == [4, 2, 3, 0]
    assert all(expected[e.event_id]["net_revenue"] > 0 for e in sales.events[:3])


def test_top_revenue_events_names_each_events_venue(tx, sales):
    view = {row["event_id"]: (row["title"], row["venue_name"], row["city"]) for row in mappings(tx, """
        SELECT event_id, title, venue_name, city FROM TopRevenueEvents""")}

    assert view[sales.gala.event_id] == (sales.gala.title, sales.hall.name, "Northtown")
    assert view[sales.gig.event_id] == (sales.gig.title, sales.club.name, "Southport")


# ---------------------------------------------------------------- PaymentSummary

def expected_payment_summary(data: SimpleNamespace) -> dict[tuple[int, str], dict]:
    groups: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for p in data.payments:
        groups[p["method_id"], data.customer_types[p["customer_id"]]].append(p)
    summary = {}
    for key, payments in groups.items():
        charges = [p for p in payments if p["kind"] == "charge"]
        captured = [p["amount"] for p in charges if p["status"] == "captured"]
        refunds = [p["amount"] for p in payments if p["kind"] == "refund"]
        summary[key] = {
            "payments": len(charges),
            "captured_payments": len(captured),
            "amount_captured": sum(captured, ZERO),
            "average_payment": (sum(captured) / len(captured)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            if captured else None,
            "refunds": len(refunds),
            "amount_refunded": sum(refunds, ZERO),
            "declines": sum(p["status"] == "declined" for p in charges),
            "failures": sum(p["status"] == "failed" for p in charges),
        }
    return summary


def test_payment_summary_equals_the_raw_payments_added_up_per_method_and_customer_type(tx, sales):
    view = {(row.pop("method_id"), row.pop("customer_type")): row for row in mappings(tx, """
        SELECT method_id, customer_type, payments, captured_payments, amount_captured, average_payment, refunds,
               amount_refunded, declines, failures
          FROM PaymentSummary""")}

    expected = expected_payment_summary(raw(tx))

    assert view == expected
    # The data built for this test (other committed data may sit beside it) has declines, refunds, failures.
    card_regular = expected[1, "regular"]
    assert card_regular["declines"] >= 2 and card_regular["refunds"] >= 1
    assert expected[1, "vip"]["failures"] >= 1


# ---------------------------------------------------------------- GetEventRevenueByMonth

def expected_revenue_by_month(data: SimpleNamespace, event_id: int | None, venue_id: int | None,
                              first: dt.date, last: dt.date) -> list[dict]:
    venue_of_event = {e["event_id"]: e["venue_id"] for e in data.events}
    live_tickets, refunded = defaultdict(int), defaultdict(Decimal)
    for t in data.tickets:
        live_tickets[t["booking_id"]] += t["status"] != "refunded"
    for p in data.payments:
        if p["kind"] == "refund":
            refunded[p["booking_id"]] += p["amount"]
    months: dict[str, dict] = {}
    for b in data.bookings:
        if ((event_id is None or b["event_id"] == event_id)
                and (venue_id is None or venue_of_event[b["event_id"]] == venue_id)
                and first <= b["booked_at"].date() <= last):
            month = months.setdefault(b["booked_at"].strftime("%Y-%m-01"), {
                "bookings": 0, "tickets": 0, "gross_revenue": ZERO, "refunded": ZERO})
            month["bookings"] += 1
            month["tickets"] += live_tickets[b["booking_id"]]
            month["gross_revenue"] += b["total"]
            month["refunded"] += refunded[b["booking_id"]]
    return [{"month": month, **figures, "net_revenue": figures["gross_revenue"] - figures["refunded"]}
            for month, figures in sorted(months.items())]


def revenue_by_month(tx, event_id, venue_id, first: dt.date, last: dt.date) -> list[dict]:
    return mappings(tx, "CALL GetEventRevenueByMonth(:event_id, :venue_id, :first, :last)",
                    event_id=event_id, venue_id=venue_id, first=first, last=last)


@pytest.mark.parametrize("scope", ["everything", "one_venue", "one_event", "a_date_range"])
def test_revenue_by_month_equals_the_raw_bookings_refunds_and_tickets_added_up(tx, sales, scope):
    today = now().date()
    event_id, venue_id, first, last = {
        "everything": (None, None, dt.date(2000, 1, 1), today),
        "one_venue": (None, sales.hall.venue_id, dt.date(2000, 1, 1), today),
        "one_event": (sales.gig.event_id, None, dt.date(2000, 1, 1), today),
        "a_date_range": (None, None, today - 80 * DAY, today - 40 * DAY),
    }[scope]

    report = revenue_by_month(tx, event_id, venue_id, first, last)

    assert report == expected_revenue_by_month(raw(tx), event_id, venue_id, first, last)
    assert len(report) >= 2 and all(month["bookings"] > 0 for month in report)


def test_revenue_by_month_includes_both_ends_of_the_date_range(tx, sales):
    first_day = (now() - 110 * DAY).date()

    report = revenue_by_month(tx, None, sales.club.venue_id, first_day, first_day)

    assert [(month["bookings"], month["gross_revenue"]) for month in report] == [(1, Decimal("27.75"))]
