"""What the admin tests share: a booking paid for through the real checkout, so that it can be refunded
through the simulated gateway as any booking can."""
from __future__ import annotations

from boxoffice.extensions import db
from boxoffice.models import Booking
from boxoffice.services import checkout, holds
from boxoffice.services.payments import CardDetails, PaymentRequest
from tests.builders import Customer, Event, new_hold_owner

GOOD_CARD = CardDetails("4242 4242 4242 4242", 12, 2035, "123", "Ada Lovelace")
HX = {"HX-Request": "true"}


def paid_booking(event: Event, buyer: Customer, *labels: str, promo: str | None = None) -> Booking:
    """Hold the seats `labels` of `event` and pay for them by card as `buyer`, through checkout."""
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids(*labels), owner, 10)
    quote = checkout.quote(event.event_id, owner, buyer.customer_id, promo)
    confirmation = checkout.pay(event.event_id, owner, buyer.customer_id, promo, PaymentRequest("card", card=GOOD_CARD),
                                checkout.payment_key(buyer.customer_id, event.event_id, owner, quote.total), quote.total)
    return db.session.get(Booking, confirmation.booking_id)
