"""Checkout: price the hold, take the payment, book through InsertBooking.

Prices come from the PriceHold procedure, whose discount rule (DiscountSubtotal) InsertBooking applies
too, so the page and the booking never disagree. Money is taken before the booking is written; the gateway and InsertBooking both key on
the checkout's idempotency key, so a double click, a refresh or a retried POST makes one charge and one
booking and answers every retry with the same confirmation.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ..clock import utcnow
from ..errors import (BoxOfficeError, HoldExpired, NoSeatsHeld, PaymentDeclined, PriceChanged,
                      SeatsLostRefunded, from_database_error)
from ..extensions import db
from ..models import Booking, Payment
from . import customers, holds, mail, orders
from .payments import PaymentRequest, gateway
from .refusals import procedure_may_commit


@dataclass(frozen=True)
class Quote:
    seats: int
    subtotal: Decimal
    vip_discount: Decimal
    promo_discount: Decimal
    total: Decimal
    promo_code: str | None


@dataclass(frozen=True)
class HeldSeat:
    seat_id: int
    section_name: str
    row_label: str
    seat_number: int
    category_name: str
    price: Decimal


@dataclass(frozen=True)
class VipRate:
    """What the checkout page says about VIP membership: the buyer's own rate, or the entry rate a
    regular customer would get."""

    is_vip: bool
    tier: str | None
    discount_rate: Decimal


@dataclass(frozen=True)
class EventLine:
    event_id: int
    title: str
    starts_at: dt.datetime
    venue_name: str
    venue_city: str


@dataclass(frozen=True)
class Basket:
    """Everything the checkout page shows about the order, and the cards the buyer may pay it with."""

    event: EventLine
    quote: Quote
    vip: VipRate
    seats: list[HeldSeat]
    saved_cards: list[customers.SavedCard]


@dataclass(frozen=True)
class Booked:
    """What InsertBooking answered: the booking this checkout made, or had made before (`replayed`)."""

    booking_id: int
    booking_code: str
    total: Decimal
    replayed: bool


@dataclass(frozen=True)
class Confirmation:
    """A paid checkout's booking as its confirmation shows it (the same for every retry of the checkout)."""

    order: orders.OrderDetail
    tickets: list[orders.TicketView]
    replayed: bool

    @property
    def booking_id(self) -> int:
        return self.order.booking_id

    @property
    def booking_code(self) -> str:
        return self.order.booking_code

    @property
    def total(self) -> Decimal:
        return self.order.total


def new_idempotency_key() -> str:
    return secrets.token_hex(24)


def _database_refusal(error: DBAPIError) -> Exception:
    db.session.rollback()
    return from_database_error(error) or error


def _normal_promo(promo_code: str | None) -> str | None:
    return (promo_code or "").strip().upper() or None


# The statements of the checkout are built once (building one, and working out its cache key, costs about as
# much CPU as sending it).
# The hold's price (HoldPrice: PriceHold as one JSON value) is read inside each statement that needs it, so
# pricing costs no round trip of its own.
_PRICE = "HoldPrice(:event_id, :owner, :customer_id, :promo) AS price"
QUOTE = sa.text(f"SELECT {_PRICE}")
# The event, the price, the buyer's VIP rate, the seats of the owner's live hold and the buyer's saved cards
# in one round trip, the seats and cards packed in JSON (sorted here:
# MySQL 8 has no ORDER BY inside JSON_ARRAYAGG).
BASKET = sa.text(f"""
    SELECT {_PRICE}, e.event_id, e.title, e.starts_at, venue.name AS venue_name, venue.city AS venue_city,
           vip.tier, vip.discount_rate,
           (SELECT JSON_ARRAYAGG(JSON_ARRAY(sec.sort_order, r.sort_order, s.seat_number, es.seat_id, sec.name, r.label,
                                            c.name, ep.price))
              FROM event_seats es USE INDEX (ix_event_seats_owner)
              JOIN seats s ON s.seat_id = es.seat_id
              JOIN seat_rows r ON r.row_id = s.row_id
              JOIN sections sec ON sec.section_id = s.section_id
              JOIN seat_categories c ON c.category_id = es.category_id
              JOIN event_prices ep ON ep.event_id = es.event_id AND ep.category_id = es.category_id
             WHERE es.hold_owner = :owner AND es.event_id = e.event_id AND es.state = 'held'
               AND es.hold_expires_at > UTC_TIMESTAMP(3)) AS held_seats,
           (SELECT JSON_ARRAYAGG(JSON_ARRAY(saved_method_id, card_brand, last_four, exp_month, exp_year))
              FROM saved_payment_methods WHERE customer_id = :customer_id) AS saved_cards
      FROM events e
      JOIN venues venue ON venue.venue_id = e.venue_id
      LEFT JOIN vip_customers vip ON vip.customer_id = :customer_id
     WHERE e.event_id = :event_id AND e.status <> 'draft'""")
# The held seats come as one list: an order holds at most 50 seats (ck_events_max_seats), well within
# GROUP_CONCAT's 1,024 characters (MySQL's default; MariaDB's is 1 MB). An aggregate without GROUP BY
# answers one row even for no seats; reading the seats in a derived table instead made MariaDB build and
# drop a temporary table, which doubled the statement's time (0.80 -> 0.44 ms a round trip).
PAYMENT_QUOTE = sa.text(f"""
    SELECT {_PRICE}, GROUP_CONCAT(seat_id ORDER BY seat_id) AS seat_ids,
           COALESCE(SUM(hold_expires_at > UTC_TIMESTAMP(3)), 0) AS live,
           (SELECT method_id FROM payment_methods WHERE code = :method) AS method_id
      FROM event_seats USE INDEX (ix_event_seats_owner)
     WHERE hold_owner = :owner AND event_id = :event_id AND state = 'held'""")
INSERT_BOOKING = sa.text("""
    CALL InsertBooking(:customer_id, :event_id, :owner, :promo, :method, :brand, :last_four,
                       :reference, :total, :key, :salt, :commit)""")
BOOKING_BY_KEY = (sa.select(Booking.booking_id, Booking.booking_code, Booking.total)
                  .where(Booking.idempotency_key == sa.bindparam("key")))


def _priced(statement: sa.TextClause, event_id: int, owner: str, customer_id: int | None, promo_code: str | None,
            **params):
    """The rows of a statement that reads the hold's price (`_PRICE`). Raises PromoCodeRejected."""
    try:
        return db.session.execute(statement, {"event_id": event_id, "owner": owner, "customer_id": customer_id,
                                              "promo": promo_code, **params}).all()
    except DBAPIError as error:
        raise _database_refusal(error) from error


def _quote(row, promo_code: str | None) -> Quote:
    # MariaDB writes the figures as strings, MySQL 8 as numbers: either way read exactly, never as floats.
    price = json.loads(row.price, parse_float=Decimal)
    return Quote(int(price["seats"]), Decimal(price["subtotal"]), Decimal(price["vip"]), Decimal(price["promo"]),
                 Decimal(price["total"]), promo_code)


def quote(event_id: int, owner: str, customer_id: int | None, promo_code: str | None) -> Quote:
    """The price of the owner's hold for this customer with an optional promo code (PriceHold).
    Raises PromoCodeRejected with the reason the code cannot be used."""
    promo_code = _normal_promo(promo_code)
    [row] = _priced(QUOTE, event_id, owner, customer_id, promo_code)
    return _quote(row, promo_code)


def basket(event_id: int, owner: str, customer_id: int, promo_code: str | None) -> Basket | None:
    """The checkout page's order: the event, the price (as `quote`), the buyer's VIP rate, the seats of the
    owner's live hold and the buyer's saved cards, in one round trip. None if the public cannot see the
    event. Raises PromoCodeRejected."""
    promo_code = _normal_promo(promo_code)
    found = _priced(BASKET, event_id, owner, customer_id, promo_code)
    if not found:
        return None
    [row] = found
    seats = [HeldSeat(seat_id, section, row_label, number, category, Decimal(str(price)))
             for _, _, number, seat_id, section, row_label, category, price in sorted(json.loads(row.held_seats or "[]"))]
    vip = (VipRate(True, row.tier, row.discount_rate) if row.tier is not None
           else VipRate(False, None, customers.ENTRY_VIP_RATE))
    return Basket(EventLine(row.event_id, row.title, row.starts_at, row.venue_name, row.venue_city),
                  _quote(row, promo_code), vip, seats,
                  [customers.SavedCard(*card) for card in sorted(json.loads(row.saved_cards or "[]"))])


def _replayed(idempotency_key: str) -> Booked | None:
    """The booking this checkout already made, read afresh (a new transaction, so a booking committed by a
    concurrent identical request is seen)."""
    db.session.rollback()
    done = db.session.execute(BOOKING_BY_KEY, {"key": idempotency_key}).one_or_none()
    return Booked(done.booking_id, done.booking_code, done.total, True) if done else None


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
    """CALL InsertBooking, which commits the booking itself where it may (see _book_paid_hold). Raises what
    InsertBooking refuses."""
    # A fresh transaction, opened by the CALL itself: InsertBooking's reads then see everything committed
    # by the checkouts that held the event lock before it (see the procedure's comments).
    db.session.commit()
    try:
        return db.session.execute(INSERT_BOOKING, {
            "customer_id": customer_id, "event_id": event_id, "owner": owner, "promo": promo_code,
            "method": payment.method_code, "brand": result.card_brand if result else None,
            "last_four": result.last_four if result else None, "reference": result.reference if result else None,
            "total": total, "key": idempotency_key, "salt": secrets.token_hex(32),
            "commit": procedure_may_commit()}).mappings().one()
    except DBAPIError as error:
        raise _database_refusal(error) from error


def _book_paid_hold(event_id: int, owner: str, customer_id: int, promo_code: str | None, payment: PaymentRequest,
                    result, total: Decimal, idempotency_key: str, held_seat_ids) -> Booked:
    """InsertBooking for a hold that has been paid for (or costs nothing), committed. Raises what
    InsertBooking refuses, or SeatsLostRefunded."""
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
    # Committed at once, by InsertBooking itself where it may (no COMMIT then goes to the server): the
    # transaction holds the event's lock, which every seat change of the event waits for. (The mail is
    # written after it, in a transaction of its own.)
    db.session.commit()
    return Booked(row["booking_id"], row["booking_code"], Decimal(row["total"]), bool(row["replayed"]))


def _price_for_payment(event_id: int, owner: str, customer_id: int, promo_code: str | None, method_code: str):
    """The hold's price for the payment, with what paying needs besides in the same round trip: the seats
    the owner holds (expired or not), how many of them are still live, and the payment method's id."""
    [row] = _priced(PAYMENT_QUOTE, event_id, owner, customer_id, promo_code, method=method_code)
    held_seat_ids = [int(seat_id) for seat_id in row.seat_ids.split(",")] if row.seat_ids else []
    return _quote(row, promo_code), held_seat_ids, int(row.live), row.method_id


def pay(event_id: int, owner: str, customer_id: int, promo_code: str | None, payment: PaymentRequest,
        idempotency_key: str, expected_total: Decimal) -> Confirmation:
    """Charge the customer for their hold and book it.

    Raises PriceChanged (the total is not what the buyer saw), NoSeatsHeld / HoldExpired (nothing to
    book, nothing charged), InvalidCard, PaymentDeclined (nothing booked, the hold stays until it
    expires), SeatsLostRefunded (paid after the hold ran out and the seats were gone: refunded at once),
    Busy, or any rule InsertBooking refuses (refunded at once as well)."""
    promo_code = _normal_promo(promo_code)
    try:
        priced, held_seat_ids, live_seats, method_id = _price_for_payment(
            event_id, owner, customer_id, promo_code, payment.method_code)
        if not live_seats:
            raise HoldExpired() if held_seat_ids else NoSeatsHeld()
        if priced.total != expected_total:
            raise PriceChanged(f"The total is now €{priced.total:,.2f}. Please check your order and pay again.")
    except BoxOfficeError:
        # A retry of a checkout that has booked finds the seats sold (or the price changed by them): it gets
        # the booking's confirmation. (Where the hold is still there, the gateway and InsertBooking
        # recognise the idempotency key below.)
        done = _replayed(idempotency_key)
        if done is not None:
            return _confirm(customer_id, done)
        raise

    if method_id is None:
        raise PaymentDeclined("Please choose a payment method.")
    result = None
    if priced.total > 0:
        result = gateway.charge(priced.total, payment, idempotency_key)
        if not result.captured:
            _record_unsuccessful_charge(customer_id, method_id, priced.total, result)
            raise PaymentDeclined(f"{result.reason} Nothing has been charged and your seats are still held.")

    try:
        booked = _book_paid_hold(event_id, owner, customer_id, priced.promo_code, payment, result,
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

    return _confirm(customer_id, booked)


def _confirm(customer_id: int, booked: Booked) -> Confirmation:
    """The booking as its confirmation shows it; the first time, its confirmation mail is sent too."""
    order, tickets = orders.order_detail(customer_id, booked.booking_code)
    if not booked.replayed:
        mail.add_booking_confirmation(order, tickets)
        db.session.commit()
    return Confirmation(order, tickets, booked.replayed)
