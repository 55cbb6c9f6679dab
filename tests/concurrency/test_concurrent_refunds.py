"""Refunds of one booking at the same moment (a customer cancelling twice, an admin refunding while the
customer cancels): each ticket is refunded once, and the money given back is exactly what was paid."""
from __future__ import annotations

from decimal import Decimal

import pytest

from boxoffice.errors import NothingToRefund
from boxoffice.services import holds, refunds
from tests.builders import PREMIUM, committed, make_customer, make_event, make_venue, rows
from tests.concurrency.harness import (assert_inventory_consistent, assert_money_accounted_for, assert_no_faults,
                                       at_once, new_key, pay)

pytestmark = pytest.mark.concurrency


def booked(app, c, venue, customer_id: int) -> tuple[int, str, Decimal]:
    """A fresh event and a booking of its three seats made through checkout: (booking id, key, total)."""
    event = make_event(c, venue)
    owner, key = holds.new_hold_owner(), new_key()
    with app.app_context():
        holds.hold_seats(event.event_id, event.seat_ids(), owner, minutes=10)
        confirmation = pay(event.event_id, owner, customer_id, key)
    return confirmation.booking_id, key, confirmation.total


def assert_refunded_once_in_full(c, booking_id: int, key: str, total: Decimal) -> None:
    [(event_id, status)] = rows(c, "SELECT event_id, status FROM bookings WHERE booking_id = :b", b=booking_id)
    assert rows(c, "SELECT status, COUNT(*) FROM tickets WHERE booking_id = :b GROUP BY status",
                b=booking_id) == [("refunded", 3)]
    [(refunded,)] = rows(c, "SELECT SUM(amount) FROM payments WHERE booking_id = :b AND kind = 'refund'", b=booking_id)
    assert refunded == total, f"€{refunded} refunded for a booking that cost €{total}"
    assert rows(c, "SELECT refunded_amount FROM gateway_charges WHERE SUBSTRING_INDEX(idempotency_key, '-', 1) = :k",
                k=key) == [(total,)]
    assert rows(c, "SELECT state, COUNT(*) FROM booking_refunds WHERE booking_id = :b GROUP BY state",
                b=booking_id) in ([("refunded", 1)], [("refunded", 3)]), "every refund paid out"
    assert status == "refunded", f"every ticket is refunded but the booking says {status!r}"
    assert rows(c, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state <> 'available'",
                e=event_id) == [(0,)], "the seats are back on sale"
    assert_inventory_consistent(c, event_id)
    assert_money_accounted_for(c, [key])


@pytest.mark.parametrize("refunders", [2, 8])
def test_concurrent_refunds_of_one_booking_refund_once(app, owner_engine, refunders):
    rounds = 15
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=3, categories={"A": PREMIUM})
        customer = make_customer(c).customer_id
        for _ in range(rounds):
            booking_id, key, total = booked(app, c, venue, customer)
            outcomes = at_once(app, refunders, lambda i, _: refunds.refund_tickets(booking_id))
            assert_no_faults(outcomes, NothingToRefund)
            done = [o.value for o in outcomes if o.ok]
            assert len(done) == 1, f"{len(done)} of {refunders} refunds of one booking went through"
            assert (done[0].tickets, done[0].amount, done[0].booking_status) == (3, total, "refunded")
            assert rows(c, "SELECT COUNT(*) FROM payments WHERE booking_id = :b AND kind = 'refund'",
                        b=booking_id) == [(1,)], "one refund payment"
            assert_refunded_once_in_full(c, booking_id, key, total)


def test_refunds_of_each_ticket_of_a_booking_at_once_leave_it_refunded(app, owner_engine):
    """Two refunds per ticket, all at the same moment (the customer cancels tickets one by one in two tabs):
    each ticket is refunded once, and once every ticket is, the booking is refunded, not partly."""
    rounds = 15
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=3, categories={"A": PREMIUM})
        customer = make_customer(c).customer_id
        for _ in range(rounds):
            booking_id, key, total = booked(app, c, venue, customer)
            tickets = [t for (t,) in rows(c, "SELECT ticket_id FROM tickets WHERE booking_id = :b ORDER BY ticket_id",
                                          b=booking_id)]
            outcomes = at_once(app, 2 * len(tickets),
                               lambda i, _: refunds.refund_tickets(booking_id, [tickets[i % len(tickets)]]))
            assert_no_faults(outcomes, NothingToRefund)
            done = [o for o in outcomes if o.ok]
            assert sorted(tickets[o.client % len(tickets)] for o in done) == tickets, "each ticket refunded once"
            assert sum(o.value.amount for o in done) == total
            assert_refunded_once_in_full(c, booking_id, key, total)
