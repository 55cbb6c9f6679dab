"""A customer's orders and their e-tickets; a guest's order found by e-mail and code, or by its signed link."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal

import segno
import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..clock import utcnow
from ..extensions import db
from ..models import Booking, Event, Venue
from ..pagination import Page, paginate
from ..venue_info import VenueInfo


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

    @property
    def qr_payload(self) -> str:
        """What the ticket's QR code says (the door's scanner reads it): the same on the page and the PDF."""
        return f"BOXOFFICE-TICKET:{self.ticket_code}"

    def qr_svg_data_uri(self) -> str:
        """The ticket code as a QR code, an SVG data URI for an <img> (allowed by the page's CSP)."""
        return segno.make(self.qr_payload, error="m").svg_data_uri(scale=5, border=2)


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
# The order page's booking with its tickets, refunds and what paid for it, in one round trip, the lists
# packed in JSON (sorted here: MySQL 8 has no ORDER BY inside JSON_ARRAYAGG).
_ORDER_DETAIL = """
    SELECT b.booking_id, b.booking_code, b.status, b.subtotal, b.vip_discount, b.promo_discount, b.total,
           c.email AS customer_email, c.full_name AS customer_name, c.is_guest, e.event_id, e.title AS event_title,
           e.status AS event_status, e.starts_at, e.refundable_until_hours,
           v.name AS venue_name, v.city AS venue_city, v.address AS venue_address, v.map_url, v.directions,
           v.access_info, v.facilities,
           (SELECT JSON_ARRAYAGG(JSON_ARRAY(sec.sort_order, r.sort_order, s.seat_number, t.ticket_id, t.ticket_code,
                                            t.status, sec.name, r.label, cat.name, t.face_price, t.paid_amount,
                                            t.checked_in_at))
              FROM tickets t
              JOIN seats s ON s.seat_id = t.seat_id
              JOIN seat_rows r ON r.row_id = s.row_id
              JOIN sections sec ON sec.section_id = s.section_id
              JOIN seat_categories cat ON cat.category_id = t.category_id
             WHERE t.booking_id = b.booking_id) AS tickets,
           (SELECT JSON_ARRAYAGG(JSON_ARRAY(rf.refund_id, rf.amount, rf.state, rf.created_at, rf.completed_at,
                                            (SELECT COUNT(*) FROM tickets rt WHERE rt.refund_id = rf.refund_id)))
              FROM booking_refunds rf WHERE rf.booking_id = b.booking_id) AS refunds,
           (SELECT JSON_ARRAY(pm.name, p.card_brand, p.last_four)
              FROM payments p JOIN payment_methods pm ON pm.method_id = p.method_id
             WHERE p.booking_id = b.booking_id AND p.kind = 'charge'
             ORDER BY p.payment_id LIMIT 1) AS paid_with
      FROM bookings b
      JOIN customers c ON c.customer_id = b.customer_id
      JOIN events e ON e.event_id = b.event_id
      JOIN venues v ON v.venue_id = e.venue_id
"""
ORDER_DETAIL = sa.text(_ORDER_DETAIL + " WHERE b.booking_code = :code AND b.customer_id = :customer_id")
ORDER_DETAIL_BY_ID = sa.text(_ORDER_DETAIL + " WHERE b.booking_id = :booking_id")


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
class RefundLine:
    """One refund of a booking, as the order page and the receipt show it: what is owed back and whether
    the provider has paid it out yet."""

    refund_id: int
    amount: Decimal
    state: str
    created_at: dt.datetime
    completed_at: dt.datetime | None
    tickets: int


@dataclass(frozen=True)
class OrderDetail:
    """What the order page shows of a booking (the confirmation after paying is this page too, and the
    confirmation mail, the e-tickets, the PDF and the calendar file say the same)."""

    booking_id: int
    booking_code: str
    status: str
    subtotal: Decimal
    vip_discount: Decimal
    promo_discount: Decimal
    total: Decimal
    customer_email: str
    customer_name: str
    is_guest: bool
    event_id: int
    event_title: str
    event_status: str
    starts_at: dt.datetime
    refundable_until_hours: int
    venue: VenueInfo
    refunds: tuple[RefundLine, ...]
    paid_with: str | None

    @property
    def venue_name(self) -> str:
        return self.venue.name

    @property
    def venue_city(self) -> str:
        return self.venue.city

    @property
    def cancellable_until(self) -> dt.datetime:
        return self.starts_at - dt.timedelta(hours=self.refundable_until_hours)

    @property
    def refunded(self) -> Decimal:
        """Everything owed back so far, paid out or not."""
        return sum((r.amount for r in self.refunds), Decimal("0.00"))

    @property
    def paid_back(self) -> Decimal:
        """What the provider has paid back so far."""
        return sum((r.amount for r in self.refunds if r.state == "refunded"), Decimal("0.00"))

    @property
    def kept(self) -> Decimal:
        """What the booking costs the customer now: paid, less everything refunded."""
        return self.total - self.refunded

    @property
    def greeting(self) -> str:
        """How a mail opens (a guest may have given no name)."""
        return f"Dear {self.customer_name}," if self.customer_name else "Hello,"


def _ticket_from_json(packed: list) -> TicketView:
    (_, _, seat_number, ticket_id, ticket_code, status, section, row_label, category, face_price, paid_amount,
     checked_in_at) = packed
    return TicketView(ticket_id, ticket_code, status, section, row_label, seat_number, category,
                      Decimal(str(face_price)), Decimal(str(paid_amount)),
                      dt.datetime.fromisoformat(checked_in_at) if checked_in_at else None)


def _refund_from_json(packed: list) -> RefundLine:
    refund_id, amount, state, created_at, completed_at, tickets = packed
    return RefundLine(refund_id, Decimal(str(amount)), state, dt.datetime.fromisoformat(created_at),
                      dt.datetime.fromisoformat(completed_at) if completed_at else None, int(tickets))


def _paid_with(packed: str | None) -> str | None:
    """The payment method as the receipt names it: "Visa card ending 4242", "PayPal"."""
    if not packed:
        return None
    method, brand, last_four = json.loads(packed)
    if last_four:
        return f"{brand.title() if brand and brand != 'card' else 'Card'} ending {last_four}"
    return method


def _detail(row) -> tuple[OrderDetail, list[TicketView]]:
    m = row._mapping
    venue = VenueInfo(m["venue_name"], m["venue_city"], m["venue_address"], m["map_url"], m["directions"],
                      m["access_info"], m["facilities"])
    refunds = tuple(sorted((_refund_from_json(r) for r in json.loads(m["refunds"] or "[]")),
                           key=lambda r: r.refund_id))
    order = OrderDetail(
        m["booking_id"], m["booking_code"], m["status"], m["subtotal"], m["vip_discount"], m["promo_discount"],
        m["total"], m["customer_email"], m["customer_name"], bool(m["is_guest"]), m["event_id"], m["event_title"],
        m["event_status"], m["starts_at"], m["refundable_until_hours"], venue, refunds,
        _paid_with(m["paid_with"]))
    return order, [_ticket_from_json(t) for t in sorted(json.loads(m["tickets"] or "[]"))]


def order_detail(customer_id: int, booking_code: str) -> tuple[OrderDetail, list[TicketView]] | None:
    """The customer's own booking with this code as the order page shows it, and its tickets, in one query
    (None as for order_of)."""
    booking_code = booking_code.strip().upper()
    if not BOOKING_CODE.fullmatch(booking_code):
        return None
    row = db.session.execute(ORDER_DETAIL, {"code": booking_code, "customer_id": customer_id}).one_or_none()
    return _detail(row) if row is not None else None


def order_detail_by_id(booking_id: int) -> tuple[OrderDetail, list[TicketView]] | None:
    """The booking with this id as the order page shows it (for a caller that has proved access to it: a
    signed order link, or the mail about it)."""
    row = db.session.execute(ORDER_DETAIL_BY_ID, {"booking_id": booking_id}).one_or_none()
    return _detail(row) if row is not None else None


# ---------------------------------------------------------------- without an account: lookup and links

# Matching an e-mail and a booking code, whether the booking is a guest's or an account's (an account's
# owner may find a booking without signing in too, as with the link in its mail).
FIND_ORDER = sa.text("""
    SELECT b.booking_id FROM bookings b JOIN customers c ON c.customer_id = b.customer_id
     WHERE b.booking_code = :code AND c.email = :email""")


def find_order(email: str, booking_code: str) -> int | None:
    """The booking with this code bought with this e-mail address, or None: either both match or nothing
    is found, so a code alone, or an e-mail alone, finds nothing."""
    booking_code = booking_code.strip().upper()
    if not BOOKING_CODE.fullmatch(booking_code):
        return None
    return db.session.scalar(FIND_ORDER, {"code": booking_code, "email": email.strip().lower()})


def _link_signer() -> URLSafeSerializer:
    # A salt of its own: an order link is no password-reset link, and no other signed value is an order link.
    return URLSafeSerializer(current_app.secret_key, salt="boxoffice.order-link")


def order_token(booking_id: int, booking_code: str) -> str:
    """The token of a booking's order link: signed (itsdangerous) with SECRET_KEY for this booking, so it
    opens this booking and nothing else. It does not expire: it is the ticket a guest carries, and the
    links in old mails keep working."""
    return _link_signer().dumps([booking_id, booking_code])


def booking_of_token(token: str) -> int | None:
    """The booking an order link opens, or None for a token that is not genuine."""
    try:
        booking_id, booking_code = _link_signer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(booking_id, int) or not isinstance(booking_code, str):
        return None
    found = db.session.scalar(sa.select(Booking.booking_id).where(
        Booking.booking_id == booking_id, Booking.booking_code == booking_code))
    return found
