"""The outbox's delivery: mail composed from the rows it reports and sent over real SMTP (a local aiosmtpd
server, the `smtp_server` fixture), retried with backoff while the server does not take it, given up
after the last try, and kept queued when no server is configured."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.clock import utcnow
from boxoffice.extensions import db
from boxoffice.models import OutboxEmail
from boxoffice.services import mail, refunds
from tests.admin_support import paid_booking
from tests.builders import make_customer, make_event, make_past_booking, make_venue, new_hold_owner, now, rows

REFUSE = "451 4.3.0 Try again later"


def queued(recipient: str = "ada@example.test", subject: str = "Hello", body: str = "Dear Ada,\n\nHello.\n") -> int:
    """A composed message in the outbox, committed (a savepoint of the test's transaction): its email_id."""
    mail.queue_message(recipient, subject, body)
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.max(OutboxEmail.email_id)))


def state(email_id: int) -> OutboxEmail:
    db.session.expire_all()
    return db.session.get(OutboxEmail, email_id)


@pytest.fixture
def booking(db_session):
    """A booking of seats A1 and A2 of 'Lakeside Jazz', paid by Visa ending 4242, for Mia."""
    venue = make_venue(db_session, name="Harbour Hall", city="Porto")
    event = make_event(db_session, venue, title="Lakeside Jazz")
    buyer = make_customer(db_session, email="mia@example.test", full_name="Mia Jones")
    booked = make_past_booking(db_session, event, buyer, event.seat_ids("A1", "A2"), now() - dt.timedelta(days=1))
    db_session.commit()
    return booked, event, buyer


def ticket_codes(booking_id: int) -> dict[int, str]:
    return dict(rows(db.session, "SELECT ticket_id, ticket_code FROM tickets WHERE booking_id = :id", id=booking_id))


def body_of(received) -> str:
    """The text of a received message (its text part, beside any attachments), with the line ends it had
    before SMTP's CRLF."""
    return received.get_body(("plain",)).get_content().replace("\r\n", "\n")


def booking_code(booking_id: int) -> str:
    return rows(db.session, "SELECT booking_code FROM bookings WHERE booking_id = :id", id=booking_id)[0][0]


# ---------------------------------------------------------------- sending

def test_a_queued_message_is_delivered_with_its_recipient_subject_body_and_message_id(db_session, smtp_server):
    email_id = queued("ada@example.test", "Your tickets", "Dear Ada,\n\nSee you there.\n")

    done = mail.deliver_due()

    assert (done.sent, done.retrying, done.failed) == (1, 0, 0)
    [received] = smtp_server.messages
    assert received.envelope_to == ["ada@example.test"] and received["To"] == "ada@example.test"
    assert received["Subject"] == "Your tickets" and body_of(received) == "Dear Ada,\n\nSee you there.\n"
    assert received["Message-ID"] == mail.message_id(email_id, received["From"]) == f"<outbox.{email_id}@localhost>"
    sent = state(email_id)
    assert sent.status == "sent" and sent.sent_at is not None and sent.tries == 1 and sent.last_error is None


def test_a_sent_message_is_not_sent_again(db_session, smtp_server):
    queued()
    mail.deliver_due()
    again = mail.deliver_due()
    assert (again.sent, len(smtp_server.messages)) == (0, 1)


def test_a_message_the_smtp_server_refuses_is_retried_later(db_session, smtp_server):
    email_id = queued()
    smtp_server.reply = REFUSE
    start = utcnow().replace(microsecond=0)  # as DATETIME(3) keeps it

    first = mail.deliver_due(now=start)

    assert (first.sent, first.retrying) == (0, 1)
    waiting = state(email_id)
    assert waiting.status == "retrying" and waiting.tries == 1
    assert waiting.next_attempt_at == start + dt.timedelta(seconds=30)
    assert "451" in waiting.last_error and "Try again later" in waiting.last_error
    smtp_server.reply = None
    assert mail.deliver_due(now=start + dt.timedelta(seconds=20)).sent == 0, "tried again before its time"
    assert mail.deliver_due(now=start + dt.timedelta(seconds=31)).sent == 1
    delivered = state(email_id)
    assert delivered.status == "sent" and delivered.tries == 2 and delivered.next_attempt_at is None
    assert [m["Message-ID"] for m in smtp_server.messages] == [f"<outbox.{email_id}@localhost>"]


def test_mail_waits_while_the_smtp_server_is_down_and_goes_out_when_it_is_back(db_session, smtp_server):
    first, second = queued(subject="First"), queued(subject="Second")
    smtp_server.stop()
    start = utcnow().replace(microsecond=0)  # as DATETIME(3) keeps it

    down = mail.deliver_due(now=start)

    assert (down.sent, down.retrying) == (0, 2)
    assert {state(first).status, state(second).status} == {"retrying"}
    assert "ConnectionRefusedError" in state(first).last_error
    smtp_server.start()
    back = mail.deliver_due(now=start + dt.timedelta(minutes=1))
    assert back.sent == 2 and sorted(m["Subject"] for m in smtp_server.messages) == ["First", "Second"]


def test_the_wait_between_tries_doubles_from_thirty_seconds_up_to_an_hour():
    assert [mail.retry_delay(tries) for tries in (1, 2, 3, 4, 5)] == [
        dt.timedelta(seconds=30), dt.timedelta(minutes=1), dt.timedelta(minutes=2), dt.timedelta(minutes=4),
        dt.timedelta(minutes=8)]
    assert mail.retry_delay(20) == dt.timedelta(hours=1)


def test_a_message_that_keeps_failing_is_given_up_after_the_last_try(app, db_session, smtp_server, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_TRIES", 3)
    email_id = queued()
    smtp_server.reply = REFUSE
    at = utcnow()
    outcomes = []
    for _ in range(4):
        outcomes.append(mail.deliver_due(now=at))
        at += dt.timedelta(hours=2)

    assert [(o.retrying, o.failed) for o in outcomes] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    given_up = state(email_id)
    assert given_up.status == "failed" and given_up.tries == 3 and given_up.next_attempt_at is None
    assert "451" in given_up.last_error and smtp_server.messages == []


def test_a_message_the_smtp_server_rejects_for_good_fails_at_once(db_session, smtp_server):
    email_id = queued()
    smtp_server.reply = "550 5.1.1 No such mailbox"

    assert mail.deliver_due().failed == 1
    rejected = state(email_id)
    assert rejected.status == "failed" and rejected.tries == 1 and "550" in rejected.last_error


def test_a_message_sent_by_a_pass_that_died_goes_out_again_as_the_same_message(db_session, smtp_server, monkeypatch):
    email_id = queued()
    start = utcnow().replace(microsecond=0)  # as DATETIME(3) keeps it

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died before recording the outcome")

    with monkeypatch.context() as patched:
        patched.setattr(mail, "_record_sent", crash)
        with pytest.raises(RuntimeError):
            mail.deliver_due(now=start)

    assert state(email_id).status == "queued", "the outcome was never recorded"
    assert mail.deliver_due(now=start + dt.timedelta(minutes=1)).sent == 0, "still claimed by the dead pass"
    assert mail.deliver_due(now=start + mail.CLAIM + dt.timedelta(seconds=1)).sent == 1
    assert [m["Message-ID"] for m in smtp_server.messages] == [f"<outbox.{email_id}@localhost>"] * 2


def test_without_an_smtp_server_mail_is_composed_and_stays_queued(app, db_session, booking, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP", None)
    booked, event, buyer = booking
    mail.queue("booking_confirmation", buyer.email, booking_id=booked.booking_id)
    db_session.commit()

    done = mail.deliver_due()

    assert (done.composed, done.sent, done.retrying, done.failed) == (1, 0, 0, 0)
    [confirmation] = db_session.scalars(sa.select(OutboxEmail).where(OutboxEmail.booking_id == booked.booking_id)).all()
    assert confirmation.status == "queued" and confirmation.tries == 0 and confirmation.next_attempt_at is None
    assert confirmation.subject == f"Your tickets for Lakeside Jazz ({booking_code(booked.booking_id)})"
    assert "Harbour Hall, 1 Test Street, Porto" in confirmation.body_text


def test_a_confirmation_queued_with_its_booking_is_composed_and_delivered(db_session, booking, smtp_server):
    booked, event, buyer = booking
    mail.queue("booking_confirmation", buyer.email, booking_id=booked.booking_id)
    db_session.commit()

    done = mail.deliver_due()

    assert (done.composed, done.sent) == (1, 1)
    [received] = smtp_server.messages
    assert received.envelope_to == ["mia@example.test"]
    assert all(code in body_of(received) for code in ticket_codes(booked.booking_id).values())


def test_flask_mail_send_runs_one_pass_and_prints_the_counts(app, db_session, smtp_server):
    smtp_server.reply = REFUSE
    queued(subject="First"), queued(subject="Second")

    result = app.test_cli_runner().invoke(args=["mail", "send"])

    assert result.exit_code == 0, result.output
    assert "Mail: 0 composed, 0 sent, 2 to retry, 0 failed." in result.output


# ---------------------------------------------------------------- composing each kind

def test_a_booking_confirmation_lists_the_seats_tickets_total_and_a_link_to_the_order(app, db_session, booking,
                                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://tickets.example.test")
    booked, event, buyer = booking
    code = booking_code(booked.booking_id)

    subject, body = mail.compose(OutboxEmail(kind="booking_confirmation", recipient=buyer.email,
                                             booking_id=booked.booking_id))

    assert subject == f"Your tickets for Lakeside Jazz ({code})"
    assert body.startswith("Dear Mia Jones,") and f"Thank you for your booking {code}." in body
    assert "Lakeside Jazz\n" in body and "Harbour Hall, 1 Test Street, Porto\nMap: https://" in body
    for ticket_code in ticket_codes(booked.booking_id).values():
        assert ticket_code in body
    assert "Stalls, row A, seat 1" in body and "Stalls, row A, seat 2" in body
    assert f"Total paid: €{booked.total:,.2f}" in body
    assert re.search(r"https://tickets\.example\.test/orders/[\w.-]+\n", body)  # the booking's signed link


def refund(booking_id: int, ticket_ids: list[int], charge_id: int | None, amount: Decimal, refund_state: str) -> int:
    """A booking refund of these tickets, as the refund service writes it: its id."""
    refund_id = db.session.execute(sa.text(
        """INSERT INTO booking_refunds (booking_id, charge_id, amount, requested_by, state, created_at, completed_at)
           VALUES (:booking_id, :charge_id, :amount, 'customer', :state, UTC_TIMESTAMP(3),
                   IF(:state = 'refunded', UTC_TIMESTAMP(3), NULL))"""),
        {"booking_id": booking_id, "charge_id": charge_id, "amount": amount, "state": refund_state}).lastrowid
    db.session.execute(sa.text("""UPDATE tickets SET status = 'refunded', refunded_at = UTC_TIMESTAMP(), refund_id = :refund_id
                                  WHERE ticket_id IN :ids""").bindparams(sa.bindparam("ids", expanding=True)),
                       {"refund_id": refund_id, "ids": ticket_ids})
    return refund_id


@pytest.mark.parametrize("refund_state, says", [("pending", "is on its way back to"),
                                                ("refunded", "has been refunded to")])
def test_a_refund_notice_names_the_seats_the_amount_and_the_card(db_session, booking, refund_state, says):
    booked, event, buyer = booking
    first_ticket = booked.ticket_ids[0]
    amount = event.prices[event.venue.seat("A1").category_id]
    refund_id = refund(booked.booking_id, [first_ticket], booked.payment_id, amount, refund_state)
    code = booking_code(booked.booking_id)

    subject, body = mail.compose(OutboxEmail(kind="tickets_refunded", recipient=buyer.email,
                                             booking_id=booked.booking_id, refund_id=refund_id))

    codes = ticket_codes(booked.booking_id)
    assert subject == f"Refund for Lakeside Jazz ({code})"
    assert f"We have refunded 1 ticket of your booking {code}" in body
    assert f"Stalls, row A, seat 1 (ticket {codes[first_ticket]})" in body
    assert codes[booked.ticket_ids[1]] not in body, "the ticket kept is not in the refunded list"
    assert f"€{amount:,.2f} {says} your Visa card ending 4242." in body
    assert "Your other tickets stay valid" in body


def test_a_refund_notice_for_a_cancelled_event_says_so(db_session, booking):
    booked, event, buyer = booking
    db_session.execute(sa.text("UPDATE events SET status = 'cancelled' WHERE event_id = :id"), {"id": event.event_id})
    refund_id = refund(booked.booking_id, booked.ticket_ids, booked.payment_id, booked.total, "refunded")

    subject, body = mail.compose(OutboxEmail(kind="tickets_refunded", recipient=buyer.email,
                                             booking_id=booked.booking_id, refund_id=refund_id))

    assert "Lakeside Jazz on" in body and "has been cancelled" in body
    assert "We have refunded 2 tickets" in body and "No tickets of this booking are valid any more." in body


def payment_attempt(event, buyer, seat_ids: list[int], amount: Decimal, attempt_state: str) -> int:
    """A payment attempt that could not book its seats, as checkout and the reconciler leave it: its id."""
    return db.session.execute(sa.text(
        """INSERT INTO payment_attempts (idempotency_key, customer_id, event_id, hold_owner, amount, method_code,
                                         seat_ids, state, provider_reference, card_brand, last_four, failure_reason,
                                         created_at, updated_at)
           VALUES (:key, :customer_id, :event_id, :owner, :amount, 'card', :seat_ids, :state, :reference, 'mastercard',
                   '4444', 'This event has been cancelled.', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))"""),
        {"key": new_hold_owner(), "customer_id": buyer.customer_id, "event_id": event.event_id,
         "owner": new_hold_owner(), "amount": amount, "seat_ids": json.dumps(seat_ids), "state": attempt_state,
         "reference": f"test_{new_hold_owner()}"}).lastrowid


def test_a_returned_payment_says_nothing_was_booked_and_the_money_went_back_to_the_card(app, db_session, booking,
                                                                                       monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://tickets.example.test")
    booked, event, buyer = booking
    attempt_id = payment_attempt(event, buyer, event.seat_ids("B1", "B2"), Decimal("100.00"), "refunded")

    subject, body = mail.compose(OutboxEmail(kind="payment_returned", recipient=buyer.email, attempt_id=attempt_id))

    assert subject == "Your payment for Lakeside Jazz has been refunded"
    assert body.startswith("Dear Mia Jones,") and "could not become a booking, so nothing has been booked." in body
    assert "This event has been cancelled." in body, "the reason the attempt gives"
    assert "Stalls, row B, seat 1" in body and "Stalls, row B, seat 2" in body
    assert "The full amount, €100.00, has been refunded to your Mastercard card ending 4444." in body
    assert f"You are welcome to choose seats again:\nhttps://tickets.example.test/events/{event.event_id}\n" in body


def test_an_outbox_row_of_a_kind_needs_the_rows_it_reports():
    with pytest.raises(ValueError):
        mail.queue("tickets_refunded", "mia@example.test", booking_id=1)
    with pytest.raises(ValueError):
        mail.queue("a_postcard", "mia@example.test", booking_id=1)


def test_a_message_that_cannot_be_composed_fails_without_holding_up_the_others(db_session, smtp_server, booking):
    booked, event, buyer = booking
    # A refund notice naming a refund of another booking's tickets: nothing in it is this booking's.
    db_session.execute(sa.insert(OutboxEmail), {"kind": "tickets_refunded", "recipient": buyer.email,
                                                "booking_id": booked.booking_id, "refund_id": None,
                                                "created_at": utcnow()})
    db_session.commit()
    queued(subject="Fine")

    done = mail.deliver_due()

    assert (done.composed, done.sent, done.failed) == (0, 1, 1)
    broken = db_session.scalars(sa.select(OutboxEmail).where(OutboxEmail.kind == "tickets_refunded")).one()
    assert broken.status == "failed" and broken.last_error.startswith("Not composed")


def test_a_returned_payment_for_a_cancelled_event_does_not_invite_to_choose_seats_again(db_session, booking):
    booked, event, buyer = booking
    attempt_id = payment_attempt(event, buyer, event.seat_ids("B1"), Decimal("50.00"), "refund_pending")
    db_session.execute(sa.text("UPDATE events SET status = 'cancelled' WHERE event_id = :id"), {"id": event.event_id})

    subject, body = mail.compose(OutboxEmail(kind="payment_returned", recipient=buyer.email, attempt_id=attempt_id))

    assert subject == "Your payment for Lakeside Jazz is being refunded"
    assert "is being refunded to your Mastercard card ending 4444." in body and "choose seats again" not in body


def test_with_a_username_the_sender_signs_in_to_the_smtp_server(app, db_session, smtp_server, monkeypatch):
    signed_in = dataclasses.replace(app.config["SMTP"], username="boxoffice", password="s3cret")
    monkeypatch.setitem(app.config, "SMTP", signed_in)
    smtp_server.password = "s3cret"
    queued()

    assert mail.deliver_due().sent == 1
    assert smtp_server.logins == [("boxoffice", "s3cret")]


def test_a_wrong_smtp_password_is_retried_not_given_up(app, db_session, smtp_server, monkeypatch):
    signed_in = dataclasses.replace(app.config["SMTP"], username="boxoffice", password="wrong")
    monkeypatch.setitem(app.config, "SMTP", signed_in)
    smtp_server.password = "s3cret"
    email_id = queued()

    assert mail.deliver_due().retrying == 1
    refused = state(email_id)
    assert refused.status == "retrying" and "535" in refused.last_error and smtp_server.messages == []


def test_a_refund_through_the_box_office_mails_the_customer_what_goes_back(db_session, smtp_server):
    event = make_event(db_session, make_venue(db_session), title="Harbour Nights")
    buyer = make_customer(db_session, email="noor@example.test", full_name="Noor Haddad")
    db_session.commit()
    booking = paid_booking(event, buyer, "A1", "A2")
    first = booking.tickets[0]

    refunded = refunds.refund_tickets(booking.booking_id, [first.ticket_id])
    mail.deliver_due()

    notices = [m for m in smtp_server.messages if m["Subject"] == f"Refund for Harbour Nights ({booking.booking_code})"]
    assert len(notices) == 1 and notices[0].envelope_to == ["noor@example.test"]
    body = body_of(notices[0])
    assert f"(ticket {first.ticket_code})" in body and booking.tickets[1].ticket_code not in body
    assert f"€{refunded.amount:,.2f} has been refunded to your Visa card ending 4242." in body


def test_a_booking_paid_at_checkout_sends_its_confirmation_with_the_e_tickets_link(app, db_session, smtp_server,
                                                                                   monkeypatch):
    monkeypatch.setitem(app.config, "BASE_URL", "https://tickets.example.test")
    event = make_event(db_session, make_venue(db_session), title="Harbour Nights")
    buyer = make_customer(db_session, email="noor@example.test", full_name="Noor Haddad")
    db_session.commit()
    booking = paid_booking(event, buyer, "A1")

    assert mail.deliver_due().sent >= 1

    [confirmation] = [m for m in smtp_server.messages if m.envelope_to == ["noor@example.test"]]
    assert confirmation["Subject"] == f"Your tickets for Harbour Nights ({booking.booking_code})"
    body = body_of(confirmation)
    assert booking.tickets[0].ticket_code in body
    assert re.search(r"https://tickets\.example\.test/orders/[\w.-]+\n", body)  # the booking's signed link
