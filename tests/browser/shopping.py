"""What a buyer does in the browser, step by step, shared by the browser tests and the screenshot script.
Each step waits for the page to show its result, so a step that did not work fails where it happened."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.builders import Customer, Event

GOOD_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000 0000 0000 0002"


def seat(page: Page, event: Event, label: str):
    """The seat button of seat `label` ("A1") on the event page."""
    return page.locator(f"#seat-{event.venue.seat(label).seat_id}")


def hold_by_clicking(page: Page, event: Event, *labels: str) -> None:
    """Press each seat on the map and wait until the map shows it held for this buyer."""
    for label in labels:
        button = seat(page, event, label)
        button.click()
        expect(seat(page, event, label)).to_have_attribute("aria-pressed", "true")


def sign_in(page: Page, base_url: str, customer: Customer, *, next_path: str | None = None) -> None:
    """Sign in on the customer sign-in page (opened with `next_path`, or already open when None)."""
    if next_path is not None or "/account/login" not in page.url:
        page.goto(f"{base_url}/account/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("E-mail").fill(customer.email)
    page.get_by_label("Password", exact=True).fill(customer.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/account/login"))


def fill_card(page: Page, number: str, *, holder: str = "Ada Lovelace", month: str = "12", year: str = "2035",
              cvv: str = "123") -> None:
    page.get_by_label("New card").check()
    page.get_by_label("Name on card").fill(holder)
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiry month").fill(month)
    page.get_by_label("Expiry year").fill(year)
    page.get_by_label("Security code").fill(cvv)
