"""The waiting list of a sold-out event: joining it, seats that come back offered to the first in line with
a mail and a link (a refund's at once; a hold that ran out before any other buyer can take it), offers that
run out passing down the line, the link taking the seats to checkout, and staff seeing the line and its
conversions."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from boxoffice.errors import DuplicateRecord, SeatUnavailable
from boxoffice.services import checkout, holds, refunds, waiting_list
from boxoffice.services.payments import PaymentRequest
from tests.admin_support import GOOD_CARD, paid_booking
from tests.builders import DEFAULT_PASSWORD, PREMIUM, STANDARD, make_customer, make_event, make_venue, rows, sell_seats


@pytest.fixture
def sold_out(db_session):
    """A sold-out event of four seats (one row, category of the venue's default): A1 and A2 are one paid
    booking, A3 and A4 sold otherwise."""
    venue = make_venue(db_session, rows=1, seats_per_row=4)
    event = make_event(db_session, venue, title="Last Night of the Proms")
    buyer = make_customer(db_session, full_name="Early Bird")
    db_session.commit()
    booking = paid_booking(event, buyer, "A1", "A2")
    sell_seats(db_session, event, event.seat_ids("A3", "A4"))
    db_session.commit()
    return event, booking


def customer(db_session, name: str):
    made = make_customer(db_session, full_name=name)
    db_session.commit()
    return made


def refund_all(booking) -> None:
    refunds.refund_tickets(booking.booking_id, [t.ticket_id for t in booking.tickets])


def offer_mails(db_session, email: str) -> list[tuple[str, str]]:
    return rows(db_session, "SELECT subject, body_text FROM outbox_emails WHERE recipient = :r AND subject LIKE 'Seats for %'",
                r=email)


def expire_offer(db_session, entry_id: int) -> None:
    """Let an offer's time run out (its seats' hold and the entry's expiry into the past)."""
    db_session.execute(sa.text("""
        UPDATE event_seats es JOIN waiting_list_entries w ON w.offer_token = es.hold_owner AND w.event_id = es.event_id
           SET es.hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND
         WHERE w.entry_id = :e"""), {"e": entry_id})
    db_session.execute(sa.text(
        "UPDATE waiting_list_entries SET offer_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE entry_id = :e"),
        {"e": entry_id})
    db_session.commit()


def test_customers_join_a_sold_out_events_line_in_order_and_once(db_session, sold_out):
    event, _ = sold_out
    first, second = customer(db_session, "First"), customer(db_session, "Second")
    assert waiting_list.join(event.event_id, first.customer_id, 2, None).position == 1
    place = waiting_list.join(event.event_id, second.customer_id, 1, STANDARD)
    assert (place.position, place.seats_wanted, place.status) == (2, 1, "waiting")
    with pytest.raises(DuplicateRecord, match="already in the waiting list"):
        waiting_list.join(event.event_id, first.customer_id, 1, None)


def test_an_event_with_seats_on_sale_has_no_line_to_join(db_session):
    event = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=2))
    someone = customer(db_session, "Too Early")
    with pytest.raises(waiting_list.NotSoldOut):
        waiting_list.join(event.event_id, someone.customer_id, 1, None)
    assert rows(db_session, "SELECT COUNT(*) FROM waiting_list_entries WHERE event_id = :e", e=event.event_id) == [(0,)]


def test_refunded_seats_are_offered_to_the_first_in_line_at_once_with_a_mail_and_a_link(db_session, sold_out):
    event, booking = sold_out
    first, second = customer(db_session, "First"), customer(db_session, "Second")
    mine = waiting_list.join(event.event_id, first.customer_id, 2, None)
    waiting_list.join(event.event_id, second.customer_id, 2, None)

    refund_all(booking)

    offered = waiting_list.seats_offered(mine.entry_id)
    assert offered == sorted(event.seat_ids("A1", "A2")), "offered in the refund's own transaction, no pass needed"
    [(state, owner_is_token, minutes)] = rows(db_session, """
        SELECT DISTINCT es.state, es.hold_owner = w.offer_token,
               ROUND(TIMESTAMPDIFF(SECOND, w.offered_at, es.hold_expires_at) / 60)
          FROM event_seats es JOIN waiting_list_entries w ON w.entry_id = :e
         WHERE es.event_id = :ev AND es.seat_id IN :seats""", e=mine.entry_id, ev=event.event_id,
                                                 seats=offered)
    assert (state, owner_is_token, minutes) == ("held", 1, 30), "held for the entry for the configured 30 minutes"
    [(subject, body)] = offer_mails(db_session, first.email)
    assert subject == "Seats for Last Night of the Proms are held for you for 30 minutes"
    place = waiting_list.place(event.event_id, first.customer_id)
    assert place.status == "offered" and f"/waiting-list/offers/{place.offer_token}" in body
    assert "row A, seat 1" in body and "row A, seat 2" in body
    assert waiting_list.place(event.event_id, second.customer_id).status == "waiting"
    assert offer_mails(db_session, second.email) == []
    assert waiting_list.pass_down_the_line().offers == [], "nothing is offered twice"


def test_a_place_whose_wish_does_not_fit_keeps_it_while_the_next_who_fits_is_offered(db_session, sold_out):
    event, booking = sold_out
    big, small = customer(db_session, "Wants Four"), customer(db_session, "Wants Two")
    waiting_list.join(event.event_id, big.customer_id, 4, None)
    waiting_list.join(event.event_id, small.customer_id, 2, None)
    refund_all(booking)
    assert waiting_list.place(event.event_id, small.customer_id).status == "offered"
    place = waiting_list.place(event.event_id, big.customer_id)
    assert (place.status, place.position) == ("waiting", 1)


def test_an_unclaimed_offer_expires_and_its_seats_pass_down_the_line(db_session, sold_out):
    event, booking = sold_out
    first, second = customer(db_session, "Slow"), customer(db_session, "Next")
    slow = waiting_list.join(event.event_id, first.customer_id, 2, None)
    waiting_list.join(event.event_id, second.customer_id, 2, None)
    refund_all(booking)
    first_offer = waiting_list.seats_offered(slow.entry_id)
    expire_offer(db_session, slow.entry_id)

    result = waiting_list.pass_down_the_line()

    assert result.expired == 1
    [second_offer] = result.offers
    assert second_offer.customer_id == second.customer_id
    assert sorted(second_offer.seat_ids) == first_offer
    assert rows(db_session, "SELECT status FROM waiting_list_entries WHERE entry_id = :e", e=slow.entry_id) == [("expired",)]
    assert waiting_list.place(event.event_id, first.customer_id) is None
    assert len(offer_mails(db_session, second.email)) == 1


def test_an_expired_hold_on_a_sold_out_event_goes_to_the_line(db_session):
    venue = make_venue(db_session, rows=1, seats_per_row=2)
    event = make_event(db_session, venue)
    db_session.commit()
    holds.hold_seats(event.event_id, event.seat_ids(), holds.new_hold_owner(), 10)
    waiter = customer(db_session, "Patient")
    waiting_list.join(event.event_id, waiter.customer_id, 1, None)
    assert waiting_list.pass_down_the_line().offers == [], "the hold is still running"
    db_session.execute(sa.text(
        "UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE event_id = :e"),
        {"e": event.event_id})
    db_session.commit()
    [offer] = waiting_list.pass_down_the_line().offers
    assert offer.customer_id == waiter.customer_id and len(offer.seat_ids) == 1


def test_a_category_wish_is_met_only_by_that_category(db_session):
    venue = make_venue(db_session, rows=2, seats_per_row=2, categories={"A": PREMIUM})
    event = make_event(db_session, venue)
    sell_seats(db_session, event, event.seat_ids())
    db_session.commit()
    wants_best, anything = customer(db_session, "Best Only"), customer(db_session, "Anything")
    waiting_list.join(event.event_id, wants_best.customer_id, 1, PREMIUM)
    waiting_list.join(event.event_id, anything.customer_id, 1, None)
    db_session.execute(sa.text(
        "UPDATE event_seats SET state = 'available' WHERE event_id = :e AND seat_id = :s"),
        {"e": event.event_id, "s": event.seat_ids("B1")[0]})
    db_session.commit()
    [offer] = waiting_list.pass_down_the_line().offers
    assert offer.customer_id == anything.customer_id


def test_the_offer_link_takes_the_seats_to_checkout_for_its_customer_only(client, forms, db_session, sold_out):
    event, booking = sold_out
    first, other = customer(db_session, "Lucky"), customer(db_session, "Nosy")
    waiting_list.join(event.event_id, first.customer_id, 2, None)
    refund_all(booking)
    token = waiting_list.place(event.event_id, first.customer_id).offer_token
    link = f"/waiting-list/offers/{token}"

    forms.post("/account/login", {"email": other.email, "password": DEFAULT_PASSWORD})
    response = client.get(link)
    assert response.status_code == 302 and "/checkout" not in response.location
    client.post("/account/logout", data={"csrf_token": forms.token("/")})

    forms.post("/account/login", {"email": first.email, "password": DEFAULT_PASSWORD})
    response = client.get(link)
    assert response.status_code == 302 and response.location.endswith(f"/checkout/{event.event_id}")
    page = client.get(response.location).get_data(as_text=True)
    assert "row A" in page.replace("Row", "row")
    assert rows(db_session, "SELECT status FROM waiting_list_entries WHERE customer_id = :c",
                c=first.customer_id) == [("claimed",)]
    with client.session_transaction() as session:
        owner = session["hold_owner"]
    assert len(holds.current_hold(event.event_id, owner).seat_ids) == 2
    assert rows(db_session, "SELECT DISTINCT hold_customer_id, hold_address FROM event_seats WHERE hold_owner = :o",
                o=owner) == [(first.customer_id, "127.0.0.1")], "the seats count for the browser's address too"


def test_an_offer_that_ran_out_is_gone(db_session, sold_out):
    event, booking = sold_out
    first = customer(db_session, "Too Late")
    entry = waiting_list.join(event.event_id, first.customer_id, 2, None)
    refund_all(booking)
    token = waiting_list.place(event.event_id, first.customer_id).offer_token
    expire_offer(db_session, entry.entry_id)
    with pytest.raises(waiting_list.OfferGone):
        waiting_list.claim_offer(token, first.customer_id, holds.new_hold_owner(), None)


def test_leaving_with_an_offer_gives_the_seats_back_to_the_line(db_session, sold_out):
    event, booking = sold_out
    first, second = customer(db_session, "Changed Mind"), customer(db_session, "Grateful")
    waiting_list.join(event.event_id, first.customer_id, 2, None)
    waiting_list.join(event.event_id, second.customer_id, 2, None)
    refund_all(booking)
    waiting_list.leave(event.event_id, first.customer_id)
    place = waiting_list.place(event.event_id, second.customer_id)
    assert place.status == "offered", "passed down the line at once"
    assert len(waiting_list.seats_offered(place.entry_id)) == 2
    assert waiting_list.pass_down_the_line().offers == []


def run_out(db_session, event) -> None:
    """Let every hold on the event run out."""
    db_session.execute(sa.text(
        "UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE event_id = :e AND state = 'held'"),
        {"e": event.event_id})
    db_session.commit()


def held_out(db_session, waiter_name: str, seats_wanted: int):
    """A two-seat event sold out by one live hold, and a customer in its line for `seats_wanted` seats:
    (event, the hold's owner, the waiting customer, their entry)."""
    event = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=2))
    db_session.commit()
    owner = holds.new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids(), owner, 10)
    waiter = customer(db_session, waiter_name)
    return event, owner, waiter, waiting_list.join(event.event_id, waiter.customer_id, seats_wanted, None)


def test_a_seat_whose_hold_ran_out_goes_to_the_line_before_a_buyer_who_asks_for_it(db_session):
    event = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=3))
    db_session.commit()
    sell_seats(db_session, event, event.seat_ids("A3"))
    db_session.commit()
    holds.hold_seats(event.event_id, event.seat_ids("A1", "A2"), holds.new_hold_owner(), 10)
    waiter = customer(db_session, "Patient")
    entry = waiting_list.join(event.event_id, waiter.customer_id, 1, None)
    run_out(db_session, event)
    buyer = holds.new_hold_owner()

    with pytest.raises(SeatUnavailable, match="first person in the waiting list"):
        holds.hold_seats(event.event_id, event.seat_ids("A1"), buyer, 10)

    assert waiting_list.seats_offered(entry.entry_id) == event.seat_ids("A1"), "the line took its pick first"
    assert len(offer_mails(db_session, waiter.email)) == 1
    assert holds.current_hold(event.event_id, buyer).is_empty
    assert holds.hold_seats(event.event_id, event.seat_ids("A2"), buyer, 10).seat_ids == tuple(event.seat_ids("A2")), \
        "what nobody in the line wanted is on sale again"


def test_a_seat_that_came_back_and_fits_nobody_in_line_goes_to_the_buyer(db_session):
    event, _, waiter, _ = held_out(db_session, "Wants Two", 2)
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                               "WHERE event_id = :e AND seat_id = :s"), {"e": event.event_id, "s": event.seat_ids("A1")[0]})
    db_session.commit()
    buyer = holds.new_hold_owner()
    assert holds.hold_seats(event.event_id, event.seat_ids("A1"), buyer, 10).seat_ids == tuple(event.seat_ids("A1"))
    assert waiting_list.place(event.event_id, waiter.customer_id).status == "waiting"
    assert offer_mails(db_session, waiter.email) == []


def test_a_buyer_whose_own_hold_ran_out_finds_it_offered_to_the_line_first(db_session):
    event, late, _, entry = held_out(db_session, "Patient", 2)
    run_out(db_session, event)
    with pytest.raises(SeatUnavailable, match="waiting list"):
        holds.hold_seats(event.event_id, event.seat_ids("A1"), late, 10)
    assert waiting_list.seats_offered(entry.entry_id) == event.seat_ids()


def test_a_hold_given_back_on_a_sold_out_event_is_offered_to_the_line_at_once(db_session):
    event, owner, _, entry = held_out(db_session, "Patient", 2)
    holds.release_hold(event.event_id, owner)
    assert waiting_list.seats_offered(entry.entry_id) == event.seat_ids()


def test_a_seat_given_back_on_the_seat_map_of_a_sold_out_event_goes_to_the_line_before_a_buyer(db_session):
    event, owner, waiter, entry = held_out(db_session, "Patient", 1)
    holder = customer(db_session, "Holder")

    assert holds.toggle_seat(event.event_id, event.seat_ids("A2")[0], owner, 10).seat_ids == tuple(event.seat_ids("A1"))

    with pytest.raises(SeatUnavailable, match="first person in the waiting list"):
        holds.hold_seats(event.event_id, event.seat_ids("A2"), holds.new_hold_owner(), 10)
    assert waiting_list.seats_offered(entry.entry_id) == event.seat_ids("A2")
    assert len(offer_mails(db_session, waiter.email)) == 1
    quote = checkout.quote(event.event_id, owner, holder.customer_id, None)
    booked = checkout.pay(event.event_id, owner, holder.customer_id, None, PaymentRequest("card", card=GOOD_CARD),
                          checkout.payment_key(holder.customer_id, event.event_id, owner, quote.total), quote.total)
    assert rows(db_session, "SELECT seat_id FROM tickets WHERE booking_id = :b", b=booked.booking_id) == [
        (seat,) for seat in event.seat_ids("A1")], "the holder pays for the seat they kept, and only that one"


def test_a_seat_given_back_on_the_seat_map_goes_to_the_line_at_the_next_pass(db_session):
    event, owner, _, entry = held_out(db_session, "Patient", 1)
    holds.toggle_seat(event.event_id, event.seat_ids("A1")[0], owner, 10)

    waiting_list.pass_down_the_line()

    assert waiting_list.seats_offered(entry.entry_id) == event.seat_ids("A1")


def test_a_seat_given_back_on_the_seat_map_that_fits_nobody_in_line_goes_to_the_buyer(db_session):
    event, owner, waiter, _ = held_out(db_session, "Wants Two", 2)
    holds.toggle_seat(event.event_id, event.seat_ids("A2")[0], owner, 10)

    buyer = holds.new_hold_owner()
    assert holds.hold_seats(event.event_id, event.seat_ids("A2"), buyer, 10).seat_ids == tuple(event.seat_ids("A2"))
    assert waiting_list.place(event.event_id, waiter.customer_id).status == "waiting"
    assert offer_mails(db_session, waiter.email) == []


def test_the_sold_out_event_page_offers_the_waiting_list_and_a_customer_joins_it(client, forms, db_session, sold_out):
    event, _ = sold_out
    page = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert "Join the waiting list" in page and f'hx-get="/events/{event.event_id}/waiting-list"' in page
    panel = client.get(f"/events/{event.event_id}/waiting-list", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Sign in to join the waiting list" in panel and "<html" not in panel
    joiner = customer(db_session, "Joiner")
    forms.post("/account/login", {"email": joiner.email, "password": DEFAULT_PASSWORD})
    response = forms.post(f"/events/{event.event_id}/waiting-list", {"seats": "3", "category": "any"},
                          headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "You are in the waiting list" in html
    assert re.search(r"Number <strong>1</strong> in line, for 3 seats in any category", html)


def test_staff_see_the_line_and_its_conversions(admin_client, db_session, sold_out):
    event, booking = sold_out
    first, second = customer(db_session, "Converted"), customer(db_session, "Still Waiting")
    waiting_list.join(event.event_id, first.customer_id, 2, None)
    waiting_list.join(event.event_id, second.customer_id, 1, None)
    refund_all(booking)
    owner = holds.new_hold_owner()
    waiting_list.claim_offer(waiting_list.place(event.event_id, first.customer_id).offer_token, first.customer_id, owner,
                             None)
    quote = checkout.quote(event.event_id, owner, first.customer_id, None)
    checkout.pay(event.event_id, owner, first.customer_id, None, PaymentRequest("card", card=GOOD_CARD),
                 checkout.payment_key(first.customer_id, event.event_id, owner, quote.total), quote.total)

    entries, summary = waiting_list.line_for_staff(event.event_id)
    assert [(e.customer_name, e.status_label) for e in entries] == [("Converted", "Booked"), ("Still Waiting", "Waiting")]
    assert (summary.waiting, summary.offered, summary.converted) == (1, 1, 1)
    html = admin_client.get(f"/admin/waiting-lists/{event.event_id}").get_data(as_text=True)
    assert "Converted" in html and "Booked" in html and "100% of offers" in html
    overview = admin_client.get("/admin/waiting-lists").get_data(as_text=True)
    assert "Last Night of the Proms" in overview
