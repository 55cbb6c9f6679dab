"""The customer's own account: VIP status and savings, offers, saved cards (the password: accounts.py)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from .. import pricing
from ..clock import utcnow
from ..extensions import db
from ..models import (Booking, Customer, Discount, PaymentMethod, RegularCustomer, SavedPaymentMethod,
                      VipCustomer)
from .payments import STRIPE_CARDS_PATTERN, CardDetails, SavedCardToken, gateway
from .unit_of_work import unit_of_work

# What a regular customer is shown they would save as a VIP (the entry tier's rate).
ENTRY_VIP_RATE = Decimal("0.05")


@dataclass(frozen=True)
class VipStatus:
    is_vip: bool
    tier: str | None
    discount_rate: Decimal
    member_since: object
    saved_so_far: Decimal
    would_have_saved: Decimal
    spent: Decimal


def vip_membership(customer_id: int):
    """A VIP's tier and discount_rate (one primary-key read), None for a customer who is not one."""
    return db.session.execute(sa.select(VipCustomer.tier, VipCustomer.discount_rate)
                              .where(VipCustomer.customer_id == customer_id)).one_or_none()


def vip_status(customer_id: int) -> VipStatus:
    """What VIP membership has saved a VIP, or would have saved a regular customer, on their bookings."""
    saved, subtotal, spent = db.session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Booking.vip_discount), 0),
                  sa.func.coalesce(sa.func.sum(Booking.subtotal), 0),
                  sa.func.coalesce(sa.func.sum(Booking.total), 0))
        .where(Booking.customer_id == customer_id, Booking.status != "refunded")).one()
    would = pricing.vip_discount(subtotal, ENTRY_VIP_RATE)
    vip = db.session.get(VipCustomer, customer_id)
    return VipStatus(vip is not None, vip.tier if vip else None, vip.discount_rate if vip else ENTRY_VIP_RATE,
                     vip.member_since if vip else None, Decimal(saved), would, Decimal(spent))


def offers_for(is_vip: bool) -> list[Discount]:
    """Promo codes a customer may use now: VIP-only ones for VIPs, the others for everyone else; with
    uses left."""
    now = utcnow()
    query = sa.select(Discount).where(
        Discount.is_active, Discount.valid_from <= now, Discount.valid_until >= now,
        sa.or_(Discount.usage_limit.is_(None), Discount.times_used < Discount.usage_limit))
    query = query.where(Discount.vip_only.is_(True) if is_vip else Discount.vip_only.is_(False))
    return list(db.session.scalars(query.order_by(Discount.valid_until).limit(10)))


# Built once, on the table rather than the entity (the ORM's execution path costs more than the query):
# the checkout page lists the saved cards on every visit.
_saved = SavedPaymentMethod.__table__.c
# A customer's saved cards are listed, offered, matched and removed only where the configured provider can
# charge them: Stripe's own (known by payments.STRIPE_CARDS, as gateway.forget_card knows them) with Stripe,
# the simulated provider's without. One saved before the box office changed provider stays, unlisted (paying
# with it would be refused), and is listed again if the box office changes back. Its parameters: chargeable().
CHARGEABLE = _saved.gateway_token.regexp_match(sa.bindparam("stripe_cards")) == sa.bindparam("at_stripe")
SAVED_CARDS = (sa.select(_saved.saved_method_id, _saved.card_brand, _saved.last_four, _saved.exp_month, _saved.exp_year)
               .where(_saved.customer_id == sa.bindparam("customer_id"), CHARGEABLE)
               .order_by(_saved.saved_method_id))


def chargeable() -> dict[str, str | bool]:
    """The parameters of CHARGEABLE (and of checkout.BASKET's copy of it) for the configured provider."""
    return {"stripe_cards": STRIPE_CARDS_PATTERN, "at_stripe": gateway.stripe() is not None}


@dataclass(frozen=True)
class SavedCard:
    """A saved card as the pages list it (not the entity: nothing that lists cards changes them)."""

    saved_method_id: int
    card_brand: str
    last_four: str
    exp_month: int
    exp_year: int

    @property
    def is_expired(self) -> bool:
        """Past its expiry month: shown as expired, never offered for paying (the provider refuses it)."""
        today = utcnow().date()
        return (self.exp_year, self.exp_month) < (today.year, today.month)


def saved_cards(customer_id: int) -> list[SavedCard]:
    """The customer's saved cards that the configured provider can charge (CHARGEABLE), oldest first."""
    return [SavedCard(*row) for row in db.session.execute(SAVED_CARDS, {"customer_id": customer_id, **chargeable()})]


def saved_card(customer_id: int, saved_method_id: int) -> SavedPaymentMethod | None:
    """The customer's own saved card, if the configured provider can charge it (None for someone else's)."""
    return db.session.scalar(sa.select(SavedPaymentMethod).where(
        SavedPaymentMethod.saved_method_id == saved_method_id, SavedPaymentMethod.customer_id == customer_id,
        CHARGEABLE), chargeable())


def save_card(customer_id: int, card: CardDetails) -> SavedPaymentMethod:
    """Keep a card for later: the gateway's token, the brand, last four digits and expiry, nothing more.
    Raises InvalidCard."""
    token = gateway.tokenise(card)
    return _keep(customer_id, SavedCardToken(token.token, token.card_brand, token.last_four, card.exp_month,
                                             card.exp_year))


def start_card_setup(customer_id: int) -> str:
    """With Stripe, where a card goes from the browser to Stripe: the client secret of a SetupIntent that
    Stripe.js completes with the card (save_set_up_card then keeps it). Raises PaymentProviderUnavailable."""
    return gateway.stripe().start_card_setup(customer_id)


def save_set_up_card(customer_id: int, setup_intent_id: str) -> SavedPaymentMethod:
    """Keep the card a finished SetupIntent of the customer's gave Stripe: Stripe's id for it, its brand,
    last four digits and expiry. Raises InvalidCard, PaymentProviderUnavailable."""
    return _keep(customer_id, gateway.stripe().card_of_setup(customer_id, setup_intent_id))


def _keep(customer_id: int, card: SavedCardToken) -> SavedPaymentMethod:
    with unit_of_work():
        same = db.session.scalar(sa.select(SavedPaymentMethod).where(
            SavedPaymentMethod.customer_id == customer_id, SavedPaymentMethod.card_brand == card.card_brand,
            SavedPaymentMethod.last_four == card.last_four, SavedPaymentMethod.exp_month == card.exp_month,
            SavedPaymentMethod.exp_year == card.exp_year, CHARGEABLE), chargeable())
        if same is None:
            method_id = db.session.scalar(sa.select(PaymentMethod.method_id).where(PaymentMethod.code == "card"))
            saved = SavedPaymentMethod(customer_id=customer_id, method_id=method_id, card_brand=card.card_brand,
                                       last_four=card.last_four, exp_month=card.exp_month, exp_year=card.exp_year,
                                       gateway_token=card.token)
            db.session.add(saved)
            return saved
        kept = same.gateway_token
    if kept != card.token:
        # The same card again (as far as anything we keep can tell): one entry, and the provider keeps one.
        gateway.forget_card(customer_id, card.token)
    return same


def remove_card(customer_id: int, saved_method_id: int) -> bool:
    """Forget one of the customer's saved cards (False: no such card of theirs). The provider lets go of it
    first, outside any transaction of ours (forget_card may be asked twice, so two removals at once are
    fine); if it cannot be reached, the card stays listed, to be removed again. Raises
    PaymentProviderUnavailable."""
    with unit_of_work():
        token = db.session.scalar(sa.select(SavedPaymentMethod.gateway_token).where(
            SavedPaymentMethod.saved_method_id == saved_method_id, SavedPaymentMethod.customer_id == customer_id,
            CHARGEABLE), chargeable())
    if token is None:
        return False
    gateway.forget_card(customer_id, token)
    with unit_of_work():
        db.session.execute(sa.delete(SavedPaymentMethod).where(
            SavedPaymentMethod.saved_method_id == saved_method_id, SavedPaymentMethod.customer_id == customer_id))
    return True


# ---------------------------------------------------------------- guests (migration 0009)

def new_guest(email: str, full_name: str = "") -> int:
    """A guest to check out as: a Regular customer row without a password (is_guest), for this e-mail,
    never signed in and never VIP (so a guest typing a VIP's address pays a regular price). Its e-mail need
    not be unique: accounts and other guests may share it. Returns its customer_id."""
    with unit_of_work():
        guest = Customer(email=email.strip().lower(), full_name=full_name.strip(), password_hash=None,
                         is_guest=True, customer_type="regular")
        guest.regular = RegularCustomer(customer_type="regular")
        db.session.add(guest)
        db.session.flush()
        return guest.customer_id


def guest(customer_id: int) -> Customer | None:
    """The guest with this id (None for an account, or no such customer)."""
    return db.session.scalar(sa.select(Customer).where(Customer.customer_id == customer_id, Customer.is_guest))
