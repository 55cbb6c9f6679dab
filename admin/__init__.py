"""Box-office administration: events, venues, promo codes, customers, bookings, check-in, payments and the outbox."""
from . import (bookings, check_in, customers, discounts, events, outbox, payments, venues, views,  # noqa: F401  (routes on bp)
               waiting_lists, waiting_room)
from .blueprint import bp

__all__ = ["bp"]
