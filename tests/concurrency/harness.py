"""What the concurrency tests share: many real clients released at the same moment, and the checks that
must hold afterwards whatever the interleaving was (each seat sold once, the counts equal the inventory,
no money kept without a booking).

A client is a thread with its own app context, so its own Flask-SQLAlchemy session and its own pooled
connection: what two buyers on two web workers are. The clients first do their own preparation and check
out a connection, then wait on one Barrier, so that the work under test starts together.

A database fault (a deadlock, 1213; a lock wait timeout, 1205; anything that is not a domain error the
test expects) is never retried here: it fails the test with the client's traceback, because a buyer
would have seen it as an error page.
"""
from __future__ import annotations

import random
import secrets

import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.engine import Connection

from boxoffice.extensions import db
from boxoffice.services import checkout, holds
from boxoffice.services.payments import CardDetails, PaymentRequest
from tests.builders import rows

# The most clients one race may have (the pool of the concurrency app is sized from it).
MAX_CLIENTS = 32
# The simulated gateway's good test card.
GOOD_CARD = CardDetails("4242424242424242", 12, 2035, "123", "Ada Lovelace")
DEADLOCK, LOCK_WAIT_TIMEOUT = 1213, 1205
# A deadlock rolls back the whole transaction, savepoints included; InsertBooking's error handler then
# fails to roll back to its savepoint and this error is what reaches the app instead of the deadlock.
SAVEPOINT_LOST = 1305


@dataclass
class Outcome:
    """What one client's act returned, or the error it raised (with its traceback)."""

    client: int
    value: Any = None
    error: BaseException | None = None
    trace: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


def at_once(app: Flask, clients: int, act: Callable[[int, Any], Any], *,
            prepare: Callable[[int], Any] | None = None, timeout: float = 60.0) -> list[Outcome]:
    """Run `act(client, prepared)` in `clients` threads released together by one Barrier, each in an app
    context of its own; `prepare(client)` runs first in the same thread and context, before the barrier.
    Returns one Outcome per client, in client order. Fails if a client is still running after `timeout`."""
    assert 1 <= clients <= MAX_CLIENTS
    barrier = threading.Barrier(clients)
    outcomes = [Outcome(i) for i in range(clients)]

    def run(i: int) -> None:
        started = False
        with app.app_context():
            try:
                prepared = prepare(i) if prepare else None
                # Check the connection out (and ping it) now, so the race is not a race for the pool.
                db.session.connection()
                try:
                    barrier.wait(timeout)
                except threading.BrokenBarrierError:
                    raise RuntimeError("another client failed before the start") from None
                started = True
                outcomes[i].value = act(i, prepared)
            except BaseException as error:  # noqa: BLE001 - every failure is reported with its traceback
                if not started:
                    barrier.abort()  # the others would wait for this client in vain
                outcomes[i].error = error
                outcomes[i].trace = traceback.format_exc()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,), name=f"client-{i}", daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread.name for thread in threads if thread.is_alive()]
    if stuck:
        pytest.fail(f"{stuck} still running after {timeout} s: a client is waiting for a lock or a connection")
    return outcomes


def mysql_errno(error: BaseException) -> int | None:
    """The server's error number behind a SQLAlchemy/PyMySQL error, if there is one."""
    for _ in range(10):
        if error is None:
            break
        args = getattr(getattr(error, "orig", None), "args", None) or getattr(error, "args", ())
        if args and isinstance(args[0], int):
            return args[0]
        error = error.__cause__ or error.__context__
    return None


def describe(outcomes: Iterable[Outcome]) -> str:
    parts = []
    for outcome in outcomes:
        errno = mysql_errno(outcome.error)
        label = {DEADLOCK: "DEADLOCK (1213)", LOCK_WAIT_TIMEOUT: "LOCK WAIT TIMEOUT (1205)",
                 SAVEPOINT_LOST: "SAVEPOINT LOST (1305: a deadlock rolled the whole transaction back)"}.get(errno, "")
        parts.append(f"--- client {outcome.client}: {label} {type(outcome.error).__name__}: {outcome.error}\n"
                     f"{outcome.trace}")
    return "\n".join(parts)


def assert_no_faults(outcomes: Sequence[Outcome], *expected: type[BaseException], also: Sequence[str] = ()) -> None:
    """Every client either succeeded or raised one of the `expected` domain errors. `also`: further problems
    found after the race (say, money kept without a booking), reported together with the faults."""
    faults = [o for o in outcomes if o.error is not None and not isinstance(o.error, expected)]
    if faults:
        consequences = "".join(f"\nand then: {problem}" for problem in also)
        pytest.fail(f"{len(faults)} of {len(outcomes)} clients failed unexpectedly:{consequences}\n{describe(faults)}",
                    pytrace=False)


# ---------------------------------------------------------------- acting as a buyer

def new_key() -> str:
    """The random part of a payment key: `pay` signs it for the buyer, hold and total, as the checkout page
    does, so retries that pass the same one carry the same key (money_problems takes these)."""
    return secrets.token_hex(12)


def pay(event_id: int, owner: str, customer_id: int, key: str | None = None, *, promo: str | None = None,
        expected_total: Decimal | None = None) -> checkout.Confirmation:
    """Checkout as the payment page does: the total the buyer was shown (a fresh quote unless given), the
    good test card, and the page's idempotency key (made from `key`, see new_key)."""
    if expected_total is None:
        expected_total = checkout.quote(event_id, owner, customer_id, promo).total
    signed = checkout.payment_key(customer_id, event_id, owner, expected_total, nonce=key)
    return checkout.pay(event_id, owner, customer_id, promo, PaymentRequest("card", card=GOOD_CARD), signed,
                        expected_total)


# ---------------------------------------------------------------- what must hold afterwards

def race_for_blocks(app: Flask, event, customers: Sequence[int], row_labels: str,
                    rng: random.Random) -> tuple[list[list[int]], list[str], list[Outcome]]:
    """Each customer at once holds a block of one to three seats side by side, in one of the rows
    `row_labels` of six seats, and pays for it. (the seats each wanted, the payment keys, the outcomes)"""
    wanted = []
    for _ in customers:
        row, size = rng.choice(row_labels), rng.randint(1, 3)
        first = rng.randint(1, 7 - size)
        wanted.append(event.seat_ids(*(f"{row}{n}" for n in range(first, first + size))))
    keys = [new_key() for _ in customers]

    def act(i, _):
        owner = holds.new_hold_owner()
        held = holds.hold_seats(event.event_id, wanted[i], owner, minutes=10)
        return held.seat_ids, pay(event.event_id, owner, customers[i], keys[i])

    return wanted, keys, at_once(app, len(customers), act)


def assert_each_seat_sold_once(c: Connection, outcomes: Sequence[Outcome], wanted: Sequence[list[int]]) -> list[Outcome]:
    """Every winner of race_for_blocks held all the seats it asked for and booked exactly those, and no seat
    went to two of them. Returns the winners."""
    winners = [o for o in outcomes if o.ok]
    sold_to: dict[int, int] = {}
    for winner in winners:
        seat_ids, confirmation = winner.value
        assert not confirmation.replayed
        assert set(seat_ids) == set(wanted[winner.client]), "a hold is all the seats asked for, or none"
        booked = {seat for (seat,) in rows(c, "SELECT seat_id FROM tickets WHERE booking_id = :b",
                                           b=confirmation.booking_id)}
        assert booked == set(seat_ids), "the booking is exactly the seats the buyer held"
        for seat in booked:
            assert seat not in sold_to, f"seat {seat} sold to client {sold_to[seat]} and client {winner.client}"
            sold_to[seat] = winner.client
    return winners


def database_now(c: Connection):
    return c.scalar(sa.text("SELECT UTC_TIMESTAMP(3)"))


def assert_inventory_consistent(c: Connection, event_id: int) -> None:
    """Each seat has at most one live ticket, the sold seats are exactly the ticketed ones, and the counts
    kept by update_seat_availability equal a fresh count of the inventory."""
    doubles = rows(c, """SELECT seat_id, COUNT(*) FROM tickets WHERE event_id = :e AND status <> 'refunded'
                          GROUP BY seat_id HAVING COUNT(*) > 1""", e=event_id)
    assert not doubles, f"seats with more than one live ticket (seat, tickets): {doubles}"
    sold = {seat for (seat,) in rows(c, "SELECT seat_id FROM event_seats WHERE event_id = :e AND state = 'sold'",
                                     e=event_id)}
    ticketed = {seat for (seat,) in rows(c, """SELECT seat_id FROM tickets
                                                WHERE event_id = :e AND status <> 'refunded'""", e=event_id)}
    assert sold == ticketed, f"sold but not ticketed: {sold - ticketed}; ticketed but not sold: {ticketed - sold}"
    [(kept, counted)] = rows(c, """SELECT seats_available,
                                          (SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state <> 'sold')
                                     FROM events WHERE event_id = :e""", e=event_id)
    assert kept == counted, f"events.seats_available is {kept}, the inventory has {counted} unsold seats"
    categories = rows(c, """SELECT ep.category_id, ep.seats_available, ep.seats_total,
                                   (SELECT COUNT(*) FROM event_seats es WHERE es.event_id = ep.event_id
                                       AND es.category_id = ep.category_id AND es.state <> 'sold'),
                                   (SELECT COUNT(*) FROM event_seats es WHERE es.event_id = ep.event_id
                                       AND es.category_id = ep.category_id)
                              FROM event_prices ep WHERE ep.event_id = :e""", e=event_id)
    for category, kept, total, counted, seats in categories:
        assert (kept, total) == (counted, seats), (
            f"category {category}: event_prices says {kept} of {total} available, the inventory {counted} of {seats}")


def money_problems(c: Connection, keys: Iterable[str]) -> list[str]:
    """What is wrong with the money of these checkout keys (empty when all is well). Every charge the gateway
    captured has exactly one booking, whose one captured payment is that charge, whose tickets are worth what
    was charged, and the gateway gave back exactly what the box office recorded as refunds; or it has no
    booking and was given back in full."""
    keys = list(keys)
    if not keys:
        return []
    problems = []
    charges = rows(c, """SELECT reference, idempotency_key, amount, refunded_amount FROM gateway_charges
                          WHERE status = 'captured' AND SUBSTRING_INDEX(idempotency_key, '-', 1) IN :keys""", keys=keys)
    for reference, key, amount, refunded in charges:
        bookings = rows(c, "SELECT booking_id, total FROM bookings WHERE idempotency_key = :k", k=key)
        if not bookings:
            if refunded != amount:
                problems.append(f"charge {reference} captured €{amount} and has no booking, "
                                f"but €{refunded} went back: the buyer paid for nothing")
            continue
        [(booking_id, total)] = bookings
        captured = rows(c, """SELECT provider_reference, amount FROM payments
                               WHERE booking_id = :b AND kind = 'charge' AND status = 'captured'""", b=booking_id)
        if captured != [(reference, amount)]:
            problems.append(f"booking {booking_id} records the captured payments {captured}, "
                            f"the gateway captured {reference} €{amount}")
        if total != amount:
            problems.append(f"booking {booking_id} totals €{total} but €{amount} was charged")
        [(subtotal, seats, face, paid)] = rows(c, """
            SELECT b.subtotal, COUNT(t.ticket_id), COALESCE(SUM(t.face_price), 0), COALESCE(SUM(t.paid_amount), 0)
              FROM bookings b LEFT JOIN tickets t ON t.booking_id = b.booking_id
             WHERE b.booking_id = :b GROUP BY b.booking_id, b.subtotal""", b=booking_id)
        if (subtotal, total) != (face, paid):
            problems.append(f"booking {booking_id} charged €{amount} for seats worth €{subtotal}, but its {seats} "
                            f"ticket(s) are worth €{face} (shares €{paid}): the buyer paid for seats they did not get")
        [(recorded,)] = rows(c, """SELECT COALESCE(SUM(amount), 0) FROM payments
                                    WHERE booking_id = :b AND kind = 'refund'""", b=booking_id)
        if recorded != refunded:
            problems.append(f"booking {booking_id}: the gateway refunded €{refunded}, "
                            f"the box office recorded €{recorded}")
    return problems


def assert_money_accounted_for(c: Connection, keys: Iterable[str]) -> None:
    """No money lost, none kept without a booking (see money_problems)."""
    problems = money_problems(c, keys)
    assert not problems, "\n".join(problems)
