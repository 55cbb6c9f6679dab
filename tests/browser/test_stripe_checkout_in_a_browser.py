"""The whole purchase in Chromium with Stripe configured: localstripe's mock of Stripe.js mounts the card
element, the card goes from the browser to the fake Stripe (our server sees only its token), a 3-D Secure
card opens the bank's modal, and localstripe's webhooks reach the app over HTTP."""
from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from tests.browser import scenario
from tests.browser.shopping import hold_by_clicking
from tests.builders import Customer, rows


@pytest.fixture
def webhooks_to_the_app(stripe_provider, live_server):
    """localstripe posts its events to the live app; afterwards to nowhere (a closed port), so that no
    later test's events reach a server it is not using."""
    stripe_provider.register_webhook(f"{live_server}/webhooks/stripe")
    yield stripe_provider
    stripe_provider.register_webhook("http://127.0.0.1:9/closed")


def sign_in(page: Page, base_url: str, customer: Customer, next_path: str) -> None:
    """Sign in with the account form (the sign-in page also offers paying as a guest, with its own e-mail)."""
    page.goto(f"{base_url}/account/login?next={next_path}")
    page.locator("#email").fill(customer.email)
    page.get_by_label("Password", exact=True).fill(customer.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/account/login"))


def stripe_card(page: Page, number: str) -> None:
    """Type the card into Stripe's element (localstripe's mock: number, month, two-digit year, CVC, postcode)."""
    page.get_by_label("New card").check()
    element = page.locator("#card-element")
    expect(element.locator("input")).to_have_count(5)
    for placeholder, value in [("number", number), ("exp_month", "12"), ("exp_year", "35"), ("cvc", "123"),
                               ("postal_code", "10001")]:
        element.locator(f"input[placeholder='{placeholder}']").fill(value)


def webhook_processed(db, reference: str, kind: str) -> bool:
    """Wait (localstripe sends an event about a second after it happens) until the event is processed."""
    for _ in range(50):
        if rows(db, "SELECT COUNT(*) FROM provider_events WHERE object_id = :o AND event_type = :t "
                    "AND processed_at IS NOT NULL", o=reference, t=kind) == [(1,)]:
            return True
        time.sleep(0.1)
    return False


def test_a_card_and_a_3d_secure_card_pay_through_stripe_in_the_browser(page, live_server, committed_db,
                                                                        webhooks_to_the_app):
    event = scenario.small_event(committed_db)
    people = scenario.buyers(committed_db)
    sign_in(page, live_server, people.regular, f"/events/{event.event_id}")
    sent = []
    page.on("request", lambda request: sent.append(request) if request.method == "POST" else None)

    # A plain card: Stripe's element, a token, the PaymentIntent confirmed on the server, booked.
    page.goto(f"{live_server}/events/{event.event_id}")
    hold_by_clicking(page, event, "B1")
    page.get_by_role("link", name="Continue to checkout").click()
    expect(page.get_by_text("Paying by card needs JavaScript")).to_be_hidden()
    stripe_card(page, "4242424242424242")
    page.locator("#pay-form button[type='submit']").click()
    expect(page).to_have_url(re.compile(r"/account/orders/[A-Z0-9]+\?new=1$"))
    code = page.locator(".confirmation .booking-code").inner_text()
    [(total, reference)] = rows(committed_db, """
        SELECT b.total, p.provider_reference FROM bookings b JOIN payments p ON p.booking_id = b.booking_id
         WHERE b.booking_code = :code""", code=code)
    assert total == Decimal("42.50") and reference.startswith("pi_")
    pay_posts = [r for r in sent if r.url.endswith(f"/checkout/{event.event_id}")]
    assert pay_posts and "4242424242424242" not in pay_posts[-1].post_data, "the card number never reaches us"
    assert re.search(r"provider_token=tok_\w+", pay_posts[-1].post_data)
    assert webhook_processed(committed_db, reference, "payment_intent.succeeded"), "localstripe's webhook arrived"
    assert rows(committed_db, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(1,)]

    # A 3-D Secure card: the bank's modal, then the same payment attempt books.
    page.goto(f"{live_server}/events/{event.event_id}")
    hold_by_clicking(page, event, "B2")
    page.get_by_role("link", name="Continue to checkout").click()
    stripe_card(page, "4000002500003155")
    page.locator("#pay-form button[type='submit']").click()
    expect(page.locator("#payment-action")).to_contain_text("Your bank asks you to confirm this payment")
    page.get_by_role("button", name="Complete authentication").click()
    expect(page).to_have_url(re.compile(r"/account/orders/[A-Z0-9]+\?new=1$"))
    code = page.locator(".confirmation .booking-code").inner_text()
    assert rows(committed_db, """SELECT a.state FROM payment_attempts a JOIN bookings b ON b.booking_id = a.booking_id
                                  WHERE b.booking_code = :code""", code=code) == [("booked",)]
    assert rows(committed_db, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(2,)]


def test_a_3d_secure_card_whose_buyer_fails_the_bank_books_nothing(page, live_server, committed_db,
                                                                    webhooks_to_the_app):
    event = scenario.small_event(committed_db)
    people = scenario.buyers(committed_db)
    sign_in(page, live_server, people.regular, f"/events/{event.event_id}")
    hold_by_clicking(page, event, "C1")
    page.get_by_role("link", name="Continue to checkout").click()
    stripe_card(page, "4000002500003155")
    page.locator("#pay-form button[type='submit']").click()
    page.get_by_role("button", name="Fail authentication").click()
    expect(page.get_by_role("alert").filter(has_text="3-D Secure")).to_contain_text("Nothing was charged")
    assert rows(committed_db, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(0,)]
    assert rows(committed_db, "SELECT state FROM payment_attempts a JOIN customers c ON c.customer_id = a.customer_id "
                              "WHERE c.email = :e", e=people.regular.email) == [("declined",)]


def test_without_javascript_card_payment_says_it_needs_javascript(no_js_page, live_server, committed_db,
                                                                  stripe_provider):
    event = scenario.small_event(committed_db)
    people = scenario.buyers(committed_db)
    sign_in(no_js_page, live_server, people.regular, f"/events/{event.event_id}")
    no_js_page.locator(f"#seat-{event.venue.seat('C5').seat_id}").click()
    expect(no_js_page.locator(f"#seat-{event.venue.seat('C5').seat_id}")).to_have_class(re.compile(r"\bseat--mine\b"))
    no_js_page.goto(f"{live_server}/checkout/{event.event_id}")
    expect(no_js_page.get_by_text("Paying by card needs JavaScript")).to_be_visible()
    no_js_page.get_by_label("New card").check()
    no_js_page.locator("#pay-form button[type='submit']").click()
    expect(no_js_page.get_by_role("alert").first).to_contain_text("needs JavaScript")
    assert rows(committed_db, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(0,)]


def test_a_card_saved_on_the_account_page_goes_to_stripe_and_is_detached_there_when_removed(
        page, live_server, committed_db, stripe_provider):
    import stripe

    people = scenario.buyers(committed_db)
    sign_in(page, live_server, people.regular, "/account/cards")
    sent = []
    page.on("request", lambda request: sent.append(request) if request.method == "POST" else None)
    expect(page.get_by_text("Saving a card needs JavaScript")).to_be_hidden()

    def save_card(number: str) -> None:
        element = page.locator("#card-element")
        expect(element.locator("input")).to_have_count(5)
        for placeholder, value in [("number", number), ("exp_month", "11"), ("exp_year", "34"), ("cvc", "123"),
                                   ("postal_code", "10001")]:
            element.locator(f"input[placeholder='{placeholder}']").fill(value)
        page.get_by_role("button", name="Save card").click()

    # A card the bank declines: Stripe says so on the page, and nothing is saved.
    save_card("4000000000000002")
    expect(page.locator("#card-errors")).to_contain_text("declined")
    assert rows(committed_db, "SELECT COUNT(*) FROM saved_payment_methods s JOIN customers c USING (customer_id) "
                              "WHERE c.email = :e", e=people.regular.email) == [(0,)]

    page.reload()
    save_card("4242424242424242")
    expect(page.get_by_text("Your card has been saved")).to_be_visible()
    expect(page.locator(".card-list")).to_contain_text("ending 4242")
    expect(page.locator(".card-list")).to_contain_text("11/2034")
    saves = [r for r in sent if r.url.endswith("/account/cards")]
    assert saves and re.search(r"setup_intent=seti_\w+", saves[-1].post_data)
    assert all("4242424242424242" not in (r.post_data or "") for r in sent if r.url.startswith(live_server)), \
        "the card number never reaches us"
    [(token, provider_customer)] = rows(committed_db, """
        SELECT s.gateway_token, p.provider_customer_id FROM saved_payment_methods s
          JOIN customers c USING (customer_id) JOIN provider_customers p USING (customer_id) WHERE c.email = :e""",
                                        e=people.regular.email)
    at_stripe = stripe.StripeClient(stripe_provider.SECRET_KEY, base_addresses={"api": stripe_provider.url})
    assert at_stripe.v1.payment_methods.retrieve(token).customer == provider_customer

    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("The card has been removed")).to_be_visible()
    expect(page.get_by_text("No saved cards.")).to_be_visible()
    assert at_stripe.v1.payment_methods.retrieve(token).customer is None
