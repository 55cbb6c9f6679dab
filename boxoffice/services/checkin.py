"""Check-in at the doors: a ticket code goes in, an answer comes out, and a ticket lets one person in.

A door may be for one event: a ticket for another event is then refused there ("wrong event", with the
event it is for) and stays valid for its own. The box office's window (no door) checks any event's tickets,
but admits only today's: from CHECK_IN_HOURS_BEFORE hours before the start to the end of the show's day
(UTC, as every time here). A ticket for another day is refused there ("This ticket is for <event> on
<date>") and stays valid, so a guest who comes on the wrong night is not turned away on the right one.

Two doors may scan the same ticket at the same moment (a copied e-ticket). The check-in is one
conditional UPDATE, valid -> checked_in, and its row count decides: InnoDB makes the second UPDATE wait
for the first's row lock and then re-reads the row, finds it no longer valid and changes nothing, so
exactly one door says "valid". Nothing is read before the write that the write depends on.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa

from flask import current_app

from ..clock import utcnow
from ..extensions import db
from .unit_of_work import unit_of_work

# What a ticket's QR code holds (orders.TicketView.qr_svg_data_uri); a scanner types it like a keyboard.
QR_PREFIX = "BOXOFFICE-TICKET:"
_TICKET_CODE = re.compile(r"[A-Z0-9]{1,12}")

OUTCOMES = {
    "valid": "Valid: let them in",
    "already_checked_in": "Already checked in",
    "refunded": "Refunded: not valid",
    "wrong_event": "Wrong event: not this door",
    "not_today": "Not today's show",
    "unknown": "Unknown ticket",
}
# The events a door can be opened for: from those that started this many hours ago to those this many
# days ahead.
DOOR_OPEN_HOURS_BEFORE = 12
DOOR_DAYS_AHEAD = 60


@dataclass(frozen=True)
class DoorEvent:
    event_id: int
    title: str
    starts_at: dt.datetime
    venue_name: str


def door_events() -> list[DoorEvent]:
    """The events a door can be for, soonest first: on sale or sold out (not drafts, not cancelled), from
    those that started a few hours ago to those some weeks ahead."""
    now = utcnow()
    return [DoorEvent(*row) for row in db.session.execute(sa.text("""
        SELECT e.event_id, e.title, e.starts_at, v.name
          FROM events e JOIN venues v ON v.venue_id = e.venue_id
         WHERE e.starts_at BETWEEN :since AND :until AND e.status NOT IN ('draft', 'cancelled')
         ORDER BY e.starts_at, e.event_id
         LIMIT 100"""), {"since": now - dt.timedelta(hours=DOOR_OPEN_HOURS_BEFORE),
                         "until": now + dt.timedelta(days=DOOR_DAYS_AHEAD)})]


@dataclass(frozen=True)
class CheckInAnswer:
    outcome: str  # a key of OUTCOMES
    ticket_code: str
    checked_in_at: dt.datetime | None = None
    event_title: str | None = None
    starts_at: dt.datetime | None = None
    seat_label: str | None = None
    holder: str | None = None

    @property
    def headline(self) -> str:
        return OUTCOMES[self.outcome]


def ticket_code_from_scan(text: str) -> str:
    """The ticket code in what was typed or scanned: the QR prefix dropped, spaces gone, upper-case."""
    text = text.strip()
    if text.upper().startswith(QR_PREFIX):
        text = text[len(QR_PREFIX):]
    return re.sub(r"\s+", "", text).upper()


def check_in(scanned: str, event_id: int | None = None, *, now: dt.datetime | None = None) -> CheckInAnswer:
    """Admit the ticket if it is valid, now and once, and for the door's event (`event_id`), or, at the
    window without a door (None), for a show of today (see the module's docstring): 'valid' (it is checked
    in from now), 'already_checked_in' (with when), 'refunded', 'wrong_event' (with the event it is for;
    still valid there), 'not_today' (with its event and date; still valid then) or 'unknown'. `now` is the
    clock (tests); it never raises for a ticket's answer."""
    code = ticket_code_from_scan(scanned)
    if not _TICKET_CODE.fullmatch(code):
        return CheckInAnswer("unknown", code)
    now = (now or utcnow()).replace(microsecond=0)
    hours_before = current_app.config["CHECK_IN_HOURS_BEFORE"]
    with unit_of_work():
        # The door's event, or today's show, is part of the one conditional UPDATE: the window is judged in
        # the same statement that admits, so nothing read earlier can be out of date.
        admitted = db.session.execute(sa.text("""
            UPDATE tickets t JOIN events e ON e.event_id = t.event_id
               SET t.status = 'checked_in', t.checked_in_at = :now
             WHERE t.ticket_code = :code AND t.status = 'valid'
               AND (t.event_id = :event_id
                    OR (:event_id IS NULL AND :now >= e.starts_at - INTERVAL :hours_before HOUR
                        AND :now < DATE(e.starts_at) + INTERVAL 1 DAY))"""),
            {"code": code, "now": now, "event_id": event_id, "hours_before": hours_before}).rowcount
        # A locking read, so that it sees the row as it is now (with the other door's check-in), not as this
        # transaction's snapshot may have seen it before.
        ticket = db.session.execute(sa.text("""
            SELECT t.status, t.event_id, t.checked_in_at, e.title, e.starts_at, sec.name AS section, r.label AS row_label,
                   s.seat_number, c.full_name
              FROM tickets t
              JOIN bookings b ON b.booking_id = t.booking_id
              JOIN customers c ON c.customer_id = b.customer_id
              JOIN events e ON e.event_id = t.event_id
              JOIN seats s ON s.seat_id = t.seat_id
              JOIN seat_rows r ON r.row_id = s.row_id
              JOIN sections sec ON sec.section_id = s.section_id
             WHERE t.ticket_code = :code
              LOCK IN SHARE MODE"""), {"code": code}).one_or_none()
    if ticket is None:
        return CheckInAnswer("unknown", code)
    if admitted == 1:
        outcome = "valid"
    elif event_id is not None and ticket.event_id != event_id:
        outcome = "wrong_event"
    elif event_id is None and ticket.status == "valid":
        outcome = "not_today"
    else:
        outcome = {"checked_in": "already_checked_in", "refunded": "refunded"}[ticket.status]
    return CheckInAnswer(outcome, code, ticket.checked_in_at, ticket.title, ticket.starts_at,
                         f"{ticket.section}, row {ticket.row_label}, seat {ticket.seat_number}", ticket.full_name)
