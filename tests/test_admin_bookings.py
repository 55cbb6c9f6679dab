"""Bookings in the back office: found by code, customer e-mail or event; shown with tickets and payments;
refunded in full or in part through refunds.refund_tickets."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest

from boxoffice.services import bookings_admin
from tests.admin_support import HX, paid_booking
from tests.builders import PREMIUM, STANDARD, make_customer, make_discount, make_event, make_venue, rows


@pytest.fixture
def event(db_session):
    venue = make_venue(db_session, rows=2, seats_per_row=5, categories={"A": PREMIUM})
    made = make_event(db_session, venue, title="Northern Lights Suite",
                      prices={PREMIUM: Decimal("83.35"), STANDARD: Decimal("41.10")})
    db_session.commit()
    return made


def codes_in(html: str) -> set[str]:
    return set(re.findall(r'href="/admin/bookings/([A-Z0-9]+)"', html))


def test_bookings_are_found_by_code_customer_e_mail_or_event(admin_client, db_session, event):
    ann = make_customer(db_session, email="ann.hathaway@example.test")
    bob = make_customer(db_session, email="bob@elsewhere.example")
    other = make_event(db_session, make_venue(db_session), title="Quiet Evenings")
    db_session.commit()
    anns, bobs = paid_booking(event, ann, "A1"), paid_booking(other, bob, "A1")

    def search(**query):
        return codes_in(admin_client.get("/admin/bookings", query_string=query).get_data(as_text=True))

    assert search(q=anns.booking_code.lower()) == {anns.booking_code}
    assert search(q="hathaway") == {anns.booking_code}
    assert search(q="quiet even") == {bobs.booking_code}
    assert search(event=event.event_id) == {anns.booking_code}
    assert search(q="é€") == set(), "text no booking code can have is still a search, not an error"
    html = admin_client.get("/admin/bookings", query_string={"q": "elsewhere"}, headers=HX).get_data(as_text=True)
    assert codes_in(html) == {bobs.booking_code} and "<form" not in html


def test_the_booking_list_is_paginated(db_session, event):
    buyer = make_customer(db_session)
    db_session.commit()
    for label in ("B1", "B2", "B3"):
        paid_booking(event, buyer, label)
    first = bookings_admin.search_bookings(None, event.event_id, 1, 2)
    second = bookings_admin.search_bookings(None, event.event_id, 2, 2)
    assert (first.total, len(first.items), len(second.items)) == (3, 2, 1)


def test_a_booking_shows_its_tickets_and_its_payment(admin_client, db_session, event):
    booking = paid_booking(event, make_customer(db_session), "A1", "B2")
    html = admin_client.get(f"/admin/bookings/{booking.booking_code}").get_data(as_text=True)
    for ticket in booking.tickets:
        assert ticket.ticket_code in html
    assert "Stalls, row A, seat 1" in html and "€124.45" in html and "Captured" in html
    assert admin_client.get("/admin/bookings/NOSUCHCODE").status_code == 404


def test_a_partial_refund_gives_back_exactly_the_chosen_tickets_paid_shares(admin_client, forms, db_session, event):
    make_discount(db_session, code="THIRD", value=Decimal("33"))
    vip = make_customer(db_session, vip=True, rate=Decimal("0.0700"))
    db_session.commit()
    booking = paid_booking(event, vip, "A1", "A2", "B1", promo="THIRD")
    chosen = [t for t in booking.tickets if t.seat_id in event.seat_ids("A2", "B1")]
    shares = sum(t.paid_amount for t in chosen)
    assert shares not in {t.face_price for t in chosen} and shares != booking.total

    page = f"/admin/bookings/{booking.booking_code}"
    asked = forms.post(page, {"tickets": [t.ticket_id for t in chosen]}, action=f"{page}/refund")
    # The confirmation step: what goes back, before anything happens.
    assert asked.status_code == 200 and "Yes, refund" in asked.get_data(as_text=True)
    assert rows(db_session, "SELECT COUNT(*) FROM booking_refunds WHERE booking_id = :b", b=booking.booking_id) == [(0,)]
    response = forms.post(page, {"tickets": [t.ticket_id for t in chosen], "confirmed": "yes"}, action=f"{page}/refund")
    assert response.status_code == 302
    assert f"Refunded 2 ticket(s) of booking {booking.booking_code}: €{shares:,.2f}" in admin_client.get(page).get_data(
        as_text=True)
    assert rows(db_session, "SELECT amount FROM payments WHERE booking_id = :b AND kind = 'refund'",
                b=booking.booking_id) == [(shares,)]
    assert rows(db_session, "SELECT ticket_id FROM tickets WHERE booking_id = :b AND status = 'refunded' ORDER BY 1",
                b=booking.booking_id) == sorted((t.ticket_id,) for t in chosen)
    assert rows(db_session, "SELECT status FROM bookings WHERE booking_id = :b", b=booking.booking_id) == [
        ("partially_refunded",)]
    assert rows(db_session, "SELECT state FROM event_seats WHERE event_id = :e AND seat_id IN :s",
                e=event.event_id, s=event.seat_ids("A2", "B1")) == [("available",), ("available",)]


def test_refunding_everything_gives_back_the_rest_of_the_booking(admin_client, forms, db_session, event):
    booking = paid_booking(event, make_customer(db_session), "A1", "A2", "B1")
    page = f"/admin/bookings/{booking.booking_code}"
    forms.post(page, {"tickets": [booking.tickets[0].ticket_id], "confirmed": "yes"}, action=f"{page}/refund")
    forms.post(page, {"everything": "y", "confirmed": "yes"}, action=f"{page}/refund")
    assert rows(db_session, "SELECT SUM(amount), COUNT(*) FROM payments WHERE booking_id = :b AND kind = 'refund'",
                b=booking.booking_id) == [(booking.total, 2)]
    assert rows(db_session, "SELECT status FROM bookings WHERE booking_id = :b",
                b=booking.booking_id) == [("refunded",)]
    assert "No ticket of this booking can be refunded" in admin_client.get(page).get_data(as_text=True)


def test_a_refund_with_no_ticket_chosen_or_a_ticket_of_another_booking_refunds_nothing(admin_client, forms,
                                                                                       db_session, event):
    buyer = make_customer(db_session)
    db_session.commit()
    booking, other = paid_booking(event, buyer, "A1"), paid_booking(event, buyer, "A2")
    page = f"/admin/bookings/{booking.booking_code}"
    response = forms.post(page, {}, action=f"{page}/refund")
    assert response.status_code == 422 and "Choose the tickets to refund." in response.get_data(as_text=True)
    response = forms.post(page, {"tickets": [other.tickets[0].ticket_id]}, action=f"{page}/refund")
    assert response.status_code == 422
    assert rows(db_session, "SELECT COUNT(*) FROM payments WHERE kind = 'refund' AND booking_id IN :b",
                b=[booking.booking_id, other.booking_id]) == [(0,)]
