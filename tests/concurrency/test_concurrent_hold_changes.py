"""A hold that changes while its payment waits for the event lock: the buyer pays for exactly the seats
they get, whatever the order in which the transactions reach the lock."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from boxoffice.errors import PriceChanged
from boxoffice.services import checkout, holds
from tests.builders import committed, make_customer, make_event, make_venue
from tests.concurrency.harness import (assert_inventory_consistent, assert_no_faults, at_once, money_problems,
                                       new_key, pay)

pytestmark = pytest.mark.concurrency


def test_a_seat_given_back_in_another_tab_while_paying_is_not_paid_for(app, owner_engine):
    """The buyer holds two seats and presses Pay in one tab while giving one seat back in another. Another
    checkout of the event holds the event lock for a moment, so both requests queue for it, the tab's release
    first. However that ends, the buyer must not be charged for a seat without getting it: either a booking
    whose tickets are worth what was charged, or a refusal with the money given back."""
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=2)
        buyer = make_customer(c).customer_id
        event = make_event(c, venue)
        owner, key = holds.new_hold_owner(), new_key()
        with app.app_context():
            holds.hold_seats(event.event_id, event.seat_ids(), owner, minutes=10)
            shown = checkout.quote(event.event_id, owner, buyer, None).total
        # A real transaction on the same event (another buyer's checkout) holds the event lock...
        with owner_engine.connect() as other:
            other.begin()
            other.execute(sa.text("SELECT event_id FROM events WHERE event_id = :e FOR UPDATE"), {"e": event.event_id})
            release_started = threading.Event()

            def act(i, _):
                if i == 0:
                    # ...the other tab gives seat A1 back and waits for the lock first...
                    release_started.set()
                    return holds.toggle_seat(event.event_id, event.seat_ids("A1")[0], owner, minutes=10)
                # ...then Pay is pressed: the total shown is charged, and the booking waits for the lock too.
                release_started.wait(10)
                time.sleep(0.2)
                return pay(event.event_id, owner, buyer, key, expected_total=shown)

            def free_the_lock_soon():
                time.sleep(0.8)
                other.rollback()

            threading.Thread(target=free_the_lock_soon, daemon=True).start()
            outcomes = at_once(app, 2, act)
        assert_no_faults(outcomes, PriceChanged, also=money_problems(c, [key]))
        problems = money_problems(c, [key])
        assert not problems, "\n".join(problems)
        assert_inventory_consistent(c, event.event_id)
