"""Outgoing mail. Nothing leaves the machine: every message is written to the outbox table, which the
admin outbox page shows (a production deployment would add a sender that reads the outbox)."""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Booking, OutboxEmail
from ..pagination import Page, paginate
from .orders import tickets_of


# The booking confirmation's statements, built once (building them costs more CPU than sending them).
CONFIRMED_BOOKING = sa.text("""
    SELECT b.booking_code, b.total, c.full_name, c.email, e.title, e.starts_at, v.name AS venue, v.city
      FROM bookings b
      JOIN customers c ON c.customer_id = b.customer_id
      JOIN events e ON e.event_id = b.event_id
      JOIN venues v ON v.venue_id = e.venue_id
     WHERE b.booking_id = :booking_id""")
INSERT_EMAIL = sa.insert(OutboxEmail.__table__)


def send(recipient: str, subject: str, body_text: str, booking_id: int | None = None) -> None:
    db.session.add(OutboxEmail(recipient=recipient, subject=subject, body_text=body_text,
                               booking_id=booking_id, created_at=utcnow()))
    db.session.commit()


def add_booking_confirmation(booking_id: int) -> None:
    """Put the booking's confirmation in the outbox, in the caller's transaction. Two reads: the booking
    with its customer, event and venue; its tickets."""
    booking = db.session.execute(CONFIRMED_BOOKING, {"booking_id": booking_id}).one()
    tickets = tickets_of(booking_id)
    seats = "\n".join(f"  - {t.seat_label} (ticket {t.ticket_code})" for t in tickets)
    body = (
        f"Dear {booking.full_name},\n\n"
        f"Thank you for your booking {booking.booking_code}.\n\n"
        f"{booking.title}\n{booking.venue}, {booking.city}\n"
        f"{booking.starts_at:%A %d %B %Y, %H:%M}\n\n"
        f"Your seats:\n{seats}\n\n"
        f"Total paid: €{booking.total:,.2f}\n\n"
        "Your e-tickets are in your account under Orders. Show the QR code at the door.\n"
    )
    db.session.execute(INSERT_EMAIL, {
        "recipient": booking.email, "subject": f"Your tickets for {booking.title} ({booking.booking_code})",
        "body_text": body, "booking_id": booking_id, "created_at": utcnow()})


def outbox(page: int, per_page: int = 20, booking_code: str | None = None) -> Page[OutboxEmail]:
    """The messages sent, newest first; only those about one booking when `booking_code` is given."""
    query = sa.select(OutboxEmail).order_by(OutboxEmail.email_id.desc())
    if booking_code:
        query = query.join(Booking, Booking.booking_id == OutboxEmail.booking_id).where(Booking.booking_code == booking_code)
    return paginate(query, page, per_page, lambda r: r[0])
