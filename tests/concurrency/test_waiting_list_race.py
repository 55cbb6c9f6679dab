"""The waiting list under concurrency: passes that run at the same moment (two app servers, or the job and a
retry) offer every seat that came back once, to the first in line; a buyer and the pass racing for one
seat never both get it; customers joining at the same moment each get a place of their own; buyers pressing
a seat the moment a refund frees it, its holder gives it back, or its hold runs out, never get it before the
line does.
With controls showing that offering seats read-then-write, without the event's lock, gives one seat twice,
and that seats freed without the line first do go to the buyers pressing them."""
from __future__ import annotations

import json
import secrets
import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from boxoffice.errors import SeatUnavailable
from boxoffice.extensions import db
from boxoffice.services import holds, refunds, waiting_list
from boxoffice.services.waiting_list import NotSoldOut
from boxoffice.services.unit_of_work import unit_of_work
from tests.builders import committed, hold_seats, make_customer, make_event, make_venue, rows, sell_seats
from tests.concurrency.harness import assert_no_faults, at_once, new_key, pay

pytestmark = pytest.mark.concurrency


def sold_out_with_a_line(c, people: int, seats: int = 6):
    """A committed sold-out event of `seats` seats with `people` customers in its line, one seat each, in
    customer order; returns the event and the customers' ids in line order."""
    event = make_event(c, make_venue(c, rows=1, seats_per_row=seats))
    sell_seats(c, event, event.seat_ids())
    customers = [make_customer(c).customer_id for _ in range(people)]
    for customer_id in customers:
        c.execute(sa.text("""INSERT INTO waiting_list_entries (event_id, customer_id, seats_wanted, joined_at)
                             VALUES (:e, :c, 1, UTC_TIMESTAMP(3))"""), {"e": event.event_id, "c": customer_id})
    return event, customers


def give_back(c, event, *labels: str) -> None:
    """Seats come back (as a refund frees them)."""
    c.execute(sa.text("UPDATE event_seats SET state = 'available' WHERE event_id = :e AND seat_id IN :s"),
              {"e": event.event_id, "s": event.seat_ids(*labels)})


def offers_made(c, event) -> list[tuple[int, int]]:
    """(customer, seat) of every seat held under an offer, in line order."""
    return rows(c, """SELECT w.customer_id, es.seat_id FROM waiting_list_entries w
                        JOIN event_seats es ON es.hold_owner = w.offer_token AND es.event_id = w.event_id
                       WHERE w.event_id = :e AND es.state = 'held' ORDER BY w.entry_id, es.seat_id""", e=event.event_id)


@pytest.mark.parametrize("passes", [2, 8])
def test_passes_at_once_offer_each_seat_that_came_back_once_to_the_first_in_line(app, owner_engine, passes):
    with committed(owner_engine) as c:
        for _ in range(6):
            event, line = sold_out_with_a_line(c, people=5)
            give_back(c, event, "A2", "A5")
            outcomes = at_once(app, passes, lambda client, _: waiting_list.offer_free_seats(event.event_id))
            assert_no_faults(outcomes)
            offers = [offer for outcome in outcomes for offer in outcome.value]
            assert len(offers) == 2, f"{len(offers)} offers for two seats"
            made = offers_made(c, event)
            assert [customer for customer, _ in made] == line[:2], "the first two in line, in order"
            assert sorted(seat for _, seat in made) == sorted(event.seat_ids("A2", "A5"))
            assert rows(c, "SELECT COUNT(*) FROM outbox_emails WHERE subject LIKE 'Seats for %' AND recipient IN "
                           "(SELECT email FROM customers WHERE customer_id IN :c)", c=line) == [(2,)], "one mail each"


def test_a_buyer_and_the_pass_racing_for_a_seat_that_came_back_never_both_get_it(app, owner_engine):
    with committed(owner_engine) as c:
        for _ in range(12):
            event, line = sold_out_with_a_line(c, people=1, seats=3)
            give_back(c, event, "A2")
            seat = event.seat_ids("A2")

            def act(client, _):
                if client == 0:
                    return len(waiting_list.offer_free_seats(event.event_id))
                return len(holds.hold_seats(event.event_id, seat, holds.new_hold_owner(), 10).seat_ids)

            outcomes = at_once(app, 2, act)
            assert_no_faults(outcomes, SeatUnavailable)
            winners = [o for o in outcomes if o.ok and o.value]
            assert len(winners) == 1, f"the seat went to {len(winners)} of the pass and the buyer"
            assert rows(c, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                        e=event.event_id) == [(1,)]


def test_customers_joining_at_once_each_get_a_place_of_their_own(app, owner_engine):
    with committed(owner_engine) as c:
        event = make_event(c, make_venue(c, rows=1, seats_per_row=2))
        sell_seats(c, event, event.seat_ids())
        customers = [make_customer(c).customer_id for _ in range(16)]
        outcomes = at_once(app, 16, lambda client, _: waiting_list.join(event.event_id, customers[client], 1, None))
        assert_no_faults(outcomes)
        assert rows(c, "SELECT COUNT(*), COUNT(DISTINCT customer_id) FROM waiting_list_entries WHERE event_id = :e",
                    e=event.event_id) == [(16, 16)]
        positions = sorted(waiting_list_position(app, event.event_id, customer) for customer in customers)
        assert positions == list(range(1, 17))


def test_joining_waits_for_a_seat_coming_back_and_is_told_it_is_on_sale(app, owner_engine):
    """A seat coming back as someone joins an empty line: joining waits for that change of the event (its
    lock), then finds the seat on sale and says so, rather than queueing the customer behind a free seat."""
    with committed(owner_engine) as c:
        event = make_event(c, make_venue(c, rows=1, seats_per_row=2))
        sell_seats(c, event, event.seat_ids())
        joiner = make_customer(c).customer_id
        joined: list = []

        def join() -> None:
            with app.app_context():
                try:
                    joined.append(waiting_list.join(event.event_id, joiner, 1, None))
                except NotSoldOut as refusal:
                    joined.append(refusal)
                finally:
                    db.session.remove()

        with owner_engine.connect() as returning:
            # A refund under way: the event's lock taken, nobody in the line yet, so its seat goes on sale.
            returning.execute(sa.text("SELECT event_id FROM event_locks WHERE event_id = :e FOR UPDATE"),
                              {"e": event.event_id})
            thread = threading.Thread(target=join)
            thread.start()
            thread.join(1.0)
            assert thread.is_alive(), "joining went ahead of the seat change under way"
            give_back(returning, event, "A1")
            returning.commit()
        thread.join(10)

        assert isinstance(joined[0], NotSoldOut)
        assert rows(c, "SELECT COUNT(*) FROM waiting_list_entries WHERE event_id = :e", e=event.event_id) == [(0,)]


def waiting_list_position(app, event_id: int, customer_id: int) -> int:
    with app.app_context():
        try:
            return waiting_list.place(event_id, customer_id).position
        finally:
            db.session.remove()


def naive_offer(event_id: int, both_have_read: threading.Barrier) -> int:
    """Offering done wrong: read the free seats and the first in line, then write, without the event's lock
    and without conditions on the write."""
    seat_id = db.session.scalar(sa.text(
        "SELECT seat_id FROM event_seats WHERE event_id = :e AND state = 'available' ORDER BY seat_id LIMIT 1"),
        {"e": event_id})
    entry_id = db.session.scalar(sa.text(
        "SELECT entry_id FROM waiting_list_entries WHERE event_id = :e AND status = 'waiting' ORDER BY entry_id LIMIT 1"),
        {"e": event_id})
    both_have_read.wait(10)
    token = secrets.token_hex(16)
    db.session.execute(sa.text("""UPDATE event_seats SET state = 'held', hold_owner = :t,
                                         hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 30 MINUTE
                                   WHERE event_id = :e AND seat_id = :s"""), {"t": token, "e": event_id, "s": seat_id})
    db.session.execute(sa.text("""UPDATE waiting_list_entries SET status = 'offered', offer_token = :t,
                                         offered_at = UTC_TIMESTAMP(3), offer_expires_at = UTC_TIMESTAMP(3) + INTERVAL 30 MINUTE,
                                         seats_offered = 1
                                   WHERE entry_id = :w"""), {"t": token, "w": entry_id})
    db.session.commit()
    return seat_id


def test_control_offering_read_then_write_gives_one_seat_twice(app, owner_engine):
    """The race is real: without the lock and the conditional writes, two passes both offer the one seat that
    came back (each mail would promise it), and the checks above would catch it."""
    with committed(owner_engine) as c:
        event, _ = sold_out_with_a_line(c, people=2, seats=2)
        give_back(c, event, "A1")
        both_have_read = threading.Barrier(2)
        outcomes = at_once(app, 2, lambda client, _: naive_offer(event.event_id, both_have_read))
        assert_no_faults(outcomes)
        assert Counter(outcome.value for outcome in outcomes) == {event.seat_ids("A1")[0]: 2}


def line_of_one(c, event) -> int:
    """One customer waiting for one seat of the event; returns the entry's id."""
    customer_id = make_customer(c).customer_id
    return c.execute(sa.text("""INSERT INTO waiting_list_entries (event_id, customer_id, seats_wanted, joined_at)
                                VALUES (:e, :c, 1, UTC_TIMESTAMP(3))"""),
                     {"e": event.event_id, "c": customer_id}).lastrowid


def booked_and_sold_out(app, c, seats: int = 3):
    """A committed event whose seat A1 is a real paid booking (checkout) and every other seat sold; returns
    the event and the booking's id."""
    event = make_event(c, make_venue(c, rows=1, seats_per_row=seats))
    owner = holds.new_hold_owner()
    with app.app_context():
        holds.hold_seats(event.event_id, event.seat_ids("A1"), owner, minutes=10)
        booking_id = pay(event.event_id, owner, make_customer(c).customer_id, new_key()).booking_id
    sell_seats(c, event, [s for s in event.seat_ids() if s not in event.seat_ids("A1")])
    return event, booking_id


def race_for_a_seat_coming_back(app, event, free_it, buyers: int = 5):
    """Client 0 frees seat A1 with `free_it()` while the other clients press A1 again and again (each as a
    buyer of its own) until a few presses after it is free. Returns the outcomes: client 0's, then whether
    each buyer got the seat."""
    seat = event.seat_ids("A1")
    freed = threading.Event()

    def act(client, _):
        if client == 0:
            try:
                return free_it()
            finally:
                freed.set()
        owner, after = holds.new_hold_owner(), 0
        while after < 5:
            after += freed.is_set()
            try:
                return bool(holds.hold_seats(event.event_id, seat, owner, 10).seat_ids)
            except SeatUnavailable:
                continue
        return False

    return at_once(app, 1 + buyers, act)


def test_buyers_pressing_a_seat_as_a_refund_frees_it_never_get_it_before_the_line(app, owner_engine):
    with committed(owner_engine) as c:
        for _ in range(6):
            event, booking_id = booked_and_sold_out(app, c)
            entry_id = line_of_one(c, event)
            outcomes = race_for_a_seat_coming_back(app, event, lambda: refunds.refund_tickets(booking_id))
            assert_no_faults(outcomes, SeatUnavailable)
            assert not any(o.value for o in outcomes[1:]), "a buyer took a refunded seat before the waiting list"
            with app.app_context():
                assert waiting_list.seats_offered(entry_id) == event.seat_ids("A1")
            assert rows(c, "SELECT COUNT(*) FROM outbox_emails WHERE subject LIKE 'Seats for %' AND recipient = "
                           "(SELECT c.email FROM customers c JOIN waiting_list_entries w USING (customer_id) "
                           "WHERE w.entry_id = :w)", w=entry_id) == [(1,)]
            assert rows(c, "SELECT status FROM bookings WHERE booking_id = :b", b=booking_id) == [("refunded",)]


def free_without_the_line(event, booking_id: int) -> None:
    """A refund's seat step as it was before the waiting list came first: the sold seats back on sale, under
    the event's lock, and nothing offered (the next job pass would have, up to 30 s later)."""
    with unit_of_work(lock_event=event.event_id):
        seats = db.session.scalars(sa.text("SELECT seat_id FROM tickets WHERE booking_id = :b"),
                                   {"b": booking_id}).all()
        db.session.execute(sa.text("CALL FreeSoldSeats(:e, :s)"), {"e": event.event_id, "s": json.dumps(seats)})


def test_control_seats_freed_without_the_line_first_go_to_the_buyers_pressing_them(app, owner_engine):
    """The race is real: freed the way refunds did before, the seat goes to one of the buyers pressing it
    (before any job pass could offer it), which the test above would catch."""
    with committed(owner_engine) as c:
        taken = 0
        for _ in range(3):
            event, booking_id = booked_and_sold_out(app, c)
            line_of_one(c, event)
            outcomes = race_for_a_seat_coming_back(app, event, lambda: free_without_the_line(event, booking_id))
            assert_no_faults(outcomes, SeatUnavailable)
            taken += sum(bool(o.value) for o in outcomes[1:])
        assert taken == 3, f"buyers took {taken} of 3 seats freed without the line first"


@pytest.mark.parametrize("line", [True, False], ids=["someone waiting", "control: nobody waiting"])
def test_buyers_pressing_a_seat_as_its_holder_gives_it_back_never_get_it_before_the_line(app, owner_engine, line):
    """The holder presses their seat again on the seat map while other buyers press it: with somebody waiting,
    it goes to them (one offer, one mail) and to none of the buyers; the control, nobody waiting, shows the
    buyers do reach the seat given back at once: exactly one of them gets it."""
    with committed(owner_engine) as c:
        for _ in range(6):
            event = make_event(c, make_venue(c, rows=1, seats_per_row=3))
            sell_seats(c, event, event.seat_ids("A2", "A3"))
            holder = hold_seats(c, event, event.seat_ids("A1"))
            entry_id = line_of_one(c, event) if line else None
            outcomes = race_for_a_seat_coming_back(app, event, lambda: holds.toggle_seat(
                event.event_id, event.seat_ids("A1")[0], holder, 10).is_empty)
            assert_no_faults(outcomes, SeatUnavailable)
            assert outcomes[0].value, "the holder gave the seat back"
            winners = sum(bool(o.value) for o in outcomes[1:])
            if line:
                assert winners == 0, f"{winners} buyers took a seat given back before the waiting list"
                with app.app_context():
                    assert waiting_list.seats_offered(entry_id) == event.seat_ids("A1")
                assert rows(c, "SELECT COUNT(*) FROM outbox_emails WHERE subject LIKE 'Seats for %' AND recipient = "
                               "(SELECT c.email FROM customers c JOIN waiting_list_entries w USING (customer_id) "
                               "WHERE w.entry_id = :w)", w=entry_id) == [(1,)]
            else:
                assert winners == 1


def run_out_hold_on_a1(c, event) -> None:
    """Seat A1 held by someone whose hold has just run out."""
    c.execute(sa.text("""UPDATE event_seats SET state = 'held', hold_owner = :o,
                                hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND
                          WHERE event_id = :e AND seat_id = :s"""),
              {"o": secrets.token_hex(16), "e": event.event_id, "s": event.seat_ids("A1")[0]})


@pytest.mark.parametrize("line", [True, False], ids=["someone waiting", "control: nobody waiting"])
def test_buyers_pressing_a_seat_whose_hold_ran_out_at_once_the_line_gets_it_first(app, owner_engine, line):
    """With somebody waiting, the seat goes to them and to none of the buyers pressing it; the control, nobody
    waiting, shows the buyers do reach the seat at once: exactly one of them gets it."""
    with committed(owner_engine) as c:
        for _ in range(6):
            event = make_event(c, make_venue(c, rows=1, seats_per_row=3))
            sell_seats(c, event, event.seat_ids("A2", "A3"))
            run_out_hold_on_a1(c, event)
            entry_id = line_of_one(c, event) if line else None
            seat = event.seat_ids("A1")
            outcomes = at_once(app, 6, lambda client, _: bool(
                holds.hold_seats(event.event_id, seat, holds.new_hold_owner(), 10).seat_ids))
            assert_no_faults(outcomes, SeatUnavailable)
            winners = sum(bool(o.ok and o.value) for o in outcomes)
            if line:
                assert winners == 0, f"{winners} buyers took a seat the waiting list had first"
                with app.app_context():
                    assert waiting_list.seats_offered(entry_id) == seat
            else:
                assert winners == 1
