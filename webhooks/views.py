"""The webhook endpoint: Stripe posts its events here (set it up in Stripe's dashboard, see README)."""
from __future__ import annotations

from flask import Blueprint, request

from boxoffice.errors import Busy, PaymentProviderUnavailable, WebhookRejected
from boxoffice.extensions import csrf
from boxoffice.services import provider_events

bp = Blueprint("webhooks", __name__)
# A webhook carries no session and no CSRF token: its signature, checked with the signing secret, is what
# proves it came from the provider.
csrf.exempt(bp)


@bp.post("/stripe")
def stripe_event():
    try:
        outcome = provider_events.receive(request.get_data(cache=False), request.headers.get("Stripe-Signature"))
    except WebhookRejected as refused:
        return {"error": refused.message}, 400
    except (Busy, PaymentProviderUnavailable) as later:
        # Not processed now: an error answer makes the provider deliver the event again later.
        return {"error": later.message}, 503
    return {"received": True, "outcome": outcome}, 200
