"""The payment provider's webhooks (Stripe), fed to the same state machine as the buyer's own requests.

An event is verified (its signature, with the webhook signing secret), stored once by its id (table
provider_events) and then processed:
  * payment_intent.succeeded / .payment_failed / .canceled / .requires_action: the attempt of that
    PaymentIntent is finished (payment_attempts.finish), which asks the provider what became of it and
    books it (or returns the money if its seats are gone), declines it, or leaves it waiting;
  * charge.refunded: the pending refunds of that charge are finished (refunds.pay_out, and attempts whose
    money was going back), which find the provider's refund by its key instead of making another;
  * charge.dispute.created: the booking paid by that charge is flagged for staff;
  * customer.deleted: the buyer's customer at Stripe is forgotten with the saved cards it kept (once Stripe
    confirms it is gone), so they are no longer offered and the next payment makes a new customer.
The event's own account of the object is never trusted for the money: the state machine asks the
provider. So an event delivered late, twice, or after a later one changes nothing twice: every move is
conditional on the state it leaves, and a duplicate finds its event already processed.
"""
from __future__ import annotations

import json

import sqlalchemy as sa
import stripe
from flask import current_app

from ..clock import utcnow
from ..errors import WebhookRejected
from ..extensions import db
from ..models import ProviderEvent
from . import payment_attempts, refunds
from .payments import gateway
from .unit_of_work import unit_of_work

NOTE = "Webhook {type}"
ATTEMPT_EVENTS = ("payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
                  "payment_intent.requires_action")
# The pending refunds (of bookings) of one PaymentIntent.
PENDING_REFUNDS_OF = sa.text("""
    SELECT r.refund_id FROM booking_refunds r JOIN payments p ON p.payment_id = r.charge_id
     WHERE p.provider_reference = :reference AND r.state = 'pending' ORDER BY r.refund_id""")
FLAG_DISPUTE = sa.text("""
    UPDATE bookings SET disputed_at = :now, dispute_reference = :dispute
     WHERE booking_id = (SELECT booking_id FROM payments WHERE provider_reference = :reference AND kind = 'charge')
       AND disputed_at IS NULL""")


def verify(payload: bytes, signature: str | None) -> dict:
    """The event, if its Stripe-Signature verifies with the webhook signing secret (and is recent).
    Raises WebhookRejected."""
    settings = current_app.config.get("STRIPE")
    if settings is None or not signature:
        raise WebhookRejected()
    try:
        stripe.Webhook.construct_event(payload, signature, settings.webhook_secret)
        return json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as refused:
        raise WebhookRejected() from refused


def _first_time(event: dict) -> bool:
    """Store the event (once); True unless it was stored and processed before."""
    obj = event.get("data", {}).get("object", {})
    with unit_of_work():
        db.session.execute(sa.insert(ProviderEvent.__table__).prefix_with("IGNORE"), {
            "event_id": event["id"], "event_type": str(event.get("type", ""))[:100],
            "object_id": obj.get("id"), "received_at": utcnow()})
        processed = db.session.scalar(sa.select(ProviderEvent.processed_at).where(ProviderEvent.event_id == event["id"]))
    return processed is None


def _processed(event_id: str, outcome: str) -> None:
    with unit_of_work():
        db.session.execute(sa.update(ProviderEvent.__table__).where(
            ProviderEvent.event_id == event_id, ProviderEvent.processed_at.is_(None)).values(
            processed_at=utcnow(), outcome=outcome[:200]))


def _payment_intent_of(obj: dict) -> str | None:
    """The PaymentIntent a charge or a dispute belongs to (a dispute names its charge; Stripe adds the
    PaymentIntent, and it is asked for when missing)."""
    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    if intent or obj.get("object") != "dispute" or not obj.get("charge"):
        return intent
    stripe_gateway = gateway.stripe()
    return stripe_gateway.payment_intent_of_charge(obj["charge"]) if stripe_gateway is not None else None


def _process(event: dict) -> str:
    """Feed one event to the state machine; what it did, in a few words. Raises Busy,
    PaymentProviderUnavailable (the event is then processed again at its next delivery)."""
    kind = event.get("type", "")
    obj = event.get("data", {}).get("object", {})
    note = NOTE.format(type=kind)
    if kind in ATTEMPT_EVENTS:
        attempt = payment_attempts.by_reference(obj.get("id", ""))
        if attempt is None:
            key = (obj.get("metadata") or {}).get("attempt_key")
            attempt = payment_attempts.by_key(key) if key else None
        if attempt is None:
            return "no payment attempt of ours"
        return f"attempt {attempt.attempt_id}: {payment_attempts.finish(attempt, note=note).state}"
    if kind == "charge.refunded":
        intent = _payment_intent_of(obj)
        if not intent:
            return "no payment intent"
        with unit_of_work():
            pending = db.session.scalars(PENDING_REFUNDS_OF, {"reference": intent}).all()
        paid = sum(1 for refund_id in pending if refunds.pay_out(refund_id, note=note))
        attempt = payment_attempts.by_reference(intent)
        if attempt is not None and attempt.state == "refund_pending":
            payment_attempts.finish(attempt, note=note)
        return f"{paid} of {len(pending)} pending refunds confirmed"
    if kind == "charge.dispute.created":
        intent = _payment_intent_of(obj)
        with unit_of_work():
            flagged = db.session.execute(FLAG_DISPUTE, {"now": utcnow(), "dispute": obj.get("id"),
                                                        "reference": intent}).rowcount if intent else 0
        return "booking flagged" if flagged else "no booking to flag (or flagged already)"
    if kind == "customer.deleted":
        stripe_gateway = gateway.stripe()
        if stripe_gateway is not None and stripe_gateway.customer_deleted(obj.get("id", "")):
            return "customer and its saved cards forgotten"
        return "no customer of ours (or still at Stripe)"
    return "ignored"


def receive(payload: bytes, signature: str | None) -> str:
    """A webhook delivery: verified, stored once, processed once; what was done. Raises WebhookRejected
    (a wrong or missing signature), Busy or PaymentProviderUnavailable (answered with an error, so that
    the provider delivers it again)."""
    event = verify(payload, signature)
    if not event.get("id"):
        raise WebhookRejected()
    if not _first_time(event):
        return "duplicate"
    outcome = _process(event)
    _processed(event["id"], outcome)
    return outcome
