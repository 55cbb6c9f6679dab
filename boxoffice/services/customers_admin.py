"""Customers as the box office sees them: find them, look at their bookings and payments, and move them
between regular and VIP.

A customer is a `customers` row and exactly one subtype row, regular_customers or vip_customers, as
customer_type says; the composite foreign keys refuse a subtype row of the wrong type. Moving a customer
between the two swaps the rows in one transaction, with the customer row locked so two admins pressing at
once run one after the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import BoxOfficeError, UnknownCustomer
from ..extensions import db
from ..models import Booking, Customer, Payment, PaymentMethod, RegularCustomer
from ..pagination import Page, paginate
from . import accounts
from .unit_of_work import unit_of_work

TIERS = {"silver": "Silver", "gold": "Gold", "platinum": "Platinum"}
CUSTOMER_REFUSALS = {"ck_vip_customers_rate": "A VIP discount is more than 0 % and at most 50 %."}


@dataclass(frozen=True)
class CustomerListing:
    customer: Customer
    bookings: int
    spent: Decimal


def search_customers(text: str | None, page: int, per_page: int) -> Page[CustomerListing]:
    """Customers whose name or e-mail contains `text`, by name, with their bookings and what they paid
    (refunds taken off)."""
    bookings = (sa.select(sa.func.count()).where(Booking.customer_id == Customer.customer_id)
                .correlate(Customer).scalar_subquery())
    spent = (sa.select(sa.func.coalesce(sa.func.sum(
                 sa.case((Payment.kind == "charge", Payment.amount), else_=-Payment.amount)), 0))
             .where(Payment.customer_id == Customer.customer_id, Payment.status.in_(("captured", "refunded")))
             .correlate(Customer).scalar_subquery())
    query = sa.select(Customer, bookings, spent)
    if text:
        text = text.strip()
        query = query.where(sa.or_(Customer.full_name.contains(text, autoescape=True),
                                   Customer.email.contains(text, autoescape=True)))
    query = query.order_by(Customer.full_name, Customer.customer_id)
    return paginate(query, page, per_page, lambda row: CustomerListing(row[0], row[1], Decimal(row[2])))


def customer(customer_id: int) -> Customer | None:
    """The customer with this id (with their subtype row through .regular or .vip), or None."""
    return db.session.get(Customer, customer_id)


@dataclass(frozen=True)
class PaymentListing:
    payment: Payment
    method: str
    booking_code: str | None


def payments_of(customer_id: int, page: int, per_page: int) -> Page[PaymentListing]:
    """Every movement of the customer's money (charges, declines, refunds), newest first."""
    query = (sa.select(Payment, PaymentMethod.name, Booking.booking_code)
             .join(PaymentMethod, PaymentMethod.method_id == Payment.method_id)
             .outerjoin(Booking, Booking.booking_id == Payment.booking_id)
             .where(Payment.customer_id == customer_id)
             .order_by(Payment.created_at.desc(), Payment.payment_id.desc()))
    return paginate(query, page, per_page, lambda row: PaymentListing(*row))


def _locked(customer_id: int) -> Customer:
    # populate_existing: the row as locked, not as this session may have loaded it earlier.
    found = db.session.scalar(sa.select(Customer).where(Customer.customer_id == customer_id).with_for_update()
                              .execution_options(populate_existing=True))
    if found is None:
        raise UnknownCustomer()
    return found


def make_vip(customer_id: int, tier: str, discount_rate: Decimal) -> None:
    """Make a customer a VIP of `tier` with `discount_rate` (a fraction: 0.1000 is ten per cent), or
    change the tier and rate of one who is already a VIP. Raises UnknownCustomer, and BoxOfficeError for
    a rate the database refuses."""
    with unit_of_work(messages=CUSTOMER_REFUSALS):
        promoted = _locked(customer_id)
        if promoted.vip is not None:
            promoted.vip.tier = tier
            promoted.vip.discount_rate = discount_rate
        else:
            # accounts.make_vip swaps the subtype rows in this transaction.
            accounts.make_vip(promoted, tier=tier, discount_rate=discount_rate, member_since=utcnow().date())


def make_regular(customer_id: int) -> None:
    """Make a VIP a regular customer again: the reverse of accounts.make_vip. The VIP row goes before the
    type changes (the composite keys require it), then the regular row is written. Raises UnknownCustomer,
    and BoxOfficeError if the customer is not a VIP."""
    with unit_of_work(messages=CUSTOMER_REFUSALS):
        demoted = _locked(customer_id)
        if demoted.vip is None:
            raise BoxOfficeError(f"{demoted.full_name} is not a VIP.")
        demoted.vip = None
        db.session.flush()
        demoted.customer_type = "regular"
        db.session.flush()
        demoted.regular = RegularCustomer(customer_type="regular")
