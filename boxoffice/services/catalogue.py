"""The public event catalogue: upcoming on-sale events, searched, filtered, sorted and paginated."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Event, EventPrice, Venue
from ..pagination import Page, paginate

FEW_LEFT_SHARE = 0.1


@dataclass(frozen=True)
class SaleState:
    """Whether an event's seats can be bought now, and if not why: `on_sale`, `not_yet` (sales open at
    `opens_at`), `closed` (sales have ended), `sold_out`, `past` (it has started) or `cancelled`."""

    kind: str
    opens_at: dt.datetime | None = None

    @property
    def buyable(self) -> bool:
        return self.kind == "on_sale"


def sale_state(event: Event, now: dt.datetime | None = None) -> SaleState:
    """Where the event's sales stand at `now` (the clock's time by default). The database refuses a hold
    outside these bounds whatever this says (HoldSeats); this only lets the pages say so before a click."""
    now = now or utcnow()
    if event.status == "cancelled":
        return SaleState("cancelled")
    if event.starts_at <= now:
        return SaleState("past")
    if event.sales_start > now:
        return SaleState("not_yet", event.sales_start)
    if event.status != "on_sale" or (event.sales_end is not None and event.sales_end <= now):
        return SaleState("closed")
    if event.seats_available == 0:
        return SaleState("sold_out")
    return SaleState("on_sale")


@dataclass(frozen=True)
class CatalogueEntry:
    event: Event
    venue: Venue
    from_price: Decimal | None

    @property
    def sale(self) -> SaleState:
        return sale_state(self.event)

    @property
    def availability(self) -> str:
        """'on_sale', 'few_left', or why the event cannot be bought ('sold_out', 'not_yet', 'closed',
        'past', 'cancelled'), for the badge on the event card."""
        state = self.sale
        if not state.buyable:
            return state.kind
        if self.event.seats_available <= max(10, self.event.seats_total * FEW_LEFT_SHARE):
            return "few_left"
        return "on_sale"


@dataclass(frozen=True)
class CatalogueQuery:
    text: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    venue_id: int | None = None
    genre: str | None = None
    max_price: Decimal | None = None
    sort: str = "date"


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def upcoming_events(query: CatalogueQuery = CatalogueQuery(), page: int = 1, per_page: int = 12) -> Page[CatalogueEntry]:
    """On-sale events that have not started and match the query, one page at a time."""
    from_price = (sa.select(sa.func.min(EventPrice.price)).where(EventPrice.event_id == Event.event_id)
                  .correlate(Event).scalar_subquery())
    select = (
        sa.select(Event, Venue, from_price.label("from_price"))
        .join(Venue, Venue.venue_id == Event.venue_id)
        .where(Event.status == "on_sale", Event.starts_at > utcnow())
    )
    if query.text:
        like = _like(query.text.strip())
        select = select.where(sa.or_(Event.title.like(like), Event.performer.like(like),
                                     Venue.name.like(like), Venue.city.like(like)))
    if query.date_from:
        select = select.where(Event.starts_at >= dt.datetime.combine(query.date_from, dt.time.min))
    if query.date_to:
        select = select.where(Event.starts_at < dt.datetime.combine(query.date_to + dt.timedelta(days=1), dt.time.min))
    if query.venue_id:
        select = select.where(Event.venue_id == query.venue_id)
    if query.genre:
        select = select.where(Event.genre == query.genre)
    if query.max_price is not None:
        select = select.where(sa.exists().where(EventPrice.event_id == Event.event_id,
                                                EventPrice.price <= query.max_price))
    order = {
        "price": (from_price, Event.starts_at),
        "title": (Event.title, Event.starts_at),
        "availability": (Event.seats_available.desc(), Event.starts_at),
    }.get(query.sort, (Event.starts_at,))
    select = select.order_by(*order, Event.event_id)
    return paginate(select, page, per_page, lambda row: CatalogueEntry(*row))


def venues_with_upcoming_events() -> list[Venue]:
    """Venues for the catalogue's venue filter."""
    return list(db.session.scalars(
        sa.select(Venue).where(Venue.venue_id.in_(
            sa.select(Event.venue_id).where(Event.status == "on_sale", Event.starts_at > utcnow())))
        .order_by(Venue.name)))


def event_for_sale(event_id: int) -> tuple[Event, Venue] | None:
    """An event as the public may see it (not drafts)."""
    row = db.session.execute(sa.select(Event, Venue).join(Venue, Venue.venue_id == Event.venue_id)
                             .where(Event.event_id == event_id, Event.status != "draft")).one_or_none()
    return (row[0], row[1]) if row else None
