"""Outgoing mail. Nothing leaves the machine: every message is written to the outbox table, which the
admin outbox page shows (a production deployment would add a sender that reads the outbox)."""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Booking, OutboxEmail
from ..pagination import Page, paginate
from .orders import OrderDetail, TicketView


INSERT_EMAIL = sa.insert(OutboxEmail.__table__)  # built once: every booking sends one


def queue_message(recipient: str, subject: str, body_text: str, booking_id: int | None = None) -> None:
    """Put an already composed message in the outbox, in the caller's transaction (not committed here):
    it is sent if and only if the change it reports is committed."""
    db.session.execute(INSERT_EMAIL, {"kind": "message", "recipient": recipient, "subject": subject,
                                      "body_text": body_text, "booking_id": booking_id, "created_at": utcnow()})


def add_booking_confirmation(order: OrderDetail, tickets: list[TicketView]) -> None:
    """Put the booking's confirmation in the outbox, in the caller's transaction."""
    seats = "\n".join(f"  - {t.seat_label} (ticket {t.ticket_code})" for t in tickets)
    body = (
        f"Dear {order.customer_name},\n\n"
        f"Thank you for your booking {order.booking_code}.\n\n"
        f"{order.event_title}\n{order.venue_name}, {order.venue_city}\n"
        f"{order.starts_at:%A %d %B %Y, %H:%M}\n\n"
        f"Your seats:\n{seats}\n\n"
        f"Total paid: €{order.total:,.2f}\n\n"
        "Your e-tickets are in your account under Orders. Show the QR code at the door.\n"
    )
    db.session.execute(INSERT_EMAIL, {
        "recipient": order.customer_email, "subject": f"Your tickets for {order.event_title} ({order.booking_code})",
        "body_text": body, "booking_id": order.booking_id, "created_at": utcnow()})


def outbox(page: int, per_page: int = 20, booking_code: str | None = None) -> Page[OutboxEmail]:
    """The messages sent, newest first; only those about one booking when `booking_code` is given."""
    query = sa.select(OutboxEmail).order_by(OutboxEmail.email_id.desc())
    if booking_code:
        query = query.join(Booking, Booking.booking_id == OutboxEmail.booking_id).where(Booking.booking_code == booking_code)
    return paginate(query, page, per_page, lambda r: r[0])
