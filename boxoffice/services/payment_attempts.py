"""Payment attempts: the money for a hold as a durable state machine (table payment_attempts).

    created ──provider captured──> [captured] ──InsertBooking──> booked
       │                               └──seats lost──> refund_pending ──provider refunded──> refunded
       ├──provider declined, or refused the card──> declined
       └──found stale, and the provider never saw its key──> abandoned

An attempt is written (created) and committed before the provider is asked, and the provider is always
asked outside any transaction, with the attempt's idempotency key, so asking again is always safe and a
crash at any point leaves a row that says what is left to do. `captured` is written only when the money
cannot go straight into a booking (InsertBooking moves created or captured to booked itself). Every move
is a conditional UPDATE from the states it may leave, so when the buyer's request and the reconciler race
for one attempt, exactly one of them moves it; InsertBooking refuses to book an attempt that is no longer
in flight. `finish` takes an attempt as far as it can go: the buyer's retry, the checkout meeting an
attempt left behind, the provider's webhooks and the reconciler all use it.

A provider that confirms asynchronously (Stripe) has a payment object before it takes any money: its
reference is stored on the attempt (still `created`) as soon as it exists, and from then on the attempt's
charge is only ever looked up by it, never made again. A stored reference is not a captured charge: only
the provider's answer (or a state that records one) says money was taken. While the buyer authenticates
(3-D Secure) the attempt stays in flight, with the provider's next action (`action`); given up after
AWAITING_BUYER_FOR, its payment is cancelled at the provider, unless it completed meanwhile.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import secrets
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import (BoxOfficeError, Busy, HoldExpired, InvalidCard, NoSeatsHeld, PaymentInProgress, PaymentRejected,
                      PaymentProviderUnavailable, SeatsLostRefunded)
from ..extensions import db
from ..models import Booking, PaymentAttempt
from . import holds, mail
from .payments import ChargeResult, PaymentRequest, gateway
from .unit_of_work import refused_key, retried_after_deadlock, unit_of_work

# An attempt still `created` this long after it was written, whose key the provider has never seen, was
# given up by its request (a call to the provider never takes this long): it is abandoned.
STALE_AFTER = dt.timedelta(seconds=60)
# A payment waiting for its buyer at the provider (3-D Secure) this long after the attempt was written is
# given up: the hold (extended once for paying) has run out by then.
AWAITING_BUYER_FOR = dt.timedelta(minutes=20)

IN_FLIGHT = ("created", "captured")
# The states whose provider_reference is a charge that took the money.
MONEY_TAKEN = ("captured", "booked", "refund_pending", "refunded")


@dataclass(frozen=True)
class Attempt:
    attempt_id: int
    idempotency_key: str
    customer_id: int
    event_id: int
    hold_owner: str
    amount: Decimal
    promo_code: str | None
    method_code: str
    seat_ids: str
    state: str
    provider_reference: str | None
    card_brand: str | None
    last_four: str | None
    failure_reason: str | None
    booking_id: int | None
    created_at: dt.datetime
    booking_code: str | None = None  # the booking's, once booked
    # Why the seats could not be booked, when this process has just found out (not kept: `failure_reason` is).
    refusal: BoxOfficeError | None = dataclasses.field(default=None, compare=False)
    # The provider's answer when it waits for the buyer (3-D Secure), as this process has just heard it.
    action: ChargeResult | None = dataclasses.field(default=None, compare=False)

    @property
    def charge(self) -> ChargeResult | None:
        """The captured charge, as far as this row knows it: only a state that records one says so. A
        reference on an attempt still `created` is the provider's payment object, which may not have taken
        anything (yet): it is looked up, never taken for a charge."""
        if self.provider_reference is None or self.state not in MONEY_TAKEN:
            return None
        return ChargeResult("captured", self.provider_reference, self.card_brand, self.last_four)


_a = PaymentAttempt.__table__.c
_b = Booking.__table__.c
_ROW = [getattr(_a, name) for name in Attempt.__dataclass_fields__ if name not in ("booking_code", "refusal", "action")]
_SELECT = sa.select(*_ROW, _b.booking_code).select_from(
    PaymentAttempt.__table__.outerjoin(Booking.__table__, _b.booking_id == _a.booking_id))
BY_KEY = _SELECT.where(_a.idempotency_key == sa.bindparam("key"))
BY_ID = _SELECT.where(_a.attempt_id == sa.bindparam("attempt_id"))
BY_REFERENCE = _SELECT.where(_a.provider_reference == sa.bindparam("reference"))
IN_FLIGHT_FOR_HOLD = _SELECT.where(
    _a.event_id == sa.bindparam("event_id"), _a.hold_owner == sa.bindparam("owner"), _a.in_flight == 1)
# The states an attempt may be left in between two steps (by a crash, a lost connection, a provider away).
LEFT_BETWEEN_STATES = (*IN_FLIGHT, "refund_pending")


def left_between_states(before) -> sa.ColumnElement[bool]:
    """An attempt in a state between two steps that nobody has moved since `before`: the reconciler's work."""
    return sa.and_(_a.state.in_(LEFT_BETWEEN_STATES), _a.updated_at < before)


LEFT_BEHIND = (_SELECT.where(left_between_states(sa.bindparam("before")))
               .order_by(_a.updated_at).limit(sa.bindparam("limit")))
INSERT_ATTEMPT = sa.insert(PaymentAttempt.__table__)
INSERT_BOOKING = sa.text("""
    CALL InsertBooking(:customer_id, :event_id, :owner, :promo, :method, :brand, :last_four,
                       :reference, :total, :key, :salt, :commit)""")
INSERT_DECLINE = sa.text("""
    INSERT INTO payments (kind, status, customer_id, method_id, amount, card_brand, last_four, provider_reference,
                          failure_reason, created_at)
    SELECT 'charge', :status, :customer_id, method_id, :amount, :brand, :last_four, :reference, :reason, :now
      FROM payment_methods WHERE code = :method""")


@dataclass(frozen=True)
class Booked:
    """What InsertBooking answered: the booking this attempt made (or had made, on a retry)."""

    booking_id: int
    booking_code: str


def _read(statement, **params) -> Attempt | None:
    with unit_of_work():
        row = db.session.execute(statement, params).one_or_none()
    return Attempt(*row) if row else None


def by_key(idempotency_key: str) -> Attempt | None:
    """The attempt with this key, read afresh."""
    return _read(BY_KEY, key=idempotency_key)


def by_reference(reference: str) -> Attempt | None:
    """The attempt whose provider reference (Stripe: its PaymentIntent) this is, read afresh."""
    return _read(BY_REFERENCE, reference=reference)


def left_behind(before: dt.datetime, limit: int) -> list[Attempt]:
    """Attempts in flight or with a refund pending that nobody has moved since `before`, oldest first."""
    with unit_of_work():
        return [Attempt(*row) for row in db.session.execute(LEFT_BEHIND, {"before": before, "limit": limit})]


def _reread(attempt: Attempt) -> Attempt:
    return _read(BY_ID, attempt_id=attempt.attempt_id)


def start(idempotency_key: str, customer_id: int, event_id: int, owner: str, amount: Decimal,
          promo_code: str | None, method_code: str, seat_ids: list[int]) -> tuple[Attempt, bool]:
    """A new attempt (created), committed before the provider is asked; with True. If the key has an attempt
    already (a retried request), that attempt, with False. Raises PaymentInProgress when another attempt
    for the same hold is in flight and cannot be finished now (two tabs paying one hold)."""
    values = {"idempotency_key": idempotency_key, "customer_id": customer_id, "event_id": event_id,
              "hold_owner": owner, "amount": amount, "promo_code": promo_code, "method_code": method_code,
              "seat_ids": json.dumps(seat_ids), "state": "created"}
    for _ in range(2):
        now = utcnow()
        try:
            with unit_of_work():
                attempt_id = db.session.execute(
                    INSERT_ATTEMPT, {**values, "created_at": now, "updated_at": now}).inserted_primary_key[0]
            return Attempt(attempt_id, idempotency_key, customer_id, event_id, owner, amount, promo_code,
                           method_code, values["seat_ids"], "created", None, None, None, None, None, now), True
        except BoxOfficeError as refused:
            if refused_key(refused) == "uq_payment_attempts_key":
                return by_key(idempotency_key), False
            if refused_key(refused) != "uq_payment_attempts_in_flight":
                raise
        other = _read(IN_FLIGHT_FOR_HOLD, event_id=event_id, owner=owner)
        if other is not None and finish(other, note="Finished when its buyer paid again").state in IN_FLIGHT:
            raise PaymentInProgress()
    raise PaymentInProgress()


def _move(attempt: Attempt, to: str, from_states: tuple[str, ...], note: str | None, **values) -> bool:
    """Move the attempt to `to` if it is still in one of `from_states`, in the caller's unit of work.
    True if this call moved it."""
    now = utcnow()
    if note is not None:
        values.update(reconciled_at=now, reconcile_note=note[:200])
    return db.session.execute(sa.update(PaymentAttempt.__table__).where(
        _a.attempt_id == attempt.attempt_id, _a.state.in_(from_states)).values(
        state=to, updated_at=now, **values)).rowcount == 1


def _decline(attempt: Attempt, result: ChargeResult | None, reason: str, note: str | None) -> Attempt:
    """The provider refused: nothing was taken. The decline is kept in the payments ledger too (the
    reports count declines)."""
    with unit_of_work():
        moved = _move(attempt, "declined", ("created",), note, failure_reason=reason[:200],
                      provider_reference=result and result.reference,
                      card_brand=result and result.card_brand, last_four=result and result.last_four)
        if moved and result is not None:
            db.session.execute(INSERT_DECLINE, {
                "status": result.status, "customer_id": attempt.customer_id, "amount": attempt.amount,
                "brand": result.card_brand, "last_four": result.last_four, "reference": result.reference,
                "reason": reason[:200], "now": utcnow().replace(microsecond=0), "method": attempt.method_code})
    return _reread(attempt)


def _remember_reference(attempt: Attempt, reference: str) -> None:
    """Store the provider's reference of the attempt's payment, before the provider is asked to take the
    money (a transaction of its own, between the provider's calls). Raises PaymentInProgress if the
    attempt has another payment object already (the same request sent twice at once, to a provider that
    ignores idempotency keys): that one goes on, and this one is never confirmed."""
    with unit_of_work():
        db.session.execute(sa.update(PaymentAttempt.__table__).where(
            _a.attempt_id == attempt.attempt_id, _a.state == "created", _a.provider_reference.is_(None)).values(
            provider_reference=reference, updated_at=utcnow()))
        stored = db.session.scalar(sa.select(_a.provider_reference).where(_a.attempt_id == attempt.attempt_id))
    if stored != reference:
        raise PaymentInProgress()


def _charge(attempt: Attempt, payment: PaymentRequest) -> ChargeResult:
    """Ask the provider to take the attempt's amount (with its key: a retry gets the first answer). Card
    details the provider will not try move the attempt to declined and are raised as InvalidCard. A
    provider that could not be reached before it had a payment object for the attempt took nothing: the
    attempt is abandoned at once (so the buyer can pay again), and PaymentProviderUnavailable raised."""
    payment = dataclasses.replace(payment, customer_id=attempt.customer_id,
                                  on_reference=lambda reference: _remember_reference(attempt, reference))
    try:
        return gateway.charge(attempt.amount, payment, attempt.idempotency_key)
    except InvalidCard as refused:
        _decline(attempt, None, refused.message, note=None)
        raise
    except PaymentProviderUnavailable as away:
        if not away.money_may_have_moved and _reread(attempt).provider_reference is None:
            with unit_of_work():
                _move(attempt, "abandoned", ("created",), None,
                      failure_reason="The payment provider could not be reached; nothing was charged.")
        raise


def _unfinished(attempt: Attempt, result: ChargeResult, note: str | None, address: str | None) -> Attempt:
    """The provider has the attempt's payment but has not decided it: the buyer is authenticating (3-D
    Secure), or the confirmation never went out (a crash between the provider's calls). Answered as in
    flight, with the provider's next action; given up (cancelled at the provider) after AWAITING_BUYER_FOR
    (STALE_AFTER when nobody is authenticating), unless the cancellation finds it completed."""
    if utcnow() - attempt.created_at < (AWAITING_BUYER_FOR if result.status == "requires_action" else STALE_AFTER):
        return dataclasses.replace(_reread(attempt), action=result if result.status == "requires_action" else None)
    result = gateway.cancel(result.reference)
    if result.captured:
        return _book(attempt, result, note, address)
    if result.unfinished:
        return _reread(attempt)
    return _decline(attempt, result, result.reason or "The payment was not completed.", note or "Given up")


@retried_after_deadlock
def _insert_booking(attempt: Attempt, result: ChargeResult | None) -> Booked:
    """CALL InsertBooking for the attempt, which commits the booking itself where it may: its locks
    are let go inside the server. Raises what InsertBooking refuses."""
    with unit_of_work() as work:
        row = db.session.execute(INSERT_BOOKING, {
            "customer_id": attempt.customer_id, "event_id": attempt.event_id, "owner": attempt.hold_owner,
            "promo": attempt.promo_code, "method": attempt.method_code,
            "brand": result and result.card_brand, "last_four": result and result.last_four,
            "reference": result and result.reference, "total": attempt.amount, "key": attempt.idempotency_key,
            "salt": secrets.token_hex(32), "commit": work.procedure_may_commit}).mappings().one()
    return Booked(row["booking_id"], row["booking_code"])


def _book(attempt: Attempt, result: ChargeResult | None, note: str | None, address: str | None) -> Attempt:
    """Book the attempt's seats (reclaiming them if its hold ran out and they are still free, held for the
    paying customer and `address`, as HoldSeats records a hold), or give the money back; the attempt as it
    then stands. Raises Busy, or a fault (the attempt stays in flight for the reconciler)."""
    try:
        try:
            booked = _insert_booking(attempt, result)
        except (HoldExpired, NoSeatsHeld):
            # Paid just after the hold ran out: book anyway if the very same seats are still free.
            if not holds.reclaim_seats(attempt.event_id, attempt.hold_owner, json.loads(attempt.seat_ids),
                                       holds.Buyer(attempt.customer_id, address)):
                raise SeatsLostRefunded("Your hold ran out before the payment completed and the seats were taken.")
            booked = _insert_booking(attempt, result)
    except Busy:
        raise  # nothing was booked, and the attempt is still in flight: a retry or the reconciler books it
    except PaymentRejected:
        return _reread(attempt)  # moved on by someone else meanwhile: answered as it now stands
    except BoxOfficeError as refused:
        return dataclasses.replace(_return_money(attempt, result, refused.message, note), refusal=refused)
    if note is not None:
        with unit_of_work():
            db.session.execute(sa.update(PaymentAttempt.__table__).where(_a.attempt_id == attempt.attempt_id)
                               .values(reconciled_at=utcnow(), reconcile_note=f"{note}: booked"[:200]))
    return dataclasses.replace(attempt, state="booked", booking_id=booked.booking_id,
                               booking_code=booked.booking_code)


def returned_message(attempt: Attempt) -> str:
    """What the buyer is told about an attempt whose seats could not be booked."""
    if attempt.state == "refunded":
        return f"{attempt.failure_reason} Your payment of €{attempt.amount:,.2f} has been refunded in full."
    if attempt.state == "refund_pending":
        return (f"{attempt.failure_reason} Your payment of €{attempt.amount:,.2f} is being refunded in full; "
                "we will e-mail you when it is done.")
    return f"{attempt.failure_reason} Nothing was booked and nothing was charged."


def _return_money(attempt: Attempt, result: ChargeResult | None, reason: str, note: str | None) -> Attempt:
    """The seats could not be booked: the money goes back (refund_pending, the provider, refunded, and a
    mail to the buyer in the same transaction as `refunded`). A free attempt is simply abandoned."""
    if attempt.amount == 0 or result is None:
        with unit_of_work():
            _move(attempt, "abandoned", IN_FLIGHT, note, failure_reason=reason[:200])
        return _reread(attempt)
    with unit_of_work():
        _move(attempt, "refund_pending", (*IN_FLIGHT, "abandoned"), note, failure_reason=reason[:200],
              provider_reference=result.reference, card_brand=result.card_brand, last_four=result.last_four)
    return _refund(_reread(attempt), note)


def _refund(attempt: Attempt, note: str | None) -> Attempt:
    """Finish a pending refund: the provider (asked again with the same key after a crash), then refunded."""
    if attempt.state != "refund_pending":
        return attempt
    gateway.refund(attempt.provider_reference, attempt.amount, f"{attempt.idempotency_key}:refund")
    with unit_of_work():
        if _move(attempt, "refunded", ("refund_pending",), note):
            mail.queue("payment_returned", _customer_email(attempt.customer_id), attempt_id=attempt.attempt_id)
    return _reread(attempt)


def _customer_email(customer_id: int) -> str:
    return db.session.scalar(sa.text("SELECT email FROM customers WHERE customer_id = :c"), {"c": customer_id})


def finish(attempt: Attempt, payment: PaymentRequest | None = None, note: str | None = None,
           address: str | None = None) -> Attempt:
    """Take an attempt as far as it can go now, and answer it as it then stands: an attempt in flight is
    charged (with the buyer's `payment`, on a retry of their request) or its charge looked up at the
    provider, then booked or its money returned; a pending refund is finished. An attempt in flight whose
    fate cannot be known yet (young, and unknown to the provider) is answered as it is. `note`: what
    finished it, when it was not the request that started it (the admin's list of reconciled attempts).
    `address`: the buyer's, when it is their request (seats reclaimed are counted under it for the fair-hold
    cap). Raises Busy, InvalidCard, or a fault."""
    if attempt.state == "refund_pending":
        return _refund(attempt, note)
    if attempt.state not in IN_FLIGHT:
        return attempt
    result = attempt.charge
    if result is None and attempt.amount > 0:
        if payment is not None and attempt.provider_reference is None:
            result = _charge(attempt, payment)
        else:
            result = gateway.find_charge(attempt.idempotency_key, attempt.provider_reference)
        if result is not None and result.unfinished:
            return _unfinished(attempt, result, note, address)
        if result is None:
            if utcnow() - attempt.created_at < STALE_AFTER:
                return attempt
            with unit_of_work():
                _move(attempt, "abandoned", ("created",), note or "Abandoned",
                      failure_reason="The payment was never completed.")
            return _reread(attempt)
        if not result.captured:
            return _decline(attempt, result, result.reason or "The payment was declined.", note)
    return _book(attempt, result, note, address)
