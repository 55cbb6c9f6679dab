"""What the browser tests and the screenshot script shop with: a small hall, a large arena, customers and a
promo code, built with tests/builders.py and committed for real (the browser reaches the app over HTTP, so
the app's own connections must see them). Callers build inside `builders.committed(engine)`, which deletes
every row made meanwhile, including the bookings, payments and accounts the app itself wrote.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tests.builders import (ECONOMY, PREMIUM, RESTRICTED, STANDARD, Customer, Discount, Event, make_customer,
                            make_discount, make_event, make_venue)

SMALL_HALL_PRICES = {PREMIUM: Decimal("64.00"), STANDARD: Decimal("42.50"), ECONOMY: Decimal("28.00"),
                     RESTRICTED: Decimal("19.00")}
ARENA_PRICES = {PREMIUM: Decimal("120.00"), STANDARD: Decimal("85.00"), ECONOMY: Decimal("55.00"),
                RESTRICTED: Decimal("35.00")}


def small_event(c: Connection, *, title: str | None = None, performer: str = "The Test Ensemble",
                genre: str = "concert", venue_name: str | None = None, city: str = "Testville",
                starts_in: dt.timedelta = dt.timedelta(days=30), description: str | None = None,
                categories: dict[str, int] | None = None) -> Event:
    """An on-sale event in a hall of four rows of ten seats: row A premium, row D economy with a wheelchair
    space (D1) and its companion seat (D2), the others standard (or rows by `categories`, as make_venue)."""
    venue = make_venue(c, rows=4, seats_per_row=10, categories=categories or {"A": PREMIUM, "D": ECONOMY},
                       wheelchair=("D1",), companion=("D2",), name=venue_name, city=city)
    event = make_event(c, venue, prices={category: SMALL_HALL_PRICES[category] for category in venue.categories},
                       title=title, performer=performer, genre=genre, starts_in=starts_in)
    if description:
        c.execute(sa.text("UPDATE events SET description = :d WHERE event_id = :e"),
                  {"d": description, "e": event.event_id})
    return event


def arena_event(c: Connection, *, title: str | None = None, performer: str = "The Test Ensemble",
                venue_name: str | None = None, city: str = "Testville", description: str | None = None) -> Event:
    """An event in an arena of 5,200 seats (four sections of thirteen rows of 100: premium and standard
    stalls, a standard circle, an economy balcony, a restricted-view gallery), large enough for the event
    page to open on the section overview."""
    venue = make_venue(c, sections=4, rows=13, seats_per_row=100, name=venue_name, city=city,
                       categories={"A-E": PREMIUM, "AA-AM": ECONOMY, "AN-AZ": RESTRICTED})
    event = make_event(c, venue, prices=ARENA_PRICES, title=title, performer=performer, genre="concert",
                       starts_in=dt.timedelta(days=45))
    if description:
        c.execute(sa.text("UPDATE events SET description = :d WHERE event_id = :e"),
                  {"d": description, "e": event.event_id})
    return event


@dataclass(frozen=True)
class Buyers:
    vip: Customer
    regular: Customer
    promo: Discount


def buyers(c: Connection, *, promo_percent: Decimal = Decimal("10")) -> Buyers:
    """A VIP (gold, 10% off), a regular customer and a promo code of `promo_percent`% for every event."""
    return Buyers(
        vip=make_customer(c, vip=True, tier="gold", rate=Decimal("0.1000"), full_name="Vera Importante"),
        regular=make_customer(c, full_name="Rory Regular"),
        promo=make_discount(c, kind="percent", value=promo_percent),
    )
