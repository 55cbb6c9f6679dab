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
from ..errors import InvalidCard
from ..extensions import db
from ..models import GatewayCharge

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


class PaymentGateway(Protocol):
    def charge(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str) -> ChargeResult: ...

    def refund(self, reference: str, amount: Decimal) -> str: ...

    def tokenise(self, card: CardDetails) -> tuple[str, str, str]: ...


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


# Built once: building an INSERT with its values on every charge cost three times what sending it does.
INSERT_CHARGE = sa.insert(GatewayCharge.__table__)


class SimulatedGateway:
    """A payment provider that lives in this database (table gateway_charges), for development, demos
    and tests. It is deterministic: the outcome depends only on the card or gift-card number."""

    def tokenise(self, card: CardDetails) -> tuple[str, str, str]:
        """A reusable token for a card, with its brand and last four digits."""
        number = validate_card(card)
        return f"tok_{secrets.token_hex(12)}", card_brand(number), number[-4:]

    def charge(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str) -> ChargeResult:
        status, reason, brand, last_four = "captured", None, None, None
        if payment.card is not None:
            number = validate_card(payment.card)
            brand, last_four = card_brand(number), number[-4:]
            status, reason = TEST_CARDS.get(number, ("captured", None))
        elif payment.saved_token is not None:
            brand, last_four = payment.saved_brand, payment.saved_last_four
        elif payment.method_code == "wallet":
            # The simulated wallet pays with the test card stored on the phone.
            brand, last_four = "visa", "4242"
        elif payment.method_code == "gift_card":
            code = (payment.gift_card_code or "").strip()
            if len(code) < 8:
                raise InvalidCard("Enter the gift card code printed on the card.")
            if code.endswith(EMPTY_GIFT_CARD_SUFFIX):
                status, reason = "declined", "This gift card has no balance left."
        reference = f"sim_{secrets.token_hex(12)}"
        # The gateway's ledger is its own: committed at once, whatever the booking does next, as a real
        # provider's would be. A retry with the same key (its first charge committed, or committing while
        # this insert waits on the key) is refused by uq_gateway_charges_key and answered with the charge
        # already made. (The checkout has only read in this transaction so far: rolling it back loses nothing.)
        try:
            db.session.execute(INSERT_CHARGE, {
                "reference": reference, "idempotency_key": idempotency_key, "method_code": payment.method_code,
                "amount": amount, "status": status, "decline_reason": reason, "card_brand": brand,
                "last_four": last_four, "created_at": utcnow()})
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()
            existing = db.session.scalar(
                sa.select(GatewayCharge).where(GatewayCharge.idempotency_key == idempotency_key))
            if existing is None:
                raise
            if existing.amount != amount:
                raise InvalidCard("This payment was already attempted for a different amount. Please start again.")
            return ChargeResult(existing.status, existing.reference, existing.card_brand, existing.last_four,
                                existing.decline_reason)
        return ChargeResult(status, reference, brand, last_four, reason)

    def refund(self, reference: str, amount: Decimal) -> str:
        """Give back `amount` of a captured charge; returns the refund's reference."""
        updated = db.session.execute(sa.update(GatewayCharge).where(
            GatewayCharge.reference == reference, GatewayCharge.status == "captured",
            GatewayCharge.refunded_amount + amount <= GatewayCharge.amount,
        ).values(refunded_amount=GatewayCharge.refunded_amount + amount)).rowcount
        if updated != 1:
            raise InvalidCard("The payment provider refused the refund.")
        return f"{reference}_r{secrets.token_hex(4)}"


gateway: PaymentGateway = SimulatedGateway()
