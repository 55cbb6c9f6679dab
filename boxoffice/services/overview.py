"""Figures for the admin landing page."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import Booking, Customer, Event, Venue


@dataclass(frozen=True)
class BoxOfficeSummary:
    events_on_sale: int
    venues: int
    customers: int
    vip_customers: int
    bookings_last_30_days: int
    revenue_last_30_days: Decimal


def box_office_summary() -> BoxOfficeSummary:
    now = utcnow()
    since = now - dt.timedelta(days=30)
    bookings = db.session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Booking.total), 0))
        .where(Booking.booked_at >= since)).one()
    return BoxOfficeSummary(
        events_on_sale=db.session.scalar(
            sa.select(sa.func.count()).where(Event.status == "on_sale", Event.starts_at > now)),
        venues=db.session.scalar(sa.select(sa.func.count()).select_from(Venue)),
        customers=db.session.scalar(sa.select(sa.func.count()).select_from(Customer)),
        vip_customers=db.session.scalar(sa.select(sa.func.count()).where(Customer.customer_type == "vip")),
        bookings_last_30_days=bookings[0],
        revenue_last_30_days=Decimal(bookings[1]),
    )
