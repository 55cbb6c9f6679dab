"""Seat holds: a customer's seats, kept for them for a few minutes while they check out.

A hold belongs to a hold owner: an opaque random token kept in the buyer's session, so a buyer can hold
seats before signing in and keep them through signing in. Every change of seats runs in one transaction
that first locks the event row (the fixed lock order that update_seat_availability relies on), then
claims seats with one conditional UPDATE whose row count proves that every seat was free: two buyers can
never hold the same seat. A hold whose expiry has passed is simply free: every read treats it so, and the
next claim may take it, so no clean-up job is needed.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import NotBookable, SeatUnavailable, StrandedSeat, TooManySeats
from ..extensions import db
from .locking import FREE_SEAT, seat_change

# Extra time the payment step gives a hold, once.
PAYMENT_EXTENSION = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Hold:
    event_id: int
    seat_ids: tuple[int, ...]
    expires_at: dt.datetime | None
    extended: bool

    @property
    def is_empty(self) -> bool:
        return not self.seat_ids


def new_hold_owner() -> str:
    return secrets.token_hex(16)


def database_now() -> dt.datetime:
    """The database's clock: hold expiry is always judged by it, never by the web server's."""
    return db.session.scalar(sa.text("SELECT UTC_TIMESTAMP(3)"))


def _check_bookable(event) -> None:
    """`event` is the row seat_change locked, with the database's clock at that moment."""
    if event is None:
        raise NotBookable("This event does not exist.")
    now = event.now
    if event.status != "on_sale":
        raise NotBookable("This event is not on sale.")
    if now >= event.starts_at:
        raise NotBookable("This event has already started.")
    if now < event.sales_start:
        raise NotBookable("Ticket sales for this event have not opened yet.")
    if now > event.sales_end:
        raise NotBookable("Ticket sales for this event have closed.")


def current_hold(event_id: int, owner: str | None) -> Hold:
    """The owner's live (unexpired) hold for the event; empty if there is none."""
    if not owner:
        return Hold(event_id, (), None, False)
    rows = db.session.execute(sa.text("""
        SELECT seat_id, hold_expires_at, hold_extended FROM event_seats
         WHERE hold_owner = :owner AND event_id = :event_id AND state = 'held'
           AND hold_expires_at > UTC_TIMESTAMP(3)
         ORDER BY seat_id"""), {"owner": owner, "event_id": event_id}).all()
    if not rows:
        return Hold(event_id, (), None, False)
    return Hold(event_id, tuple(r.seat_id for r in rows), min(r.hold_expires_at for r in rows),
                any(r.hold_extended for r in rows))


def _seat_labels(seat_ids) -> str:
    rows = db.session.execute(sa.text("""
        SELECT sec.name AS section, r.label AS row_label, s.seat_number
          FROM seats s JOIN seat_rows r ON r.row_id = s.row_id JOIN sections sec ON sec.section_id = s.section_id
         WHERE s.seat_id IN :ids ORDER BY sec.sort_order, r.sort_order, s.seat_number""").bindparams(
        sa.bindparam("ids", expanding=True)), {"ids": list(seat_ids)}).all()
    return ", ".join(f"{r.section} row {r.row_label} seat {r.seat_number}" for r in rows)


def _check_no_stranded_seat(event_id: int, owner: str, changed_seat_ids) -> None:
    """Refuse a choice that leaves one empty seat alone between two taken seats, next to the seats the
    buyer just chose or gave back (a gap someone else left is not the buyer's doing)."""
    rows = db.session.execute(sa.text("""
        SELECT s.seat_id, s.row_id, s.seat_number,
               (es.state = 'sold' OR (es.state = 'held' AND es.hold_expires_at > UTC_TIMESTAMP(3))) AS taken
          FROM seats s JOIN event_seats es ON es.seat_id = s.seat_id AND es.event_id = :event_id
         WHERE s.row_id IN (SELECT row_id FROM seats WHERE seat_id IN :ids)
         ORDER BY s.row_id, s.seat_number""").bindparams(sa.bindparam("ids", expanding=True)),
        {"event_id": event_id, "ids": list(changed_seat_ids)}).all()
    changed = set(changed_seat_ids)
    by_row: dict[int, list] = {}
    for row in rows:
        by_row.setdefault(row.row_id, []).append(row)
    for seats in by_row.values():
        for left, gap, right in zip(seats, seats[1:], seats[2:]):
            contiguous = left.seat_number + 1 == gap.seat_number and gap.seat_number + 1 == right.seat_number
            if (contiguous and left.taken and right.taken and not gap.taken
                    and (left.seat_id in changed or right.seat_id in changed or gap.seat_id in changed)):
                raise StrandedSeat(
                    f"That would leave {_seat_labels([gap.seat_id])} empty on its own. "
                    "Choose that seat too, or pick seats that sit together.")


def _claim(event, seat_ids, owner: str, minutes: int) -> Hold:
    """hold_seats inside a seat_change transaction that has locked `event`."""
    _check_bookable(event)
    event_id = event.event_id
    wanted = sorted(set(int(s) for s in seat_ids))
    # Seats left over from the owner's own expired hold are given back first, so that the booking
    # procedure never finds an expired seat in a hold that is otherwise live.
    db.session.execute(sa.text(f"""
        UPDATE event_seats SET {FREE_SEAT}
         WHERE hold_owner = :owner AND event_id = :event_id AND state = 'held'
           AND hold_expires_at <= UTC_TIMESTAMP(3)"""), {"owner": owner, "event_id": event_id})
    held = current_hold(event_id, owner)
    new = [s for s in wanted if s not in held.seat_ids]
    if len(held.seat_ids) + len(new) > event.max_seats_per_order:
        raise TooManySeats(f"One order can hold at most {event.max_seats_per_order} seats for this event.")
    if not new:
        return held
    expires_at = held.expires_at or event.now + dt.timedelta(minutes=minutes)
    claimed = db.session.execute(sa.text("""
        UPDATE event_seats
           SET state = 'held', hold_owner = :owner, hold_expires_at = :expires_at,
               hold_extended = :extended
         WHERE event_id = :event_id AND seat_id IN :seat_ids
           AND (state = 'available' OR (state = 'held' AND hold_expires_at <= UTC_TIMESTAMP(3)))
    """).bindparams(sa.bindparam("seat_ids", expanding=True)),
        {"owner": owner, "expires_at": expires_at, "extended": held.extended,
         "event_id": event_id, "seat_ids": new}).rowcount
    if claimed != len(new):
        raise SeatUnavailable("Sorry, someone else has just taken one of those seats. "
                              "The seat map now shows what is still free.")
    _check_no_stranded_seat(event_id, owner, new)
    return Hold(event_id, tuple(sorted(held.seat_ids + tuple(new))), expires_at, held.extended)


def _give_back(event_id: int, seat_ids, owner: str) -> None:
    """release_seats inside a seat_change transaction."""
    seat_ids = sorted(set(int(s) for s in seat_ids))
    db.session.execute(sa.text(f"""
        UPDATE event_seats SET {FREE_SEAT}
         WHERE event_id = :event_id AND hold_owner = :owner AND state = 'held' AND seat_id IN :seat_ids
    """).bindparams(sa.bindparam("seat_ids", expanding=True)),
        {"event_id": event_id, "owner": owner, "seat_ids": seat_ids})
    if current_hold(event_id, owner).seat_ids:
        _check_no_stranded_seat(event_id, owner, seat_ids)


def hold_seats(event_id: int, seat_ids, owner: str, minutes: int) -> Hold:
    """Add seats to the owner's hold for the event (a new hold lasts `minutes`; added seats share the
    running hold's expiry, so adding seats never buys more time). Returns the hold as it now stands.

    Raises NotBookable, TooManySeats, SeatUnavailable (someone else has one of them) or StrandedSeat."""
    with seat_change(event_id) as event:
        return _claim(event, seat_ids, owner, minutes)


def release_seats(event_id: int, seat_ids, owner: str) -> Hold:
    """Give back some of the owner's held seats. Raises StrandedSeat if that would leave one seat alone
    between two taken ones."""
    with seat_change(event_id):
        _give_back(event_id, seat_ids, owner)
    return current_hold(event_id, owner)


def toggle_seat(event_id: int, seat_id: int, owner: str, minutes: int) -> None:
    """A seat pressed on the map: given back if it is in the owner's live hold, held otherwise. Decided
    under the event's lock, so two tabs of one buyer pressing the same seat cannot both hold it or both
    give it back."""
    with seat_change(event_id) as event:
        if event is not None and seat_id in current_hold(event_id, owner).seat_ids:
            _give_back(event_id, [seat_id], owner)
        else:
            _claim(event, [seat_id], owner, minutes)


def release_hold(event_id: int, owner: str) -> None:
    """Give back every seat of the owner's hold for the event (one click)."""
    with seat_change(event_id):
        db.session.execute(sa.text(f"""
            UPDATE event_seats SET {FREE_SEAT}
             WHERE hold_owner = :owner AND event_id = :event_id AND state = 'held'"""),
            {"owner": owner, "event_id": event_id})


def extend_for_payment(event_id: int, owner: str) -> Hold:
    """Reaching the payment step gives the hold PAYMENT_EXTENSION more time, once per hold, so a buyer
    who is paying is not cut off. A hold that has expired is not revived."""
    with seat_change(event_id):
        db.session.execute(sa.text("""
            UPDATE event_seats
               SET hold_expires_at = GREATEST(hold_expires_at, UTC_TIMESTAMP(3) + INTERVAL :seconds SECOND),
                   hold_extended = TRUE
             WHERE hold_owner = :owner AND event_id = :event_id AND state = 'held'
               AND hold_expires_at > UTC_TIMESTAMP(3) AND NOT hold_extended"""),
            {"seconds": int(PAYMENT_EXTENSION.total_seconds()), "owner": owner, "event_id": event_id})
    return current_hold(event_id, owner)


def reclaim_expired_hold(event_id: int, owner: str, seat_ids) -> bool:
    """After a payment that completed once the hold had expired: take the same seats again if they are
    still free (or still ours). True if every seat was reclaimed; nothing changes otherwise."""
    seat_ids = sorted(set(seat_ids))
    with seat_change(event_id):
        claimed = db.session.execute(sa.text("""
            UPDATE event_seats
               SET state = 'held', hold_owner = :owner, hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 2 MINUTE,
                   hold_extended = TRUE
             WHERE event_id = :event_id AND seat_id IN :seat_ids
               AND (state = 'available' OR (state = 'held' AND (hold_owner = :owner OR hold_expires_at <= UTC_TIMESTAMP(3))))
        """).bindparams(sa.bindparam("seat_ids", expanding=True)),
            {"owner": owner, "event_id": event_id, "seat_ids": seat_ids}).rowcount
        if claimed != len(seat_ids):
            db.session.rollback()
            return False
    return True
