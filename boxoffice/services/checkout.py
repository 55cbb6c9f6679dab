"""Checkout: price the hold, take the payment, book through InsertBooking.

Prices come from the PriceHold procedure, whose discount rule (DiscountSubtotal) InsertBooking applies
too, so the page and the booking never disagree. Paying is a payment attempt (payment_attempts): written
before the provider is asked, keyed by an idempotency key the server issued for this buyer, hold and
amount, so a double click, a refresh or a retried POST makes one charge and one booking and answers every
retry with the same outcome.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from .. import pricing
from ..clock import utcnow
from ..errors import (AuthenticationRequired, BoxOfficeError, HoldExpired, NoSeatsHeld, PaymentDeclined,
                      PaymentFormExpired, PaymentInProgress, PriceChanged, SeatsLostRefunded)
from ..extensions import db
from ..models import PaymentMethod, SavedPaymentMethod
from . import customers, holds, orders, payment_attempts
from .payments import PaymentRequest, gateway
from .unit_of_work import unit_of_work


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
    regular customer would get and what the seats would cost them at it (by the pricing rule)."""

    is_vip: bool
    tier: str | None
    discount_rate: Decimal
    vip_subtotal: Decimal | None = None


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


def _normal_promo(promo_code: str | None) -> str | None:
    return (promo_code or "").strip().upper() or None


# The statements of the checkout are built once (building one, and working out its cache key, costs about as
# much CPU as sending it).
# The hold's price (HoldPrice: PriceHold as one JSON value) is read inside each statement that needs it, so
# pricing costs no round trip of its own.
_PRICE = "HoldPrice(:event_id, :owner, :customer_id, :promo) AS price"
QUOTE = sa.text(f"SELECT {_PRICE}")
# The event, the price, the buyer's VIP rate, the seats of the owner's live hold and the buyer's saved cards
# (those the configured provider can charge: customers.CHARGEABLE, its parameters customers.chargeable())
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
              FROM saved_payment_methods
             WHERE customer_id = :customer_id AND (gateway_token REGEXP :stripe_cards) = :at_stripe) AS saved_cards
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


def _priced(statement: sa.TextClause, event_id: int, owner: str, customer_id: int | None, promo_code: str | None,
            **params):
    """The rows of a statement that reads the hold's price (`_PRICE`). Raises PromoCodeRejected."""
    with unit_of_work():
        return db.session.execute(statement, {"event_id": event_id, "owner": owner, "customer_id": customer_id,
                                              "promo": promo_code, **params}).all()


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
    found = _priced(BASKET, event_id, owner, customer_id, promo_code, **customers.chargeable())
    if not found:
        return None
    [row] = found
    seats = [HeldSeat(seat_id, section, row_label, number, category, Decimal(str(price)))
             for _, _, number, seat_id, section, row_label, category, price in sorted(json.loads(row.held_seats or "[]"))]
    quoted = _quote(row, promo_code)
    vip = (VipRate(True, row.tier, row.discount_rate) if row.tier is not None
           else VipRate(False, None, customers.ENTRY_VIP_RATE,
                        quoted.subtotal - pricing.vip_discount(quoted.subtotal, customers.ENTRY_VIP_RATE)))
    return Basket(EventLine(row.event_id, row.title, row.starts_at, row.venue_name, row.venue_city),
                  quoted, vip, seats,
                  [customers.SavedCard(*card) for card in sorted(json.loads(row.saved_cards or "[]"))])


def _price_for_payment(event_id: int, owner: str, customer_id: int, promo_code: str | None, method_code: str):
    """The hold's price for the payment, with what paying needs besides in the same round trip: the seats
    the owner holds (expired or not), how many of them are still live, and the payment method's id."""
    [row] = _priced(PAYMENT_QUOTE, event_id, owner, customer_id, promo_code, method=method_code)
    held_seat_ids = [int(seat_id) for seat_id in row.seat_ids.split(",")] if row.seat_ids else []
    return _quote(row, promo_code), held_seat_ids, int(row.live), row.method_id


def payment_key(customer_id: int, event_id: int, owner: str, amount: Decimal, nonce: str | None = None) -> str:
    """A new idempotency key for paying `amount` for the owner's hold: random (or the given 24 hex digits),
    and signed for this buyer, event, hold and amount, so that the server issues every key and a key is good
    for nothing else."""
    nonce = nonce or secrets.token_hex(12)
    return f"{nonce}-{_key_signature(nonce, customer_id, event_id, owner, amount)}"


def _key_signature(nonce: str, customer_id: int, event_id: int, owner: str, amount: Decimal) -> str:
    message = f"payment-key|{nonce}|{customer_id}|{event_id}|{owner}|{amount:.2f}".encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), message, hashlib.sha256).hexdigest()[:32]


def _key_is_for(key: str, customer_id: int, event_id: int, owner: str, amount: Decimal) -> bool:
    nonce, _, signature = key.partition("-")
    return len(nonce) == 24 and hmac.compare_digest(
        signature, _key_signature(nonce, customer_id, event_id, owner, amount))


def pay(event_id: int, owner: str, customer_id: int, promo_code: str | None, payment: PaymentRequest,
        idempotency_key: str, expected_total: Decimal, address: str | None = None) -> Confirmation:
    """Charge the customer for their hold and book it, as the payment attempt with this key (see
    payment_attempts): a retry with the same key gets the same outcome, never a second charge. `address`:
    the buyer's network address (as holds.Buyer has it), for seats reclaimed after the hold ran out.

    Raises PaymentFormExpired (a key this server did not issue for this buyer, hold and amount),
    PriceChanged (the total is not what the buyer saw), NoSeatsHeld / HoldExpired (nothing to book,
    nothing charged), InvalidCard, PaymentDeclined (nothing booked, the hold stays until it expires),
    PaymentInProgress (another payment for the hold is under way), SeatsLostRefunded (the seats could not
    be booked and the money went back), AuthenticationRequired (the buyer's bank wants them to confirm:
    the browser does, then `resume`s the attempt), PaymentProviderUnavailable (nothing charged, the hold
    stays), Busy, or a fault (the attempt is then finished by a retry or the reconciler)."""
    if not _key_is_for(idempotency_key, customer_id, event_id, owner, expected_total):
        raise PaymentFormExpired()
    promo_code = _normal_promo(promo_code)
    try:
        priced, held_seat_ids, live_seats, method_id = _price_for_payment(
            event_id, owner, customer_id, promo_code, payment.method_code)
        if not live_seats:
            raise HoldExpired() if held_seat_ids else NoSeatsHeld()
        if priced.total != expected_total:
            raise PriceChanged(f"The total is now €{priced.total:,.2f}. Please check your order and pay again.")
        if method_id is None:
            raise PaymentDeclined("Please choose a payment method.")
    except BoxOfficeError:
        # A retry of a payment that has booked finds the seats sold (or the price changed by them): it is
        # answered with that payment's outcome.
        attempt = payment_attempts.by_key(idempotency_key)
        if attempt is None:
            raise
        new = False
    else:
        attempt, new = payment_attempts.start(idempotency_key, customer_id, event_id, owner, priced.total,
                                              priced.promo_code, payment.method_code, held_seat_ids)
    left_behind = not new and utcnow() - attempt.created_at > payment_attempts.STALE_AFTER
    attempt = payment_attempts.finish(
        attempt, payment, note="Finished when its buyer tried again" if left_behind else None, address=address)
    return _outcome(attempt, replayed=not new)


def resume(event_id: int, customer_id: int, idempotency_key: str) -> Confirmation:
    """Come back to a payment attempt after the buyer answered their bank (3-D Secure) in the browser: the
    provider is asked what became of it, and it is booked, declined or still waiting, as `pay` answers.
    Raises PaymentFormExpired for a key that is not this buyer's attempt for this event, and what `pay`
    raises after the provider was asked."""
    # Keys are printable ASCII the server issued (the column is ASCII): anything else is no key of ours.
    if not (0 < len(idempotency_key) <= 64 and idempotency_key.isascii() and idempotency_key.isprintable()):
        raise PaymentFormExpired()
    attempt = payment_attempts.by_key(idempotency_key)
    if attempt is None or attempt.customer_id != customer_id or attempt.event_id != event_id:
        raise PaymentFormExpired()
    return _outcome(payment_attempts.finish(attempt), replayed=attempt.state == "booked")


def save_paid_card(customer_id: int, idempotency_key: str) -> SavedPaymentMethod | None:
    """Keep the card a booked payment attempt was paid with, as the provider keeps it for the buyer: its
    id at the provider, brand, last four and expiry (a provider that keeps cards only from their details,
    the simulated one, answers None: see customers.save_card). Raises PaymentProviderUnavailable."""
    attempt = payment_attempts.by_key(idempotency_key)
    if attempt is None or attempt.customer_id != customer_id or attempt.state != "booked" or not attempt.provider_reference:
        return None
    card = gateway.saved_card_of(attempt.provider_reference)
    if card is None or card.exp_month is None:
        return None
    with unit_of_work():
        same = db.session.scalar(sa.select(SavedPaymentMethod).where(
            SavedPaymentMethod.customer_id == customer_id, SavedPaymentMethod.gateway_token == card.token))
        if same is not None:
            return same
        saved = SavedPaymentMethod(
            customer_id=customer_id, card_brand=card.card_brand, last_four=card.last_four, exp_month=card.exp_month,
            exp_year=card.exp_year, gateway_token=card.token,
            method_id=db.session.scalar(sa.select(PaymentMethod.method_id).where(PaymentMethod.code == "card")))
        db.session.add(saved)
    return saved


def _outcome(attempt: payment_attempts.Attempt, replayed: bool) -> Confirmation:
    """The confirmation of a booked attempt; any other outcome is raised as the buyer should hear it."""
    if attempt.state == "booked":
        order, tickets = orders.order_detail(attempt.customer_id, attempt.booking_code)
        return Confirmation(order, tickets, replayed)
    if attempt.state == "declined":
        raise PaymentDeclined(f"{attempt.failure_reason} Nothing has been charged and your seats are still held.")
    if attempt.state in ("refund_pending", "refunded") or attempt.failure_reason:
        # The rule that refused the booking, when this request met it (else: the seats were lost).
        raise type(attempt.refusal or SeatsLostRefunded())(payment_attempts.returned_message(attempt))
    if attempt.state == "abandoned":
        raise PaymentDeclined("This payment was not completed and nothing was charged. Please pay again.")
    if attempt.action is not None:
        # The buyer authenticates at their bank: their hold gets its once-only extension for paying now, if
        # the checkout page has not given it already.
        holds.extend_for_payment(attempt.event_id, attempt.hold_owner)
        raise AuthenticationRequired(attempt.action.client_secret, attempt.idempotency_key)
    raise PaymentInProgress()
