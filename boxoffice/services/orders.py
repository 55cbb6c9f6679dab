"""A customer's orders and their e-tickets."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal

import segno
import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Booking, Event, Venue
from ..pagination import Page, paginate


@dataclass(frozen=True)
class TicketView:
    ticket_id: int
    ticket_code: str
    status: str
    section: str
    row_label: str
    seat_number: int
    category: str
    face_price: Decimal
    paid_amount: Decimal
    checked_in_at: dt.datetime | None

    @property
    def seat_label(self) -> str:
        return f"{self.section}, row {self.row_label}, seat {self.seat_number}"

    def qr_svg_data_uri(self) -> str:
        """The ticket code as a QR code, an SVG data URI for an <img> (allowed by the page's CSP)."""
        return segno.make(f"BOXOFFICE-TICKET:{self.ticket_code}", error="m").svg_data_uri(scale=5, border=2)


# Built once: the order page and the confirmation mail read these on every booking.
TICKETS_OF = sa.text("""
    SELECT t.ticket_id, t.ticket_code, t.status, sec.name AS section, r.label AS row_label, s.seat_number,
           c.name AS category, t.face_price, t.paid_amount, t.checked_in_at
      FROM tickets t
      JOIN seats s ON s.seat_id = t.seat_id
      JOIN seat_rows r ON r.row_id = s.row_id
      JOIN sections sec ON sec.section_id = s.section_id
      JOIN seat_categories c ON c.category_id = t.category_id
     WHERE t.booking_id = :booking_id
     ORDER BY sec.sort_order, r.sort_order, s.seat_number""")
# The order page's booking with its tickets in one round trip, the tickets packed in JSON (sorted here:
# MySQL 8 has no ORDER BY inside JSON_ARRAYAGG).
ORDER_DETAIL = sa.text("""
    SELECT b.booking_id, b.booking_code, b.status, b.subtotal, b.vip_discount, b.promo_discount, b.total,
           c.email, c.full_name, e.title, e.status, e.starts_at, e.refundable_until_hours, v.name, v.city,
           (SELECT JSON_ARRAYAGG(JSON_ARRAY(sec.sort_order, r.sort_order, s.seat_number, t.ticket_id, t.ticket_code,
                                            t.status, sec.name, r.label, cat.name, t.face_price, t.paid_amount,
                                            t.checked_in_at))
              FROM tickets t
              JOIN seats s ON s.seat_id = t.seat_id
              JOIN seat_rows r ON r.row_id = s.row_id
              JOIN sections sec ON sec.section_id = s.section_id
              JOIN seat_categories cat ON cat.category_id = t.category_id
             WHERE t.booking_id = b.booking_id) AS tickets
      FROM bookings b
      JOIN customers c ON c.customer_id = b.customer_id
      JOIN events e ON e.event_id = b.event_id
      JOIN venues v ON v.venue_id = e.venue_id
     WHERE b.booking_code = :code AND b.customer_id = :customer_id""")


def tickets_of(booking_id: int) -> list[TicketView]:
    return [TicketView(*row) for row in db.session.execute(TICKETS_OF, {"booking_id": booking_id})]


@dataclass(frozen=True)
class OrderSummary:
    booking: Booking
    event: Event
    venue: Venue

    @property
    def is_upcoming(self) -> bool:
        return self.event.starts_at > utcnow()


def orders_of(customer_id: int, page: int, per_page: int = 10) -> Page[OrderSummary]:
    """The customer's bookings, newest first."""
    query = (sa.select(Booking, Event, Venue)
             .join(Event, Event.event_id == Booking.event_id)
             .join(Venue, Venue.venue_id == Event.venue_id)
             .where(Booking.customer_id == customer_id)
             .order_by(Booking.booked_at.desc(), Booking.booking_id.desc()))
    return paginate(query, page, per_page, lambda row: OrderSummary(*row))


BOOKING_CODE = re.compile(r"[0-9A-Z]{10}")


def order_of(customer_id: int, booking_code: str) -> Booking | None:
    """The customer's own booking with this code (None for anyone else's: codes are not permissions,
    and None for anything that is not a booking code at all)."""
    booking_code = booking_code.strip().upper()
    if not BOOKING_CODE.fullmatch(booking_code):
        return None
    return db.session.scalar(sa.select(Booking).where(
        Booking.booking_code == booking_code, Booking.customer_id == customer_id))


@dataclass(frozen=True)
class OrderDetail:
    """What the order page shows of a booking (the confirmation after paying is this page too, and the
    confirmation mail says the same)."""

    booking_id: int
    booking_code: str
    status: str
    subtotal: Decimal
    vip_discount: Decimal
    promo_discount: Decimal
    total: Decimal
    customer_email: str
    customer_name: str
    event_title: str
    event_status: str
    starts_at: dt.datetime
    refundable_until_hours: int
    venue_name: str
    venue_city: str

    @property
    def cancellable_until(self) -> dt.datetime:
        return self.starts_at - dt.timedelta(hours=self.refundable_until_hours)


def _ticket_from_json(packed: list) -> TicketView:
    (_, _, seat_number, ticket_id, ticket_code, status, section, row_label, category, face_price, paid_amount,
     checked_in_at) = packed
    return TicketView(ticket_id, ticket_code, status, section, row_label, seat_number, category,
                      Decimal(str(face_price)), Decimal(str(paid_amount)),
                      dt.datetime.fromisoformat(checked_in_at) if checked_in_at else None)


def order_detail(customer_id: int, booking_code: str) -> tuple[OrderDetail, list[TicketView]] | None:
    """The customer's own booking with this code as the order page shows it, and its tickets, in one query
    (None as for order_of)."""
    booking_code = booking_code.strip().upper()
    if not BOOKING_CODE.fullmatch(booking_code):
        return None
    row = db.session.execute(ORDER_DETAIL, {"code": booking_code, "customer_id": customer_id}).one_or_none()
    if row is None:
        return None
    *detail, packed = row
    return OrderDetail(*detail), [_ticket_from_json(t) for t in sorted(json.loads(packed or "[]"))]
