"""Bookings as the box office sees them: found by code, customer e-mail or event, and one booking in full
with its tickets and payments. Refunds go through refunds.refund_tickets."""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Booking, Customer, Event, Payment, PaymentMethod, Ticket
from ..pagination import Page, paginate
from .orders import TicketView, tickets_of

# Booking codes are ASCII (the column is); anything else is not one, and must not reach the comparison,
# which MariaDB refuses between an ASCII column and other characters.
_BOOKING_CODE = re.compile(r"[A-Z0-9]{1,10}")


@dataclass(frozen=True)
class BookingListing:
    booking: Booking
    customer: Customer
    event: Event
    tickets: int


def search_bookings(text: str | None, event_id: int | None, page: int, per_page: int) -> Page[BookingListing]:
    """Bookings, newest first: the one whose code is `text`, if there is one, else those whose customer's
    e-mail or event's title contains `text`; only one event's when `event_id` is given."""
    tickets = (sa.select(sa.func.count()).where(Ticket.booking_id == Booking.booking_id)
               .correlate(Booking).scalar_subquery())
    # Customers and events are matched in subqueries and loaded for the page only, so that the page's count
    # reads bookings alone (a join to every booking's customer and event costs more than the list itself).
    query = sa.select(Booking, tickets).options(selectinload(Booking.customer), selectinload(Booking.event))
    if text:
        text, code = text.strip(), text.strip().upper()
        if _BOOKING_CODE.fullmatch(code) and db.session.scalar(
                sa.select(Booking.booking_id).where(Booking.booking_code == code)):
            query = query.where(Booking.booking_code == code)
        else:
            query = query.where(sa.or_(
                Booking.customer_id.in_(sa.select(Customer.customer_id)
                                        .where(Customer.email.contains(text, autoescape=True))),
                Booking.event_id.in_(sa.select(Event.event_id).where(Event.title.contains(text, autoescape=True)))))
    if event_id:
        query = query.where(Booking.event_id == event_id)
    query = query.order_by(Booking.booked_at.desc(), Booking.booking_id.desc())
    return paginate(query, page, per_page, lambda row: BookingListing(row[0], row[0].customer, row[0].event, row[1]))


@dataclass(frozen=True)
class PaymentLine:
    payment: Payment
    method: str


@dataclass(frozen=True)
class BookingDetail:
    booking: Booking
    tickets: list[TicketView]
    payments: list[PaymentLine]

    @property
    def refundable(self) -> list[TicketView]:
        """The tickets a refund can still give money back for: those not used and not refunded."""
        return [ticket for ticket in self.tickets if ticket.status == "valid"]


def booking_detail(booking_code: str) -> BookingDetail | None:
    """One booking with its tickets and its payments (the charge and any refunds; at most one ticket per
    seat of an order, so these lists are short)."""
    code = booking_code.strip().upper()
    booking = (db.session.scalar(sa.select(Booking).where(Booking.booking_code == code))
               if _BOOKING_CODE.fullmatch(code) else None)
    if booking is None:
        return None
    payments = db.session.execute(
        sa.select(Payment, PaymentMethod.name).join(PaymentMethod, PaymentMethod.method_id == Payment.method_id)
        .where(Payment.booking_id == booking.booking_id).order_by(Payment.payment_id)).all()
    return BookingDetail(booking, tickets_of(booking.booking_id), [PaymentLine(*row) for row in payments])
