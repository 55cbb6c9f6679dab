"""The public event catalogue."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..pagination import Page, paginate
from ..models import Event, EventPrice, Venue

FEW_LEFT_SHARE = 0.1


@dataclass(frozen=True)
class CatalogueEntry:
    event: Event
    venue: Venue
    from_price: Decimal | None

    @property
    def availability(self) -> str:
        """'on_sale', 'few_left' or 'sold_out', for the badge on the event card."""
        if self.event.seats_available == 0:
            return "sold_out"
        if self.event.seats_available <= max(10, self.event.seats_total * FEW_LEFT_SHARE):
            return "few_left"
        return "on_sale"


def upcoming_events(page: int = 1, per_page: int = 12) -> Page[CatalogueEntry]:
    """On-sale events that have not started, soonest first, one page at a time."""
    from_price = (sa.select(sa.func.min(EventPrice.price)).where(EventPrice.event_id == Event.event_id)
                  .correlate(Event).scalar_subquery())
    query = (
        sa.select(Event, Venue, from_price.label("from_price"))
        .join(Venue, Venue.venue_id == Event.venue_id)
        .where(Event.status == "on_sale", Event.starts_at > utcnow())
        .order_by(Event.starts_at, Event.event_id)
    )
    return paginate(query, page, per_page, lambda row: CatalogueEntry(*row))
