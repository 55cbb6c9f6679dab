"""The one lock order of the box office: every transaction that changes an event's seats locks the event
row first. The trigger update_seat_availability writes that row for every seat change anyway, so taking it
up front means transactions on one event queue in one place instead of deadlocking on each other's seats.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from ..extensions import db

FREE_SEAT = "state = 'available', hold_owner = NULL, hold_expires_at = NULL, hold_extended = FALSE"


@contextmanager
def seat_change(event_id: int) -> Iterator[sa.Row | None]:
    """One transaction changing the event's seats: locks the event row, yields it (None if there is no
    such event), commits at the end, rolls back on any error.

    The transaction starts afresh here, so its snapshot is taken after the lock: plain reads inside it
    see every change committed by whoever held the lock before."""
    db.session.commit()
    try:
        event = db.session.execute(sa.text("""
            SELECT event_id, status, starts_at, sales_start, sales_end, max_seats_per_order
              FROM events WHERE event_id = :event_id FOR UPDATE"""), {"event_id": event_id}).one_or_none()
        yield event
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
