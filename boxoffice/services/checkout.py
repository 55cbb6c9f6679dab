"""Checkout: price the hold, take the payment, book through InsertBooking.

Prices come from the PriceHold procedure, the same one InsertBooking uses, so the page and the booking
never disagree. Money is taken before the booking is written; the gateway and InsertBooking both key on
the checkout's idempotency key, so a double click, a refresh or a retried POST makes one charge and one
booking and answers every retry with the same confirmation.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ..clock import utcnow
from ..errors import (BoxOfficeError, HoldExpired, NoSeatsHeld, PaymentDeclined, PriceChanged,
                      SeatsLostRefunded, from_database_error)
from ..extensions import db
from ..models import Booking, Customer, Payment, PaymentMethod
from . import holds, mail
from .payments import PaymentRequest, gateway


@dataclass(frozen=True)
class Quote:
    seats: int
    subtotal: Decimal
    vip_discount: Decimal
    promo_discount: Decimal
    total: Decimal
    promo_code: str | None


@dataclass(frozen=True)
class Confirmation:
    booking_id: int
    booking_code: str
    total: Decimal
    replayed: bool


def new_idempotency_key() -> str:
    return secrets.token_hex(24)


def _database_refusal(error: DBAPIError) -> Exception:
    db.session.rollback()
    return from_database_error(error) or error


def quote(event_id: int, owner: str, customer_id: int | None, promo_code: str | None) -> Quote:
    """The price of the owner's hold for this customer with an optional promo code (PriceHold).
    Raises PromoCodeRejected with the reason the code cannot be used."""
    promo_code = (promo_code or "").strip().upper() or None
    connection = db.session.connection()
    try:
        connection.execute(sa.text(
            "CALL PriceHold(:event_id, :owner, :customer_id, :promo, @seats, @subtotal, @vip, @promo, @total, @discount)"),
            {"event_id": event_id, "owner": owner, "customer_id": customer_id, "promo": promo_code})
    except DBAPIError as error:
        raise _database_refusal(error) from error
    row = connection.execute(sa.text("SELECT @seats, @subtotal, @vip, @promo, @total")).one()
    return Quote(int(row[0]), Decimal(row[1]), Decimal(row[2]), Decimal(row[3]), Decimal(row[4]), promo_code)


def _replayed(idempotency_key: str) -> Confirmation | None:
    """The confirmation of a booking this checkout already made, read afresh (a new transaction, so a
    booking committed by a concurrent identical request is seen)."""
    db.session.rollback()
    done = db.session.scalar(sa.select(Booking).where(Booking.idempotency_key == idempotency_key))
    return Confirmation(done.booking_id, done.booking_code, done.total, True) if done else None


def _record_unsuccessful_charge(customer_id: int, method_id: int, amount: Decimal, result) -> None:
    """Declines and failures are kept (reports count them); a retry of the same charge is kept once."""
    if db.session.scalar(sa.select(Payment.payment_id).where(Payment.provider_reference == result.reference)):
        return
    db.session.add(Payment(kind="charge", status=result.status, booking_id=None, customer_id=customer_id,
                           method_id=method_id, amount=amount, card_brand=result.card_brand,
                           last_four=result.last_four, provider_reference=result.reference,
                           failure_reason=result.reason, created_at=utcnow()))
    db.session.commit()


def _insert_booking(event_id: int, owner: str, customer_id: int, promo_code: str | None,
                    payment: PaymentRequest, result, total: Decimal, idempotency_key: str):
    # A fresh transaction, opened by the CALL itself: InsertBooking's reads then see everything committed
    # by the checkouts that held the event lock before it (see the procedure's comments).
    db.session.commit()
    try:
        row = db.session.execute(sa.text("""
            CALL InsertBooking(:customer_id, :event_id, :owner, :promo, :method, :brand, :last_four,
                               :reference, :total, :key, :salt)"""),
            {"customer_id": customer_id, "event_id": event_id, "owner": owner, "promo": promo_code,
             "method": payment.method_code, "brand": result.card_brand if result else None,
             "last_four": result.last_four if result else None, "reference": result.reference if result else None,
             "total": total, "key": idempotency_key, "salt": secrets.token_hex(32)}).mappings().one()
        db.session.commit()
        return row
    except DBAPIError as error:
        raise _database_refusal(error) from error


def _book_paid_hold(event_id: int, owner: str, customer_id: int, promo_code: str | None, payment: PaymentRequest,
                    result, total: Decimal, idempotency_key: str, held_seat_ids) -> Confirmation:
    """InsertBooking for a hold that has been paid for (or costs nothing). Raises what InsertBooking
    refuses, or SeatsLostRefunded."""
    try:
        row = _insert_booking(event_id, owner, customer_id, promo_code, payment, result, total, idempotency_key)
    except (HoldExpired, NoSeatsHeld):
        # An identical request may have booked the seats meanwhile: then this is its confirmation.
        done = _replayed(idempotency_key)
        if done is not None:
            return done
        # Paid just after the hold ran out: book anyway if the very same seats are still free.
        if not holds.reclaim_expired_hold(event_id, owner, held_seat_ids):
            raise SeatsLostRefunded()
        row = _insert_booking(event_id, owner, customer_id, promo_code, payment, result, total, idempotency_key)
    return Confirmation(row["booking_id"], row["booking_code"], Decimal(row["total"]), bool(row["replayed"]))


def pay(event_id: int, owner: str, customer: Customer, promo_code: str | None, payment: PaymentRequest,
        idempotency_key: str, expected_total: Decimal) -> Confirmation:
    """Charge the customer for their hold and book it.

    Raises PriceChanged (the total is not what the buyer saw), NoSeatsHeld / HoldExpired (nothing to
    book, nothing charged), InvalidCard, PaymentDeclined (nothing booked, the hold stays until it
    expires), SeatsLostRefunded (paid after the hold ran out and the seats were gone: refunded at once),
    Busy, or any rule InsertBooking refuses (refunded at once as well)."""
    customer_id = customer.customer_id
    done = _replayed(idempotency_key)
    if done is not None:
        return done

    held_seat_ids = db.session.scalars(sa.text("""
        SELECT seat_id FROM event_seats WHERE hold_owner = :owner AND event_id = :event_id AND state = 'held'"""),
        {"owner": owner, "event_id": event_id}).all()
    if holds.current_hold(event_id, owner).is_empty:
        raise HoldExpired() if held_seat_ids else NoSeatsHeld()
    priced = quote(event_id, owner, customer_id, promo_code)
    if priced.total != expected_total:
        raise PriceChanged(f"The total is now €{priced.total:,.2f}. Please check your order and pay again.")

    method_id = db.session.scalar(sa.select(PaymentMethod.method_id).where(PaymentMethod.code == payment.method_code))
    if method_id is None:
        raise PaymentDeclined("Please choose a payment method.")
    result = None
    if priced.total > 0:
        result = gateway.charge(priced.total, payment, idempotency_key)
        if not result.captured:
            _record_unsuccessful_charge(customer_id, method_id, priced.total, result)
            raise PaymentDeclined(f"{result.reason} Nothing has been charged and your seats are still held.")

    try:
        confirmation = _book_paid_hold(event_id, owner, customer_id, priced.promo_code, payment, result,
                                       priced.total, idempotency_key, held_seat_ids)
    except Exception as failure:
        # Money was taken and no booking holds it: it goes straight back, whatever went wrong.
        if result is not None and _replayed(idempotency_key) is None:
            gateway.refund(result.reference, priced.total)
            db.session.commit()
        if isinstance(failure, BoxOfficeError):
            raise
        raise SeatsLostRefunded("Something went wrong while booking your seats, so your payment has been "
                                "refunded in full. Please try again.") from failure

    if not confirmation.replayed:
        mail.send_booking_confirmation(confirmation.booking_id)
    return confirmation
