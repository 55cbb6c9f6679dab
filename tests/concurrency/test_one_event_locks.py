"""Many buyers of one event at once, at the finer locks of migration 0017 (issue 14, "a higher ceiling for one
event"): a hold or a booking locks the event shared, the rows of the seats it takes, its buyer and its seats,
and the events row only for its last moments (sql/objects/35_seat_states.sql, "Locks"). So buyers in two
sections, or two rows, no longer wait for each other, while two changes in one row, and anything that takes
the event as a whole (cancelling it), still do; and every seat is still sold once.

Which locks a hold waits for is shown with a second connection that holds one of them in an open
transaction: a hold that needs it is still waiting after a while, one that does not has finished.
"""
from __future__ import annotations

import random
import threading
import time

import pytest
import sqlalchemy as sa

from boxoffice.errors import NotBookable, SeatsLostRefunded, SeatUnavailable, StrandedSeat
from boxoffice.extensions import db
from boxoffice.services import events as event_service
from boxoffice.services import holds
from tests.builders import PREMIUM, committed, make_customer, make_event, make_venue, rows
from tests.concurrency.harness import (assert_each_seat_sold_once, assert_inventory_consistent,
                                       assert_money_accounted_for, assert_no_faults, at_once, new_key, pay,
                                       race_for_blocks)

pytestmark = pytest.mark.concurrency

# How long a hold that does not need the blocker's lock may take (it takes milliseconds), and how long one
# that does must still be waiting: less than the app's lock wait timeout (3 s), so that it then goes on.
FINISHES_WITHIN = 5.0
STILL_WAITING_AFTER = 1.0


def test_buyers_in_two_sections_and_in_one_section_at_once_each_seat_is_sold_once(app, owner_engine):
    """Sixteen buyers each want one to three seats side by side, in either of two sections of one event (so
    two rows of each): some fight for the same seats in one row, others book beside them in the other row
    or section. Every seat is sold once, every buyer gets all the seats asked for or none, and nobody sees
    a deadlock or a lock timeout."""
    buyers, rounds = 16, 12
    rng = random.Random(20261206)
    contested = 0
    with committed(owner_engine) as c:
        venue = make_venue(c, sections=2, rows=2, seats_per_row=6, categories={"A-B": PREMIUM})
        customers = [make_customer(c).customer_id for _ in range(buyers)]
        for _ in range(rounds):
            event = make_event(c, venue)
            wanted, keys, outcomes = race_for_blocks(app, event, customers, "ABCD", rng)
            assert_no_faults(outcomes, SeatUnavailable, StrandedSeat)
            contested += sum(isinstance(o.error, SeatUnavailable) for o in outcomes)
            assert_each_seat_sold_once(c, outcomes, wanted)
            sections = {section for (section,) in rows(c, """SELECT DISTINCT es.section_id FROM event_seats es
                                                              WHERE es.event_id = :e AND es.state = 'sold'""",
                                                       e=event.event_id)}
            assert len(sections) == 2, "both sections sold seats in the same race"
            assert_inventory_consistent(c, event.event_id)
            assert_money_accounted_for(c, keys)
    assert contested, "the buyers never competed for a seat: this test proved nothing"


# ---------------------------------------------------------------- who waits for whom

def _hold_in_background(app, event_id: int, seat_id: int) -> tuple[threading.Thread, dict]:
    """A buyer pressing one seat, in a thread of its own; the dict gets its hold or its error."""
    result: dict = {}

    def run() -> None:
        with app.app_context():
            try:
                result["hold"] = holds.toggle_seat(event_id, seat_id, holds.new_hold_owner(), minutes=10)
            except Exception as error:  # noqa: BLE001 - reported by the test
                result["error"] = error
            finally:
                db.session.remove()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _holding(owner_engine, statement: str, **params):
    """A connection in an open transaction that has run `statement` (a lock it keeps until rolled back)."""
    connection = owner_engine.connect()
    connection.execute(sa.text(statement), params)
    return connection


def _finishes(thread: threading.Thread, result: dict, seconds: float) -> bool:
    thread.join(seconds)
    if thread.is_alive():
        return False
    assert "error" not in result, result["error"]
    return True


def test_a_hold_waits_for_a_change_in_its_own_row_and_not_for_another_row_or_section(app, owner_engine):
    with committed(owner_engine) as c:
        venue = make_venue(c, sections=2, rows=2, seats_per_row=6)
        event = make_event(c, venue)
        [a1, a4, b3, c3] = event.seat_ids("A1", "A4", "B3", "C3")
        # A change in row A under way: what HoldSeats locks for it (its seat row, exclusive), kept open.
        blocker = _holding(owner_engine, """SELECT r.row_id FROM seats s JOIN seat_rows r ON r.row_id = s.row_id
                                             WHERE s.seat_id = :s FOR UPDATE""", s=a1)
        try:
            other_row = _hold_in_background(app, event.event_id, b3)
            other_section = _hold_in_background(app, event.event_id, c3)
            assert _finishes(*other_row, FINISHES_WITHIN), "a hold in another row of the section waited"
            assert _finishes(*other_section, FINISHES_WITHIN), "a hold in another section waited"
            waiting = _hold_in_background(app, event.event_id, a4)
            assert not _finishes(*waiting, STILL_WAITING_AFTER), "a hold in the same row did not wait for its row"
        finally:
            blocker.rollback()
            blocker.close()
        assert _finishes(*waiting, FINISHES_WITHIN), "the hold in row A went on once the row was free"
        assert {seat for (seat,) in rows(c, "SELECT seat_id FROM event_seats WHERE event_id = :e AND state = 'held'",
                                         e=event.event_id)} == {a4, b3, c3}
        assert_inventory_consistent(c, event.event_id)


def test_holds_share_the_event_and_wait_for_whatever_takes_it_as_a_whole(app, owner_engine):
    """A booking in flight holds the event's lock row shared: another hold goes on beside it. Cancelling (any
    unit_of_work(lock_event=...)) takes it exclusive: a hold waits until that is over."""
    with committed(owner_engine) as c:
        event = make_event(c, make_venue(c, rows=2, seats_per_row=6))
        [a2, b2] = event.seat_ids("A2", "B2")
        shared = _holding(owner_engine, "SELECT event_id FROM event_locks WHERE event_id = :e LOCK IN SHARE MODE",
                          e=event.event_id)
        try:
            assert _finishes(*_hold_in_background(app, event.event_id, a2), FINISHES_WITHIN), \
                "a hold waited for another booking of the event"
        finally:
            shared.rollback()
            shared.close()
        whole = _holding(owner_engine, "SELECT event_id FROM event_locks WHERE event_id = :e FOR UPDATE",
                         e=event.event_id)
        try:
            waiting = _hold_in_background(app, event.event_id, b2)
            assert not _finishes(*waiting, STILL_WAITING_AFTER), "a hold did not wait for the event taken as a whole"
        finally:
            whole.rollback()
            whole.close()
        assert _finishes(*waiting, FINISHES_WITHIN)
        assert_inventory_consistent(c, event.event_id)


# ---------------------------------------------------------------- the event as a whole against its bookings

def test_cancelling_an_event_while_its_buyers_pay_leaves_no_valid_ticket_and_no_money_kept(app, owner_engine):
    """Twelve buyers with holds in two sections pay at the moment staff cancel the event. Each payment is
    either booked before the cancellation took the event (and then refunded by it) or refused with the money
    given back; none is booked after it, so once the cancellation has refunded what it found, no ticket of
    the event is valid. New holds are refused from then on."""
    buyers = 12
    # The member of staff presses "cancel" this long after the buyers press "pay" (a payment takes a few
    # round trips before it books): early, the cancellation wins every race; later, it meets bookings.
    delays = (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)
    with committed(owner_engine) as c:
        venue = make_venue(c, sections=2, rows=2, seats_per_row=6)
        customers = [make_customer(c).customer_id for _ in range(buyers)]
        booked_before = refused_after = 0
        for delay in delays:
            event = make_event(c, venue)
            keys = [new_key() for _ in range(buyers)]
            # Three buyers a row (A-D), holding its seats 1, 2 and 3, in that order: never a stranded seat.
            owners = [holds.new_hold_owner() for _ in range(buyers)]
            with app.app_context():
                for i in range(buyers):
                    holds.hold_seats(event.event_id, event.seat_ids(f"{'ABCD'[i % 4]}{i // 4 + 1}"), owners[i],
                                     minutes=10)
                db.session.remove()

            def act(i, _):
                if i == buyers:  # the member of staff
                    time.sleep(delay)
                    return event_service.cancel_event(event.event_id)
                return pay(event.event_id, owners[i], customers[i], keys[i])

            outcomes = at_once(app, buyers + 1, act)
            assert_no_faults(outcomes, SeatsLostRefunded, NotBookable)
            booked_before += sum(o.ok for o in outcomes[:buyers])
            refused_after += sum(not o.ok for o in outcomes[:buyers])
            with app.app_context():
                while event_service.cancel_event(event.event_id).bookings_left:
                    pass
                with pytest.raises(NotBookable):
                    holds.toggle_seat(event.event_id, event.seat_ids("A6")[0], holds.new_hold_owner(), minutes=10)
                db.session.remove()
            assert rows(c, "SELECT COUNT(*) FROM tickets WHERE event_id = :e AND status <> 'refunded'",
                        e=event.event_id) == [(0,)], "a ticket of the cancelled event is still valid"
            assert_inventory_consistent(c, event.event_id)
            assert_money_accounted_for(c, keys)
    assert booked_before and refused_after, (
        f"{booked_before} payments booked before the cancellation, {refused_after} refused after it: "
        "the race never had both sides")
