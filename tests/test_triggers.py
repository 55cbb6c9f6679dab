"""The triggers of sql/objects/20_triggers.sql: check_booking_date guards every booking, whoever writes it;
update_seat_availability keeps the seat counts and versions true to the seat inventory."""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.sqlfiles import repeatable_object_files, split_statements
from tests.builders import (
    ECONOMY, PREMIUM, STANDARD, Event, book, hold_seats, make_customer, make_event, make_past_booking, make_venue,
    now, refund_tickets, rows, sell_seats,
)


@pytest.fixture
def tx(db_session):
    return db_session.connection()


def insert_booking(tx, event_id: int, customer_id: int, booked_at: dt.datetime) -> int:
    """A bare booking row written straight into the table, as no service would."""
    return tx.execute(sa.text("""INSERT INTO bookings (booking_code, customer_id, event_id, subtotal, total, booked_at)
                                 VALUES (:code, :customer_id, :event_id, 50, 50, :booked_at)"""),
                      {"code": secrets.token_hex(5).upper(), "customer_id": customer_id, "event_id": event_id,
                       "booked_at": booked_at}).lastrowid


# ---------------------------------------------------------------- check_booking_date

DAY = dt.timedelta(days=1)
REFUSED_BOOKINGS = {
    "a_cancelled_event": ({"status": "cancelled"}, -DAY,
                          "This event has been cancelled and can no longer be booked."),
    "a_draft_event": ({"status": "draft"}, -DAY, "This event is not on sale yet."),
    "an_event_that_has_started": ({"starts_in": -2 * DAY}, -DAY,
                                  "This event has already started and can no longer be booked."),
    "before_the_sales_window": ({"sales_start": now() - 10 * DAY}, -20 * DAY,
                                "Ticket sales for this event have not opened yet."),
    "after_the_sales_window": ({"sales_end": now() - 5 * DAY}, -DAY, "Ticket sales for this event have closed."),
    "dated_in_the_future": ({}, dt.timedelta(hours=1), "A booking cannot be dated in the future."),
}


@pytest.mark.parametrize("event_options, booked_ago, message", REFUSED_BOOKINGS.values(), ids=REFUSED_BOOKINGS.keys())
def test_a_booking_written_straight_into_the_table_is_refused_for(tx, event_options, booked_ago, message):
    event = make_event(tx, make_venue(tx), **event_options)
    customer = make_customer(tx)

    with pytest.raises(sa.exc.DBAPIError) as refusal:
        insert_booking(tx, event.event_id, customer.customer_id, now() + booked_ago)

    assert refusal.value.orig.args[:2] == (30001, message)
    assert rows(tx, "SELECT booking_id FROM bookings WHERE event_id = :e", e=event.event_id) == []


def test_a_booking_for_an_event_that_does_not_exist_is_refused(tx):
    customer = make_customer(tx)

    with pytest.raises(sa.exc.DBAPIError) as refusal:
        insert_booking(tx, 2**31, customer.customer_id, now())

    assert refusal.value.orig.args[:2] == (30001, "This event does not exist.")


def test_a_historical_booking_inside_its_sales_window_is_accepted(tx):
    event = make_event(tx, make_venue(tx), starts_in=dt.timedelta(days=3), sales_start=now() - 90 * DAY)
    customer = make_customer(tx)

    booking_id = insert_booking(tx, event.event_id, customer.customer_id, now() - 45 * DAY)

    assert rows(tx, "SELECT booked_at FROM bookings WHERE booking_id = :b", b=booking_id) == [(now() - 45 * DAY,)]


def test_the_sales_window_includes_its_first_and_last_second_but_not_the_start(tx):
    sales_start, sales_end = now() - 30 * DAY, now() - 2 * DAY
    event = make_event(tx, make_venue(tx), starts_in=-DAY, sales_start=sales_start, sales_end=sales_end)
    customer = make_customer(tx)

    insert_booking(tx, event.event_id, customer.customer_id, sales_start)
    insert_booking(tx, event.event_id, customer.customer_id, sales_end)
    with pytest.raises(sa.exc.DBAPIError) as refusal:
        insert_booking(tx, event.event_id, customer.customer_id, event.starts_at)

    assert refusal.value.orig.args[1] == "This event has already started and can no longer be booked."


# ---------------------------------------------------------------- update_seat_availability

def counts(tx, event: Event) -> tuple[int, dict[int, int]]:
    """The event's available count and each category's."""
    (available,) = rows(tx, "SELECT seats_available FROM events WHERE event_id = :e", e=event.event_id)[0]
    return available, dict(rows(tx, "SELECT category_id, seats_available FROM event_prices WHERE event_id = :e",
                                e=event.event_id))


def seat_version(tx, event: Event) -> int:
    return rows(tx, "SELECT seat_version FROM events WHERE event_id = :e", e=event.event_id)[0][0]


def seat_versions(tx, event: Event, seat_ids: list[int]) -> list[int]:
    return [v for (v,) in rows(tx, "SELECT version FROM event_seats WHERE event_id = :e AND seat_id IN :s "
                                   "ORDER BY seat_id", e=event.event_id, s=seat_ids)]


@pytest.fixture
def event(tx) -> Event:
    """Twelve seats: row A Premium, row B Standard, row C Economy."""
    return make_event(tx, make_venue(tx, rows=3, seats_per_row=4, categories={"A": PREMIUM, "C": ECONOMY}))


def test_selling_seats_lowers_the_events_and_their_categories_available_counts(tx, event):
    other_event = make_event(tx, event.venue)

    sell_seats(tx, event, event.seat_ids("A1", "B1", "B2"))

    assert counts(tx, event) == (9, {PREMIUM: 3, STANDARD: 2, ECONOMY: 4})
    assert counts(tx, other_event) == (12, {PREMIUM: 4, STANDARD: 4, ECONOMY: 4})
    assert rows(tx, "SELECT seats_total FROM events WHERE event_id = :e", e=event.event_id) == [(12,)]


def test_releasing_a_sold_seat_gives_it_back_to_the_counts(tx, event):
    sell_seats(tx, event, event.seat_ids("A1", "B1"))

    tx.execute(sa.text("UPDATE event_seats SET state = 'available' WHERE event_id = :e AND seat_id = :s"),
               {"e": event.event_id, "s": event.venue.seat("A1").seat_id})

    assert counts(tx, event) == (11, {PREMIUM: 4, STANDARD: 3, ECONOMY: 4})


def test_holds_do_not_change_the_counts(tx, event):
    owner = hold_seats(tx, event, event.seat_ids("A1", "A2", "B1"))
    hold_seats(tx, event, event.seat_ids("C1"), minutes=-1)
    assert counts(tx, event) == (12, {PREMIUM: 4, STANDARD: 4, ECONOMY: 4})

    tx.execute(sa.text("""UPDATE event_seats SET state = 'available', hold_owner = NULL, hold_expires_at = NULL
                           WHERE event_id = :e AND hold_owner = :o"""), {"e": event.event_id, "o": owner})
    assert counts(tx, event) == (12, {PREMIUM: 4, STANDARD: 4, ECONOMY: 4})


def test_selling_a_held_seat_counts_it_once(tx, event):
    seats = event.seat_ids("B1", "B2")
    hold_seats(tx, event, seats)

    sell_seats(tx, event, seats)

    assert counts(tx, event) == (10, {PREMIUM: 4, STANDARD: 2, ECONOMY: 4})


def test_every_seat_change_raises_the_events_seat_version_and_stamps_the_seat(tx, event):
    held = event.seat_ids("A1", "A2")
    untouched = event.seat_ids("C4")
    start = seat_version(tx, event)

    owner = hold_seats(tx, event, held)
    assert seat_version(tx, event) == start + 2
    assert sorted(seat_versions(tx, event, held)) == [start + 1, start + 2]

    tx.execute(sa.text("""UPDATE event_seats SET hold_expires_at = hold_expires_at + INTERVAL 5 MINUTE
                           WHERE event_id = :e AND hold_owner = :o"""), {"e": event.event_id, "o": owner})
    assert seat_version(tx, event) == start + 4

    sell_seats(tx, event, held[:1])
    assert seat_version(tx, event) == start + 5
    assert seat_versions(tx, event, held[:1]) == [start + 5]
    assert seat_versions(tx, event, untouched) == [0]


def test_stamping_seat_versions_leaves_the_callers_last_insert_id_alone(tx, event):
    booking_id = insert_booking(tx, event.event_id, make_customer(tx).customer_id, now() - dt.timedelta(hours=1))

    hold_seats(tx, event, event.seat_ids("A1", "A2"))

    assert rows(tx, "SELECT LAST_INSERT_ID()") == [(booking_id,)]


def test_an_update_that_changes_no_seat_leaves_the_versions_alone(tx, event):
    start = seat_version(tx, event)

    tx.execute(sa.text("UPDATE event_seats SET state = state, hold_owner = hold_owner WHERE event_id = :e"),
               {"e": event.event_id})

    assert seat_version(tx, event) == start
    assert set(seat_versions(tx, event, event.seat_ids())) == {0}


# What each procedure of sql/objects/35_seat_states.sql but HoldSeats does to seat A1 (made ready first).
def _extend_hold(tx, event, seat):
    owner = hold_seats(tx, event, [seat])
    tx.execute(sa.text("CALL ExtendHold(:e, :o, 3600, FALSE)"), {"e": event.event_id, "o": owner})


def _release_hold(tx, event, seat):
    owner = hold_seats(tx, event, [seat])
    tx.execute(sa.text("CALL ReleaseHold(:e, :o)"), {"e": event.event_id, "o": owner})


def _reclaim_seats(tx, event, seat):
    tx.execute(sa.text("CALL ReclaimSeats(:e, :o, :s, 120, NULL, NULL)"),
               {"e": event.event_id, "o": secrets.token_hex(16), "s": json.dumps([seat])})


def _sell_held_seats(tx, event, seat):
    owner = hold_seats(tx, event, [seat])
    tx.execute(sa.text("CALL SellHeldSeats(:e, :o)"), {"e": event.event_id, "o": owner})


def _free_sold_seats(tx, event, seat):
    sell_seats(tx, event, [seat])
    tx.execute(sa.text("CALL FreeSoldSeats(:e, :s)"), {"e": event.event_id, "s": json.dumps([seat])})


def _offer_seats(tx, event, seat):
    entry_id = tx.execute(sa.text("""INSERT INTO waiting_list_entries (event_id, customer_id, seats_wanted, joined_at)
                                     VALUES (:e, :c, 1, UTC_TIMESTAMP(3))"""),
                          {"e": event.event_id, "c": make_customer(tx).customer_id}).lastrowid
    tx.execute(sa.text("CALL OfferSeats(:e, :w, :s, :t, 30)"),
               {"e": event.event_id, "w": entry_id, "s": json.dumps([seat]), "t": secrets.token_hex(16)})


def _claim_offered_seats(tx, event, seat):
    token = hold_seats(tx, event, [seat])
    tx.execute(sa.text("CALL ClaimOfferedSeats(:e, :t, :o, :a)"),
               {"e": event.event_id, "t": token, "o": secrets.token_hex(16), "a": "192.0.2.1"}).all()


def _release_run_out_holds(tx, event, seat):
    hold_seats(tx, event, [seat], minutes=-1)
    tx.execute(sa.text("CALL ReleaseRunOutHolds(:e)"), {"e": event.event_id})


SEAT_PROCEDURES = {change.__name__.title().replace("_", ""): change for change in (
    _extend_hold, _release_hold, _reclaim_seats, _sell_held_seats, _free_sold_seats, _offer_seats,
    _claim_offered_seats, _release_run_out_holds)}


@pytest.fixture
def stale_marker(tx, event):
    """@boxoffice_hold_seats_event left naming the event on the connection, as a HoldSeats stopped half-way,
    without its handler, would leave it on a connection the pool then hands on."""
    tx.execute(sa.text("SET @boxoffice_hold_seats_event = :e"), {"e": event.event_id})
    yield
    tx.execute(sa.text("SET @boxoffice_hold_seats_event = NULL"))


@pytest.mark.parametrize("change", SEAT_PROCEDURES.values(), ids=SEAT_PROCEDURES.keys())
def test_a_seat_change_after_a_hold_stopped_half_way_still_versions_the_seat(tx, event, stale_marker, change):
    seat = event.seat_ids("A1")[0]

    change(tx, event, seat)

    assert seat_versions(tx, event, [seat]) == [seat_version(tx, event)]
    assert seat_version(tx, event) > 0


def test_every_procedure_that_changes_seats_but_hold_seats_clears_its_marker_first():
    """The one rule the test above checks procedure by procedure, held for any procedure to come."""
    procedures = {}
    for path in repeatable_object_files():
        for statement in split_statements(path.read_text(encoding="utf-8")):
            named = re.match(r"\s*CREATE PROCEDURE (\w+)", statement)
            if named and "UPDATE event_seats" in statement:
                procedures[named.group(1)] = statement
    assert set(procedures) == {"HoldSeats", *SEAT_PROCEDURES}
    for name, body in procedures.items():
        if name != "HoldSeats":
            clears = body.find("SET @boxoffice_hold_seats_event = NULL")
            assert 0 <= clears < body.index("UPDATE event_seats"), f"{name} changes seats before clearing the marker"


def test_after_bookings_holds_and_refunds_the_counts_equal_a_fresh_count_of_the_inventory(tx):
    venue = make_venue(tx, sections=2, rows=2, seats_per_row=5, categories={"A": PREMIUM, "D": ECONOMY})
    event = make_event(tx, venue, prices={PREMIUM: Decimal("90.00"), STANDARD: Decimal("45.50"),
                                          ECONOMY: Decimal("19.99")})
    customer, vip = make_customer(tx), make_customer(tx, vip=True, rate=Decimal("0.1500"))
    first = book(tx, event, customer, seats=event.seat_ids("A1", "A2", "B1"))
    book(tx, event, vip, seats=event.seat_ids("C1", "C2", "D5"))
    old = make_past_booking(tx, event, customer, event.seat_ids("D1", "D2", "A5"), now() - 20 * DAY)
    hold_seats(tx, event, event.seat_ids("B4", "B5"))
    hold_seats(tx, event, event.seat_ids("C5"), minutes=-3)
    first_tickets = [t for (t,) in rows(tx, "SELECT ticket_id FROM tickets WHERE booking_id = :b ORDER BY seat_id",
                                        b=first["booking_id"])]
    refund_tickets(tx, first["booking_id"], first_tickets[:2])
    refund_tickets(tx, old.booking_id, old.ticket_ids)

    fresh = rows(tx, """SELECT category_id, COUNT(*), SUM(state <> 'sold') FROM event_seats WHERE event_id = :e
                         GROUP BY category_id ORDER BY category_id""", e=event.event_id)
    kept = rows(tx, """SELECT category_id, seats_total, seats_available FROM event_prices WHERE event_id = :e
                        ORDER BY category_id""", e=event.event_id)
    assert kept == fresh
    assert rows(tx, "SELECT seats_total, seats_available FROM events WHERE event_id = :e", e=event.event_id) == [
        (sum(total for _, total, _ in fresh), sum(free for _, _, free in fresh))]
    assert counts(tx, event)[0] == 20 - 4
