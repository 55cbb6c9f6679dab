"""The waiting list of a sold-out event: a fair line for seats that come back.

A signed-in customer joins an event's line for a number of seats in one category, or in any. Seats come
back when a booking is refunded or cancelled, when a hold on the sold-out event expires, or when a buyer
gives seats back. They go to the line before anyone else can take them: a refund, and a whole hold given
back, offer the seats they free in their own transaction (`line_takes_its_pick`); a seat whose hold ran out,
and a seat given back by pressing it again on the seat map (HoldSeats lets its hold run out there and then),
is refused to other buyers while anyone waits (HoldSeats' LineFirst), and the line takes its pick at that
moment or at the once-only jobs' next pass (boxoffice/jobs.py `run_pass`, under the database advisory lock,
`pass_down_the_line`), whichever comes first: offers not
claimed in time are ended, and the free seats of each event with people waiting go to the line in the order
it was joined: the first entry whose wish the seats can meet is offered them (an entry
for three seats does not hold up one for two when two come back; it keeps its place for the next seats).
An offer holds the seats for the entry under a random offer token (the hold owner of the offered seats,
and the secret of the link in the offer's mail) for holds.waiting_list_offer() (30 minutes by default).
Opening the link, signed in as the entry's customer, moves the seats into the buyer's own hold and on to
checkout. An offer not claimed in time simply expires, like any hold, and its seats pass down the line at
the next pass, or as soon as a buyer asks for one of them.

Fairness under concurrency: every offer is made in one transaction that locks the event row first (the
one lock order, unit_of_work), reads the free seats and the line only after that lock, and claims seats
and entry with conditional UPDATEs in the procedure OfferSeats (sql/objects/35_seat_states.sql), so two
passes, a buyer and a pass, or a pass and a customer leaving can never give one seat or one place twice.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..errors import BoxOfficeError, NotBookable
from ..extensions import db
from . import holds, mail
from .unit_of_work import unit_of_work

STATUS_LABELS = {"waiting": "Waiting", "offered": "Offered seats", "claimed": "Took the offer",
                 "expired": "Offer expired", "left": "Left the line"}


class NotSoldOut(BoxOfficeError):
    default_message = "There are seats on sale for this event: choose them on the seat map."


class OfferGone(BoxOfficeError):
    default_message = ("This offer has run out or was passed on to the next person in line. "
                       "You can join the waiting list again.")


ALREADY_WAITING = {"uq_waiting_list_live": "You are already in the waiting list for this event."}


@dataclass(frozen=True)
class Place:
    """A customer's live place in an event's line."""

    entry_id: int
    event_id: int
    seats_wanted: int
    category_name: str | None  # None: any category
    status: str  # 'waiting' or 'offered'
    position: int  # 1 is next in line
    offer_token: str | None
    offer_expires_at: dt.datetime | None


@dataclass(frozen=True)
class Offer:
    entry_id: int
    event_id: int
    customer_id: int
    seat_ids: tuple[int, ...]
    expires_at: dt.datetime


def join(event_id: int, customer_id: int, seats: int, category_id: int | None) -> Place:
    """Put the customer in the event's line for `seats` seats of `category_id` (None: any category).
    Raises NotBookable (not on sale, started, sales closed, or a category the event does not sell),
    TooManySeats-like BoxOfficeError for a count out of range, NotSoldOut (seats are on sale now),
    DuplicateRecord (already in the line) or Busy. Under the event's lock: a seat coming back meanwhile (a
    refund, a hold given back) either finds the customer in the line or is on sale when they are told so,
    never on sale behind them."""
    with unit_of_work(lock_event=event_id, messages=ALREADY_WAITING) as work:
        event = work.event
        now = holds.database_now()
        if event is None or event.status != "on_sale" or now >= event.starts_at or now > event.sales_end:
            raise NotBookable("This event is not on sale, so it has no waiting list.")
        if not 1 <= seats <= event.max_seats_per_order:
            raise BoxOfficeError(f"Ask for 1 to {event.max_seats_per_order} seats.")
        if category_id is not None and not db.session.scalar(sa.text(
                "SELECT 1 FROM event_prices WHERE event_id = :event_id AND category_id = :category_id"),
                {"event_id": event_id, "category_id": category_id}):
            raise NotBookable("This event has no seats of that category.")
        if has_free_seats(event_id):
            raise NotSoldOut()
        db.session.execute(sa.text("""
            INSERT INTO waiting_list_entries (event_id, customer_id, category_id, seats_wanted, joined_at)
            VALUES (:event_id, :customer_id, :category_id, :seats, UTC_TIMESTAMP(3))"""),
            {"event_id": event_id, "customer_id": customer_id, "category_id": category_id, "seats": seats})
    return place(event_id, customer_id)


def has_free_seats(event_id: int) -> bool:
    """Whether any seat of the event is free now: available, or held with its hold run out. (A seat in a
    live hold is taken: the event is sold out while every seat is sold or held.)"""
    return bool(db.session.scalar(sa.text("""
        SELECT EXISTS (SELECT 1 FROM event_seats USE INDEX (ix_event_seats_section_state)
                        WHERE event_id = :event_id AND state = 'available')
            OR EXISTS (SELECT 1 FROM event_seats USE INDEX (ix_event_seats_expiry)
                        WHERE event_id = :event_id AND hold_expires_at <= UTC_TIMESTAMP(3) AND state = 'held')"""),
        {"event_id": event_id}))


def place(event_id: int, customer_id: int) -> Place | None:
    """The customer's live place in the event's line (waiting, or holding an offer), or None."""
    row = db.session.execute(sa.text("""
        SELECT w.entry_id, w.seats_wanted, c.name AS category_name, w.status, w.offer_token, w.offer_expires_at,
               (SELECT COUNT(*) FROM waiting_list_entries ahead
                 WHERE ahead.event_id = w.event_id AND ahead.status = 'waiting' AND ahead.entry_id < w.entry_id) + 1
                 AS position
          FROM waiting_list_entries w
          LEFT JOIN seat_categories c ON c.category_id = w.category_id
         WHERE w.event_id = :event_id AND w.live_customer_id = :customer_id"""),
        {"event_id": event_id, "customer_id": customer_id}).one_or_none()
    if row is None:
        return None
    return Place(row.entry_id, event_id, row.seats_wanted, row.category_name, row.status, row.position,
                 row.offer_token, row.offer_expires_at)


def leave(event_id: int, customer_id: int) -> None:
    """Take the customer out of the event's line; seats offered to them pass down the line at once.
    Raises Busy."""
    with unit_of_work(lock_event=event_id) as work:
        entry = db.session.execute(sa.text("""
            SELECT entry_id, status, offer_token FROM waiting_list_entries
             WHERE event_id = :event_id AND live_customer_id = :customer_id FOR UPDATE"""),
            {"event_id": event_id, "customer_id": customer_id}).one_or_none()
        if entry is None:
            return
        if entry.status == "offered":
            db.session.execute(sa.text("CALL ReleaseHold(:event_id, :owner)"),
                               {"event_id": event_id, "owner": entry.offer_token})
        db.session.execute(sa.text("""
            UPDATE waiting_list_entries SET status = 'left', ended_at = UTC_TIMESTAMP(3)
             WHERE entry_id = :entry_id"""), {"entry_id": entry.entry_id})
        if entry.status == "offered":
            line_takes_its_pick(work.event)


def _free_seats(event_id: int) -> list[sa.Row]:
    """The event's free seats (available, or held with the hold run out), best category first, then in
    seat order, so an offer gets neighbouring seats where it can."""
    return db.session.execute(sa.text("""
        SELECT es.seat_id, es.category_id
          FROM event_seats es
          JOIN seat_categories c ON c.category_id = es.category_id
          JOIN seats s ON s.seat_id = es.seat_id
          JOIN seat_rows r ON r.row_id = s.row_id
         WHERE es.event_id = :event_id
           AND (es.state = 'available' OR (es.state = 'held' AND es.hold_expires_at <= UTC_TIMESTAMP(3)))
         ORDER BY c.`rank`, es.section_id, r.row_id, s.seat_number"""), {"event_id": event_id}).all()


def offer_free_seats(event_id: int) -> list[Offer]:
    """Offer the event's free seats to its line, first come first served (see the module's docstring),
    each offer with its mail, in one transaction under the event's lock. Returns the offers made (none
    when the event is not on sale any more). Raises Busy."""
    with unit_of_work(lock_event=event_id) as work:
        return line_takes_its_pick(work.event)


def line_takes_its_pick(event: sa.Row | None) -> list[Offer]:
    """Inside the caller's unit of work, which has locked `event` (its row, as unit_of_work reads it): the
    event's line takes its pick of the free seats, first come first served, each offer with its mail; then
    the seats whose holds ran out and that nobody in the line could use go on sale to everyone
    (ReleaseRunOutHolds). A refund calls it in its own transaction, so the seats it frees are never on sale
    before the line has seen them; HoldSeats refuses a buyer a seat whose hold ran out while the line waits
    (LineFirst) until this has run. Returns the offers made (none without a line, or when the event is not
    on sale any more)."""
    offers: list[Offer] = []
    if event is None:
        return offers
    # The line first: one read of its index, so an event nobody waits for costs nothing more.
    line = db.session.execute(sa.text("""
        SELECT w.entry_id, w.customer_id, w.category_id, w.seats_wanted
          FROM waiting_list_entries w USE INDEX (ix_waiting_list_line)
         WHERE w.event_id = :event_id AND w.status = 'waiting'
         ORDER BY w.entry_id"""), {"event_id": event.event_id}).all()
    if not line:
        return offers
    now = holds.database_now()
    if event.status != "on_sale" or now >= event.starts_at or now < event.sales_start or now > event.sales_end:
        return offers
    event_id = event.event_id
    minutes = int(holds.waiting_list_offer().total_seconds() // 60)
    free = _free_seats(event_id)
    for entry in line:
        if not free:
            break
        fitting = [seat for seat in free if entry.category_id in (None, seat.category_id)]
        if len(fitting) < entry.seats_wanted:
            continue
        if entry.category_id is None:
            # "Any category": all the seats in one category where one has enough, the best first.
            by_category: dict[int, list] = {}
            for seat in fitting:
                by_category.setdefault(seat.category_id, []).append(seat)
            fitting = next((seats for seats in by_category.values() if len(seats) >= entry.seats_wanted), fitting)
        chosen = fitting[:entry.seats_wanted]
        token = secrets.token_hex(16)
        seat_ids = tuple(seat.seat_id for seat in chosen)
        db.session.execute(sa.text("CALL OfferSeats(:event_id, :entry_id, :seat_ids, :token, :minutes)"), {
            "event_id": event_id, "entry_id": entry.entry_id, "seat_ids": json.dumps(list(seat_ids)),
            "token": token, "minutes": minutes})
        expires_at = db.session.scalar(sa.text(
            "SELECT offer_expires_at FROM waiting_list_entries WHERE entry_id = :entry_id"),
            {"entry_id": entry.entry_id})
        _queue_offer_mail(event_id, entry.customer_id, token, seat_ids, expires_at, minutes)
        offers.append(Offer(entry.entry_id, event_id, entry.customer_id, seat_ids, expires_at))
        taken = set(seat_ids)
        free = [seat for seat in free if seat.seat_id not in taken]
    db.session.execute(sa.text("CALL ReleaseRunOutHolds(:event_id)"), {"event_id": event_id})
    return offers


def _link(endpoint: str, **values) -> str:
    """An absolute link into the site (BASE_URL, never a request's Host), for the offer's mail."""
    return current_app.config["BASE_URL"] + current_app.url_map.bind("").build(endpoint, values)


def _queue_offer_mail(event_id: int, customer_id: int, token: str, seat_ids: tuple[int, ...],
                      expires_at: dt.datetime, minutes: int) -> None:
    """The offer's mail, in the offer's transaction (the outbox): it is sent if and only if the offer stands."""
    who = db.session.execute(sa.text("""
        SELECT c.email, c.full_name, e.title, e.starts_at, v.name AS venue, v.city
          FROM customers c, events e JOIN venues v ON v.venue_id = e.venue_id
         WHERE c.customer_id = :customer_id AND e.event_id = :event_id"""),
        {"customer_id": customer_id, "event_id": event_id}).one()
    seats = db.session.execute(sa.text("""
        SELECT sec.name AS section, r.label AS row_label, s.seat_number, c.name AS category
          FROM seats s JOIN seat_rows r ON r.row_id = s.row_id JOIN sections sec ON sec.section_id = s.section_id
          JOIN event_seats es ON es.event_id = :event_id AND es.seat_id = s.seat_id
          JOIN seat_categories c ON c.category_id = es.category_id
         WHERE s.seat_id IN :seat_ids ORDER BY sec.name, r.row_id, s.seat_number""").bindparams(
        sa.bindparam("seat_ids", expanding=True)), {"event_id": event_id, "seat_ids": list(seat_ids)}).all()
    count = f"{len(seats)} seat{'s' if len(seats) != 1 else ''}"
    lines = "\n".join(f"  - {s.section}, row {s.row_label}, seat {s.seat_number} ({s.category})" for s in seats)
    body = (f"Dear {who.full_name},\n\n"
            f"Seats have come back for {who.title} on {who.starts_at:%a %d %b %Y, %H:%M} at {who.venue}, {who.city}, "
            f"and you are first in the waiting list. We are holding {count} for you:\n\n{lines}\n\n"
            f"They are yours until {expires_at:%H:%M} UTC on {expires_at:%d %b %Y} ({minutes} minutes). "
            f"To take them, open this link and pay:\n\n  {_link('storefront.waiting_list_offer', token=token)}\n\n"
            "If you do not want them, do nothing: when the time is up they go to the next person in line.\n\n"
            "Encore Box Office\n")
    mail.queue_message(who.email, f"Seats for {who.title} are held for you for {minutes} minutes", body)


def claim_offer(token: str, customer_id: int, hold_owner: str, address: str | None) -> int:
    """The offer's link opened by the entry's customer: its seats move into the buyer's hold (`hold_owner`,
    their browser's), keeping the offer's expiry, recorded as taken from `address` (holds.Buyer's, for the
    address's hold cap), and the entry is 'claimed'. Opening it again in the same browser while the offer
    runs changes nothing. Returns the event's id (for checkout). Raises OfferGone (no such offer for this
    customer, run out or passed on) or Busy."""
    found = db.session.execute(sa.text(
        "SELECT entry_id, event_id FROM waiting_list_entries WHERE offer_token = :token AND customer_id = :customer_id"),
        {"token": token, "customer_id": customer_id}).one_or_none()
    if found is None:
        raise OfferGone()
    with unit_of_work(lock_event=found.event_id):
        entry = db.session.execute(sa.text("""
            SELECT status, offer_expires_at > UTC_TIMESTAMP(3) AS running FROM waiting_list_entries
             WHERE entry_id = :entry_id FOR UPDATE"""), {"entry_id": found.entry_id}).one()
        if entry.status not in ("offered", "claimed") or not entry.running:
            raise OfferGone()
        claimed = db.session.execute(sa.text("CALL ClaimOfferedSeats(:event_id, :token, :owner, :address)"), {
            "event_id": found.event_id, "token": token, "owner": hold_owner, "address": address}).scalar_one()
        if entry.status == "offered":
            if not claimed:
                raise OfferGone()
            db.session.execute(sa.text("UPDATE waiting_list_entries SET status = 'claimed' WHERE entry_id = :entry_id"),
                               {"entry_id": found.entry_id})
    return found.event_id


def expire_offers() -> int:
    """End the offers not claimed in time ('expired'); their seats are free already (a hold that has run
    out is free everywhere) and pass down the line. Returns how many ended."""
    with unit_of_work():
        return db.session.execute(sa.text("""
            UPDATE waiting_list_entries SET status = 'expired', ended_at = UTC_TIMESTAMP(3)
             WHERE status = 'offered' AND offer_expires_at <= UTC_TIMESTAMP(3)""")).rowcount


@dataclass(frozen=True)
class PassResult:
    expired: int
    offers: list[Offer]

    def describe(self) -> str:
        return f"waiting list: {self.expired} offers expired, {len(self.offers)} made"


def pass_down_the_line() -> PassResult:
    """One pass of the waiting list (a once-only job, boxoffice/jobs.py): end the offers not claimed in
    time, then offer the free seats of every on-sale event with people waiting. Raises Busy."""
    expired = expire_offers()
    events = db.session.scalars(sa.text("""
        SELECT DISTINCT w.event_id
          FROM waiting_list_entries w
          JOIN events e ON e.event_id = w.event_id
         WHERE w.status = 'waiting' AND e.status = 'on_sale' AND e.starts_at > UTC_TIMESTAMP()
           AND (e.seats_available > 0
                OR EXISTS (SELECT 1 FROM event_seats es USE INDEX (ix_event_seats_expiry)
                            WHERE es.event_id = w.event_id AND es.hold_expires_at <= UTC_TIMESTAMP(3)
                              AND es.state = 'held'))""")).all()
    offers: list[Offer] = []
    for event_id in events:
        offers += offer_free_seats(event_id)
    return PassResult(expired, offers)


@dataclass(frozen=True)
class LineEntry:
    entry_id: int
    customer_name: str
    customer_email: str
    category_name: str | None
    seats_wanted: int
    status: str
    joined_at: dt.datetime
    offered_at: dt.datetime | None
    offer_expires_at: dt.datetime | None
    seats_offered: int | None
    booked: bool

    @property
    def status_label(self) -> str:
        return "Booked" if self.booked else STATUS_LABELS[self.status]


@dataclass(frozen=True)
class LineSummary:
    waiting: int
    seats_waited_for: int
    offered: int
    converted: int

    @property
    def conversion_pct(self) -> float | None:
        return 100.0 * self.converted / self.offered if self.offered else None


def line_for_staff(event_id: int) -> tuple[list[LineEntry], LineSummary]:
    """The event's whole line, in the order it was joined, for staff: each entry with what became of it
    (booked: its customer booked the event after the offer), and the summary (how many wait, for how many
    seats; offers made and how many became bookings)."""
    rows = db.session.execute(sa.text("""
        SELECT w.entry_id, c.full_name, c.email, cat.name AS category_name, w.seats_wanted, w.status, w.joined_at,
               w.offered_at, w.offer_expires_at, w.seats_offered,
               w.offered_at IS NOT NULL AND EXISTS (
                   SELECT 1 FROM bookings b USE INDEX (ix_bookings_customer)
                    WHERE b.customer_id = w.customer_id AND b.event_id = w.event_id AND b.booked_at >= w.offered_at - INTERVAL 1 SECOND
               ) AS booked
          FROM waiting_list_entries w
          JOIN customers c ON c.customer_id = w.customer_id
          LEFT JOIN seat_categories cat ON cat.category_id = w.category_id
         WHERE w.event_id = :event_id
         ORDER BY w.entry_id"""), {"event_id": event_id}).all()
    entries = [LineEntry(*row) for row in rows]
    summary = LineSummary(
        waiting=sum(e.status == "waiting" for e in entries),
        seats_waited_for=sum(e.seats_wanted for e in entries if e.status == "waiting"),
        offered=sum(e.offered_at is not None for e in entries),
        converted=sum(bool(e.booked) for e in entries))
    return entries, summary


@dataclass(frozen=True)
class EventLine:
    event_id: int
    title: str
    starts_at: dt.datetime
    waiting: int
    offered: int
    converted: int


def lines_for_staff() -> list[EventLine]:
    """Every event with a waiting list, soonest first: how many wait, offers made and bookings they became."""
    return [EventLine(*row) for row in db.session.execute(sa.text("""
        SELECT e.event_id, e.title, e.starts_at, SUM(w.status = 'waiting'), SUM(w.offered_at IS NOT NULL),
               SUM(w.offered_at IS NOT NULL AND EXISTS (
                   SELECT 1 FROM bookings b USE INDEX (ix_bookings_customer)
                    WHERE b.customer_id = w.customer_id AND b.event_id = w.event_id
                      AND b.booked_at >= w.offered_at - INTERVAL 1 SECOND))
          FROM waiting_list_entries w JOIN events e ON e.event_id = w.event_id
         GROUP BY e.event_id, e.title, e.starts_at
         ORDER BY e.starts_at DESC, e.event_id
         LIMIT 200""")).all()]


def seats_offered(entry_id: int) -> list[int]:
    """The seats held under an entry's offer now (for tests and staff)."""
    return list(db.session.scalars(sa.text("""
        SELECT es.seat_id FROM waiting_list_entries w
          JOIN event_seats es ON es.hold_owner = w.offer_token AND es.event_id = w.event_id
         WHERE w.entry_id = :entry_id AND es.state = 'held' ORDER BY es.seat_id"""), {"entry_id": entry_id}))

