"""Outgoing mail. Nothing leaves the machine: every message is written to the outbox table, which the
admin outbox page shows (a production deployment would add a sender that reads the outbox)."""
from __future__ import annotations

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Booking, Customer, Event, OutboxEmail, Venue
from ..pagination import Page, paginate
from .orders import tickets_of


def send(recipient: str, subject: str, body_text: str, booking_id: int | None = None) -> None:
    db.session.add(OutboxEmail(recipient=recipient, subject=subject, body_text=body_text,
                               booking_id=booking_id, created_at=utcnow()))
    db.session.commit()


def add_booking_confirmation(booking_id: int) -> None:
    """Put the booking's confirmation in the outbox, in the caller's transaction (the checkout commits it
    with the booking itself). Two reads: the booking with its customer, event and venue, and its tickets."""
    booking = db.session.execute(
        sa.select(Booking.booking_code, Booking.total, Customer.full_name, Customer.email, Event.title,
                  Event.starts_at, Venue.name.label("venue"), Venue.city)
        .join(Customer, Customer.customer_id == Booking.customer_id)
        .join(Event, Event.event_id == Booking.event_id)
        .join(Venue, Venue.venue_id == Event.venue_id)
        .where(Booking.booking_id == booking_id)).one()
    seats = "\n".join(f"  - {t.seat_label} (ticket {t.ticket_code})" for t in tickets_of(booking_id))
    body = (
        f"Dear {booking.full_name},\n\n"
        f"Thank you for your booking {booking.booking_code}.\n\n"
        f"{booking.title}\n{booking.venue}, {booking.city}\n"
        f"{booking.starts_at:%A %d %B %Y, %H:%M}\n\n"
        f"Your seats:\n{seats}\n\n"
        f"Total paid: €{booking.total:,.2f}\n\n"
        "Your e-tickets are in your account under Orders. Show the QR code at the door.\n"
    )
    subject = f"Your tickets for {booking.title} ({booking.booking_code})"
    db.session.add(OutboxEmail(recipient=booking.email, subject=subject, body_text=body, booking_id=booking_id,
                               created_at=utcnow()))


def outbox(page: int, per_page: int = 20) -> Page[OutboxEmail]:
    return paginate(sa.select(OutboxEmail).order_by(OutboxEmail.email_id.desc()), page, per_page, lambda r: r[0])
