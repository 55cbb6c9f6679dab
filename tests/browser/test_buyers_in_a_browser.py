"""A guest buys in real Chromium: e-mail only, a promo code that changes the Pay button's amount, the order at
its signed link, the e-tickets that open again offline; then cancels one seat through the confirmation step."""
from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.browser import scenario
from tests.browser.shopping import GOOD_CARD, fill_card, hold_by_clicking
from tests.builders import rows

pytestmark = pytest.mark.browser


def test_a_guest_buys_with_an_e_mail_opens_the_tickets_offline_and_cancels_one_seat(page, live_server,
                                                                                   committed_db):
    event = scenario.small_event(committed_db)
    promo = scenario.buyers(committed_db, promo_percent=Decimal("10")).promo
    committed_db.execute(sa.text(
        "UPDATE venues SET address = '7 Stage Door Lane', access_info = 'Step-free entrance on Mill Street.' "
        "WHERE venue_id = :v"), {"v": event.venue.venue_id})

    page.goto(f"{live_server}/events/{event.event_id}")
    expect(page.get_by_text("7 Stage Door Lane").first).to_be_visible()
    hold_by_clicking(page, event, "A1", "A2")
    page.get_by_role("link", name="Continue to checkout").click()

    # The sign-in page offers to pay as a guest.
    expect(page).to_have_url(re.compile(r"/account/login\?next="))
    page.get_by_label("Address for your tickets").fill("guest.buyer@example.com")
    page.get_by_role("button", name="Continue as a guest").click()
    expect(page).to_have_url(f"{live_server}/checkout/{event.event_id}")
    expect(page.get_by_text("guest.buyer@example.com")).to_be_visible()

    # Two premium seats: €128.00; the code's 10% makes it €115.20, and the Pay button follows.
    pay = page.get_by_role("button", name=re.compile(r"^Pay €"))
    expect(pay).to_have_text("Pay €128.00")
    page.get_by_label("Promo code").fill(promo.code)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#order-total")).to_have_text("€115.20")
    expect(pay).to_have_text("Pay €115.20")

    fill_card(page, GOOD_CARD, holder="Guest Buyer")
    pay.click()
    expect(page).to_have_url(re.compile(r"/orders/[\w.-]+\?new=1$"))
    code = page.locator(".confirmation .booking-code").inner_text()
    expect(page.locator(".confirmation")).to_contain_text(f"Booking {code} is confirmed")
    expect(page.locator(".breakdown")).to_contain_text("Visa ending 4242")
    order_url = page.url.split("?")[0]

    # The e-tickets, once opened, open again without a connection.
    page.get_by_role("link", name="Show e-tickets").click()
    expect(page.get_by_role("img", name=re.compile(r"^QR code of ticket "))).to_have_count(2)
    expect(page.locator("html[data-offline-ready]")).to_have_count(1)
    tickets_url = page.url
    page.context.set_offline(True)
    page.goto(tickets_url)
    expect(page.get_by_role("img", name=re.compile(r"^QR code of ticket "))).to_have_count(2)
    assert page.url == tickets_url
    page.context.set_offline(False)

    # Cancelling asks first, and gives back only the ticked seat.
    page.goto(order_url)
    page.get_by_role("link", name="Cancel tickets…").click()
    expect(page.get_by_role("heading", name="Cancel tickets?")).to_be_visible()
    assert rows(committed_db, "SELECT COUNT(*) FROM booking_refunds r JOIN bookings b USING (booking_id) "
                              "WHERE b.booking_code = :c", c=code) == [(0,)]
    page.get_by_role("checkbox", name=re.compile(r"row A, seat 2")).uncheck()
    page.get_by_role("button", name="Yes, cancel the ticked tickets").click()
    expect(page).to_have_url(order_url)
    expect(page.locator(".breakdown")).to_contain_text("Refund of 1 ticket")
    expect(page.locator(".breakdown")).to_contain_text("−€57.60")
    assert rows(committed_db, "SELECT status FROM bookings WHERE booking_code = :c", c=code) == [("partially_refunded",)]
    page.get_by_role("link", name="Show e-tickets").click()
    expect(page.get_by_role("img", name=re.compile(r"^QR code of ticket "))).to_have_count(1)
    expect(page.get_by_text("Refunded: this ticket is no longer valid.")).to_be_visible()
