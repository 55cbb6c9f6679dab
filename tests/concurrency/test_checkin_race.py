"""Two doors scan the same ticket at the same moment (a copied e-ticket): exactly one lets the person in,
every other door answers "already checked in", round after round."""
from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from boxoffice.clock import utcnow
from boxoffice.extensions import db
from boxoffice.services import checkin, holds
from tests.builders import committed, make_customer, make_event, make_venue, rows
from tests.concurrency.harness import assert_no_faults, at_once, new_key, pay

pytestmark = pytest.mark.concurrency

ROUNDS = 24


def tickets_of_a_booking(app, c, seats: int) -> list[str]:
    """The ticket codes of a fresh booking of `seats` seats, made through checkout and committed."""
    venue = make_venue(c, rows=1, seats_per_row=seats)
    # Tonight's show: the window without a door admits it.
    event = make_event(c, venue, max_seats_per_order=seats, starts_in=dt.timedelta(hours=2))
    customer = make_customer(c).customer_id
    owner = holds.new_hold_owner()
    with app.app_context():
        holds.hold_seats(event.event_id, event.seat_ids(), owner, minutes=10)
        booking_id = pay(event.event_id, owner, customer, new_key()).booking_id
    return [code for (code,) in rows(c, "SELECT ticket_code FROM tickets WHERE booking_id = :b ORDER BY ticket_id",
                                     b=booking_id)]


@pytest.mark.parametrize("doors", [2, 8])
def test_a_ticket_scanned_at_several_doors_at_once_lets_one_person_in(app, owner_engine, doors):
    with committed(owner_engine) as c:
        for code in tickets_of_a_booking(app, c, ROUNDS):
            outcomes = at_once(app, doors, lambda door, _: checkin.check_in(code))
            assert_no_faults(outcomes)
            answers = Counter(outcome.value.outcome for outcome in outcomes)
            assert answers == {"valid": 1, "already_checked_in": doors - 1}, f"ticket {code}: {dict(answers)}"
            [(checked_in_at,)] = rows(c, "SELECT checked_in_at FROM tickets WHERE ticket_code = :c", c=code)
            assert {o.value.checked_in_at for o in outcomes if o.value.outcome != "valid"} == {checked_in_at}, (
                "every other door is told when the ticket was used")


def naive_check_in(code: str, both_have_read: threading.Barrier) -> str:
    """Check-in done wrong: read the status, then write it, in two statements without a lock."""
    status = db.session.scalar(sa.text("SELECT status FROM tickets WHERE ticket_code = :c"), {"c": code})
    both_have_read.wait(10)
    if status != "valid":
        return "already_checked_in"
    db.session.execute(sa.text("UPDATE tickets SET status = 'checked_in', checked_in_at = :now WHERE ticket_code = :c"),
                       {"c": code, "now": utcnow().replace(microsecond=0)})
    db.session.commit()
    return "valid"


def test_control_read_then_write_lets_two_people_in_on_one_ticket(app, owner_engine):
    """The race is real: without the conditional UPDATE both doors say "valid", and the check above would
    catch it."""
    with committed(owner_engine) as c:
        [code] = tickets_of_a_booking(app, c, 1)
        both_have_read = threading.Barrier(2)
        outcomes = at_once(app, 2, lambda door, _: naive_check_in(code, both_have_read))
        assert_no_faults(outcomes)
        assert Counter(outcome.value for outcome in outcomes) == {"valid": 2}
