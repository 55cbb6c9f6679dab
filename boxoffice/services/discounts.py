"""Promo codes: the box office lists, creates, changes, switches off and on again the codes buyers type
at checkout. Codes are kept upper-case; checkout (PriceHold) upper-cases what buyers type.

The rules of a code's terms are the database's (ck_discounts_*): the service writes and turns a refusal
into a message.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import BoxOfficeError
from ..extensions import db
from ..models import Discount, Event
from ..pagination import Page, paginate
from .unit_of_work import unit_of_work

KINDS = {"percent": "Percentage off", "fixed": "Fixed amount off"}
DISCOUNT_REFUSALS = {
    "uq_discounts_code": "There is already a promo code with that code.",
    "ck_discounts_code": "A code has 3 to 32 letters, digits, hyphens or underscores.",
    "ck_discounts_value": "A percentage must be above 0 and at most 100; a fixed amount must be above 0.",
    "ck_discounts_window": "A code must start being valid before it stops.",
    "ck_discounts_usage": "The usage limit cannot be lower than the number of times the code has been used.",
}


@dataclass(frozen=True)
class PromoTerms:
    """What a promo code gives and to whom. `usage_limit` None: no limit; `event_id` None: every event."""

    description: str
    kind: str
    value: Decimal
    valid_from: dt.datetime
    valid_until: dt.datetime
    usage_limit: int | None
    vip_only: bool
    event_id: int | None

    def columns(self) -> dict:
        return {"description": self.description, "kind": self.kind, "value": self.value,
                "valid_from": self.valid_from, "valid_until": self.valid_until, "usage_limit": self.usage_limit,
                "vip_only": self.vip_only, "event_id": self.event_id}


@dataclass(frozen=True)
class PromoListing:
    discount: Discount
    event_title: str | None

    @property
    def state(self) -> str:
        """'inactive', 'used_up', 'expired', 'scheduled' or 'live'."""
        d, now = self.discount, utcnow()
        if not d.is_active:
            return "inactive"
        if d.usage_limit is not None and d.times_used >= d.usage_limit:
            return "used_up"
        if now > d.valid_until:
            return "expired"
        return "scheduled" if now < d.valid_from else "live"


def list_promo_codes(text: str | None, page: int, per_page: int) -> Page[PromoListing]:
    """Promo codes whose code or description contains `text`, newest first, with their event's title."""
    query = sa.select(Discount, Event.title).outerjoin(Event, Event.event_id == Discount.event_id)
    if text:
        text = text.strip()
        matches = [Discount.description.contains(text, autoescape=True)]
        if text.isascii():  # the code column is ASCII and MariaDB refuses to compare it with other characters
            matches.append(Discount.code.contains(text.upper(), autoescape=True))
        query = query.where(sa.or_(*matches))
    query = query.order_by(Discount.discount_id.desc())
    return paginate(query, page, per_page, lambda row: PromoListing(*row))


def promo_code(discount_id: int) -> Discount | None:
    """The promo code with this id, or None."""
    return db.session.get(Discount, discount_id)


def events_for_codes(including: int | None = None) -> list[Event]:
    """Events a code can be tied to: those not cancelled that have not started (and `including`, the
    event a code is already tied to), soonest first."""
    return list(db.session.scalars(
        sa.select(Event).where(sa.or_(sa.and_(Event.status != "cancelled", Event.starts_at > utcnow()),
                                      Event.event_id == including))
        .order_by(Event.starts_at, Event.event_id)))


def create_promo_code(code: str, terms: PromoTerms) -> int:
    """Create a promo code, stored upper-case. Returns its id. Raises DuplicateRecord if the code exists
    and BoxOfficeError if the database refuses the code or its terms."""
    with unit_of_work(messages=DISCOUNT_REFUSALS):
        discount = Discount(code=code.strip().upper(), is_active=True, **terms.columns())
        db.session.add(discount)
        db.session.flush()
    return discount.discount_id


def update_promo_code(discount_id: int, terms: PromoTerms) -> None:
    """Change a code's terms (the code itself stays: buyers may have it already). Raises BoxOfficeError
    for an unknown code or terms the database refuses."""
    with unit_of_work(messages=DISCOUNT_REFUSALS):
        discount = db.session.get(Discount, discount_id)
        if discount is None:
            raise BoxOfficeError("There is no such promo code.")
        for column, value in terms.columns().items():
            setattr(discount, column, value)


def set_promo_code_active(discount_id: int, active: bool) -> str:
    """Switch a code off (checkout then refuses it) or on again. Returns the code. Raises BoxOfficeError
    for an unknown code."""
    with unit_of_work(messages=DISCOUNT_REFUSALS):
        discount = db.session.get(Discount, discount_id)
        if discount is None:
            raise BoxOfficeError("There is no such promo code.")
        discount.is_active = active
    return discount.code
