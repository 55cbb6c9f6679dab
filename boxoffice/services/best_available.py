"""Best available: the best block of adjacent free seats in a category, held in one step."""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import SeatUnavailable
from ..extensions import db
from . import holds

ATTEMPTS = 3


def _candidate_blocks(event_id: int, category_id: int, count: int) -> list[list[int]]:
    """Blocks of `count` adjacent free seats in the category, best first: front rows first (section and
    row order), then nearest the middle of the row. A block never leaves a single free seat alone
    between it and a taken seat."""
    rows = db.session.execute(sa.text("""
        SELECT s.seat_id, s.row_id, s.seat_number, s.category_id,
               (es.state = 'available' OR (es.state = 'held' AND es.hold_expires_at <= UTC_TIMESTAMP(3))) AS free,
               sec.sort_order AS section_order, r.sort_order AS row_order
          FROM event_seats es
          JOIN seats s ON s.seat_id = es.seat_id
          JOIN seat_rows r ON r.row_id = s.row_id
          JOIN sections sec ON sec.section_id = s.section_id
         WHERE es.event_id = :event_id
           AND s.row_id IN (SELECT DISTINCT s2.row_id FROM event_seats es2 JOIN seats s2 ON s2.seat_id = es2.seat_id
                             WHERE es2.event_id = :event_id AND es2.category_id = :category_id)
         ORDER BY sec.sort_order, r.sort_order, s.seat_number"""),
        {"event_id": event_id, "category_id": category_id}).all()
    by_row: dict[int, list] = {}
    for row in rows:
        by_row.setdefault(row.row_id, []).append(row)
    scored = []
    for seats in by_row.values():
        middle = (seats[0].seat_number + seats[-1].seat_number) / 2
        runs, run = [], []
        for seat in seats:
            usable = seat.free and seat.category_id == category_id
            if usable and run and run[-1].seat_number + 1 == seat.seat_number:
                run.append(seat)
            else:
                if run:
                    runs.append(run)
                run = [seat] if usable else []
        if run:
            runs.append(run)
        for run in runs:
            for start in range(len(run) - count + 1):
                left_gap, right_gap = start, len(run) - start - count
                bounded_left = run[0].seat_number != seats[0].seat_number
                bounded_right = run[-1].seat_number != seats[-1].seat_number
                if (left_gap == 1 and bounded_left) or (right_gap == 1 and bounded_right):
                    continue
                block = run[start:start + count]
                centre = (block[0].seat_number + block[-1].seat_number) / 2
                scored.append(((block[0].section_order, block[0].row_order, abs(centre - middle)),
                               [s.seat_id for s in block]))
    scored.sort(key=lambda item: item[0])
    return [block for _, block in scored]


def hold_best_available(event_id: int, category_id: int, count: int, owner: str, minutes: int,
                        buyer: holds.Buyer = holds.NOBODY) -> holds.Hold:
    """Find and hold the best `count` adjacent seats in the category for the owner (and `buyer`, for the
    per-buyer cap). If someone takes them between the search and the hold, search again. Raises
    SeatUnavailable when no such block is free, and what hold_seats raises."""
    for _ in range(ATTEMPTS):
        blocks = _candidate_blocks(event_id, category_id, count)
        if not blocks:
            break
        try:
            return holds.hold_seats(event_id, blocks[0], owner, minutes, buyer)
        except SeatUnavailable:
            continue
    raise SeatUnavailable(f"There are no {count} seats together left in this category. "
                          "Try fewer seats or another category, or pick seats on the map.")
