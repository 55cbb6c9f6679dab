"""The money rules of PriceHold and InsertBooking (sql/objects/30_procedures.sql), in plain Python.

The database procedures are the authority at checkout; this mirror exists for code that must price an
order without a hold in the database, such as the demo-data generator, which writes historical bookings
in bulk. tests/test_pricing.py proves the two agree on many random orders, so a change to either side
that breaks the agreement fails the build.

The stacking rule, step by step, exactly as the procedures do it:
  1. subtotal = the sum of the seats' face prices;
  2. vip_discount = ROUND(subtotal * vip_rate, 2), half away from zero (all amounts here are >= 0,
     so that is half-up);
  3. at most one promo code, on what is left after the VIP discount: 'percent' takes
     ROUND(left * value / 100, 2), 'fixed' takes LEAST(value, left), so the total is never below zero;
  4. total = subtotal - vip_discount - promo_discount;
  5. each ticket's paid share = face * total / subtotal rounded DOWN to the cent (0 when the subtotal is
     0), in seat_id order, and the remainder (total - sum of shares, never negative) is added to the LAST
     ticket.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PromoRule:
    """The part of a discounts row that prices an order: kind 'percent' (value 0-100) or 'fixed'."""

    kind: str
    value: Decimal

    def __post_init__(self) -> None:
        if self.kind not in ("percent", "fixed"):
            raise ValueError(f"unknown promo kind {self.kind!r}")


@dataclass(frozen=True)
class PriceBreakdown:
    subtotal: Decimal
    vip_discount: Decimal
    promo_discount: Decimal
    total: Decimal
    # One share per face price, in the order given (seat_id order); they add up to `total`.
    paid_shares: list[Decimal]


def _round_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _cents(value: Decimal) -> int:
    """A DECIMAL(10,2) amount as whole cents."""
    return int(value.quantize(CENT) * 100)


def vip_discount(subtotal: Decimal, vip_rate: Decimal) -> Decimal:
    """Step 2: what the VIP rate takes off a subtotal."""
    return _round_cents(Decimal(subtotal) * vip_rate)


def vip_price(face: Decimal, vip_rate: Decimal) -> Decimal:
    """What one seat of face price `face` costs a VIP at `vip_rate` on its own: the face price less step 2's
    discount on it (what the seat map's key and the price list show; an order of several seats may differ
    by a cent, as the discount is rounded once, on its subtotal)."""
    return Decimal(face) - vip_discount(Decimal(face), vip_rate)


def _share(face: Decimal, total: Decimal, subtotal: Decimal) -> Decimal:
    """face * total / subtotal rounded down to the cent, in whole-cent integers, as InsertBooking does
    (rounding down means the shares never exceed the total, so no ticket is left with a negative one)."""
    return Decimal(_cents(face) * _cents(total) // _cents(subtotal)) * CENT


def price_order(face_prices: list[Decimal], vip_rate: Decimal = ZERO, promo: PromoRule | None = None) -> PriceBreakdown:
    """Price one order the way PriceHold does and split the total over its tickets the way InsertBooking
    does. `face_prices` are the seats' category prices in seat_id order; `vip_rate` is the customer's
    vip_customers.discount_rate (a DECIMAL(5,4) fraction; 0 for a regular customer). Raises ValueError
    for a negative price or rate."""
    if any(price < 0 for price in face_prices) or vip_rate < 0:
        raise ValueError("prices and the VIP rate cannot be negative")
    subtotal = sum(face_prices, ZERO).quantize(CENT)
    vip_off = vip_discount(subtotal, vip_rate)
    after_vip = subtotal - vip_off
    promo_discount = ZERO
    if promo is not None:
        if promo.kind == "percent":
            promo_discount = _round_cents(after_vip * promo.value / 100)
        else:
            promo_discount = min(promo.value, after_vip).quantize(CENT)
    total = after_vip - promo_discount

    if subtotal == 0:
        shares = [ZERO for _ in face_prices]
    else:
        shares = [_share(face, total, subtotal) for face in face_prices]
    if shares:
        shares[-1] += total - sum(shares, ZERO)
    return PriceBreakdown(subtotal, vip_off, promo_discount, total, shares)
