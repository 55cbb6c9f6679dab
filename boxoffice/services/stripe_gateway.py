"""Stripe as the payment gateway (BOXOFFICE_PAYMENT_PROVIDER=stripe), through Stripe's official library.

Card numbers never reach the box office (PCI DSS SAQ A): the checkout page mounts Stripe's card element,
the browser gives the card to Stripe and sends us only Stripe's id for it, a PaymentMethod (pm_…) or, with
the older Elements flow and with localstripe's mock of Stripe.js, a token (tok_…). Either is attached to
the buyer's customer at Stripe (one per box-office customer, table provider_customers), which is what
lets a card be kept for later: we keep its brand, last four, expiry and Stripe's id, nothing more. A card
saved from the account page comes through a SetupIntent that Stripe.js confirms; a card removed is
detached at Stripe. Should Stripe forget the customer (deleted in its dashboard), the cards it kept are
dropped here and a new customer is made (_as_customer, and the customer.deleted webhook).

A payment attempt becomes a PaymentIntent in two calls. The first creates it unconfirmed, with the
attempt's idempotency key as Stripe's Idempotency-Key, and hands its id to the attempt (on_reference),
which stores it before the second call confirms it on the server. So no money can move for a
PaymentIntent the attempt does not know: an attempt without a reference has taken nothing, and one with
a reference is looked up by it (find_charge), whatever the buyer's request, a webhook or the reconciler
is doing. A confirmation that needs the buyer (3-D Secure) answers requires_action with the client
secret; the browser completes it with Stripe.js and comes back to the same attempt.

Stripe honours Idempotency-Key for 24 hours; localstripe ignores it. Neither is relied on alone: a
PaymentIntent is created once per attempt because the attempt stores its id first, and a refund is made
once per key because an existing refund with the key in its metadata is looked for before a new one is
asked for (which also holds beyond Stripe's 24 hours).
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import sqlalchemy as sa
import stripe

from ..clock import utcnow
from ..config import StripeSettings
from ..errors import InvalidCard, PaymentProviderUnavailable, RefundRefused
from ..extensions import db
from ..models import ProviderCustomer, SavedPaymentMethod
from .payments import STRIPE_CARDS, CardDetails, ChargeResult, PaymentRequest, SavedCardToken
from .unit_of_work import unit_of_work

CURRENCY = "eur"
CENTS = Decimal("100")
# Stripe's errors that mean "not reached, or not able to answer now": retried later, never shown as a decline.
UNAVAILABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
NEEDS_JAVASCRIPT = ("Card payments go straight from your browser to our payment provider, Stripe, which needs "
                    "JavaScript. Please turn JavaScript on to pay with a new card.")
AUTHENTICATION_FAILED = "Your bank could not confirm the payment (3-D Secure). Nothing was charged."
SAVED_CARD_GONE = "Our payment provider no longer keeps this saved card. Please enter the card again."
CARD_NOT_SET_UP = "This card was not set up for your account. Please enter it again."
PROVIDER_CUSTOMER = sa.select(ProviderCustomer.provider_customer_id).where(
    ProviderCustomer.customer_id == sa.bindparam("customer_id"))
FORGET_CUSTOMER = sa.delete(ProviderCustomer).where(
    ProviderCustomer.customer_id == sa.bindparam("customer_id"),
    ProviderCustomer.provider_customer_id == sa.bindparam("known"))
# The customer's cards kept at Stripe (the simulated provider's tokens are tok_…).
FORGET_ITS_CARDS = sa.delete(SavedPaymentMethod).where(
    SavedPaymentMethod.customer_id == sa.bindparam("customer_id"),
    sa.or_(*(SavedPaymentMethod.gateway_token.startswith(prefix, autoescape=True) for prefix in STRIPE_CARDS)))
T = TypeVar("T")


def cents(amount: Decimal) -> int:
    return int((amount * CENTS).to_integral_value())


def _field(obj, name: str):
    """A field of a Stripe object or of a plain dict (localstripe expands some ids Stripe does not)."""
    if obj is None:
        return None
    return obj.get(name) if hasattr(obj, "get") else getattr(obj, name, None)


def _id(value) -> str | None:
    """An id, whether Stripe sent the id or the expanded object."""
    return value if isinstance(value, str) or value is None else _field(value, "id")


class StripeGateway:
    """The PaymentGateway protocol (boxoffice/services/payments.py) on Stripe's PaymentIntents."""

    def __init__(self, settings: StripeSettings):
        self.settings = settings
        # No retries inside the library: a payment attempt is retried by its state machine, with its key.
        self.client = stripe.StripeClient(
            settings.secret_key, base_addresses={"api": settings.api_base} if settings.api_base else None,
            http_client=stripe.RequestsClient(timeout=settings.timeout), max_network_retries=0)

    # ------------------------------------------------------------- the buyer's customer and card at Stripe

    def _known_customer(self, customer_id: int) -> str | None:
        with unit_of_work():
            return db.session.scalar(PROVIDER_CUSTOMER, {"customer_id": customer_id})

    def provider_customer(self, customer_id: int, replacing: str | None = None) -> str:
        """The buyer's customer at Stripe, made the first time they pay by card (`replacing`: the one Stripe
        has forgotten, whose idempotency key must not be used again). Raises PaymentProviderUnavailable."""
        known = self._known_customer(customer_id)
        if known:
            return known
        made = self._call(self.client.v1.customers.create,
                          params={"metadata": {"boxoffice_customer_id": str(customer_id)}},
                          options={"idempotency_key": f"customer-{customer_id}"
                                                      + (f"-after-{replacing}" if replacing else "")}, money=False)
        with unit_of_work():
            # Two first payments at once make two customers at Stripe (without Stripe's idempotency):
            # the first one stored is kept, the other stays unused.
            db.session.execute(sa.insert(ProviderCustomer.__table__).prefix_with("IGNORE"), {
                "customer_id": customer_id, "provider_customer_id": made.id, "created_at": utcnow()})
            return db.session.scalar(PROVIDER_CUSTOMER, {"customer_id": customer_id})

    def _forgotten(self, provider_customer_id: str) -> bool:
        """Whether Stripe no longer has this customer: deleted (in its dashboard, say), which Stripe answers
        with the customer marked deleted and localstripe with 404. Raises PaymentProviderUnavailable."""
        try:
            found = self._call(self.client.v1.customers.retrieve, provider_customer_id, money=False)
        except stripe.InvalidRequestError:
            return True
        return bool(_field(found, "deleted"))

    def _forget_customer(self, customer_id: int, provider_customer_id: str) -> None:
        """Stripe has forgotten the buyer's customer, and with it every card it kept: the next call makes a
        new customer, and the saved cards that were kept there are no longer offered."""
        with unit_of_work():
            db.session.execute(FORGET_CUSTOMER, {"customer_id": customer_id, "known": provider_customer_id})
            db.session.execute(FORGET_ITS_CARDS, {"customer_id": customer_id})

    def customer_deleted(self, provider_customer_id: str) -> bool:
        """Stripe says it deleted this customer (webhook customer.deleted): if it is one of ours and Stripe
        confirms it is gone, it is forgotten with the cards it kept, as when a call for it is refused. Whether
        it was. Raises PaymentProviderUnavailable."""
        with unit_of_work():
            customer_id = db.session.scalar(sa.select(ProviderCustomer.customer_id).where(
                ProviderCustomer.provider_customer_id == provider_customer_id))
        if customer_id is None or not self._forgotten(provider_customer_id):
            return False
        self._forget_customer(customer_id, provider_customer_id)
        return True

    def _as_customer(self, customer_id: int, call: Callable[[str, str], T]) -> T:
        """`call(customer at Stripe, key suffix)` for the buyer. When Stripe refuses it because it has
        forgotten that customer, the customer is made again and the call made once more, with a key suffix of
        its own (a request with other parameters must not reuse an idempotency key). Raises
        PaymentProviderUnavailable, and whatever `call` raises."""
        customer = self.provider_customer(customer_id)
        try:
            return call(customer, "")
        except stripe.InvalidRequestError:
            if not self._forgotten(customer):
                raise
        self._forget_customer(customer_id, customer)
        customer = self.provider_customer(customer_id, replacing=customer)
        return call(customer, f":{customer}")

    def _new_intent(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str, customer: str,
                    again: str):
        """An unconfirmed PaymentIntent of the customer's for the card, a new card attached to the customer
        first. Raises InvalidCard, stripe.CardError (a card Stripe refused to attach),
        stripe.InvalidRequestError, PaymentProviderUnavailable."""
        if payment.saved_token:
            if again:  # the saved card went with the customer Stripe forgot
                raise InvalidCard(SAVED_CARD_GONE)
            payment_method = payment.saved_token
        elif payment.provider_token.startswith("tok_"):
            payment_method = self._call(self.client.v1.customers.payment_sources.create, customer,
                                        params={"source": payment.provider_token},
                                        options={"idempotency_key": f"{idempotency_key}:card{again}"}, money=False).id
        elif payment.provider_token.startswith("pm_"):
            payment_method = self._call(self.client.v1.payment_methods.attach, payment.provider_token,
                                        params={"customer": customer},
                                        options={"idempotency_key": f"{idempotency_key}:card{again}"}, money=False).id
        else:
            raise InvalidCard("This card was not given to our payment provider. Please enter it again.")
        return self._call(self.client.v1.payment_intents.create, params={
            "amount": cents(amount), "currency": CURRENCY, "customer": customer, "payment_method": payment_method,
            "payment_method_types": ["card"], "metadata": {"attempt_key": idempotency_key}},
            options={"idempotency_key": idempotency_key + again}, money=False)

    def _card(self, payment_method: str | None, customer: str | None) -> tuple[str | None, str | None, int | None, int | None]:
        """(brand, last four, expiry month, expiry year) of a card at Stripe."""
        if not payment_method:
            return None, None, None, None
        if payment_method.startswith("pm_"):
            found = self._call(self.client.v1.payment_methods.retrieve, payment_method, money=False)
            card = _field(found, "card")
        else:  # a card_… (or src_…) attached to the customer as a source
            card = self._call(self.client.v1.customers.payment_sources.retrieve, customer, payment_method, money=False)
        brand, last4 = _field(card, "brand"), _field(card, "last4")
        exp_month, exp_year = _field(card, "exp_month"), _field(card, "exp_year")
        return (brand or "card").lower().replace(" ", "_")[:20], last4, exp_month, exp_year

    # ------------------------------------------------------------- saved cards, from the account page

    def start_card_setup(self, customer_id: int) -> str:
        """A SetupIntent for keeping a card for the buyer's later payments; its client secret is for
        Stripe.js, which gives Stripe the card (and takes the buyer through 3-D Secure if the bank wants it).
        Raises PaymentProviderUnavailable."""
        setup = self._as_customer(customer_id, lambda customer, again: self._call(
            self.client.v1.setup_intents.create, params={
                "customer": customer, "usage": "on_session", "payment_method_types": ["card"],
                "metadata": {"boxoffice_customer_id": str(customer_id)}}, money=False))
        return setup.client_secret

    def card_of_setup(self, customer_id: int, setup_intent_id: str) -> SavedCardToken:
        """The card a finished SetupIntent of the buyer's gave Stripe, attached to their customer at Stripe.
        Raises InvalidCard (not the buyer's, or not finished), PaymentProviderUnavailable."""
        try:
            setup = self._call(self.client.v1.setup_intents.retrieve, setup_intent_id, money=False)
        except stripe.InvalidRequestError as unknown:
            raise InvalidCard(CARD_NOT_SET_UP) from unknown
        customer = self._known_customer(customer_id)
        if customer is None or _id(_field(setup, "customer")) != customer:
            raise InvalidCard(CARD_NOT_SET_UP)
        payment_method = _id(_field(setup, "payment_method"))
        if _field(setup, "status") != "succeeded" or not payment_method:
            raise InvalidCard("Your bank did not confirm the card, so it was not saved. Please try again.")
        found = self._call(self.client.v1.payment_methods.retrieve, payment_method, money=False)
        if _id(_field(found, "customer")) != customer:
            # Stripe attaches a SetupIntent's card to its customer itself; localstripe leaves it to us (and
            # makes SetupIntents for customers it has deleted, which only this attach then refuses).
            try:
                self._call(self.client.v1.payment_methods.attach, payment_method, params={"customer": customer},
                           options={"idempotency_key": f"setup-{setup_intent_id}"}, money=False)
            except stripe.InvalidRequestError as refused:
                if self._forgotten(customer):
                    self._forget_customer(customer_id, customer)
                raise InvalidCard(CARD_NOT_SET_UP) from refused
        brand, last4, exp_month, exp_year = self._card(payment_method, customer)
        return SavedCardToken(payment_method, brand, last4, exp_month, exp_year)

    def forget_card(self, customer_id: int, token: str) -> None:
        """Detach the card from the buyer's customer at Stripe. Asked again (or for a card that went with
        its customer), Stripe answers that there is nothing to detach: that is done too."""
        customer = self._known_customer(customer_id)
        try:
            if token.startswith("pm_"):
                self._call(self.client.v1.payment_methods.detach, token, money=False)
            elif customer is not None:  # a card_… kept as the customer's source
                self._call(self.client.v1.customers.payment_sources.delete, customer, token, money=False)
        except stripe.InvalidRequestError:
            if self._kept(token, customer):
                raise

    def _kept(self, token: str, customer: str | None) -> bool:
        """Whether the card is still attached to the customer at Stripe."""
        try:
            if token.startswith("pm_"):
                found = self._call(self.client.v1.payment_methods.retrieve, token, money=False)
            elif customer is not None:
                found = self._call(self.client.v1.customers.payment_sources.retrieve, customer, token, money=False)
            else:
                return False
        except stripe.InvalidRequestError:
            return False
        return customer is not None and _id(_field(found, "customer")) == customer

    # ------------------------------------------------------------- the PaymentGateway protocol

    def charge(self, amount: Decimal, payment: PaymentRequest, idempotency_key: str) -> ChargeResult:
        if payment.customer_id is None:
            raise ValueError("A Stripe payment belongs to a customer (PaymentRequest.customer_id).")
        if not (payment.saved_token or payment.provider_token):
            raise InvalidCard(NEEDS_JAVASCRIPT)
        try:
            intent = self._as_customer(payment.customer_id, lambda customer, again: self._new_intent(
                amount, payment, idempotency_key, customer, again))
        except stripe.CardError as declined:
            return ChargeResult("declined", payment.saved_token or payment.provider_token, None, None,
                                declined.user_message or "Your card was declined.")
        except stripe.InvalidRequestError as refused:
            raise InvalidCard(refused.user_message or "The payment provider did not accept this card.") from refused
        if payment.on_reference is not None:
            payment.on_reference(intent.id)  # stored before any money can move
        try:
            intent = self._call(self.client.v1.payment_intents.confirm, intent.id,
                                options={"idempotency_key": f"{idempotency_key}:confirm"})
        except stripe.CardError:
            intent = self._call(self.client.v1.payment_intents.retrieve, intent.id)
        return self._result(intent)

    def find_charge(self, idempotency_key: str, reference: str | None = None) -> ChargeResult | None:
        # Without a reference the attempt never stored a PaymentIntent, so none was confirmed: no money.
        if reference is None:
            return None
        try:
            intent = self._call(self.client.v1.payment_intents.retrieve, reference)
        except stripe.InvalidRequestError:
            return None
        return self._result(intent)

    def cancel(self, reference: str) -> ChargeResult:
        try:
            intent = self._call(self.client.v1.payment_intents.cancel, reference)
        except stripe.InvalidRequestError:
            # Not cancellable: it has succeeded (or failed) meanwhile. What it became is the answer.
            intent = self._call(self.client.v1.payment_intents.retrieve, reference)
        return self._result(intent)

    def refund(self, charge_reference: str, amount: Decimal, idempotency_key: str) -> str:
        try:
            done = self._call(self.client.v1.refunds.list, params={"payment_intent": charge_reference, "limit": 100})
            for refund in done.data:
                if _field(_field(refund, "metadata"), "refund_key") == idempotency_key:
                    return refund.id
            made = self._call(self.client.v1.refunds.create, params={
                "payment_intent": charge_reference, "amount": cents(amount), "metadata": {"refund_key": idempotency_key}},
                options={"idempotency_key": idempotency_key})
        except (stripe.InvalidRequestError, stripe.CardError) as refused:
            raise RefundRefused(refused.user_message or RefundRefused.default_message) from refused
        return made.id

    def tokenise(self, card: CardDetails) -> SavedCardToken:
        raise InvalidCard(NEEDS_JAVASCRIPT)

    def saved_card_of(self, reference: str) -> SavedCardToken | None:
        intent = self._call(self.client.v1.payment_intents.retrieve, reference)
        payment_method = _id(_field(intent, "payment_method"))
        if _field(intent, "status") != "succeeded" or not payment_method:
            return None
        brand, last4, exp_month, exp_year = self._card(payment_method, _id(_field(intent, "customer")))
        return SavedCardToken(payment_method, brand, last4, exp_month, exp_year)

    def payment_intent_of_charge(self, charge_id: str) -> str | None:
        """The PaymentIntent a charge (ch_…) belongs to. Raises PaymentProviderUnavailable."""
        return _id(_field(self._call(self.client.v1.charges.retrieve, charge_id, money=False), "payment_intent"))

    # ------------------------------------------------------------- answers

    def _result(self, intent) -> ChargeResult:
        """A PaymentIntent as the payment attempt's state machine reads it."""
        status = _field(intent, "status")
        brand, last4, *_ = self._card(_id(_field(intent, "payment_method")), _id(_field(intent, "customer")))
        if status == "succeeded":
            return ChargeResult("captured", intent.id, brand, last4)
        if status == "requires_action":
            return ChargeResult("requires_action", intent.id, brand, last4, client_secret=intent.client_secret)
        if status in ("requires_confirmation", "processing", "requires_capture"):
            return ChargeResult("pending", intent.id, brand, last4)
        error = _field(intent, "last_payment_error")
        if _field(error, "code") == "payment_intent_authentication_failure":
            reason = AUTHENTICATION_FAILED
        elif status == "canceled":
            reason = "The payment was not completed in time. Nothing was charged."
        else:
            reason = _field(error, "message") or "Your card was declined."
        return ChargeResult("declined", intent.id, brand, last4, reason)

    def _call(self, method, *args, money: bool = True, **kwargs):
        """A call to Stripe; unreachable or failing at Stripe's end becomes PaymentProviderUnavailable
        (`money`: whether this call could have moved money)."""
        try:
            return method(*args, **kwargs)
        except UNAVAILABLE as away:
            raise PaymentProviderUnavailable(money_may_have_moved=money) from away
