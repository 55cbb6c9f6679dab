"""Taking money: the payment-gateway interface and the built-in simulated gateway.

The box office never keeps a full card number or a CVV: the gateway is given them, checks them and
answers with a reference, the brand and the last four digits, which are all that is stored. The simulated
gateway behaves like a real provider: it checks the number (Luhn) and the expiry, declines or fails for
its test numbers, and answers a retried charge (same idempotency key) with the charge it already made.

Which provider takes card payments is configuration (BOXOFFICE_PAYMENT_PROVIDER): `gateway` below is the
configured one. With Stripe (boxoffice/services/stripe_gateway.py) the browser gives the card to Stripe and
the box office sees only Stripe's ids, and cards are the only way to pay (see STRIPE_METHODS); money
already taken goes back to whoever took it (by the reference's prefix).
"""
from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import sqlalchemy as sa
from flask import current_app

from ..clock import utcnow
from ..errors import InvalidCard, RefundRefused
from ..extensions import db
from ..models import GatewayCard, GatewayCharge, GatewayRefund

# Test card numbers of the simulated gateway (any future expiry, any CVV).
DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"
FAILING_CARD = "4000000000000119"
TEST_CARDS = {
    DECLINED_CARD: ("declined", "Your card was declined by the bank."),
    INSUFFICIENT_FUNDS_CARD: ("declined", "Your card was declined: insufficient funds."),
    FAILING_CARD: ("failed", "The payment provider could not process the card. Please try again."),
}
# Gift cards of the simulated gateway whose code ends in 0000 have no balance left.
EMPTY_GIFT_CARD_SUFFIX = "0000"


@dataclass(frozen=True)
class CardDetails:
    number: str
    exp_month: int
    exp_year: int
    cvv: str
    holder: str = ""


@dataclass(frozen=True)
class PaymentRequest:
    """What the buyer gave: a method code and, for card-like methods, the card (or a saved card's token);
    for a gift card its code."""

    method_code: str
    card: CardDetails | None = None
    saved_token: str | None = None
    saved_brand: str | None = None
    saved_last_four: str | None = None
    gift_card_code: str | None = None
    # A card the browser gave to the provider (Stripe: a PaymentMethod pm_… or a token tok_…): its id only.
    provider_token: str | None = None
    # Set by the payment attempt, not the buyer: whose payment it is (the provider keeps its saved cards
    # per customer), and where the provider's reference goes as soon as it exists, before any money moves.
    customer_id: int | None = None
    on_reference: Callable[[str], None] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ChargeResult:
    # captured, declined or failed; or, with a provider that confirms asynchronously, requires_action (the
    # buyer must authenticate, 3-D Secure, with `client_secret` in the provider's script) or pending (the
    # provider has the payment but has not finished it): neither has taken money yet.
    status: str
    reference: str
    card_brand: str | None
    last_four: str | None
    reason: str | None = None
    client_secret: str | None = None

    @property
    def captured(self) -> bool:
        return self.status == "captured"

    @property
    def unfinished(self) -> bool:
        """The provider has not decided yet (no money taken, none refused)."""
        return self.status in ("requires_action", "pending")


@dataclass(frozen=True)
class SavedCardToken:
    """What the provider answers for a card it keeps: its token, and what may be shown of the card."""

    token: str
    card_brand: str
    last_four: str
    exp_month: int | None = None
    exp_year: int | None = None


class PaymentGateway(Protocol):
    """A payment provider. Every call is its own, outside any transaction of the box office's database (a
    provider pays out whatever our database does next), and every money-moving call carries an
    idempotency key: the same key always gets the same outcome, whoever asks and however often."""

    def charge(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str) -> ChargeResult:
        """Take `amount`. A provider whose payment object exists before it takes the money hands its
        reference to `payment.on_reference` first. The answer may be unfinished (requires_action: the buyer
        authenticates in the browser). Raises InvalidCard for card details the provider refuses to try,
        PaymentProviderUnavailable when it cannot be reached."""

    def find_charge(self, idempotency_key: str, reference: str | None = None) -> ChargeResult | None:
        """What became of the charge made with this key (and, once known, this reference), or None if the
        provider never took money for it. Raises PaymentProviderUnavailable."""

    def cancel(self, reference: str) -> ChargeResult:
        """Give up an unfinished charge (the buyer never authenticated); answers what it became, which is
        captured if the buyer finished just before. Raises PaymentProviderUnavailable."""

    def refund(self, charge_reference: str, amount: Decimal, idempotency_key: str) -> str:
        """Give back `amount` of a captured charge; returns the refund's reference. Raises RefundRefused."""

    def tokenise(self, card: CardDetails) -> SavedCardToken:
        """Keep a card for later charges. Raises InvalidCard."""

    def saved_card_of(self, reference: str) -> SavedCardToken | None:
        """The card a captured charge was paid with, kept by the provider for the buyer's later payments
        (None if the provider keeps cards only through `tokenise`)."""

    def forget_card(self, customer_id: int, token: str) -> None:
        """Stop keeping a saved card: it can never be charged again. A card already forgotten counts as
        done. Raises PaymentProviderUnavailable."""


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number]
    checksum = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        checksum += digit
    return checksum % 10 == 0


def card_brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "card"


def validate_card(card: CardDetails, today: dt.date | None = None) -> str:
    """The card's digits, or InvalidCard with a message a person can act on."""
    number = "".join(ch for ch in card.number if ch.isdigit())
    if not 12 <= len(number) <= 19 or not luhn_valid(number):
        raise InvalidCard("This card number is not valid. Please check it.")
    today = today or utcnow().date()
    if not 1 <= card.exp_month <= 12 or (card.exp_year, card.exp_month) < (today.year, today.month):
        raise InvalidCard("This card has expired.")
    if not card.cvv.isdigit() or len(card.cvv) not in (3, 4):
        raise InvalidCard("The security code is the 3 or 4 digits on the back of the card.")
    return number


# The outcome of each test card, as the simulated provider remembers it for a saved card.
OUTCOMES = {DECLINED_CARD: "declined", INSUFFICIENT_FUNDS_CARD: "insufficient_funds", FAILING_CARD: "failed"}
OUTCOME_RESULTS = {"captured": ("captured", None), "declined": TEST_CARDS[DECLINED_CARD],
                   "insufficient_funds": TEST_CARDS[INSUFFICIENT_FUNDS_CARD], "failed": TEST_CARDS[FAILING_CARD]}

# Built once: building an INSERT with its values on every charge cost three times what sending it does.
INSERT_CHARGE = sa.insert(GatewayCharge.__table__)
_charges = GatewayCharge.__table__.c
CHARGE_BY_KEY = sa.select(_charges.reference, _charges.amount, _charges.status, _charges.decline_reason,
                          _charges.card_brand, _charges.last_four).where(
    _charges.idempotency_key == sa.bindparam("key"))
SAVED_CARD = sa.select(GatewayCard.__table__).where(GatewayCard.__table__.c.token == sa.bindparam("token"))


class SimulatedGateway:
    """A payment provider that lives in this database (tables gateway_charges, gateway_refunds and
    gateway_cards), for development, demos and tests. It is deterministic: the outcome depends only on the
    card or gift-card number. Like a real provider it is outside the box office's transactions: each call
    runs on a connection of its own and commits at once, whatever the caller's session does next."""

    def tokenise(self, card: CardDetails) -> SavedCardToken:
        number = validate_card(card)
        saved = SavedCardToken(f"tok_{secrets.token_hex(12)}", card_brand(number), number[-4:])
        with db.engine.begin() as provider:
            provider.execute(sa.insert(GatewayCard.__table__), {
                "token": saved.token, "card_brand": saved.card_brand, "last_four": saved.last_four,
                "exp_month": card.exp_month, "exp_year": card.exp_year,
                "outcome": OUTCOMES.get(number, "captured"), "created_at": utcnow()})
        return saved

    def _outcome(self, payment: PaymentRequest, provider: sa.Connection) -> tuple[str, str | None, str | None, str | None]:
        """(status, reason, brand, last four) of a charge with these payment details."""
        if payment.card is not None:
            number = validate_card(payment.card)
            return (*TEST_CARDS.get(number, ("captured", None)), card_brand(number), number[-4:])
        if payment.saved_token is not None:
            card = provider.execute(SAVED_CARD, {"token": payment.saved_token}).one_or_none()
            if card is None:
                raise InvalidCard("This saved card is not known to the payment provider. Please enter the card.")
            today = utcnow().date()
            if (card.exp_year, card.exp_month) < (today.year, today.month):
                raise InvalidCard("This saved card has expired. Please use another card.")
            return (*OUTCOME_RESULTS[card.outcome], card.card_brand, card.last_four)
        if payment.method_code == "wallet":
            # The simulated wallet pays with the test card stored on the phone.
            return "captured", None, "visa", "4242"
        if payment.method_code == "gift_card":
            code = (payment.gift_card_code or "").strip()
            if len(code) < 8:
                raise InvalidCard("Enter the gift card code printed on the card.")
            if code.endswith(EMPTY_GIFT_CARD_SUFFIX):
                return "declined", "This gift card has no balance left.", None, None
        return "captured", None, None, None

    def charge(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str) -> ChargeResult:
        # (Each `db.engine.begin()` block is one transaction of the provider's, on a connection of its own.)
        reference = f"sim_{secrets.token_hex(12)}"
        # A retry with the same key (its first charge committed, or committing while this insert waits on
        # the key) is refused by uq_gateway_charges_key and answered with the charge already made.
        try:
            with db.engine.begin() as provider:
                status, reason, brand, last_four = self._outcome(payment, provider)
                provider.execute(INSERT_CHARGE, {
                    "reference": reference, "idempotency_key": idempotency_key, "method_code": payment.method_code,
                    "amount": amount, "status": status, "decline_reason": reason, "card_brand": brand,
                    "last_four": last_four, "created_at": utcnow()})
        except sa.exc.IntegrityError:
            with db.engine.connect() as provider:
                existing = self._charge(provider, idempotency_key)
            if existing is None:
                raise
            if existing[0] != amount:
                raise InvalidCard("This payment was already attempted for a different amount. Please start again.")
            return existing[1]
        return ChargeResult(status, reference, brand, last_four, reason)

    @staticmethod
    def _charge(provider: sa.Connection, idempotency_key: str) -> tuple[Decimal, ChargeResult] | None:
        row = provider.execute(CHARGE_BY_KEY, {"key": idempotency_key}).one_or_none()
        if row is None:
            return None
        return row.amount, ChargeResult(row.status, row.reference, row.card_brand, row.last_four, row.decline_reason)

    def find_charge(self, idempotency_key: str, reference: str | None = None) -> ChargeResult | None:
        with db.engine.connect() as provider:
            found = self._charge(provider, idempotency_key)
        return found and found[1]

    def cancel(self, reference: str) -> ChargeResult:
        # The simulated provider decides every charge at once: there is never one to give up.
        with db.engine.connect() as provider:
            key = provider.scalar(sa.select(GatewayCharge.idempotency_key).where(GatewayCharge.reference == reference))
        return self.find_charge(key)

    def saved_card_of(self, reference: str) -> SavedCardToken | None:
        return None  # cards are kept from their details (tokenise)

    def forget_card(self, customer_id: int, token: str) -> None:
        with db.engine.begin() as provider:
            provider.execute(sa.delete(GatewayCard.__table__).where(GatewayCard.__table__.c.token == token))

    def refund(self, charge_reference: str, amount: Decimal, idempotency_key: str) -> str:
        refund_reference = f"{charge_reference}_r{secrets.token_hex(4)}"
        try:
            with db.engine.begin() as provider:
                provider.execute(sa.insert(GatewayRefund.__table__), {
                    "refund_reference": refund_reference, "charge_reference": charge_reference,
                    "idempotency_key": idempotency_key, "amount": amount, "created_at": utcnow()})
                updated = provider.execute(sa.update(GatewayCharge).where(
                    GatewayCharge.reference == charge_reference, GatewayCharge.status == "captured",
                    GatewayCharge.refunded_amount + amount <= GatewayCharge.amount,
                ).values(refunded_amount=GatewayCharge.refunded_amount + amount)).rowcount
                if updated != 1:
                    raise RefundRefused()
        except sa.exc.IntegrityError:
            # This refund was made before (the same key): it is answered, not paid twice.
            with db.engine.connect() as provider:
                done = provider.scalar(sa.select(GatewayRefund.refund_reference).where(
                    GatewayRefund.idempotency_key == idempotency_key))
            if done is None:
                raise
            return done
        return refund_reference


# The ways to pay taken when Stripe is the provider: cards, new (Stripe's element) or saved (kept at Stripe).
# The others are not offered, rather than taking simulated money in a real configuration: Stripe has wallets
# (Apple Pay, Google Pay: card PaymentMethods from its Payment Request Button, which needs a verified
# domain) and PayPal in some countries, but localstripe, which the suite proves Stripe against, has neither,
# so neither could be shown to work; and gift cards are no payment provider's (the simulated ones are play
# money: real ones would be a ledger of the box office's own).
STRIPE_METHODS = ("card",)
# The ids Stripe gives the cards it keeps (a PaymentMethod, or a card kept as a customer's source).
STRIPE_CARDS = ("pm_", "card_", "src_")
# The same as a pattern for SQL's REGEXP (customers.CHARGEABLE).
STRIPE_CARDS_PATTERN = "^(" + "|".join(STRIPE_CARDS) + ")"


class ConfiguredGateway:
    """The configured provider, as one gateway. Payments go to Stripe when the app is configured for it
    (app.config["STRIPE"]), which takes cards only (STRIPE_METHODS), else to the simulated provider; a
    charge already made is looked up, cancelled and refunded where it was made, known by its reference
    (Stripe's are pi_…), and a saved card is forgotten where it is kept, known by its token."""

    STRIPE_REFERENCE = "pi_"

    def __init__(self) -> None:
        self.simulated = SimulatedGateway()

    def stripe(self) -> PaymentGateway | None:
        """The Stripe gateway of the current app's settings, or None when Stripe is not configured."""
        settings = current_app.config.get("STRIPE")
        if settings is None:
            return None
        from .stripe_gateway import StripeGateway

        gateways = current_app.extensions.setdefault("boxoffice_stripe_gateways", {})
        if settings not in gateways:
            gateways[settings] = StripeGateway(settings)
        return gateways[settings]

    def _at_stripe(self, known_at_stripe: bool) -> PaymentGateway:
        """Stripe for a payment or a card it has (only it can answer for them), else the simulated provider."""
        if not known_at_stripe:
            return self.simulated
        stripe = self.stripe()
        if stripe is None:
            raise RuntimeError("A payment or card at Stripe needs BOXOFFICE_PAYMENT_PROVIDER=stripe and its settings.")
        return stripe

    def _by_reference(self, reference: str | None) -> PaymentGateway:
        return self._at_stripe(bool(reference) and reference.startswith(self.STRIPE_REFERENCE))

    def _configured(self) -> PaymentGateway:
        return self.stripe() or self.simulated

    def offers(self, method_code: str) -> bool:
        """Whether the configured provider takes this way to pay (payment_methods.code)."""
        return self.stripe() is None or method_code in STRIPE_METHODS

    def charge(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str) -> ChargeResult:
        if not self.offers(payment.method_code):
            raise InvalidCard("This way of paying is not available. Please pay by card.")
        return self._configured().charge(amount, payment, idempotency_key)

    def find_charge(self, idempotency_key: str, reference: str | None = None) -> ChargeResult | None:
        return self._by_reference(reference).find_charge(idempotency_key, reference)

    def cancel(self, reference: str) -> ChargeResult:
        return self._by_reference(reference).cancel(reference)

    def refund(self, charge_reference: str, amount: Decimal, idempotency_key: str) -> str:
        return self._by_reference(charge_reference).refund(charge_reference, amount, idempotency_key)

    def tokenise(self, card: CardDetails) -> SavedCardToken:
        return self._configured().tokenise(card)

    def saved_card_of(self, reference: str) -> SavedCardToken | None:
        return self._by_reference(reference).saved_card_of(reference)

    def forget_card(self, customer_id: int, token: str) -> None:
        self._at_stripe(token.startswith(STRIPE_CARDS)).forget_card(customer_id, token)


gateway: PaymentGateway = ConfiguredGateway()
