"""The per-event seat inventory."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def open_inventory(connection: Connection, event_id: int) -> int:
    """Create the event's seat inventory from its venue's layout, every seat available, and set the
    event's and each category's seat counts from it. The event's prices must exist for every seat
    category the venue uses (the inventory's foreign key to event_prices refuses otherwise).
    Returns the number of seats. Runs in the caller's transaction."""
    connection.execute(sa.text("""
        INSERT INTO event_seats (event_id, seat_id, venue_id, section_id, category_id)
        SELECT e.event_id, s.seat_id, s.venue_id, s.section_id, s.category_id
          FROM events e JOIN seats s ON s.venue_id = e.venue_id
         WHERE e.event_id = :event_id
    """), {"event_id": event_id})
    # Counted from the inventory just written, so the counts start equal to it; from here on the
    # trigger update_seat_availability keeps them so.
    connection.execute(sa.text("""
        UPDATE event_prices ep
          JOIN (SELECT category_id, COUNT(*) AS seats, SUM(state <> 'sold') AS free
                  FROM event_seats WHERE event_id = :event_id GROUP BY category_id) c
            ON c.category_id = ep.category_id
           SET ep.seats_total = c.seats, ep.seats_available = c.free
         WHERE ep.event_id = :event_id
    """), {"event_id": event_id})
    connection.execute(sa.text("""
        UPDATE events e
           SET e.seats_total = (SELECT COUNT(*) FROM event_seats WHERE event_id = :event_id),
               e.seats_available = (SELECT COUNT(*) FROM event_seats WHERE event_id = :event_id AND state <> 'sold')
         WHERE e.event_id = :event_id
    """), {"event_id": event_id})
    return connection.scalar(sa.text("SELECT seats_total FROM events WHERE event_id = :event_id"),
                             {"event_id": event_id})
