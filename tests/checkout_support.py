"""What the checkout tests (tests/test_checkout.py, tests/test_stripe.py) share: a small priced event, a
committed customer, and seats held the way the seat map holds them."""
from __future__ import annotations

from decimal import Decimal

from boxoffice.extensions import db
from boxoffice.models import Customer
from boxoffice.services import holds
from tests.builders import PREMIUM, STANDARD, Event, make_customer, make_event, make_venue, new_hold_owner


def priced_event(db_session) -> Event:
    """Two rows of six: row A premium at €80.00, row B standard at €33.33."""
    venue = make_venue(db_session, rows=2, seats_per_row=6, categories={"A": PREMIUM})
    event = make_event(db_session, venue, prices={PREMIUM: Decimal("80.00"), STANDARD: Decimal("33.33")})
    db_session.commit()
    return event


def customer(db_session, **kwargs) -> Customer:
    made = make_customer(db_session, **kwargs)
    db_session.commit()
    return db.session.get(Customer, made.customer_id)


def held(event, *labels) -> str:
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids(*labels), owner, 10)
    return owner
