"""Taking money: the payment-gateway interface and the built-in simulated gateway.

The box office never keeps a full card number or a CVV: the gateway is given them, checks them and
answers with a reference, the brand and the last four digits, which are all that is stored. The simulated
gateway behaves like a real provider: it checks the number (Luhn) and the expiry, declines or fails for
its test numbers, and answers a retried charge (same idempotency key) with the charge it already made.
"""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import sqlalchemy as sa

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


@dataclass(frozen=True)
class ChargeResult:
    status: str  # captured, declined or failed
    reference: str
    card_brand: str | None
    last_four: str | None
    reason: str | None = None

    @property
    def captured(self) -> bool:
        return self.status == "captured"


@dataclass(frozen=True)
class SavedCardToken:
    """What the provider answers for a card it keeps: its token, and what may be shown of the card."""

    token: str
    card_brand: str
    last_four: str


class PaymentGateway(Protocol):
    """A payment provider. Every call is its own, outside any transaction of the box office's database (a
    provider pays out whatever our database does next), and every money-moving call carries an
    idempotency key: the same key always gets the same outcome, whoever asks and however often."""

    def charge(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str) -> ChargeResult:
        """Take `amount`. Raises InvalidCard for card details the provider refuses to try."""

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        """What became of the charge made with this key, or None if the provider never saw the key."""

    def refund(self, charge_reference: str, amount: Decimal, idempotency_key: str) -> str:
        """Give back `amount` of a captured charge; returns the refund's reference. Raises RefundRefused."""

    def tokenise(self, card: CardDetails) -> SavedCardToken:
        """Keep a card for later charges. Raises InvalidCard."""


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
        with db.engine.connect() as provider:
            status, reason, brand, last_four = self._outcome(payment, provider)
        reference = f"sim_{secrets.token_hex(12)}"
        # A retry with the same key (its first charge committed, or committing while this insert waits on
        # the key) is refused by uq_gateway_charges_key and answered with the charge already made.
        try:
            with db.engine.begin() as provider:
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

    def find_charge(self, idempotency_key: str) -> ChargeResult | None:
        with db.engine.connect() as provider:
            found = self._charge(provider, idempotency_key)
        return found and found[1]

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


gateway: PaymentGateway = SimulatedGateway()
