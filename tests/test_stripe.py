"""Stripe as the payment provider, end to end against localstripe (a stateful fake Stripe server the suite
runs itself): PaymentIntents from payment attempts, declines, 3-D Secure, refunds, saved cards, the provider
away, and its webhooks (signatures, duplicates, events out of order, a crash finished exactly once)."""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
import stripe

from boxoffice.errors import AuthenticationRequired, InvalidCard, PaymentDeclined
from boxoffice.extensions import db
from boxoffice.models import Booking
from boxoffice.security import content_security_policy
from boxoffice.services import checkout, customers, holds, payment_attempts, payments, reconciler, refunds
from boxoffice.services.payments import CardDetails, PaymentRequest
from tests.builders import make_customer, new_hold_owner, rows
from tests.checkout_support import customer, held, priced_event
from tests.conftest import LocalStripe

PAYS = "4242424242424242"
DECLINED_AT_CHARGE = "4000000000000341"
DECLINED_AT_ATTACH = "4000000000000002"
THREE_D_SECURE = "4000002500003155"
HX = {"HX-Request": "true", "HX-Boosted": "true"}


@pytest.fixture
def event(db_session):
    return priced_event(db_session)


def pay(event, owner, buyer, token: str, total: Decimal, key: str | None = None):
    key = key or checkout.payment_key(buyer.customer_id, event.event_id, owner, total)
    return checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", provider_token=token),
                        key, total)


def client_of(provider: LocalStripe) -> stripe.StripeClient:
    return stripe.StripeClient(provider.SECRET_KEY, base_addresses={"api": provider.url})


def attempt_row(session, key):
    return rows(session, "SELECT state, provider_reference, booking_id FROM payment_attempts WHERE idempotency_key = :k",
                k=key)[0]


def counts(session, event_id):
    return rows(session, "SELECT (SELECT COUNT(*) FROM bookings WHERE event_id = :e), "
                         "(SELECT COUNT(*) FROM tickets WHERE event_id = :e)", e=event_id)[0]


# ---------------------------------------------------------------- checkout through Stripe

def test_a_card_paid_through_stripe_is_booked_with_its_payment_intent(db_session, event, stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "A1")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("80.00"))
    confirmation = pay(event, owner, buyer, stripe_provider.card(PAYS), Decimal("80.00"), key)
    state, reference, booking_id = attempt_row(db_session, key)
    assert (state, booking_id) == ("booked", confirmation.booking_id) and reference.startswith("pi_")
    intent = client_of(stripe_provider).v1.payment_intents.retrieve(reference)
    assert (intent.status, intent.amount, intent.currency, intent.metadata["attempt_key"]) == (
        "succeeded", 8000, "eur", key)
    assert rows(db_session, "SELECT status, amount, card_brand, last_four, provider_reference FROM payments "
                            "WHERE booking_id = :b", b=booking_id) == [("captured", Decimal("80.00"), "visa", "4242",
                                                                        reference)]
    # The buyer is a customer at Stripe, and we keep only Stripe's id for them.
    [(provider_customer,)] = rows(db_session, "SELECT provider_customer_id FROM provider_customers "
                                              "WHERE customer_id = :c", c=buyer.customer_id)
    assert intent.customer == provider_customer


@pytest.mark.parametrize("number", [DECLINED_AT_CHARGE, DECLINED_AT_ATTACH])
def test_a_card_stripe_declines_books_nothing_and_keeps_the_hold(db_session, event, stripe_provider, number):
    buyer = customer(db_session)
    owner = held(event, "B5")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33"))
    with pytest.raises(PaymentDeclined, match="declined.*Nothing has been charged"):
        pay(event, owner, buyer, stripe_provider.card(number), Decimal("33.33"), key)
    assert attempt_row(db_session, key)[0] == "declined"
    assert counts(db_session, event.event_id) == (0, 0)
    assert holds.current_hold(event.event_id, owner).seat_ids == tuple(event.seat_ids("B5"))
    assert rows(db_session, "SELECT kind, status FROM payments WHERE customer_id = :c", c=buyer.customer_id) == [
        ("charge", "declined")]
    # A new page's key pays with a good card.
    assert pay(event, owner, buyer, stripe_provider.card(PAYS), Decimal("33.33")).total == Decimal("33.33")


def test_a_3d_secure_card_waits_for_the_buyer_then_books_the_same_attempt(db_session, event, stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "A2")
    # The buyer reaches the bank's step a minute before their hold would run out.
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE "
                               "WHERE hold_owner = :o"), {"o": owner})
    db_session.commit()
    before = holds.current_hold(event.event_id, owner).expires_at
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("80.00"))
    with pytest.raises(AuthenticationRequired) as waiting:
        pay(event, owner, buyer, stripe_provider.card(THREE_D_SECURE), Decimal("80.00"), key)
    state, reference, _ = attempt_row(db_session, key)
    assert state == "created" and waiting.value.client_secret.startswith(f"{reference}_secret_")
    assert waiting.value.idempotency_key == key
    assert holds.current_hold(event.event_id, owner).expires_at > before, "the hold is extended while the buyer authenticates"
    # Nothing books before the bank has answered, however often the buyer comes back...
    with pytest.raises(AuthenticationRequired):
        checkout.resume(event.event_id, buyer.customer_id, key)
    assert counts(db_session, event.event_id)[0] == 0
    # ...and once it has, the same attempt books, with the same PaymentIntent.
    stripe_provider.authenticate(waiting.value.client_secret)
    confirmation = checkout.resume(event.event_id, buyer.customer_id, key)
    assert attempt_row(db_session, key) == ("booked", reference, confirmation.booking_id)
    assert checkout.resume(event.event_id, buyer.customer_id, key).booking_code == confirmation.booking_code


def test_a_failed_3d_secure_declines_the_attempt_and_keeps_the_hold(db_session, event, stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "A3")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("80.00"))
    with pytest.raises(AuthenticationRequired) as waiting:
        pay(event, owner, buyer, stripe_provider.card(THREE_D_SECURE), Decimal("80.00"), key)
    stripe_provider.authenticate(waiting.value.client_secret, success=False)
    with pytest.raises(PaymentDeclined, match="3-D Secure"):
        checkout.resume(event.event_id, buyer.customer_id, key)
    assert attempt_row(db_session, key)[0] == "declined" and counts(db_session, event.event_id)[0] == 0
    assert not holds.current_hold(event.event_id, owner).is_empty


def test_a_payment_the_buyer_never_authenticated_is_cancelled_at_stripe_and_declined(db_session, event,
                                                                                      stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "A4")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("80.00"))
    with pytest.raises(AuthenticationRequired):
        pay(event, owner, buyer, stripe_provider.card(THREE_D_SECURE), Decimal("80.00"), key)
    db_session.execute(sa.text("UPDATE payment_attempts SET created_at = created_at - INTERVAL 1 HOUR, "
                               "updated_at = updated_at - INTERVAL 1 HOUR WHERE idempotency_key = :k"), {"k": key})
    assert reconciler.reconcile(grace=dt.timedelta(0)).attempts["declined"] == 1
    state, reference, _ = attempt_row(db_session, key)
    assert state == "declined" and client_of(stripe_provider).v1.payment_intents.retrieve(reference).status == "canceled"


@pytest.mark.parametrize("key", ["", "²", "🎟️ ok", "k" * 65, "no-such-attempt"])
def test_resuming_with_a_key_that_is_no_attempt_of_the_buyers_is_refused_before_any_lookup(
        client, forms, db_session, event, stripe_provider, key):
    buyer = make_customer(db_session, password="a-long-password")
    db_session.commit()
    forms.post("/account/login", {"email": buyer.email, "password": "a-long-password"})
    response = forms.post("/", {"idempotency_key": key}, action=f"/checkout/{event.event_id}/resume", headers=HX)
    assert response.status_code == 422 and "out of date" in response.get_data(as_text=True)


def test_a_new_card_without_javascript_is_refused_with_the_reason(db_session, event, stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "A5")
    with pytest.raises(InvalidCard, match="needs JavaScript"):
        pay(event, owner, buyer, None, Decimal("80.00"))


def test_a_refund_goes_back_through_stripe_once(db_session, event, stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "B1", "B2")
    booking_id = pay(event, owner, buyer, stripe_provider.card(PAYS), Decimal("66.66")).booking_id
    [(reference,)] = rows(db_session, "SELECT provider_reference FROM payments WHERE booking_id = :b", b=booking_id)
    result = refunds.cancel_booking(db.session.get(Booking, booking_id))
    assert result.paid_out and result.amount == Decimal("66.66")
    assert refunds.pay_out(result.refund_id), "asking again is answered, not paid twice"
    assert payments.gateway.refund(reference, Decimal("66.66"), f"booking-refund-{result.refund_id}")
    made = client_of(stripe_provider).v1.refunds.list(params={"payment_intent": reference}).data
    assert [(r.amount, r.metadata["refund_key"]) for r in made] == [(6666, f"booking-refund-{result.refund_id}")]
    assert rows(db_session, "SELECT kind, status, amount FROM payments WHERE booking_id = :b AND kind = 'refund'",
                b=booking_id) == [("refund", "refunded", Decimal("66.66"))]


def test_a_saved_card_is_kept_at_stripe_and_pays_again(db_session, event, stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "B3")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33"))
    pay(event, owner, buyer, stripe_provider.card(PAYS, exp_month=7, exp_year=2034), Decimal("33.33"), key)
    saved = checkout.save_paid_card(buyer.customer_id, key)
    assert (saved.card_brand, saved.last_four, saved.exp_month, saved.exp_year) == ("visa", "4242", 7, 2034)
    assert saved.gateway_token.startswith(("card_", "pm_"))
    assert checkout.save_paid_card(buyer.customer_id, key).saved_method_id == saved.saved_method_id
    dump = " ".join(str(r) for r in rows(db_session, "SELECT * FROM saved_payment_methods WHERE customer_id = :c",
                                         c=buyer.customer_id))
    assert PAYS not in dump
    owner = held(event, "B4")
    again = checkout.pay(event.event_id, owner, buyer.customer_id, None,
                         PaymentRequest("card", saved_token=saved.gateway_token),
                         checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33")),
                         Decimal("33.33"))
    assert again.total == Decimal("33.33")


def test_the_provider_away_keeps_the_seats_held_and_charges_nothing_then_a_retry_works(
        client, forms, db_session, event, stripe_provider):
    buyer = make_customer(db_session, password="a-long-password")
    db_session.commit()
    assert forms.post("/account/login", {"email": buyer.email, "password": "a-long-password"}).status_code == 302
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A6")[0]}, action=f"/events/{event.event_id}/seats")

    def pay_with(token):
        page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
        return client.post(f"/checkout/{event.event_id}", headers=HX, data={
            "method": "card", "provider_token": token, "expected_total": "80.00",
            "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1),
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)})

    token = stripe_provider.card(PAYS)  # the browser reached Stripe; then Stripe goes away
    stripe_provider.stop()
    try:
        away = pay_with(token)
    finally:
        stripe_provider.start()
    html = away.get_data(as_text=True)
    assert away.status_code == 409 and "payment provider is unavailable" in html and "seats are still held" in html
    assert counts(db_session, event.event_id)[0] == 0
    assert rows(db_session, "SELECT state FROM payment_attempts WHERE customer_id = :c", c=buyer.customer_id) == [
        ("abandoned",)]
    assert rows(db_session, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id) == [(1,)]
    back = pay_with(stripe_provider.card(PAYS))
    assert back.status_code == 200 and "is confirmed" in back.get_data(as_text=True)
    assert counts(db_session, event.event_id)[0] == 1


def test_the_checkout_page_mounts_stripes_card_element_and_the_policy_allows_only_stripe(
        client, forms, db_session, event, stripe_provider):
    buyer = make_customer(db_session, password="a-long-password")
    db_session.commit()
    forms.post("/account/login", {"email": buyer.email, "password": "a-long-password"})
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("B6")[0]}, action=f"/events/{event.event_id}/seats")
    response = client.get(f"/checkout/{event.event_id}")
    html = response.get_data(as_text=True)
    assert 'id="card-element"' in html and 'name="card_number"' not in html and 'name="cvv"' not in html
    assert f'data-stripe-js="{stripe_provider.url}/js.stripe.com/v3/"' in html and "needs JavaScript" in html
    policy = response.headers["Content-Security-Policy"]
    assert f"script-src 'self' {stripe_provider.url};" in policy and f"frame-src {stripe_provider.url}" in policy
    assert content_security_policy(None) == payments_free_policy()


def payments_free_policy() -> str:
    from boxoffice.security import CONTENT_SECURITY_POLICY

    assert "stripe" not in CONTENT_SECURITY_POLICY and "frame-src" not in CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY


def test_stripe_js_itself_is_allowed_with_its_api_and_frames():
    from boxoffice.config import StripeSettings

    policy = content_security_policy(StripeSettings("sk_live_x", "pk_live_x", "whsec_x"))
    assert "script-src 'self' https://js.stripe.com;" in policy
    assert "connect-src 'self' https://js.stripe.com https://api.stripe.com https://hooks.stripe.com;" in policy
    assert policy.endswith("frame-src https://js.stripe.com https://api.stripe.com https://hooks.stripe.com")


# ---------------------------------------------------------------- webhooks

def event_of(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": kind,
            "created": int(dt.datetime.now().timestamp()), "data": {"object": obj}}


def deliver(client, event: dict, secret: str | None = None):
    payload, headers = LocalStripe.signed(event, secret)
    return client.post("/webhooks/stripe", data=payload, headers=headers)


def charged_then_crashed(db_session, event, buyer, label, provider: LocalStripe) -> tuple[str, str]:
    """A payment whose request died after Stripe took the money, before anything was booked: the attempt is
    in flight with its PaymentIntent, which has succeeded. (key, PaymentIntent id)"""
    owner = held(event, label)
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("80.00"))
    attempt, _ = payment_attempts.start(key, buyer.customer_id, event.event_id, owner, Decimal("80.00"), None, "card",
                                        list(holds.current_hold(event.event_id, owner).seat_ids))
    request = PaymentRequest("card", provider_token=provider.card(PAYS), customer_id=buyer.customer_id,
                             on_reference=lambda reference: payment_attempts._remember_reference(attempt, reference))
    assert payments.gateway.charge(Decimal("80.00"), request, key).captured
    state, reference, _ = attempt_row(db_session, key)
    assert state == "created"
    return key, reference


def test_a_webhook_with_the_right_signature_is_taken_and_a_wrong_one_refused(client, db_session, stripe_provider):
    ignored = event_of("customer.created", {"id": "cus_x", "object": "customer"})
    assert deliver(client, ignored, secret="whsec_someone_else").status_code == 400
    assert client.post("/webhooks/stripe", data=json.dumps(ignored)).status_code == 400, "unsigned"
    assert rows(db_session, "SELECT COUNT(*) FROM provider_events WHERE event_id = :e", e=ignored["id"]) == [(0,)]
    answer = deliver(client, ignored)
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "ignored"
    assert deliver(client, ignored).get_json()["outcome"] == "duplicate"
    assert rows(db_session, "SELECT event_type, processed_at IS NOT NULL FROM provider_events WHERE event_id = :e",
                e=ignored["id"]) == [("customer.created", 1)]


def test_a_payment_succeeded_twice_and_failed_late_leaves_exactly_one_booking(client, db_session, event,
                                                                              stripe_provider):
    buyer = customer(db_session)
    key, reference = charged_then_crashed(db_session, event, buyer, "A1", stripe_provider)
    intent = {"id": reference, "object": "payment_intent", "metadata": {"attempt_key": key}}
    succeeded = event_of("payment_intent.succeeded", intent)
    assert deliver(client, succeeded).get_json()["outcome"].endswith(": booked")
    # Delivered again (the same event), then the same success as another event, then a failure that
    # arrives late (out of order): nothing changes twice.
    assert deliver(client, succeeded).get_json()["outcome"] == "duplicate"
    assert deliver(client, event_of("payment_intent.succeeded", intent)).get_json()["outcome"].endswith(": booked")
    assert deliver(client, event_of("payment_intent.payment_failed", intent)).get_json()["outcome"].endswith(": booked")
    assert counts(db_session, event.event_id) == (1, 1)
    state, _, booking_id = attempt_row(db_session, key)
    assert state == "booked"
    assert rows(db_session, "SELECT reconcile_note FROM payment_attempts WHERE idempotency_key = :k", k=key) == [
        ("Webhook payment_intent.succeeded: booked",)]
    assert rows(db_session, "SELECT COUNT(*) FROM outbox_emails WHERE booking_id = :b", b=booking_id) == [(1,)]


@pytest.mark.parametrize("first", ["webhook", "reconciler"])
def test_a_crash_after_stripe_took_the_money_is_finished_once_by_whoever_comes_first(client, db_session, event,
                                                                                     stripe_provider, first):
    buyer = customer(db_session)
    key, reference = charged_then_crashed(db_session, event, buyer, "A2", stripe_provider)
    succeeded = event_of("payment_intent.succeeded", {"id": reference, "object": "payment_intent"})
    if first == "webhook":
        assert deliver(client, succeeded).get_json()["outcome"].endswith(": booked")
        assert reconciler.reconcile(grace=dt.timedelta(0)).attempts == {}
    else:
        assert reconciler.reconcile(grace=dt.timedelta(0)).attempts == {"booked": 1}
        assert deliver(client, succeeded).get_json()["outcome"].endswith(": booked")
    assert counts(db_session, event.event_id) == (1, 1)
    assert len(client_of(stripe_provider).v1.refunds.list(params={"payment_intent": reference}).data) == 0


def test_a_success_for_seats_someone_else_took_meanwhile_is_refunded_by_the_webhook(client, db_session, event,
                                                                                    stripe_provider):
    buyer = customer(db_session)
    key, reference = charged_then_crashed(db_session, event, buyer, "A3", stripe_provider)
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE "
                               "WHERE event_id = :e AND seat_id = :s"), {"e": event.event_id, "s": event.seat_ids("A3")[0]})
    holds.hold_seats(event.event_id, event.seat_ids("A3"), new_hold_owner(), 10)
    for _ in range(2):
        deliver(client, event_of("payment_intent.succeeded", {"id": reference, "object": "payment_intent"}))
    assert attempt_row(db_session, key)[0] == "refunded" and counts(db_session, event.event_id)[0] == 0
    made = client_of(stripe_provider).v1.refunds.list(params={"payment_intent": reference}).data
    assert [r.amount for r in made] == [8000], "one refund, however often the success is delivered"


def test_a_payment_failed_webhook_declines_an_attempt_left_waiting(client, db_session, event, stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "A4")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("80.00"))
    with pytest.raises(AuthenticationRequired) as waiting:
        pay(event, owner, buyer, stripe_provider.card(THREE_D_SECURE), Decimal("80.00"), key)
    stripe_provider.authenticate(waiting.value.client_secret, success=False)
    _, reference, _ = attempt_row(db_session, key)
    failed = event_of("payment_intent.payment_failed", {"id": reference, "object": "payment_intent"})
    assert deliver(client, failed).get_json()["outcome"].endswith(": declined")
    assert attempt_row(db_session, key)[0] == "declined"


def test_charge_refunded_confirms_a_refund_whose_answer_was_lost(client, db_session, event, stripe_provider,
                                                                  monkeypatch):
    buyer = customer(db_session)
    booking_id = pay(event, held(event, "B1"), buyer, stripe_provider.card(PAYS), Decimal("33.33")).booking_id
    [(reference,)] = rows(db_session, "SELECT provider_reference FROM payments WHERE booking_id = :b", b=booking_id)
    refund = payments.gateway.refund

    def refunded_but_the_answer_is_lost(*args):
        refund(*args)
        raise OSError("connection reset")

    with monkeypatch.context() as patched:
        patched.setattr(payments.gateway, "refund", refunded_but_the_answer_is_lost)
        result = refunds.cancel_booking(db.session.get(Booking, booking_id))
    assert not result.paid_out
    charge = client_of(stripe_provider).v1.payment_intents.retrieve(reference).latest_charge
    charge_id = charge if isinstance(charge, str) else charge["id"]
    refunded = event_of("charge.refunded", {"id": charge_id, "object": "charge", "payment_intent": reference})
    for _ in range(2):  # and a late duplicate of the event under another id
        answer = deliver(client, refunded)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        refunded = event_of("charge.refunded", refunded["data"]["object"])
    assert rows(db_session, "SELECT state, reconcile_note FROM booking_refunds WHERE refund_id = :r",
                r=result.refund_id) == [("refunded", "Webhook charge.refunded")]
    assert rows(db_session, "SELECT COUNT(*) FROM payments WHERE booking_id = :b AND kind = 'refund'",
                b=booking_id) == [(1,)]
    assert len(client_of(stripe_provider).v1.refunds.list(params={"payment_intent": reference}).data) == 1


def test_a_dispute_flags_the_booking_for_staff(client, admin_client, db_session, event, stripe_provider):
    buyer = customer(db_session)
    booking = pay(event, held(event, "B2"), buyer, stripe_provider.card(PAYS), Decimal("33.33"))
    [(reference,)] = rows(db_session, "SELECT provider_reference FROM payments WHERE booking_id = :b",
                          b=booking.booking_id)
    charge = client_of(stripe_provider).v1.payment_intents.retrieve(reference).latest_charge
    dispute = {"id": "dp_test_1", "object": "dispute", "amount": 3333, "reason": "fraudulent",
               "charge": charge if isinstance(charge, str) else charge["id"]}
    assert deliver(client, event_of("charge.dispute.created", dispute)).get_json()["outcome"] == "booking flagged"
    assert rows(db_session, "SELECT disputed_at IS NOT NULL, dispute_reference FROM bookings WHERE booking_id = :b",
                b=booking.booking_id) == [(1, "dp_test_1")]
    page = admin_client.get(f"/admin/bookings/{booking.booking_code}").get_data(as_text=True)
    assert "Disputed" in page and "dp_test_1" in page


# ---------------------------------------------------------------- ways to pay with Stripe

def signed_in(forms, db_session):
    buyer = make_customer(db_session, password="a-long-password")
    db_session.commit()
    assert forms.post("/account/login", {"email": buyer.email, "password": "a-long-password"}).status_code == 302
    return buyer


@pytest.mark.parametrize("method", ["wallet", "paypal", "gift_card"])
def test_with_stripe_only_cards_are_offered_and_no_other_way_to_pay_takes_simulated_money(
        client, forms, db_session, event, stripe_provider, method):
    buyer = signed_in(forms, db_session)
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A6")[0]}, action=f"/events/{event.event_id}/seats")
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    assert re.findall(r'name="method"[^>]*value="([^"]+)"', page) == ["card"]
    assert 'name="gift_card_code"' not in page
    posted = client.post(f"/checkout/{event.event_id}", headers=HX, data={
        "method": method, "gift_card_code": "GIFT-12345678", "expected_total": "80.00",
        "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1),
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)})
    assert posted.status_code == 422 and "Not a valid choice" in posted.get_data(as_text=True)
    # Past the form too (the service asked directly), the simulated provider is never asked for money.
    owner = held(event, "B1")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33"))
    with pytest.raises(InvalidCard, match="not available"):
        checkout.pay(event.event_id, owner, buyer.customer_id, None,
                     PaymentRequest(method, gift_card_code="GIFT-12345678"), key, Decimal("33.33"))
    assert rows(db_session, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k", k=key) == [(0,)]
    assert counts(db_session, event.event_id) == (0, 0)


def test_without_stripe_every_way_to_pay_is_offered(client, forms, db_session, event):
    signed_in(forms, db_session)
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A6")[0]}, action=f"/events/{event.event_id}/seats")
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    assert re.findall(r'name="method"[^>]*value="([^"]+)"', page) == ["card", "wallet", "paypal", "gift_card"]
    assert 'name="gift_card_code"' in page


# ---------------------------------------------------------------- saved cards from the account page

def set_up(client, forms, provider: LocalStripe, number: str = PAYS, **expiry) -> str:
    """What the account page's script does: a SetupIntent from us, the card given to it at Stripe; its id."""
    answer = forms.post("/account/cards", {}, action="/account/cards/setup")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return provider.set_up_card(answer.get_json()["client_secret"], number, **expiry)


def saved(session, buyer) -> list[tuple]:
    return rows(session, "SELECT card_brand, last_four, exp_month, exp_year, gateway_token FROM saved_payment_methods "
                         "WHERE customer_id = :c ORDER BY saved_method_id", c=buyer.customer_id)


def test_a_card_added_on_the_account_page_is_set_up_at_stripe_and_pays_later(client, forms, db_session, event,
                                                                            stripe_provider):
    buyer = signed_in(forms, db_session)
    page = client.get("/account/cards").get_data(as_text=True)
    assert 'id="card-element"' in page and 'name="card_number"' not in page and 'name="cvv"' not in page
    assert f'data-stripe-js="{stripe_provider.url}/js.stripe.com/v3/"' in page
    setup_id = set_up(client, forms, stripe_provider, exp_month=7, exp_year=2034)
    answer = forms.post("/account/cards", {"setup_intent": setup_id})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    [(brand, last_four, month, year, token)] = saved(db_session, buyer)
    assert (brand, last_four, month, year) == ("visa", "4242", 7, 2034) and token.startswith("pm_")
    [(provider_customer,)] = rows(db_session, "SELECT provider_customer_id FROM provider_customers WHERE customer_id = :c",
                                  c=buyer.customer_id)
    assert client_of(stripe_provider).v1.payment_methods.retrieve(token).customer == provider_customer
    # Sent again (a double click), it is still one card.
    assert forms.post("/account/cards", {"setup_intent": setup_id}).status_code == 302
    assert len(saved(db_session, buyer)) == 1
    owner = held(event, "B2")
    paid = checkout.pay(event.event_id, owner, buyer.customer_id, None, PaymentRequest("card", saved_token=token),
                        checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33")),
                        Decimal("33.33"))
    [(reference,)] = rows(db_session, "SELECT provider_reference FROM payments WHERE booking_id = :b", b=paid.booking_id)
    intent = client_of(stripe_provider).v1.payment_intents.retrieve(reference)
    assert (intent.status, intent.payment_method, intent.customer) == ("succeeded", token, provider_customer)


def test_a_card_set_up_for_someone_else_unconfirmed_or_without_javascript_is_not_saved(
        client, forms, db_session, stripe_provider):
    buyer = signed_in(forms, db_session)
    someone_else = customer(db_session)
    theirs = customers.start_card_setup(someone_else.customer_id)
    stripe_provider.set_up_card(theirs, PAYS)
    refused = forms.post("/account/cards", {"setup_intent": theirs.split("_secret_")[0]})
    assert refused.status_code == 422 and "not set up for your account" in refused.get_data(as_text=True)
    waiting_for_the_bank = set_up(client, forms, stripe_provider, THREE_D_SECURE)
    refused = forms.post("/account/cards", {"setup_intent": waiting_for_the_bank})
    assert refused.status_code == 422 and "did not confirm" in refused.get_data(as_text=True)
    refused = forms.post("/account/cards", {"setup_intent": ""})
    assert refused.status_code == 422 and "needs JavaScript" in refused.get_data(as_text=True)
    assert saved(db_session, buyer) == [] and saved(db_session, someone_else) == []


def test_removing_a_saved_card_detaches_it_at_stripe_and_doing_it_twice_is_fine(client, forms, db_session, event,
                                                                                 stripe_provider):
    buyer = signed_in(forms, db_session)
    assert forms.post("/account/cards", {"setup_intent": set_up(client, forms, stripe_provider)}).status_code == 302
    # And a card kept from a payment (localstripe's script gives tokens, which Stripe keeps as a card_…).
    owner = held(event, "B3")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33"))
    pay(event, owner, buyer, stripe_provider.card("5555555555554444", exp_month=3, exp_year=2033), Decimal("33.33"), key)
    checkout.save_paid_card(buyer.customer_id, key)
    [(_, _, _, _, method), (_, _, _, _, card)] = saved(db_session, buyer)
    assert method.startswith("pm_") and card.startswith("card_")
    [(provider_customer,)] = rows(db_session, "SELECT provider_customer_id FROM provider_customers WHERE customer_id = :c",
                                  c=buyer.customer_id)
    stripe_client = client_of(stripe_provider)
    assert stripe_client.v1.customers.payment_sources.retrieve(provider_customer, card).customer == provider_customer
    for saved_method_id, in rows(db_session, "SELECT saved_method_id FROM saved_payment_methods WHERE customer_id = :c",
                                 c=buyer.customer_id):
        answer = forms.post("/account/cards", {}, action=f"/account/cards/{saved_method_id}/remove")
        assert answer.status_code == 302 and "removed" in client.get("/account/cards").get_data(as_text=True)
    assert saved(db_session, buyer) == []
    assert stripe_client.v1.payment_methods.retrieve(method).customer is None
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.v1.customers.payment_sources.retrieve(provider_customer, card)
    # Asked again (a removal whose answer was lost, two removals at once), nothing is left to do.
    payments.gateway.forget_card(buyer.customer_id, method)
    payments.gateway.forget_card(buyer.customer_id, card)


def test_a_card_is_not_removed_while_stripe_is_away_and_is_once_it_is_back(client, forms, db_session,
                                                                           stripe_provider):
    buyer = signed_in(forms, db_session)
    assert forms.post("/account/cards", {"setup_intent": set_up(client, forms, stripe_provider)}).status_code == 302
    [(saved_method_id, token)] = rows(db_session, "SELECT saved_method_id, gateway_token FROM saved_payment_methods "
                                                  "WHERE customer_id = :c", c=buyer.customer_id)
    stripe_provider.stop()
    try:
        answer = forms.post("/account/cards", {}, action=f"/account/cards/{saved_method_id}/remove")
    finally:
        stripe_provider.start()
    assert answer.status_code == 302
    assert "the card was not removed" in client.get("/account/cards").get_data(as_text=True)
    assert len(saved(db_session, buyer)) == 1, "still listed, so it can be removed again"
    assert client_of(stripe_provider).v1.payment_methods.retrieve(token).customer is not None
    assert forms.post("/account/cards", {}, action=f"/account/cards/{saved_method_id}/remove").status_code == 302
    assert saved(db_session, buyer) == [] and client_of(stripe_provider).v1.payment_methods.retrieve(token).customer is None


def listed(client) -> list[int]:
    """The saved cards on the account's page, by id."""
    return [int(i) for i in re.findall(r"/account/cards/(\d+)/remove", client.get("/account/cards").get_data(as_text=True))]


def offered(client, event) -> list[str]:
    """The ways to pay on the checkout page."""
    return re.findall(r'name="method"[^>]*value="([^"]+)"', client.get(f"/checkout/{event.event_id}").get_data(as_text=True))


def test_only_the_cards_the_configured_provider_can_charge_are_listed_and_offered(app, client, forms, db_session, event,
                                                                                   stripe_provider):
    buyer = signed_in(forms, db_session)
    with pytest.MonkeyPatch.context() as before_stripe:
        before_stripe.setitem(app.config, "PAYMENT_PROVIDER", "simulated")
        before_stripe.setitem(app.config, "STRIPE", None)
        simulated = customers.save_card(buyer.customer_id, CardDetails(PAYS, 12, 2035, "123")).saved_method_id
    # The same card once more, at Stripe: Stripe cannot charge the simulated provider's token.
    setup_id = set_up(client, forms, stripe_provider, exp_month=12, exp_year=2035)
    assert forms.post("/account/cards", {"setup_intent": setup_id}).status_code == 302
    [(at_stripe, token)] = rows(db_session, "SELECT saved_method_id, gateway_token FROM saved_payment_methods "
                                            "WHERE customer_id = :c AND saved_method_id <> :s",
                                c=buyer.customer_id, s=simulated)
    assert token.startswith("pm_")
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A6")[0]}, action=f"/events/{event.event_id}/seats")

    assert listed(client) == [at_stripe]
    assert offered(client, event) == [f"saved:{at_stripe}", "card"]
    assert customers.saved_card(buyer.customer_id, simulated) is None, "nor can it be chosen"
    with pytest.MonkeyPatch.context() as back_to_simulated:
        back_to_simulated.setitem(app.config, "PAYMENT_PROVIDER", "simulated")
        back_to_simulated.setitem(app.config, "STRIPE", None)
        assert listed(client) == [simulated]
        assert offered(client, event) == [f"saved:{simulated}", "card", "wallet", "paypal", "gift_card"]


# ---------------------------------------------------------------- a customer Stripe has forgotten

def provider_customer_of(session, buyer) -> str:
    [(known,)] = rows(session, "SELECT provider_customer_id FROM provider_customers WHERE customer_id = :c",
                      c=buyer.customer_id)
    return known


def test_a_customer_stripe_has_forgotten_is_made_again_and_the_cards_it_kept_are_dropped(db_session, event,
                                                                                          stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "B4")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33"))
    pay(event, owner, buyer, stripe_provider.card(PAYS), Decimal("33.33"), key)
    card = checkout.save_paid_card(buyer.customer_id, key)
    forgotten = provider_customer_of(db_session, buyer)
    client_of(stripe_provider).v1.customers.delete(forgotten)  # in Stripe's dashboard, say: its cards go with it
    # Paying with the card kept there: Stripe no longer has it, and we no longer offer it.
    owner = held(event, "B5")
    with pytest.raises(InvalidCard, match="no longer keeps this saved card"):
        checkout.pay(event.event_id, owner, buyer.customer_id, None,
                     PaymentRequest("card", saved_token=card.gateway_token),
                     checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33")), Decimal("33.33"))
    assert saved(db_session, buyer) == []
    made_again = provider_customer_of(db_session, buyer)
    assert made_again != forgotten
    # Forgotten once more, a new card simply pays, as a customer made once more.
    client_of(stripe_provider).v1.customers.delete(made_again)
    paid = pay(event, owner, buyer, stripe_provider.card(PAYS), Decimal("33.33"))
    [(reference,)] = rows(db_session, "SELECT provider_reference FROM payments WHERE booking_id = :b", b=paid.booking_id)
    third = provider_customer_of(db_session, buyer)
    assert third not in (forgotten, made_again)
    assert client_of(stripe_provider).v1.payment_intents.retrieve(reference).customer == third
    assert counts(db_session, event.event_id) == (2, 2)


def test_customer_deleted_forgets_the_customer_and_its_cards_once_stripe_confirms_it(client, db_session, event,
                                                                                      stripe_provider):
    buyer = customer(db_session)
    owner = held(event, "B6")
    key = checkout.payment_key(buyer.customer_id, event.event_id, owner, Decimal("33.33"))
    pay(event, owner, buyer, stripe_provider.card(PAYS), Decimal("33.33"), key)
    checkout.save_paid_card(buyer.customer_id, key)
    known = provider_customer_of(db_session, buyer)
    deleted = {"id": known, "object": "customer", "deleted": True}
    # Signed, but Stripe still has the customer (a mistaken or replayed event): nothing is forgotten.
    assert deliver(client, event_of("customer.deleted", deleted)).get_json()["outcome"].startswith("no customer")
    assert len(saved(db_session, buyer)) == 1
    client_of(stripe_provider).v1.customers.delete(known)
    assert deliver(client, event_of("customer.deleted", deleted)).get_json()["outcome"] == (
        "customer and its saved cards forgotten")
    assert saved(db_session, buyer) == []
    assert rows(db_session, "SELECT COUNT(*) FROM provider_customers WHERE customer_id = :c", c=buyer.customer_id) == [
        (0,)]
    # Delivered again under another id (late): nothing of ours is left to forget.
    assert deliver(client, event_of("customer.deleted", deleted)).get_json()["outcome"].startswith("no customer")


def test_a_card_set_up_for_a_customer_stripe_has_forgotten_is_refused_and_the_next_one_is_saved(
        client, forms, db_session, stripe_provider):
    buyer = signed_in(forms, db_session)
    secret = forms.post("/account/cards", {}, action="/account/cards/setup").get_json()["client_secret"]
    client_of(stripe_provider).v1.customers.delete(provider_customer_of(db_session, buyer))
    refused = forms.post("/account/cards", {"setup_intent": stripe_provider.set_up_card(secret, PAYS)})
    assert refused.status_code == 422 and "Please enter it again" in refused.get_data(as_text=True)
    assert forms.post("/account/cards", {"setup_intent": set_up(client, forms, stripe_provider)}).status_code == 302
    [(_, _, _, _, token)] = saved(db_session, buyer)
    assert client_of(stripe_provider).v1.payment_methods.retrieve(token).customer == provider_customer_of(db_session, buyer)


# ---------------------------------------------------------------- configuration

STRIPE_ENV = {"BOXOFFICE_PAYMENT_PROVIDER": "stripe", "BOXOFFICE_STRIPE_SECRET_KEY": "sk_test_abc",
              "BOXOFFICE_STRIPE_PUBLISHABLE_KEY": "pk_test_abc", "BOXOFFICE_STRIPE_WEBHOOK_SECRET": "whsec_abc"}


@pytest.mark.parametrize("change, says", [
    ({"BOXOFFICE_PAYMENT_PROVIDER": "paypal"}, "BOXOFFICE_PAYMENT_PROVIDER is who takes card payments: one of "
                                               "simulated, stripe; not 'paypal'."),
    ({"BOXOFFICE_STRIPE_SECRET_KEY": ""}, "BOXOFFICE_STRIPE_SECRET_KEY is needed with BOXOFFICE_PAYMENT_PROVIDER=stripe"),
    ({"BOXOFFICE_STRIPE_PUBLISHABLE_KEY": "sk_test_abc"}, "starting with pk_"),
    ({"BOXOFFICE_STRIPE_WEBHOOK_SECRET": "abc"}, "BOXOFFICE_STRIPE_WEBHOOK_SECRET is needed"),
    ({"BOXOFFICE_STRIPE_SECRET_KEY": "sk_live_abc"}, "both be test keys or both live keys"),
    ({"BOXOFFICE_STRIPE_API_BASE": "localhost:12111"}, "BOXOFFICE_STRIPE_API_BASE is an address starting with"),
])
def test_stripe_settings_out_of_range_stop_the_start_with_a_clear_message(monkeypatch, change, says):
    from boxoffice import create_app
    from boxoffice.config import ConfigurationError

    for name, value in {**STRIPE_ENV, **change}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as refusal:
        create_app({"TESTING": True})
    assert says in str(refusal.value)


def test_stripe_is_chosen_by_configuration_and_the_simulated_provider_stays_the_default(monkeypatch):
    from boxoffice.config import STRIPE_JS_URL, load_config

    monkeypatch.delenv("BOXOFFICE_PAYMENT_PROVIDER", raising=False)
    default = load_config()
    assert (default["PAYMENT_PROVIDER"], default["STRIPE"]) == ("simulated", None)
    for name, value in {**STRIPE_ENV, "BOXOFFICE_STRIPE_API_BASE": "http://127.0.0.1:8420/"}.items():
        monkeypatch.setenv(name, value)
    stripe_config = load_config()
    assert stripe_config["PAYMENT_PROVIDER"] == "stripe"
    assert (stripe_config["STRIPE"].api_base, stripe_config["STRIPE"].js_url) == ("http://127.0.0.1:8420", STRIPE_JS_URL)
