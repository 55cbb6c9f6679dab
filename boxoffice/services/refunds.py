"""Refunds: giving money back for tickets and putting their seats back on sale.

Every refund, whether a customer cancels or an admin refunds, goes through `refund_tickets`: the gateway
refunds the tickets' paid shares, a refund payment records it, the tickets turn refunded and their seats
go back to available (the trigger update_seat_availability moves the counts). The event row, then the
booking row, are locked first, so two refunds of one booking at the same moment run one after the other
and the second finds nothing left to refund.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import NothingToRefund, RefundNotAllowed
from ..extensions import db
from ..models import Booking, Payment
from .locking import FREE_SEAT, seat_change
from .payments import gateway


@dataclass(frozen=True)
class RefundResult:
    booking_code: str
    tickets: int
    amount: Decimal
    booking_status: str


def refund_tickets(booking_id: int, ticket_ids: list[int] | None = None) -> RefundResult:
    """Refund some (or, with None, all) still-valid tickets of a booking. Raises NothingToRefund."""
    event_id = db.session.scalar(sa.text("SELECT event_id FROM bookings WHERE booking_id = :b"), {"b": booking_id})
    if event_id is None:
        raise NothingToRefund("There is no such booking.")
    with seat_change(event_id):
        booking = db.session.execute(sa.text(
            "SELECT booking_id, booking_code FROM bookings WHERE booking_id = :b FOR UPDATE"), {"b": booking_id}).one()
        tickets = db.session.execute(sa.text("""
            SELECT ticket_id, seat_id, paid_amount FROM tickets
             WHERE booking_id = :b AND status = 'valid' FOR UPDATE"""), {"b": booking_id}).all()
        if ticket_ids is not None:
            wanted = set(ticket_ids)
            tickets = [t for t in tickets if t.ticket_id in wanted]
        if not tickets:
            raise NothingToRefund()
        amount = sum((t.paid_amount for t in tickets), Decimal("0.00"))
        now = utcnow()
        if amount > 0:
            charge = db.session.scalar(sa.select(Payment).where(
                Payment.booking_id == booking_id, Payment.kind == "charge", Payment.status == "captured"))
            reference = gateway.refund(charge.provider_reference, amount)
            db.session.add(Payment(kind="refund", status="refunded", booking_id=booking_id,
                                   customer_id=charge.customer_id, method_id=charge.method_id, amount=amount,
                                   card_brand=charge.card_brand, last_four=charge.last_four,
                                   provider_reference=reference, refund_of=charge.payment_id, created_at=now))
        db.session.execute(sa.text("""
            UPDATE tickets SET status = 'refunded', refunded_at = :now WHERE ticket_id IN :ids
        """).bindparams(sa.bindparam("ids", expanding=True)), {"now": now, "ids": [t.ticket_id for t in tickets]})
        db.session.execute(sa.text(f"""
            UPDATE event_seats SET {FREE_SEAT}
             WHERE event_id = :event_id AND state = 'sold' AND seat_id IN :seats
        """).bindparams(sa.bindparam("seats", expanding=True)),
            {"event_id": event_id, "seats": [t.seat_id for t in tickets]})
        remaining = db.session.scalar(sa.text(
            "SELECT COUNT(*) FROM tickets WHERE booking_id = :b AND status <> 'refunded' FOR UPDATE"), {"b": booking_id})
        status = "partially_refunded" if remaining else "refunded"
        db.session.execute(sa.text("UPDATE bookings SET status = :s WHERE booking_id = :b"),
                           {"s": status, "b": booking_id})
    return RefundResult(booking.booking_code, len(tickets), amount, status)


def cancel_booking(booking: Booking, now: dt.datetime | None = None) -> RefundResult:
    """A customer cancels their whole booking, which the event's policy allows until
    `refundable_until_hours` before the start. Raises RefundNotAllowed or NothingToRefund."""
    now = now or utcnow()
    deadline = booking.event.starts_at - dt.timedelta(hours=booking.event.refundable_until_hours)
    if now > deadline:
        raise RefundNotAllowed(
            f"Bookings for this event can be cancelled until {booking.event.refundable_until_hours} hours "
            "before it starts.")
    if any(t.status == "checked_in" for t in booking.tickets):
        raise RefundNotAllowed("A ticket of this booking has already been used.")
    return refund_tickets(booking.booking_id)
