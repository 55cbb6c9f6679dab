"""Refunds: giving money back for tickets and putting their seats back on sale.

Every refund, whether a customer cancels, an admin refunds or an event is cancelled, goes through
`refund_tickets`, in two steps, so that a crash at any point leaves a row that says what is left to do:
  1. one transaction, under the event's lock and then the booking's: the tickets turn refunded, their
     seats go back on sale (the trigger update_seat_availability moves the counts), offered first to
     anyone in the event's waiting list (waiting_list.line_takes_its_pick), a pending booking_refunds row
     records what is owed, and the customer's mail is written to the outbox;
  2. outside any transaction, the provider is asked to pay it out (with the refund's own idempotency key,
     so asking again after a crash never pays twice); then the refund is marked refunded, with its
     payments row, in a short transaction of its own.
The reconciler finishes step 2 for any refund left pending (`pay_out`). Two refunds of one booking at the
same moment run one after the other and the second finds nothing left to refund.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import NothingToRefund, RefundNotAllowed
from ..extensions import db
from ..models import Booking, BookingRefund
from . import mail, waiting_list
from .payments import gateway
from .unit_of_work import unit_of_work


@dataclass(frozen=True)
class RefundResult:
    booking_code: str
    tickets: int
    amount: Decimal
    booking_status: str
    refund_id: int
    paid_out: bool


# What a pending refund needs to be paid out: the charge it goes back to.
PENDING_REFUND = sa.text("""
    SELECT r.refund_id, r.amount, r.booking_id, b.event_id, charge.provider_reference, charge.customer_id,
           charge.method_id, charge.card_brand, charge.last_four, charge.payment_id AS charge_id
      FROM booking_refunds r
      JOIN bookings b ON b.booking_id = r.booking_id
      JOIN payments charge ON charge.payment_id = r.charge_id
     WHERE r.refund_id = :refund_id AND r.state = 'pending'""")


def refund_tickets(booking_id: int, ticket_ids: list[int] | None = None, requested_by: str = "staff") -> RefundResult:
    """Refund some (or, with None, all) still-valid tickets of a booking: the seats go back on sale and the
    money back to the card or account that paid. Raises NothingToRefund or Busy. If the provider cannot
    be reached, the refund stays pending (`paid_out` False) for the reconciler to finish."""
    event_id = db.session.scalar(sa.text("SELECT event_id FROM bookings WHERE booking_id = :b"), {"b": booking_id})
    if event_id is None:
        raise NothingToRefund("There is no such booking.")
    with unit_of_work(lock_event=event_id) as work:
        booking = db.session.execute(sa.text("""
            SELECT b.booking_id, b.booking_code, c.email FROM bookings b JOIN customers c USING (customer_id)
             WHERE b.booking_id = :b FOR UPDATE"""), {"b": booking_id}).one()
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
        charge_id = db.session.scalar(sa.text("""
            SELECT payment_id FROM payments WHERE booking_id = :b AND kind = 'charge' AND status = 'captured'"""),
            {"b": booking_id}) if amount > 0 else None
        refund_id = db.session.execute(sa.insert(BookingRefund.__table__), {
            "booking_id": booking_id, "charge_id": charge_id, "amount": amount, "requested_by": requested_by,
            "state": "pending" if amount > 0 else "refunded", "created_at": now,
            "completed_at": None if amount > 0 else now}).inserted_primary_key[0]
        db.session.execute(sa.text("""
            UPDATE tickets SET status = 'refunded', refunded_at = :now, refund_id = :refund_id WHERE ticket_id IN :ids
        """).bindparams(sa.bindparam("ids", expanding=True)),
            {"now": now.replace(microsecond=0), "refund_id": refund_id, "ids": [t.ticket_id for t in tickets]})
        db.session.execute(sa.text("CALL FreeSoldSeats(:event_id, :seats)"),
                           {"event_id": event_id, "seats": json.dumps([t.seat_id for t in tickets])})
        # The seats go to the event's waiting list first, in this transaction: nobody can take them in between.
        waiting_list.line_takes_its_pick(work.event)
        remaining = db.session.scalar(sa.text(
            "SELECT COUNT(*) FROM tickets WHERE booking_id = :b AND status <> 'refunded' FOR UPDATE"), {"b": booking_id})
        status = "partially_refunded" if remaining else "refunded"
        db.session.execute(sa.text("UPDATE bookings SET status = :s WHERE booking_id = :b"),
                           {"s": status, "b": booking_id})
        mail.queue("tickets_refunded", booking.email, booking_id=booking_id, refund_id=refund_id)
    paid_out = amount == 0 or pay_out(refund_id)
    return RefundResult(booking.booking_code, len(tickets), amount, status, refund_id, paid_out)


def pay_out(refund_id: int, note: str | None = None) -> bool:
    """Step 2 of a refund: the provider pays the pending refund out (asked with the refund's own key, so
    a second ask after a crash is answered, not paid twice), then the refund is marked refunded with its
    payments row. True once it is refunded (by this call or an earlier one); False if the provider could
    not be reached (it stays pending). `note`: what finished it, when the reconciler did."""
    with unit_of_work():
        pending = db.session.execute(PENDING_REFUND, {"refund_id": refund_id}).one_or_none()
    if pending is None:
        return True
    try:
        reference = gateway.refund(pending.provider_reference, pending.amount, f"booking-refund-{refund_id}")
    except (OSError, sa.exc.OperationalError):
        return False
    now = utcnow()
    # Under the event's lock, as the refund's first step: the two steps of refunds of one booking then never
    # wait on each other's booking and summary rows in opposite orders.
    with unit_of_work(lock_event=pending.event_id):
        done = db.session.execute(sa.update(BookingRefund.__table__).where(
            BookingRefund.refund_id == refund_id, BookingRefund.state == "pending").values(
            state="refunded", completed_at=now, reconciled_at=now if note else None, reconcile_note=note)).rowcount
        if done:
            # The payments ledger (and so the reports) counts the refund once the money has gone.
            payment_id = db.session.execute(sa.text("""
                INSERT INTO payments (kind, status, booking_id, customer_id, method_id, amount, card_brand, last_four,
                                      provider_reference, refund_of, created_at)
                VALUES ('refund', 'refunded', :booking_id, :customer_id, :method_id, :amount, :brand, :last_four,
                        :reference, :charge_id, :now)"""), {
                "booking_id": pending.booking_id, "customer_id": pending.customer_id, "method_id": pending.method_id,
                "amount": pending.amount, "brand": pending.card_brand, "last_four": pending.last_four,
                "reference": reference, "charge_id": pending.charge_id, "now": now.replace(microsecond=0)}).lastrowid
            db.session.execute(sa.update(BookingRefund.__table__).where(BookingRefund.refund_id == refund_id)
                               .values(payment_id=payment_id))
    return True


def cancellation_refusal(starts_at: dt.datetime, refundable_until_hours: int, any_checked_in: bool,
                         now: dt.datetime | None = None) -> str | None:
    """Why a customer may not cancel (any of) a booking now, or None when they may: the event's policy
    allows it until `refundable_until_hours` before the start, and never once a ticket of it has been
    used. The order page asks this before offering to cancel, and cancel_booking before cancelling."""
    now = now or utcnow()
    if any_checked_in:
        return "A ticket of this booking has already been used."
    if now > starts_at - dt.timedelta(hours=refundable_until_hours):
        if now >= starts_at:
            return "This event has taken place."
        return (f"Bookings for this event can be cancelled until {refundable_until_hours} hours "
                "before it starts.")
    return None


def cancel_booking(booking: Booking, now: dt.datetime | None = None,
                   ticket_ids: list[int] | None = None) -> RefundResult:
    """A customer cancels their whole booking, or with `ticket_ids` some of its seats, which the event's
    policy allows (cancellation_refusal). Raises RefundNotAllowed or NothingToRefund."""
    refused = cancellation_refusal(booking.event.starts_at, booking.event.refundable_until_hours,
                                   any(t.status == "checked_in" for t in booking.tickets), now)
    if refused:
        raise RefundNotAllowed(refused)
    return refund_tickets(booking.booking_id, ticket_ids, requested_by="customer")
