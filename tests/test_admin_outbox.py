"""The outbox page: every message, newest first, one page at a time, with how its delivery stands; a
failed message can be sent again."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from boxoffice.models import OutboxEmail
from boxoffice.services import mail
from tests.admin_support import paid_booking
from tests.builders import make_customer, make_event, make_past_booking, make_venue, now
from tests.conftest import SAME_ORIGIN


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


def message_in(db_session, status: str, subject: str, **columns) -> int:
    """A composed message in the outbox whose delivery stands at `status`: its email_id."""
    mail.queue_message("someone@example.test", subject, f"The body of {subject}.")
    db_session.flush()
    email_id = db_session.scalar(sa.select(sa.func.max(OutboxEmail.email_id)))
    db_session.execute(sa.update(OutboxEmail).where(OutboxEmail.email_id == email_id).values(status=status, **columns))
    db_session.commit()
    return email_id


def article(html: str, email_id: int) -> str:
    """The part of the outbox page that shows message `email_id`."""
    start = html.index(f'aria-labelledby="mail-{email_id}"')
    return html[start:html.index("</article>", start)]


def test_the_outbox_shows_how_each_messages_delivery_stands(admin_client, db_session):
    at = dt.datetime(2026, 12, 24, 18, 30)
    waiting = message_in(db_session, "queued", "Waiting")
    sent = message_in(db_session, "sent", "Delivered", tries=1, sent_at=at)
    retrying = message_in(db_session, "retrying", "Retried", tries=2, next_attempt_at=at,
                          last_error="451 4.3.0 Try again later")
    failed = message_in(db_session, "failed", "Given up", tries=8, last_error="550 5.1.1 No such mailbox")

    html = admin_client.get("/admin/outbox").get_data(as_text=True)

    assert ">Queued<" in article(html, waiting) and "Send again" not in article(html, waiting)
    assert ">Sent<" in article(html, sent) and "Thu 24 Dec 2026, 18:30" in article(html, sent)
    shown = article(html, retrying)
    assert ">Retrying<" in shown and "Next try" in shown and "Thu 24 Dec 2026, 18:30" in shown
    assert "Last try failed: <span" in shown and "451 4.3.0 Try again later" in shown
    shown = article(html, failed)
    assert ">Failed<" in shown and "<dd>8</dd>" in shown and "550 5.1.1 No such mailbox" in shown
    assert "Send again" in shown and "The body of Given up." in shown


def test_a_message_given_up_after_its_last_try_is_shown_failed(app, admin_client, db_session, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_TRIES", 1)
    email_id = message_in(db_session, "queued", "Refused")
    smtp_server.reply = "451 4.3.0 Try again later"

    assert mail.deliver_due().failed == 1

    shown = article(admin_client.get("/admin/outbox").get_data(as_text=True), email_id)
    assert ">Failed<" in shown and "Gave up: <span" in shown and "451 4.3.0 Try again later" in shown


def test_a_message_not_composed_yet_is_shown_composed_and_left_as_it_is(admin_client, db_session):
    event = make_event(db_session, make_venue(db_session), title="Quiet Quartet")
    buyer = make_customer(db_session, email="ines@example.test", full_name="Ines Silva")
    booked = make_past_booking(db_session, event, buyer, event.seat_ids("A1"), now() - dt.timedelta(days=1))
    mail.queue("booking_confirmation", buyer.email, booking_id=booked.booking_id)
    db_session.commit()

    html = admin_client.get("/admin/outbox").get_data(as_text=True)

    assert "Your tickets for Quiet Quartet (" in html and "Dear Ines Silva," in html
    stored = db_session.scalars(sa.select(OutboxEmail).where(OutboxEmail.booking_id == booked.booking_id)).one()
    db_session.refresh(stored)
    assert stored.subject is None and stored.body_text is None


def test_send_again_puts_a_failed_message_back_in_the_queue(admin_client, db_session, forms):
    email_id = message_in(db_session, "failed", "Given up", tries=8, last_error="550 5.1.1 No such mailbox")

    response = forms.post("/admin/outbox", {"email_id": email_id}, action="/admin/outbox/send-again")

    assert response.status_code == 302 and response.headers["Location"] == "/admin/outbox"
    again = db_session.get(OutboxEmail, email_id)
    db_session.refresh(again)
    assert (again.status, again.tries, again.last_error, again.next_attempt_at) == ("queued", 0, None, None)
    assert "queued again" in admin_client.get("/admin/outbox").get_data(as_text=True)


def test_send_again_is_refused_without_the_forms_csrf_token(admin_client, db_session):
    email_id = message_in(db_session, "failed", "Given up", tries=8, last_error="550")

    response = admin_client.post("/admin/outbox/send-again", data={"email_id": email_id})

    assert response.status_code == 400
    stored = db_session.get(OutboxEmail, email_id)
    db_session.refresh(stored)
    assert stored.status == "failed"


def test_send_again_is_for_admins_only(app, client, db_session, forms):
    email_id = message_in(db_session, "failed", "Given up", tries=8, last_error="550")
    shopper = make_customer(db_session, password="a-long-password")
    db_session.commit()
    token = forms.token("/account/login")

    nobody = client.post("/admin/outbox/send-again", data={"email_id": email_id, "csrf_token": token},
                         headers=SAME_ORIGIN)
    forms.post("/account/login", {"email": shopper.email, "password": "a-long-password"})
    customer = client.post("/admin/outbox/send-again", data={"email_id": email_id, "csrf_token": forms.token("/")})

    assert nobody.status_code == 302 and nobody.headers["Location"].startswith("/admin/login")
    assert customer.status_code == 403
    stored = db_session.get(OutboxEmail, email_id)
    db_session.refresh(stored)
    assert stored.status == "failed"


def test_only_a_failed_message_can_be_sent_again(admin_client, db_session, forms):
    email_id = message_in(db_session, "sent", "Delivered", tries=1, sent_at=now())

    forms.post("/admin/outbox", {"email_id": email_id}, action="/admin/outbox/send-again")

    assert "Only a message whose delivery failed can be sent again." in admin_client.get("/admin/outbox").get_data(as_text=True)
    stored = db_session.get(OutboxEmail, email_id)
    db_session.refresh(stored)
    assert stored.status == "sent"
