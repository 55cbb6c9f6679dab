"""Outgoing mail. Nothing leaves the machine: every message is written to the outbox table, which the
admin outbox page shows (a production deployment would add a sender that reads the outbox)."""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Booking, OutboxEmail
from ..pagination import Page, paginate
from .orders import tickets_of


def send(recipient: str, subject: str, body_text: str, booking_id: int | None = None) -> None:
    db.session.add(OutboxEmail(recipient=recipient, subject=subject, body_text=body_text,
                               booking_id=booking_id, created_at=utcnow()))
    db.session.commit()


def send_booking_confirmation(booking_id: int) -> None:
    booking = db.session.get(Booking, booking_id)
    seats = "\n".join(f"  - {t.seat_label} (ticket {t.ticket_code})" for t in tickets_of(booking_id))
    body = (
        f"Dear {booking.customer.full_name},\n\n"
        f"Thank you for your booking {booking.booking_code}.\n\n"
        f"{booking.event.title}\n{booking.event.venue.name}, {booking.event.venue.city}\n"
        f"{booking.event.starts_at:%A %d %B %Y, %H:%M}\n\n"
        f"Your seats:\n{seats}\n\n"
        f"Total paid: €{booking.total:,.2f}\n\n"
        "Your e-tickets are in your account under Orders. Show the QR code at the door.\n"
    )
    send(booking.customer.email, f"Your tickets for {booking.event.title} ({booking.booking_code})", body, booking_id)


def outbox(page: int, per_page: int = 20) -> Page[OutboxEmail]:
    return paginate(sa.select(OutboxEmail).order_by(OutboxEmail.email_id.desc()), page, per_page, lambda r: r[0])
