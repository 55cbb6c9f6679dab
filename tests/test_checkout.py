"""Checkout: pricing, payment, booking through InsertBooking, idempotency and refunds (real database)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.errors import (HoldExpired, InvalidCard, NothingToRefund, PaymentDeclined, PaymentFormExpired,
                              PaymentInProgress, PaymentRejected, PriceChanged, PromoCodeRejected, RefundNotAllowed,
                              SeatsLostRefunded)
from boxoffice.extensions import db
from boxoffice.models import Booking, OutboxEmail
from boxoffice.services import checkout, holds, mail, payment_attempts, payments, reconciler, refunds
from boxoffice.services.payments import DECLINED_CARD, FAILING_CARD, CardDetails, PaymentRequest
from boxoffice.services.unit_of_work import unit_of_work
from tests.builders import PREMIUM, make_discount, new_hold_owner, rows
from tests.checkout_support import customer, held, priced_event

GOOD_CARD = CardDetails("4242 4242 4242 4242", 12, 2035, "123", "Ada Lovelace")


@pytest.fixture
def event(db_session):
    return priced_event(db_session)


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


# ---------------------------------------------------------------- payment attempts: one key, one outcome

def attempt_states(session, key) -> list[tuple]:
    return rows(session, "SELECT state FROM payment_attempts WHERE idempotency_key = :k", k=key)


def seats_lost_while_paying(db_session, event, monkeypatch, owner, label) -> None:
    """The owner's hold runs out while the provider takes the money, and someone else takes the seat."""
    while_paying(monkeypatch, db_session, owner,
                 lambda: holds.hold_seats(event.event_id, event.seat_ids(label), new_hold_owner(), 10))


def test_a_refunded_key_never_books_other_seats_at_the_same_price(db_session, event, monkeypatch, owner_engine):
    buyer = customer(db_session)
    owner = held(event, "A5")
    key = key_for(event, owner, buyer, Decimal("80.00"))
    seats_lost_while_paying(db_session, event, monkeypatch, owner, "A5")
    with pytest.raises(SeatsLostRefunded, match="refunded in full"):
        pay(event, owner, buyer, key=key)
    monkeypatch.undo()
    # The same hold owner holds another seat at the same price and replays the refunded key.
    holds.hold_seats(event.event_id, event.seat_ids("A6"), owner, 10)
    with pytest.raises(SeatsLostRefunded, match="refunded in full"):
        pay(event, owner, buyer, key=key)
    assert counts(db_session, event.event_id)[0] == 0, "no booking without a new payment"
    assert holds.current_hold(event.event_id, owner).seat_ids == tuple(event.seat_ids("A6"))
    assert provider(owner_engine, "SELECT COUNT(*), SUM(refunded_amount) FROM gateway_charges WHERE idempotency_key = :k",
                    k=key) == [(1, Decimal("80.00"))]
    # A new page's key pays for the new seat.
    assert pay(event, owner, buyer).total == Decimal("80.00")


def test_a_replay_after_the_refund_is_told_of_the_refund_and_charges_nothing(db_session, event, monkeypatch,
                                                                            owner_engine):
    buyer = customer(db_session)
    owner = held(event, "A5")
    key = key_for(event, owner, buyer, Decimal("80.00"))
    seats_lost_while_paying(db_session, event, monkeypatch, owner, "A5")
    with pytest.raises(SeatsLostRefunded):
        pay(event, owner, buyer, key=key)
    monkeypatch.undo()
    with pytest.raises(SeatsLostRefunded, match="€80.00 has been refunded in full"):
        checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", card=GOOD_CARD), key,
                     Decimal("80.00"))
    assert attempt_states(db_session, key) == [("refunded",)]
    assert provider(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k", k=key) == [(1,)]


def test_a_key_presented_by_another_buyer_is_refused_before_any_charge(db_session, event, owner_engine):
    buyer, thief = customer(db_session), customer(db_session)
    owner = held(event, "B2")
    key = key_for(event, owner, buyer, Decimal("33.33"))
    with pytest.raises(PaymentFormExpired):
        checkout.pay(event.event_id, owner, thief.customer_id, None, PaymentRequest("card", card=GOOD_CARD), key,
                     Decimal("33.33"))
    assert attempt_states(db_session, key) == []
    assert provider(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k", k=key) == [(0,)]


@pytest.mark.parametrize("tampered", ["another amount", "another hold", "made up"])
def test_a_key_the_server_did_not_issue_for_this_payment_is_refused(db_session, event, tampered):
    buyer = customer(db_session)
    owner = held(event, "B2")
    key = {"another amount": key_for(event, owner, buyer, Decimal("1.00")),
           "another hold": key_for(event, new_hold_owner(), buyer, Decimal("33.33")),
           "made up": "0" * 24 + "-" + "f" * 32}[tampered]
    with pytest.raises(PaymentFormExpired):
        checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", card=GOOD_CARD), key,
                     Decimal("33.33"))
    assert counts(db_session, event.event_id)[0] == 0


def test_two_tabs_paying_one_hold_never_both_reach_the_provider(db_session, event, owner_engine):
    buyer = customer(db_session)
    owner = held(event, "B3")
    first_tab, second_tab = (key_for(event, owner, buyer, Decimal("33.33")) for _ in range(2))
    # The first tab's payment is under way (its attempt written, the provider not answered yet)...
    payment_attempts.start(first_tab, buyer.customer_id, event.event_id, owner, Decimal("33.33"), None, "card",
                           event.seat_ids("B3"))
    # ...so the second tab is told to wait, and nothing is charged for it.
    with pytest.raises(PaymentInProgress):
        pay(event, owner, buyer, key=second_tab)
    assert provider(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k",
                    k=second_tab) == [(0,)]
    # The first tab's own retry completes it: one booking, one charge.
    assert pay(event, owner, buyer, key=first_tab).total == Decimal("33.33")
    assert counts(db_session, event.event_id)[0] == 1


def test_a_declined_key_gets_the_same_decline_again_and_a_new_page_can_pay(db_session, event, owner_engine):
    buyer = customer(db_session)
    owner = held(event, "B4")
    key = key_for(event, owner, buyer, Decimal("33.33"))
    for _ in range(2):
        with pytest.raises(PaymentDeclined, match="declined"):
            pay(event, owner, buyer, key=key, card=CardDetails(DECLINED_CARD, 12, 2035, "123"))
    with pytest.raises(PaymentDeclined, match="declined"):
        pay(event, owner, buyer, key=key)  # one key, one outcome: not even a good card changes it
    assert provider(owner_engine, "SELECT COUNT(*), MAX(status) FROM gateway_charges WHERE idempotency_key = :k",
                    k=key) == [(1, "declined")]
    assert pay(event, owner, buyer).total == Decimal("33.33")


def test_insert_booking_refuses_to_book_without_a_payment_attempt_in_flight(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "B5")
    with pytest.raises(PaymentRejected, match="cannot book"):
        with unit_of_work():
            db_session.execute(sa.text("""
                CALL InsertBooking(:c, :e, :o, NULL, 'card', 'visa', '4242', 'sim_made_up', 33.33, 'no-such-attempt',
                                   NULL, FALSE)"""), {"c": buyer.customer_id, "e": event.event_id, "o": owner})
    assert counts(db_session, event.event_id)[0] == 0


# ---------------------------------------------------------------- the reconciler

def crashed_after_the_charge(event, owner, buyer, label_total: Decimal) -> str:
    """A payment whose request died after the provider took the money, before anything was booked."""
    key = key_for(event, owner, buyer, label_total)
    attempt, _ = payment_attempts.start(key, buyer.customer_id, event.event_id, owner, label_total, None, "card",
                                        list(holds.current_hold(event.event_id, owner).seat_ids))
    assert payments.gateway.charge(label_total, PaymentRequest("card", card=GOOD_CARD), key).captured
    return key


def test_the_reconciler_books_money_taken_for_seats_still_held(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "A1")
    key = crashed_after_the_charge(event, owner, buyer, Decimal("80.00"))
    done = reconciler.reconcile(grace=dt.timedelta(0))
    assert done.attempts["booked"] == 1
    [(state, note, booking_id)] = rows(db_session, """SELECT state, reconcile_note, booking_id FROM payment_attempts
                                                      WHERE idempotency_key = :k""", k=key)
    assert state == "booked" and note.startswith("Reconciled")
    assert rows(db_session, "SELECT kind FROM outbox_emails WHERE booking_id = :b", b=booking_id) == [
        ("booking_confirmation",)]
    assert reconciler.reconcile(grace=dt.timedelta(0)).attempts == {}, "a second pass finds nothing left"


def test_the_reconciler_books_a_late_payment_whose_seats_are_still_free(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "A2")
    key = crashed_after_the_charge(event, owner, buyer, Decimal("80.00"))
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE "
                               "WHERE hold_owner = :o"), {"o": owner})
    assert reconciler.reconcile(grace=dt.timedelta(0)).attempts["booked"] == 1
    assert attempt_states(db_session, key) == [("booked",)]


def test_the_reconciler_refunds_money_taken_for_seats_someone_else_has_and_tells_the_buyer(db_session, event,
                                                                                          owner_engine):
    buyer = customer(db_session)
    owner = held(event, "A3")
    key = crashed_after_the_charge(event, owner, buyer, Decimal("80.00"))
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE "
                               "WHERE hold_owner = :o"), {"o": owner})
    holds.hold_seats(event.event_id, event.seat_ids("A3"), new_hold_owner(), 10)
    assert reconciler.reconcile(grace=dt.timedelta(0)).attempts["refunded"] == 1
    assert attempt_states(db_session, key) == [("refunded",)]
    assert provider(owner_engine, "SELECT refunded_amount FROM gateway_charges WHERE idempotency_key = :k",
                    k=key) == [(Decimal("80.00"),)]
    returned = db_session.scalar(sa.select(OutboxEmail).where(OutboxEmail.kind == "payment_returned",
                                                              OutboxEmail.recipient == buyer.email))
    assert "€80.00" in mail.compose(returned)[1]
    assert counts(db_session, event.event_id)[0] == 0


def test_the_reconciler_gives_up_an_attempt_the_provider_never_saw(db_session, event):
    buyer = customer(db_session)
    owner = held(event, "A4")
    key = key_for(event, owner, buyer, Decimal("80.00"))
    payment_attempts.start(key, buyer.customer_id, event.event_id, owner, Decimal("80.00"), None, "card", [])
    assert reconciler.reconcile(grace=dt.timedelta(0)).unfinished == 1, "too young to give up: it may still be paying"
    db_session.execute(sa.text("UPDATE payment_attempts SET created_at = created_at - INTERVAL 5 MINUTE "
                               "WHERE idempotency_key = :k"), {"k": key})
    assert reconciler.reconcile(grace=dt.timedelta(0)).attempts["abandoned"] == 1
    assert attempt_states(db_session, key) == [("abandoned",)]
    assert pay(event, owner, buyer).total == Decimal("80.00"), "the hold can be paid for again"


def test_a_refund_left_pending_is_paid_out_once_by_the_reconciler(db_session, event, monkeypatch, owner_engine):
    buyer = customer(db_session)
    booking_id = pay(event, held(event, "B1", "B2"), buyer).booking_id
    # The provider is out of reach when the customer cancels: the tickets are refunded, the money is owed.
    monkeypatch.setattr(payments.gateway, "refund", lambda *args: (_ for _ in ()).throw(OSError("unreachable")))
    result = refunds.refund_tickets(booking_id, requested_by="customer")
    assert not result.paid_out and result.booking_status == "refunded"
    monkeypatch.undo()
    assert rows(db_session, "SELECT state FROM booking_refunds WHERE booking_id = :b", b=booking_id) == [("pending",)]
    assert reconciler.reconcile(grace=dt.timedelta(0)).refunds_paid == 1
    assert reconciler.reconcile(grace=dt.timedelta(0)).refunds_paid == 0
    assert rows(db_session, "SELECT state, reconcile_note IS NOT NULL FROM booking_refunds WHERE booking_id = :b",
                b=booking_id) == [("refunded", 1)]
    assert rows(db_session, "SELECT SUM(amount) FROM payments WHERE booking_id = :b AND kind = 'refund'",
                b=booking_id) == [(Decimal("66.66"),)]
    [(charged_key,)] = rows(db_session, "SELECT idempotency_key FROM bookings WHERE booking_id = :b", b=booking_id)
    assert provider(owner_engine, "SELECT refunded_amount FROM gateway_charges WHERE idempotency_key = :k",
                    k=charged_key) == [(Decimal("66.66"),)]


def test_the_provider_pays_a_refund_once_however_often_it_is_asked(db_session, event, owner_engine):
    buyer = customer(db_session)
    owner = held(event, "B3")
    key = crashed_after_the_charge(event, owner, buyer, Decimal("33.33"))
    [(reference,)] = provider(owner_engine, "SELECT reference FROM gateway_charges WHERE idempotency_key = :k", k=key)
    first = payments.gateway.refund(reference, Decimal("33.33"), f"{key}:refund")
    assert payments.gateway.refund(reference, Decimal("33.33"), f"{key}:refund") == first
    assert provider(owner_engine, "SELECT refunded_amount FROM gateway_charges WHERE reference = :r",
                    r=reference) == [(Decimal("33.33"),)]


def test_the_reconciler_writes_the_confirmation_a_booking_is_missing(db_session, event):
    buyer = customer(db_session)
    booking_id = pay(event, held(event, "B6"), buyer).booking_id
    db_session.execute(sa.text("DELETE FROM outbox_emails WHERE booking_id = :b"), {"b": booking_id})
    db_session.execute(sa.text("UPDATE payment_attempts SET updated_at = updated_at - INTERVAL 1 MINUTE "
                               "WHERE booking_id = :b"), {"b": booking_id})
    assert reconciler.reconcile(grace=dt.timedelta(seconds=1)).mails_written == 1
    assert rows(db_session, "SELECT kind FROM outbox_emails WHERE booking_id = :b", b=booking_id) == [
        ("booking_confirmation",)]


# ---------------------------------------------------------------- saved cards

def test_a_saved_card_past_its_expiry_is_refused_by_the_provider(db_session, event, owner_engine):
    buyer = customer(db_session)
    token = payments.gateway.tokenise(CardDetails("4242 4242 4242 4242", 12, 2035, "123"))
    with owner_engine.begin() as the_provider:  # the card was saved long ago and has expired since
        the_provider.execute(sa.text("UPDATE gateway_cards SET exp_year = 2025, exp_month = 7 WHERE token = :t"),
                             {"t": token.token})
    owner = held(event, "A1")
    saved = PaymentRequest("card", saved_token=token.token)
    with pytest.raises(InvalidCard, match="expired"):
        checkout.pay(event.event_id, owner, buyer.customer_id, None, saved, key_for(event, owner, buyer, Decimal("80.00")),
                     Decimal("80.00"))


def test_a_saved_declining_card_keeps_declining(db_session, event):
    buyer = customer(db_session)
    token = payments.gateway.tokenise(CardDetails(DECLINED_CARD, 12, 2035, "123"))
    owner = held(event, "A2")
    with pytest.raises(PaymentDeclined, match="declined"):
        checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", saved_token=token.token),
                     key_for(event, owner, buyer, Decimal("80.00")), Decimal("80.00"))


def test_the_admin_sees_what_the_reconciler_finished_and_can_run_it(admin_client, forms, db_session, event):
    buyer = customer(db_session)
    owner = held(event, "A1")
    crashed_after_the_charge(event, owner, buyer, Decimal("80.00"))
    db_session.execute(sa.text("UPDATE payment_attempts SET updated_at = updated_at - INTERVAL 1 MINUTE "
                               "WHERE hold_owner = :o"), {"o": owner})
    waiting = admin_client.get("/admin/payments").get_data(as_text=True)
    assert buyer.email in waiting and "Waiting for the reconciler" in waiting
    done = forms.post("/admin/payments", {}, action="/admin/payments/reconcile", follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "Payment attempts finished: 1 booked" in html
    assert "Reconciled: booked" in html and buyer.email in html
