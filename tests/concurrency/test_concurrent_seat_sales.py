"""Many buyers for the same seats at the same moment: each seat is held by one buyer and sold once.

The control test runs the same race through the same checks with a naive claim (read the seat, then write
it, without a lock): it must double-sell, which shows that these tests can see the bug the real hold
prevents.
"""
from __future__ import annotations

import random
import time

import pytest
import sqlalchemy as sa

from boxoffice.errors import SeatUnavailable, StrandedSeat
from boxoffice.extensions import db
from boxoffice.services import holds
from tests.builders import PREMIUM, committed, make_customer, make_event, make_venue, rows, sell_seats
from tests.concurrency.harness import (MAX_CLIENTS, assert_each_seat_sold_once, assert_inventory_consistent,
                                       assert_money_accounted_for, assert_no_faults, at_once, money_problems, new_key,
                                       pay, race_for_blocks)

pytestmark = pytest.mark.concurrency


def test_many_buyers_for_the_same_seats_each_seat_is_sold_exactly_once(app, owner_engine):
    buyers, rounds = 16, 20
    rng = random.Random(20240611)
    contested = 0
    with committed(owner_engine) as c:
        # Twelve seats for sixteen buyers who each want one to three seats side by side: most lose a race.
        venue = make_venue(c, rows=2, seats_per_row=6, categories={"A": PREMIUM})
        customers = [make_customer(c).customer_id for _ in range(buyers)]
        for _ in range(rounds):
            event = make_event(c, venue)
            wanted, keys, outcomes = race_for_blocks(app, event, customers, "AB", rng)
            assert_no_faults(outcomes, SeatUnavailable, StrandedSeat)
            contested += sum(isinstance(o.error, SeatUnavailable) for o in outcomes)
            winners = assert_each_seat_sold_once(c, outcomes, wanted)
            assert winners, "somebody must get seats"
            assert rows(c, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(len(winners),)]
            assert rows(c, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                        e=event.event_id) == [(0,)], "a refused buyer keeps no seat, a buyer who paid holds none"
            assert_inventory_consistent(c, event.event_id)
            assert_money_accounted_for(c, keys)
    assert contested, "the buyers never competed for a seat: this test proved nothing"


def test_buyers_of_different_events_at_once_never_deadlock(app, owner_engine):
    """Checkouts for different events do not queue on one event lock, so nothing may make them wait on
    each other in a circle. Each buyer holds seats of their own at an event of their own, then all pay at
    the same moment: every one of them must get a booking."""
    buyers, rounds = MAX_CLIENTS, 10
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=4)
        customers = [make_customer(c).customer_id for _ in range(buyers)]
        for _ in range(rounds):
            shows = [make_event(c, venue) for _ in range(buyers)]
            keys = [new_key() for _ in range(buyers)]

            def prepare(i):
                owner = holds.new_hold_owner()
                holds.hold_seats(shows[i].event_id, shows[i].seat_ids("A1", "A2"), owner, minutes=10)
                return owner

            outcomes = at_once(app, buyers, lambda i, owner: pay(shows[i].event_id, owner, customers[i], keys[i]),
                               prepare=prepare)
            assert_no_faults(outcomes, also=money_problems(c, keys))
            for event in shows:
                assert_inventory_consistent(c, event.event_id)
            assert_money_accounted_for(c, keys)


# ---------------------------------------------------------------- the last seat, and the control

def real_hold(event_id: int, seat_id: int, owner: str) -> None:
    holds.hold_seats(event_id, [seat_id], owner, minutes=10)


def naive_hold(event_id: int, seat_id: int, owner: str) -> None:
    """The bug the real hold prevents: read the seat's state, then write it, in two statements and without
    any lock, with a moment between them (a web request does other work there)."""
    state = db.session.scalar(sa.text("SELECT state FROM event_seats WHERE event_id = :e AND seat_id = :s"),
                              {"e": event_id, "s": seat_id})
    if state != "available":
        raise SeatUnavailable()
    time.sleep(0.005)
    db.session.execute(sa.text("""
        UPDATE event_seats SET state = 'held', hold_owner = :o, hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 10 MINUTE
         WHERE event_id = :e AND seat_id = :s"""), {"o": owner, "e": event_id, "s": seat_id})
    db.session.commit()


def race_for_the_last_seat(app, owner_engine, claim, *, buyers: int, rounds: int) -> list[int]:
    """`buyers` clients claim the last free seat of an event at once, `rounds` times (a new event each time).
    Checks that every loser was told SeatUnavailable and that the seat is held by a buyer who was told they
    have it; returns how many buyers were told they have it, per round."""
    told_they_won = []
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=4)
        for _ in range(rounds):
            event = make_event(c, venue)
            sell_seats(c, event, event.seat_ids("A1", "A2", "A3"))
            [last] = event.seat_ids("A4")
            owners = [holds.new_hold_owner() for _ in range(buyers)]
            outcomes = at_once(app, buyers, lambda i, _: claim(event.event_id, last, owners[i]))
            assert_no_faults(outcomes, SeatUnavailable)
            winners = [owners[o.client] for o in outcomes if o.ok]
            [(state, holder)] = rows(c, """SELECT state, hold_owner FROM event_seats
                                            WHERE event_id = :e AND seat_id = :s""", e=event.event_id, s=last)
            assert state == "held" and holder in winners, "the seat belongs to a buyer who was told they have it"
            told_they_won.append(len(winners))
    return told_they_won


def test_two_buyers_for_the_last_seat_one_wins(app, owner_engine):
    winners = race_for_the_last_seat(app, owner_engine, real_hold, buyers=2, rounds=50)
    assert winners == [1] * 50, f"buyers told they have the last seat, per round: {winners}"


def test_control_a_naive_read_then_write_claim_sells_the_last_seat_twice(app, owner_engine):
    """Not a test of the app: it shows that the race above is real and that its checks catch a double
    claim. Without the conditional UPDATE under the event lock both buyers are told they have the seat."""
    winners = race_for_the_last_seat(app, owner_engine, naive_hold, buyers=2, rounds=20)
    assert max(winners) > 1, f"the naive claim never double-sold in 20 rounds ({winners}): the race was not real"
