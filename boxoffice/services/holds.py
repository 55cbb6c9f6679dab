"""Seat holds: a customer's seats, kept for them for a few minutes while they check out.

A hold belongs to a hold owner: an opaque random token kept in the buyer's session, so a buyer can hold
seats before signing in and keep them through signing in. Every change of seats runs in one transaction
that locks what it contends on in one fixed order ("Locks" in sql/objects/35_seat_states.sql: the event
shared, the seats' rows, the buyer, the seats, the events row last), then claims seats with one
conditional UPDATE whose row count proves that every seat was free: two buyers can never hold the same
seat. Claiming, giving back and extending seats are procedures (HoldSeats, ExtendHold), so that the locks
are held for one round trip. A hold whose expiry has passed is
simply free: every read treats it so, and the next claim may take it, so no clean-up job is needed.

Fair holds: one buyer holds at most the event's max_seats_per_order seats at once, counted across the hold
owner and the signed-in account, and one network address at most HOLD_SEATS_PER_ADDRESS (larger: several
people may share an address; never less than one order), by HoldSeats under its locks, so that ten
sessions cannot hold ten times the limit. How fast seats may be taken is the view's business
(boxoffice/rate_limits.py).
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..errors import LineFirst, SeatUnavailable
from ..extensions import db
from . import waiting_list
from .unit_of_work import retried_after_deadlock, unit_of_work

# How long holds last, named once (the procedures of sql/objects/35_seat_states.sql take them as
# parameters). A new hold lasts the configured BOXOFFICE_HOLD_MINUTES (the caller's `minutes`).
# Extra time the payment step gives a hold, once:
PAYMENT_EXTENSION = dt.timedelta(minutes=5)
# A payment that completed after its hold ran out reclaims the same seats (if still free) for this long,
# enough to write the booking:
RECLAIM_HOLD = dt.timedelta(minutes=2)


def waiting_list_offer() -> dt.timedelta:
    """How long seats offered to the first in a waiting line are held for them: the configured
    BOXOFFICE_WAITING_LIST_OFFER_MINUTES (30 by default; boxoffice/services/waiting_list.py)."""
    return dt.timedelta(minutes=current_app.config["WAITING_LIST_OFFER_MINUTES"])


@dataclass(frozen=True)
class Buyer:
    """Who takes seats besides the hold owner, for the per-buyer cap: the signed-in customer and the network
    address (as accounts.address_key counts it); None is not counted."""

    customer_id: int | None = None
    address: str | None = None


# A hold taken by the box office itself or a test: counted by its hold owner alone.
NOBODY = Buyer()


@dataclass(frozen=True)
class Hold:
    event_id: int
    seat_ids: tuple[int, ...]
    expires_at: dt.datetime | None
    extended: bool

    @classmethod
    def empty(cls, event_id: int) -> Hold:
        return cls(event_id, (), None, False)

    @property
    def is_empty(self) -> bool:
        return not self.seat_ids


def new_hold_owner() -> str:
    return secrets.token_hex(16)


def database_now() -> dt.datetime:
    """The database's clock: hold expiry is always judged by it, never by the web server's."""
    return db.session.scalar(sa.text("SELECT UTC_TIMESTAMP(3)"))


def current_hold(event_id: int, owner: str | None) -> Hold:
    """The owner's live (unexpired) hold for the event; empty if there is none."""
    if not owner:
        return Hold.empty(event_id)
    return _hold_from(db.session.execute(sa.text("""
        SELECT seat_id, hold_expires_at, hold_extended FROM event_seats
         WHERE hold_owner = :owner AND event_id = :event_id AND state = 'held'
           AND hold_expires_at > UTC_TIMESTAMP(3)
         ORDER BY seat_id"""), {"owner": owner, "event_id": event_id}).all(), event_id)


def _hold_from(rows, event_id: int) -> Hold:
    if not rows:
        return Hold.empty(event_id)
    return Hold(event_id, tuple(r.seat_id for r in rows), min(r.hold_expires_at for r in rows),
                any(r.hold_extended for r in rows))


@retried_after_deadlock
def _hold_procedure(call: str, params: dict, event_id: int) -> Hold:
    """CALL a procedure of sql/objects/35_seat_states.sql that takes its locks, changes the owner's hold
    and returns it, in a transaction of its own, which the procedure commits itself where it may: its
    locks are held for the procedure alone, not for a conversation with this process."""
    with unit_of_work() as work:
        rows = db.session.execute(sa.text(call), {**params, "commit": work.procedure_may_commit}).all()
    return _hold_from(rows, event_id)


def _change_hold(event_id: int, seat_ids, owner: str, minutes: int, toggle: bool, buyer: Buyer) -> Hold:
    """HoldSeats; when it says a seat that came back is the waiting list's first (LineFirst), the line takes
    its pick now and HoldSeats is asked once more: a seat the line took is then someone else's."""
    def change() -> Hold:
        return _hold_procedure(
            "CALL HoldSeats(:event_id, :owner, :seat_ids, :minutes, :toggle, :customer_id, :address, :address_cap,"
            " :commit)", {
                "event_id": event_id, "owner": owner, "seat_ids": json.dumps([int(s) for s in seat_ids]),
                "minutes": minutes, "toggle": toggle, "customer_id": buyer.customer_id, "address": buyer.address,
                "address_cap": current_app.config["HOLD_SEATS_PER_ADDRESS"]},
            event_id)
    try:
        return change()
    except LineFirst:
        offers = waiting_list.offer_free_seats(event_id)
    try:
        return change()
    except SeatUnavailable as taken:
        if offers and not isinstance(taken, LineFirst):
            raise SeatUnavailable("That seat came back to sale and has gone to the first person in the waiting "
                                  "list. The seat map now shows what is still free.") from taken
        raise


def hold_seats(event_id: int, seat_ids, owner: str, minutes: int, buyer: Buyer = NOBODY) -> Hold:
    """Add seats to the owner's hold for the event (a new hold lasts `minutes`; added seats share the
    running hold's expiry, so adding seats never buys more time). Returns the hold as it now stands.

    Raises NotBookable, TooManySeats (more than the event allows one order, or one `buyer` across its
    sessions, account and address), SeatUnavailable (someone else has one of them), StrandedSeat (a
    single seat would be left alone between taken ones) or Busy."""
    return _change_hold(event_id, sorted(set(int(s) for s in seat_ids)), owner, minutes, False, buyer)


def toggle_seat(event_id: int, seat_id: int, owner: str, minutes: int, buyer: Buyer = NOBODY) -> Hold:
    """A seat pressed on the map: given back if it is in the owner's live hold, held otherwise (decided
    under the buyer's and the seat row's locks, so two tabs of one buyer cannot both hold it or both give it
    back). Returns
    the hold as it now stands; raises as hold_seats does."""
    return _change_hold(event_id, [seat_id], owner, minutes, True, buyer)


def release_hold(event_id: int, owner: str) -> None:
    """Give back every seat of the owner's hold for the event (one click); anyone in the event's waiting
    list is offered them first, in the same transaction. Raises Busy."""
    with unit_of_work(lock_event=event_id) as work:
        db.session.execute(sa.text("CALL ReleaseHold(:event_id, :owner)"), {"event_id": event_id, "owner": owner})
        waiting_list.line_takes_its_pick(work.event)


def extend_for_payment(event_id: int, owner: str) -> Hold:
    """Reaching the payment step gives the hold PAYMENT_EXTENSION more time, once per hold, so a buyer
    who is paying is not cut off. A hold that has expired is not revived. Returns the hold as it stands."""
    return _hold_procedure("CALL ExtendHold(:event_id, :owner, :seconds, :commit)", {
        "event_id": event_id, "owner": owner, "seconds": int(PAYMENT_EXTENSION.total_seconds())}, event_id)


@retried_after_deadlock
def reclaim_seats(event_id: int, owner: str, seat_ids, buyer: Buyer = NOBODY) -> bool:
    """After a payment that completed once the hold had run out: take the same seats into the owner's hold
    again for RECLAIM_HOLD, if every one is still free (or still the owner's), recorded as `buyer`'s (the
    fair-hold caps count them, as HoldSeats' holds). True if they were; nothing changes otherwise. Raises
    Busy."""
    try:
        with unit_of_work(lock_event=event_id):
            db.session.execute(sa.text(
                "CALL ReclaimSeats(:event_id, :owner, :seat_ids, :seconds, :customer_id, :address)"), {
                "event_id": event_id, "owner": owner, "seat_ids": json.dumps(sorted({int(s) for s in seat_ids})),
                "seconds": int(RECLAIM_HOLD.total_seconds()), "customer_id": buyer.customer_id,
                "address": buyer.address})
    except SeatUnavailable:
        return False
    return True
