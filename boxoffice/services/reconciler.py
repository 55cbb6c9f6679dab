"""The reconciler: finds money left between states and finishes it.

A crash (of a worker, the database or the network) can stop the money path between any two of its steps;
each step leaves a row that says what is left (see payment_attempts and refunds). The reconciler finds:
  * payment attempts in flight (created or captured) that nobody has moved for a while: their charge is
    looked up at the provider (with Stripe, by its PaymentIntent: this is how an attempt whose webhook
    never came is finished), then booked if the seats are still the buyer's (or still free), else the
    money goes back and the buyer is told (payment_attempts.finish); one whose buyer never completed
    3-D Secure is cancelled at the provider;
  * attempts and booking refunds whose refund is pending: the provider is asked again, with the same
    idempotency key, so a refund is never paid twice;
  * bookings made by a payment attempt that have no confirmation mail (InsertBooking writes the mail in
    the booking's own transaction, so this finds none unless a bug or a hand-made booking left one).
Each row it moves carries a reconcile note, which the admin's payments page lists. It runs on the payment
path itself (a buyer retrying meets their attempt's fate at once, see checkout.pay), from the command
line (`flask payments reconcile`) and on a schedule (boxoffice/jobs.py).
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import BoxOfficeError
from ..extensions import db
from ..models import Booking, BookingRefund, Customer, Event, PaymentAttempt
from ..pagination import Page
from . import mail, payment_attempts, refunds
from .unit_of_work import unit_of_work

# A row its own request may still be moving is left alone this long (a request never takes this long).
GRACE = dt.timedelta(seconds=30)

_r = BookingRefund.__table__.c


def refund_left_pending(before) -> sa.ColumnElement[bool]:
    """A booking refund still waiting to be paid out, made before `before`: the reconciler's work."""
    return sa.and_(_r.state == "pending", _r.created_at < before)


PENDING_REFUNDS = (sa.select(_r.refund_id).where(refund_left_pending(sa.bindparam("before")))
                   .order_by(_r.created_at).limit(sa.bindparam("limit")))
BOOKINGS_WITHOUT_MAIL = sa.text("""
    SELECT b.booking_id, c.email
      FROM payment_attempts a
      JOIN bookings b ON b.booking_id = a.booking_id
      JOIN customers c ON c.customer_id = b.customer_id
     WHERE a.state = 'booked' AND a.updated_at < :before
       AND NOT EXISTS (SELECT 1 FROM outbox_emails o WHERE o.booking_id = b.booking_id AND o.kind = 'booking_confirmation')
     LIMIT :limit""")


@dataclass
class Reconciliation:
    """What one pass did: attempts by the state they were left in, refunds paid out, mails written, and
    rows it could not finish yet (the provider unreachable, a lock not granted)."""

    attempts: Counter = field(default_factory=Counter)
    refunds_paid: int = 0
    mails_written: int = 0
    unfinished: int = 0

    def describe(self) -> str:
        moved = ", ".join(f"{count} {state}" for state, count in sorted(self.attempts.items())) or "none"
        return (f"Payment attempts finished: {moved}. Refunds paid out: {self.refunds_paid}. "
                f"Confirmation mails written: {self.mails_written}. Left for the next pass: {self.unfinished}.")


def reconcile(limit: int = 100, grace: dt.timedelta = GRACE) -> Reconciliation:
    """One pass over everything left between states for longer than `grace` (at most `limit` rows of each
    kind). Safe to run at any time, and alongside the buyers' own requests: every move is conditional."""
    done = Reconciliation()
    before = utcnow() - grace
    stuck = payment_attempts.left_behind(before, limit)
    with unit_of_work():
        pending_refunds = db.session.scalars(PENDING_REFUNDS, {"before": before, "limit": limit}).all()
        unmailed = db.session.execute(BOOKINGS_WITHOUT_MAIL, {"before": before, "limit": limit}).all()

    for attempt in stuck:
        try:
            finished = payment_attempts.finish(attempt, note="Reconciled")
        except (BoxOfficeError, OSError, sa.exc.OperationalError):
            done.unfinished += 1
            continue
        if finished.state in payment_attempts.LEFT_BETWEEN_STATES:
            done.unfinished += 1
        else:
            done.attempts[finished.state] += 1

    for refund_id in pending_refunds:
        if refunds.pay_out(refund_id, note="Paid out by the reconciler"):
            done.refunds_paid += 1
        else:
            done.unfinished += 1

    if unmailed:
        with unit_of_work():
            for booking_id, email in unmailed:
                mail.queue("booking_confirmation", email, booking_id=booking_id)
        done.mails_written = len(unmailed)
    return done


@dataclass(frozen=True)
class ReconciledPayment:
    """A payment attempt or booking refund as the admin's payments page lists it."""

    kind: str  # "payment" or "refund"
    row_id: int
    customer_email: str
    event_title: str
    amount: object
    state: str
    note: str | None
    at: object
    booking_code: str | None


# What needed the reconciler (or still does): attempts and refunds it moved, and those left between states
# now, newest first.
_a, _b, _c, _e = (model.__table__.c for model in (PaymentAttempt, Booking, Customer, Event))
_BEFORE = sa.bindparam("before")
_ATTEMPTS_RECONCILED = sa.or_(_a.reconciled_at.is_not(None), payment_attempts.left_between_states(_BEFORE))
_REFUNDS_RECONCILED = sa.or_(_r.reconciled_at.is_not(None), refund_left_pending(_BEFORE))
NEEDED_RECONCILING = sa.union_all(
    sa.select(sa.literal("payment").label("kind"), _a.attempt_id.label("row_id"), _c.email, _e.title, _a.amount,
              _a.state, _a.reconcile_note, sa.func.coalesce(_a.reconciled_at, _a.updated_at).label("at"),
              _b.booking_code)
    .select_from(PaymentAttempt.__table__.join(Customer.__table__, _c.customer_id == _a.customer_id)
                 .join(Event.__table__, _e.event_id == _a.event_id)
                 .outerjoin(Booking.__table__, _b.booking_id == _a.booking_id))
    .where(_ATTEMPTS_RECONCILED),
    sa.select(sa.literal("refund"), _r.refund_id, _c.email, _e.title, _r.amount, _r.state, _r.reconcile_note,
              sa.func.coalesce(_r.reconciled_at, _r.created_at), _b.booking_code)
    .select_from(BookingRefund.__table__.join(Booking.__table__, _b.booking_id == _r.booking_id)
                 .join(Customer.__table__, _c.customer_id == _b.customer_id)
                 .join(Event.__table__, _e.event_id == _b.event_id))
    .where(_REFUNDS_RECONCILED),
).order_by(sa.desc("at"), sa.desc("row_id")).limit(sa.bindparam("limit")).offset(sa.bindparam("offset"))
COUNT_NEEDED_RECONCILING = sa.select(
    sa.select(sa.func.count()).select_from(PaymentAttempt.__table__).where(_ATTEMPTS_RECONCILED).scalar_subquery()
    + sa.select(sa.func.count()).select_from(BookingRefund.__table__).where(_REFUNDS_RECONCILED).scalar_subquery())
# The backlog now (the operations metrics): rows left between states, and for how long does not matter.
ATTEMPTS_WAITING = (sa.select(sa.func.count()).select_from(PaymentAttempt.__table__)
                    .where(payment_attempts.left_between_states(_BEFORE)).scalar_subquery())
REFUNDS_WAITING = (sa.select(sa.func.count()).select_from(BookingRefund.__table__)
                   .where(refund_left_pending(_BEFORE)).scalar_subquery())


def needed_reconciling(page: int, per_page: int = 25) -> Page[ReconciledPayment]:
    """The payments and refunds the reconciler finished, and those still left between states for longer
    than GRACE (the admin's payments page), newest first."""
    params = {"before": utcnow() - GRACE}
    with unit_of_work():
        total = db.session.scalar(COUNT_NEEDED_RECONCILING, params)
        page = max(1, min(page, max(1, -(-total // per_page))))
        found = db.session.execute(NEEDED_RECONCILING, {**params, "limit": per_page,
                                                        "offset": (page - 1) * per_page}).all()
    return Page([ReconciledPayment(*row) for row in found], page, per_page, total)
