"""Events as the box office runs them: find, create (with prices and the seat inventory), change, put on
sale, and cancel (refunding every booking).

The rules of an event's dates and limits are the database's (ck_events_sales_window, ck_events_max_seats):
the service writes and turns a refusal into a message, so the rule lives in one place.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import BoxOfficeError, NothingToRefund
from ..extensions import db
from ..models import Event, EventPrice, Seat, SeatCategory, Ticket, Venue
from ..pagination import Page, paginate
from . import refunds
from .inventory import open_inventory
from .unit_of_work import unit_of_work

EVENT_REFUSALS = {
    "ck_events_sales_window": "Ticket sales must open before they close, and close no later than the start "
                              "of the event.",
    "ck_events_max_seats": "An order may hold from 1 to 50 seats.",
    "ck_event_prices_price": "A price cannot be below zero.",
}
STATUSES = {"draft": "Draft", "on_sale": "On sale", "cancelled": "Cancelled"}
# Each refund is a transaction of its own with the gateway (tens of milliseconds): a cancellation refunds
# this many bookings per call, so that one web request stays short, and is called again for the rest.
REFUNDS_PER_CALL = 100


@dataclass(frozen=True)
class EventDetails:
    """What the admin fills in for an event. `prices` maps seat category ids to prices."""

    title: str
    performer: str
    genre: str
    description: str
    starts_at: dt.datetime
    sales_start: dt.datetime
    sales_end: dt.datetime
    max_seats_per_order: int
    refundable_until_hours: int
    prices: Mapping[int, Decimal]

    def columns(self) -> dict:
        return {"title": self.title, "performer": self.performer, "genre": self.genre,
                "description": self.description, "starts_at": self.starts_at, "sales_start": self.sales_start,
                "sales_end": self.sales_end, "max_seats_per_order": self.max_seats_per_order,
                "refundable_until_hours": self.refundable_until_hours}


@dataclass(frozen=True)
class EventListing:
    event: Event
    venue: Venue

    @property
    def seats_sold(self) -> int:
        return self.event.seats_total - self.event.seats_available


@dataclass(frozen=True)
class Cancellation:
    bookings_refunded: int
    tickets_refunded: int
    amount_refunded: Decimal
    bookings_left: int


def search_events(text: str | None, status: str | None, when: str, page: int, per_page: int) -> Page[EventListing]:
    """Events whose title, performer, venue or city contains `text`, of one status or any; `when` is
    'upcoming' (soonest first), 'past' or 'all' (latest first)."""
    query = sa.select(Event, Venue).join(Venue, Venue.venue_id == Event.venue_id)
    if text:
        text = text.strip()
        query = query.where(sa.or_(*(column.contains(text, autoescape=True)
                                     for column in (Event.title, Event.performer, Venue.name, Venue.city))))
    if status in STATUSES:
        query = query.where(Event.status == status)
    now = utcnow()
    if when == "upcoming":
        query = query.where(Event.starts_at > now).order_by(Event.starts_at, Event.event_id)
    else:
        if when == "past":
            query = query.where(Event.starts_at <= now)
        query = query.order_by(Event.starts_at.desc(), Event.event_id.desc())
    return paginate(query, page, per_page, lambda row: EventListing(*row))


def event(event_id: int) -> Event | None:
    """The event with this id (any status), or None."""
    return db.session.get(Event, event_id)


def venue_choices() -> list[Venue]:
    """Venues that have seats, for a new event."""
    return list(db.session.scalars(sa.select(Venue).where(Venue.capacity > 0).order_by(Venue.name, Venue.city)))


def venue_categories(venue_id: int) -> list[SeatCategory]:
    """The seat categories a venue has seats in, best first: the ones an event there needs prices for."""
    return list(db.session.scalars(
        sa.select(SeatCategory)
        .where(SeatCategory.category_id.in_(sa.select(Seat.category_id).where(Seat.venue_id == venue_id)))
        .order_by(SeatCategory.rank)))


def _prices_for(categories: list[SeatCategory], prices: Mapping[int, Decimal]) -> dict[int, Decimal]:
    missing = [category.name for category in categories if prices.get(category.category_id) is None]
    if missing:
        raise BoxOfficeError(f"Give every seat category of the venue a price (missing: {', '.join(missing)}).")
    return {category.category_id: prices[category.category_id] for category in categories}


def create_event(venue_id: int, details: EventDetails) -> int:
    """Create an event as a draft, with a price for every seat category its venue has, and open its seat
    inventory; all in one transaction. Returns the event's id. Raises BoxOfficeError when a price is
    missing or the database refuses the dates or limits."""
    categories = venue_categories(venue_id)
    if not categories:
        raise BoxOfficeError("Choose a venue that has seats.")
    prices = _prices_for(categories, details.prices)
    with unit_of_work(messages=EVENT_REFUSALS):
        new = Event(venue_id=venue_id, status="draft", **details.columns())
        db.session.add(new)
        db.session.flush()
        db.session.add_all(EventPrice(event_id=new.event_id, category_id=category_id, price=price)
                           for category_id, price in prices.items())
        db.session.flush()
        # The inventory's foreign key to event_prices needs the prices written first.
        open_inventory(db.session.connection(), new.event_id)
    return new.event_id


def update_event(event_id: int, details: EventDetails) -> None:
    """Change an event's details and prices (its venue stays). Tickets already sold keep the price they
    were sold at. Raises BoxOfficeError for a cancelled or unknown event, a missing price, or dates and
    limits the database refuses."""
    with unit_of_work(messages=EVENT_REFUSALS):
        changing = db.session.get(Event, event_id)
        if changing is None:
            raise BoxOfficeError("There is no such event.")
        if changing.status == "cancelled":
            raise BoxOfficeError("A cancelled event cannot be changed.")
        prices = _prices_for([price.category for price in changing.prices], details.prices)
        for column, value in details.columns().items():
            setattr(changing, column, value)
        for price in changing.prices:
            price.price = prices[price.category_id]


def publish_event(event_id: int) -> None:
    """Put a draft event on sale. Raises BoxOfficeError if it is not a draft."""
    with unit_of_work(messages=EVENT_REFUSALS):
        published = db.session.execute(
            sa.update(Event).where(Event.event_id == event_id, Event.status == "draft").values(status="on_sale")
        ).rowcount
        if published != 1:
            raise BoxOfficeError("Only a draft event can be put on sale.")


def _bookings_to_refund(event_id: int) -> sa.Select:
    return (sa.select(Ticket.booking_id).where(Ticket.event_id == event_id, Ticket.status == "valid")
            .group_by(Ticket.booking_id).order_by(Ticket.booking_id))


@dataclass(frozen=True)
class CancellationPlan:
    """What cancelling an event (or pressing on with a cancellation) will do, for its confirmation step."""

    bookings: int  # bookings with tickets still valid: each refunded in full, and its customer mailed
    tickets: int
    amount: Decimal  # paid back in all
    batch: int  # bookings refunded per press (REFUNDS_PER_CALL)

    @property
    def this_press(self) -> int:
        """How many of the bookings one press refunds."""
        return min(self.bookings, self.batch)


def cancellation_plan(event_id: int) -> CancellationPlan:
    """What cancel_event would refund now: the bookings with valid tickets, their tickets and what was paid
    for them, in one read (the confirmation page shows it; cancel_event decides afresh under the lock)."""
    bookings, tickets, amount = db.session.execute(
        sa.select(sa.func.count(sa.distinct(Ticket.booking_id)), sa.func.count(),
                  sa.func.coalesce(sa.func.sum(Ticket.paid_amount), 0))
        .where(Ticket.event_id == event_id, Ticket.status == "valid")).one()
    return CancellationPlan(int(bookings), int(tickets), Decimal(amount).quantize(Decimal("0.01")), REFUNDS_PER_CALL)


def bookings_to_refund(event_id: int) -> int:
    """How many bookings of the event still hold valid tickets."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(_bookings_to_refund(event_id).subquery()))


def cancel_event(event_id: int, batch: int = REFUNDS_PER_CALL) -> Cancellation:
    """Cancel an event: its sales stop, and bookings with tickets still valid are refunded in full through
    refunds.refund_tickets (which gives each booking a transaction of its own and mails its customer).
    At most `batch` bookings are refunded per call; calling again (the event is cancelled already) refunds
    the next ones, and so does a call after a refund failed. Raises BoxOfficeError for an unknown event."""
    # The event as a whole (its lock row, which every hold and booking holds shared): a checkout under way
    # finishes before this, and any later one is refused by check_booking_date because the event is cancelled.
    with unit_of_work(lock_event=event_id) as locked:
        if locked.event is None:
            raise BoxOfficeError("There is no such event.")
        db.session.execute(sa.update(Event).where(Event.event_id == event_id).values(status="cancelled"))
    booking_ids = db.session.scalars(_bookings_to_refund(event_id).limit(batch)).all()
    bookings = tickets = 0
    amount = Decimal("0.00")
    for booking_id in booking_ids:
        try:
            refunded = refunds.refund_tickets(booking_id)
        except NothingToRefund:
            continue  # refunded by someone else in the meantime
        bookings, tickets, amount = bookings + 1, tickets + refunded.tickets, amount + refunded.amount
    return Cancellation(bookings, tickets, amount, bookings_to_refund(event_id))
