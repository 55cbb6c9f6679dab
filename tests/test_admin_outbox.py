"""The development outbox: every message sent, newest first, one page at a time."""
from __future__ import annotations

from boxoffice.services import mail
from tests.admin_support import paid_booking
from tests.builders import make_customer, make_event, make_venue


def test_the_outbox_shows_the_mail_the_box_office_sent(admin_client, db_session):
    event = make_event(db_session, make_venue(db_session), title="Lakeside Jazz")
    buyer = make_customer(db_session, email="mia@example.test")
    db_session.commit()
    booking = paid_booking(event, buyer, "A1")
    html = admin_client.get("/admin/outbox").get_data(as_text=True)
    assert f"Your tickets for Lakeside Jazz ({booking.booking_code})" in html
    assert "mia@example.test" in html and "Thank you for your booking" in html


def test_the_outbox_is_paginated_newest_first(admin_client, db_session):
    for number in range(25):
        mail.queue_message("someone@example.test", f"Outbox message {number:02}", "Hello.")
    db_session.commit()
    first = admin_client.get("/admin/outbox").get_data(as_text=True)
    second = admin_client.get("/admin/outbox", query_string={"page": 2}).get_data(as_text=True)
    assert "Outbox message 24" in first and "Outbox message 05" in first and "Outbox message 04" not in first
    assert "Outbox message 04" in second and "Outbox message 00" in second and 'rel="prev"' in second


def test_a_booking_leads_to_the_mail_its_customer_was_sent(admin_client, db_session):
    event = make_event(db_session, make_venue(db_session), title="Harbour Nights")
    buyer = make_customer(db_session, email="noor@example.test")
    db_session.commit()
    booking = paid_booking(event, buyer, "A1")
    mail.queue_message("someone-else@example.test", "About something else", "Hello.")
    db_session.commit()
    page = admin_client.get(f"/admin/bookings/{booking.booking_code}").get_data(as_text=True)
    assert f'href="/admin/outbox?booking={booking.booking_code}"' in page
    html = admin_client.get("/admin/outbox", query_string={"booking": booking.booking_code}).get_data(as_text=True)
    assert f"Your tickets for Harbour Nights ({booking.booking_code})" in html
    assert "About something else" not in html and "1 message" in html
