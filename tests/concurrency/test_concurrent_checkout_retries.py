"""One checkout posted many times at once (double clicks, a browser's retry, an impatient refresh): one
charge, one booking, and every request answered with that booking."""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from boxoffice.services import checkout, holds
from tests.builders import PREMIUM, committed, make_customer, make_event, make_venue, rows
from tests.concurrency.harness import (GOOD_CARD, assert_inventory_consistent, assert_money_accounted_for,
                                       assert_no_faults, at_once, money_problems, new_key, pay)
from tests.conftest import SAME_ORIGIN

pytestmark = pytest.mark.concurrency


def assert_one_booking_and_one_charge(c, key: str, booking_codes: set[str]) -> None:
    assert len(booking_codes) == 1, f"the retries were answered with different bookings: {booking_codes}"
    [code] = booking_codes
    # (A payment key's random part comes before its signature.)
    assert rows(c, "SELECT booking_code FROM bookings WHERE SUBSTRING_INDEX(idempotency_key, '-', 1) = :k",
                k=key) == [(code,)]
    assert rows(c, """SELECT COUNT(*) FROM gateway_charges
                       WHERE SUBSTRING_INDEX(idempotency_key, '-', 1) = :k AND status = 'captured'""",
                k=key) == [(1,)], "the gateway charged more than once for one checkout"
    assert rows(c, """SELECT COUNT(*) FROM payments p JOIN bookings b ON b.booking_id = p.booking_id
                       WHERE b.booking_code = :code AND p.kind = 'charge' AND p.status = 'captured'""",
                code=code) == [(1,)], "the booking records more than one captured payment"
    assert_money_accounted_for(c, [key])


def test_a_retried_checkout_never_charges_twice(app, owner_engine):
    clicks, rounds = 12, 20
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=4, categories={"A": PREMIUM})
        customer = make_customer(c).customer_id
        for _ in range(rounds):
            event = make_event(c, venue)
            owner = holds.new_hold_owner()
            with app.app_context():
                holds.hold_seats(event.event_id, event.seat_ids("A1", "A2"), owner, minutes=10)
                shown = checkout.quote(event.event_id, owner, customer, None).total
            key = new_key()

            outcomes = at_once(app, clicks,
                               lambda i, _: pay(event.event_id, owner, customer, key, expected_total=shown))
            assert_no_faults(outcomes, also=money_problems(c, [key]))
            confirmations = [o.value for o in outcomes]
            assert [confirmation.replayed for confirmation in confirmations].count(False) == 1, (
                "exactly one request makes the booking; every other one is answered with it (replayed)")
            assert {confirmation.total for confirmation in confirmations} == {shown}
            assert_one_booking_and_one_charge(c, key, {confirmation.booking_code for confirmation in confirmations})
            assert_inventory_consistent(c, event.event_id)


# ---------------------------------------------------------------- the same through HTTP

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} on the page"
    return match.group(1)


def csrf_token(client: FlaskClient, url: str) -> str:
    match = CSRF.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def test_a_pay_button_clicked_many_times_books_once_over_http(app, owner_engine):
    """The browser's view of the same race: one signed-in session (one cookie) posts the payment form from
    several connections at once; every answer sends the buyer to the same order."""
    clicks, rounds = 8, 5
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=4, categories={"A": PREMIUM})
        customer = make_customer(c)
        browser = app.test_client()
        response = browser.post("/account/login", data={"email": customer.email, "password": customer.password},
                                headers=SAME_ORIGIN)
        assert response.status_code == 302, response.get_data(as_text=True)
        for _ in range(rounds):
            event = make_event(c, venue)
            page = f"/events/{event.event_id}"
            for seat in event.seat_ids("A1", "A2"):
                browser.post(f"{page}/seats", data={"seat": seat, "csrf_token": csrf_token(browser, page)})
            html = browser.get(f"/checkout/{event.event_id}").get_data(as_text=True)
            key = field(html, "idempotency_key")
            form = {"method": "card", "holder": GOOD_CARD.holder, "card_number": GOOD_CARD.number,
                    "exp_month": str(GOOD_CARD.exp_month), "exp_year": str(GOOD_CARD.exp_year), "cvv": GOOD_CARD.cvv,
                    "expected_total": field(html, "expected_total"), "promo_code": "", "idempotency_key": key,
                    "csrf_token": CSRF.search(html).group(1) or CSRF.search(html).group(2)}
            cookie = browser.get_cookie("session").value

            def click(i, _):
                tab = app.test_client()
                tab.set_cookie("session", cookie)
                response = tab.post(f"/checkout/{event.event_id}", data=form)
                assert response.status_code == 303, response.get_data(as_text=True)[:2000]
                return response.headers["Location"]

            outcomes = at_once(app, clicks, click)
            nonce = key.partition("-")[0]
            assert_no_faults(outcomes, also=money_problems(c, [nonce]))
            orders = {re.search(r"/account/orders/([0-9A-Z]{10})", o.value).group(1) for o in outcomes}
            assert_one_booking_and_one_charge(c, nonce, orders)
            assert_inventory_consistent(c, event.event_id)
