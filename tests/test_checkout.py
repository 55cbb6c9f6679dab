"""Checkout: pricing, payment, booking through InsertBooking, idempotency and refunds (real database)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.errors import (HoldExpired, InvalidCard, NothingToRefund, PaymentDeclined, PriceChanged,
                              PromoCodeRejected, RefundNotAllowed, SeatsLostRefunded)
from boxoffice.extensions import db
from boxoffice.models import Booking, Customer, OutboxEmail
from boxoffice.services import checkout, holds, mail, payments, refunds
from boxoffice.services.payments import DECLINED_CARD, FAILING_CARD, CardDetails, PaymentRequest
from tests.builders import PREMIUM, STANDARD, make_customer, make_discount, make_event, make_venue, new_hold_owner, rows

GOOD_CARD = CardDetails("4242 4242 4242 4242", 12, 2035, "123", "Ada Lovelace")


@pytest.fixture
def event(db_session):
    venue = make_venue(db_session, rows=2, seats_per_row=6, categories={"A": PREMIUM})
    event = make_event(db_session, venue, prices={PREMIUM: Decimal("80.00"), STANDARD: Decimal("33.33")})
    db_session.commit()
    return event


def customer(db_session, **kwargs) -> Customer:
    made = make_customer(db_session, **kwargs)
    db_session.commit()
    return db.session.get(Customer, made.customer_id)


def held(event, *labels) -> str:
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids(*labels), owner, 10)
    return owner


def key_for(event, owner, buyer, total) -> str:
    """A payment key as the checkout page issues it (signed for this buyer, hold and total)."""
    return checkout.payment_key(buyer.customer_id, event.event_id, owner, total)


def pay(event, owner, buyer, *, promo=None, card=GOOD_CARD, key=None, expected=None, method="card"):
    quote = checkout.quote(event.event_id, owner, buyer.customer_id, promo)
    expected = quote.total if expected is None else expected
    request = PaymentRequest(method, card=card if method == "card" else None)
    return checkout.pay(event.event_id, owner, buyer.customer_id, promo, request,
                        key or key_for(event, owner, buyer, expected), expected)


def while_paying(monkeypatch, session, owner, then) -> None:
    """Make the owner's hold run out while the (real) gateway is taking the payment, then do `then()`."""
    charge = payments.gateway.charge

    def charge_slowly(amount, payment, key):
        result = charge(amount, payment, key)
        session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                                "WHERE hold_owner = :o"), {"o": owner})
        session.commit()
        then()
        return result

    monkeypatch.setattr(payments.gateway, "charge", charge_slowly)


def provider(owner_engine, sql, **params):
    """Rows of the payment provider's own tables, read as the provider keeps them: committed on its own
    connection, whatever the test's transaction does."""
    with owner_engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.text(sql), params)]


def counts(session, event_id):
    return rows(session, """SELECT (SELECT COUNT(*) FROM bookings WHERE event_id = :e),
                                   (SELECT COUNT(*) FROM tickets WHERE event_id = :e),
                                   (SELECT seats_available FROM events WHERE event_id = :e)""", e=event_id)[0]


def test_a_vip_with_a_promo_code_pays_the_vip_rate_first_then_the_code(db_session, event):
    vip = customer(db_session, vip=True, rate=Decimal("0.1000"))
    code = make_discount(db_session, kind="percent", value=Decimal("15")).code
    db_session.commit()
    owner = held(event, "A1", "B1")
    quote = checkout.quote(event.event_id, owner, vip.customer_id, code.lower())
    # 80.00 + 33.33 = 113.33; VIP 10% = 11.33 (rounded); 15% of 102.00 = 15.30.
    assert (quote.subtotal, quote.vip_discount, quote.promo_discount, quote.total) == (
        Decimal("113.33"), Decimal("11.33"), Decimal("15.30"), Decimal("86.70"))


def test_a_fixed_promo_never_takes_the_total_below_zero(db_session, event):
    buyer = customer(db_session)
    code = make_discount(db_session, kind="fixed", value=Decimal("500")).code
    db_session.commit()
    quote = checkout.quote(event.event_id, held(event, "B2"), buyer.customer_id, code)
    assert quote.total == Decimal("0.00") and quote.promo_discount == Decimal("33.33")


def test_a_vip_only_code_is_refused_to_a_regular_customer_with_the_reason(db_session, event):
    buyer = customer(db_session)
    code = make_discount(db_session, vip_only=True).code
    db_session.commit()
    with pytest.raises(PromoCodeRejected, match="VIP members only"):
        checkout.quote(event.event_id, held(event, "B2"), buyer.customer_id, code)


def test_paying_books_the_seats_through_insert_booking_and_mails_a_confirmation(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "B3", "B4")
    confirmation = pay(event, owner, buyer)
    booking = db.session.get(Booking, confirmation.booking_id)
    assert booking.total == Decimal("66.66") and len(booking.tickets) == 2
    assert holds.current_hold(event.event_id, owner).is_empty
    payment = rows(db_session, "SELECT status, amount, card_brand, last_four FROM payments WHERE booking_id = :b",
                   b=booking.booking_id)
    assert payment == [("captured", Decimal("66.66"), "visa", "4242")]
    confirmation_mail = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.booking_id == booking.booking_id))
    assert confirmation_mail.kind == "booking_confirmation" and buyer.email == confirmation_mail.recipient
    assert booking.booking_code in mail.compose(confirmation_mail)[0]


def test_no_full_card_number_is_stored_anywhere(db_session, event):
    buyer = customer(db_session)
    pay(event, held(event, "B3"), buyer)
    for table, column in [("payments", "last_four"), ("gateway_charges", "last_four")]:
        assert all(len(v or "") <= 4 for (v,) in rows(db_session, f"SELECT {column} FROM {table}"))
    dump = " ".join(str(r) for r in rows(db_session, "SELECT * FROM gateway_charges") + rows(db_session, "SELECT * FROM payments"))
    assert "4242424242424242" not in dump


def test_a_declined_card_books_nothing_and_keeps_the_hold(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "B5")
    before = counts(db_session, event.event_id)
    with pytest.raises(PaymentDeclined, match="declined"):
        pay(event, owner, buyer, card=CardDetails(DECLINED_CARD, 12, 2035, "123"))
    assert counts(db_session, event.event_id) == before
    assert holds.current_hold(event.event_id, owner).seat_ids == tuple(event.seat_ids("B5"))
    assert rows(db_session, "SELECT kind, status, booking_id FROM payments WHERE customer_id = :c",
                c=buyer.customer_id) == [("charge", "declined", None)]


def test_a_failing_provider_books_nothing(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "B5")
    with pytest.raises(PaymentDeclined, match="could not process"):
        pay(event, owner, buyer, card=CardDetails(FAILING_CARD, 12, 2035, "123"))
    assert counts(db_session, event.event_id)[0] == 0


@pytest.mark.parametrize("card, message", [
    (CardDetails("4242 4242 4242 4241", 12, 2035, "123"), "not valid"),
    (CardDetails("4242 4242 4242 4242", 1, 2020, "123"), "expired"),
    (CardDetails("4242 4242 4242 4242", 12, 2035, "12"), "security code"),
])
def test_a_card_that_is_not_a_card_is_refused_before_any_charge(db_session, event, card, message, owner_engine):
    buyer = customer(db_session)
    owner = held(event, "B6")
    key = key_for(event, owner, buyer, Decimal("33.33"))
    with pytest.raises(InvalidCard, match=message):
        pay(event, owner, buyer, card=card, key=key)
    assert provider(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k", k=key) == [(0,)]
    assert counts(db_session, event.event_id)[0] == 0
    assert rows(db_session, "SELECT state FROM payment_attempts WHERE idempotency_key = :k", k=key) == [("declined",)]


def test_a_retried_checkout_makes_one_booking_and_one_charge(db_session, event, owner_engine):
    buyer = customer(db_session)
    owner = held(event, "A1", "A2")
    key = key_for(event, owner, buyer, Decimal("160.00"))
    first = pay(event, owner, buyer, key=key)
    again = checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", card=GOOD_CARD), key, first.total)
    assert again.replayed and again.booking_code == first.booking_code
    assert provider(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k", k=key) == [(1,)]
    assert rows(db_session, "SELECT COUNT(*) FROM bookings WHERE idempotency_key = :k", k=key) == [(1,)]


def test_a_retry_after_the_booking_used_up_the_promo_code_gets_the_same_confirmation(db_session, event, owner_engine):
    buyer = customer(db_session)
    code = make_discount(db_session, kind="fixed", value=Decimal("5.00"), usage_limit=1).code
    db_session.commit()
    owner = held(event, "B1")
    key = key_for(event, owner, buyer, Decimal("28.33"))
    first = pay(event, owner, buyer, promo=code, key=key)
    # The code is used up now and the seat is sold: the retry is still the same checkout.
    again = checkout.pay(event.event_id, owner, buyer.customer_id, code, PaymentRequest("card", card=GOOD_CARD), key, first.total)
    assert again.replayed and again.booking_code == first.booking_code
    assert provider(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k", k=key) == [(1,)]


def test_a_price_that_changed_since_the_page_was_shown_is_not_charged(db_session, event, owner_engine):
    buyer = customer(db_session)
    owner = held(event, "A3")
    key = key_for(event, owner, buyer, Decimal("70.00"))
    with pytest.raises(PriceChanged, match="€80.00"):
        pay(event, owner, buyer, expected=Decimal("70.00"), key=key)
    assert provider(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k", k=key) == [(0,)]


def test_paying_after_the_hold_expired_books_the_seats_if_they_are_still_free(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "A4")
    quote = checkout.quote(event.event_id, owner, buyer.customer_id, None)
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                               "WHERE hold_owner = :o"), {"o": owner})
    db_session.commit()
    with pytest.raises(HoldExpired):
        checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", card=GOOD_CARD),
                     key_for(event, owner, buyer, quote.total), quote.total)


def test_a_payment_that_completes_after_the_seats_were_taken_is_refunded_at_once(db_session, event, monkeypatch,
                                                                                owner_engine):
    buyer = customer(db_session)
    owner = held(event, "A5")
    quote = checkout.quote(event.event_id, owner, buyer.customer_id, None)
    # The hold runs out while the buyer is at the payment provider, and someone else takes the seat.
    while_paying(monkeypatch, db_session, owner,
                 lambda: holds.hold_seats(event.event_id, event.seat_ids("A5"), new_hold_owner(), 10))
    key = key_for(event, owner, buyer, quote.total)
    with pytest.raises(SeatsLostRefunded):
        checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", card=GOOD_CARD), key, quote.total)
    assert provider(owner_engine, "SELECT status, amount, refunded_amount FROM gateway_charges WHERE idempotency_key = :k",
                    k=key) == [("captured", Decimal("80.00"), Decimal("80.00"))]
    assert counts(db_session, event.event_id)[0] == 0
    assert rows(db_session, "SELECT state FROM payment_attempts WHERE idempotency_key = :k", k=key) == [("refunded",)]
    assert rows(db_session, "SELECT kind FROM outbox_emails WHERE attempt_id IS NOT NULL AND recipient = :e",
                e=buyer.email) == [("payment_returned",)]


def test_a_payment_that_completes_after_expiry_is_booked_when_the_seats_are_still_free(db_session, event, monkeypatch):
    buyer = customer(db_session)
    owner = held(event, "A6")
    quote = checkout.quote(event.event_id, owner, buyer.customer_id, None)
    while_paying(monkeypatch, db_session, owner, lambda: None)
    confirmation = checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", card=GOOD_CARD),
                                key_for(event, owner, buyer, quote.total), quote.total)
    assert db.session.get(Booking, confirmation.booking_id).total == Decimal("80.00")


def test_cancelling_a_booking_refunds_it_and_puts_the_seats_back_on_sale(db_session, event):
    buyer = customer(db_session)
    confirmation = pay(event, held(event, "B1", "B2"), buyer)
    available = counts(db_session, event.event_id)[2]
    booking = db.session.get(Booking, confirmation.booking_id)
    result = refunds.cancel_booking(booking)
    assert result.amount == Decimal("66.66") and result.booking_status == "refunded"
    assert counts(db_session, event.event_id)[2] == available + 2
    assert rows(db_session, "SELECT kind, status, amount FROM payments WHERE booking_id = :b AND kind = 'refund'",
                b=booking.booking_id) == [("refund", "refunded", Decimal("66.66"))]
    with pytest.raises(NothingToRefund):
        refunds.refund_tickets(booking.booking_id)


def test_a_booking_cannot_be_cancelled_after_the_events_deadline(db_session, event):
    buyer = customer(db_session)
    booking = db.session.get(Booking, pay(event, held(event, "B1"), buyer).booking_id)
    late = booking.event.starts_at - dt.timedelta(hours=1)
    with pytest.raises(RefundNotAllowed, match="48 hours"):
        refunds.cancel_booking(booking, now=late)


def test_a_partial_refund_gives_back_exactly_the_tickets_share(db_session, event):
    vip = customer(db_session, vip=True, rate=Decimal("0.1000"))
    booking = db.session.get(Booking, pay(event, held(event, "A1", "B1"), vip).booking_id)
    premium = next(t for t in booking.tickets if t.category_id == PREMIUM)
    result = refunds.refund_tickets(booking.booking_id, [premium.ticket_id])
    assert result.amount == premium.paid_amount and result.booking_status == "partially_refunded"
