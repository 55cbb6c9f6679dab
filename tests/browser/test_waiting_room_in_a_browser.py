"""The on-sale waiting room in Chromium: the event's address leads a visitor without an admission to the queue,
which says their place and wait in a polite live region and, polled by HTMX, takes them to the seats when
their turn comes, where seats can be held; without JavaScript the page refreshes itself to the same end."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from storefront import waiting_room as waiting_page
from tests.browser import scenario
from tests.browser.shopping import hold_by_clicking

pytestmark = pytest.mark.browser
# Long enough for a poll or two of the page's (sped up below) and a busy machine.
TURN_MS = 15_000


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch):
    """The page asks every second (three at the fastest in real life), so a test waits seconds, not minutes."""
    monkeypatch.setattr(waiting_page, "POLL_FASTEST", 1)
    monkeypatch.setattr(waiting_page, "POLL_SLOWEST", 1)
    monkeypatch.setattr(waiting_page, "OPENING_SPREAD", 0)


def queue_on(c, event, *, rate: int = 1) -> None:
    """The event's queue on, open since an hour ago, letting in `rate` a minute."""
    c.execute(sa.text("""INSERT INTO waiting_rooms (event_id, enabled, opens_at, admit_per_minute, credit_from)
                         VALUES (:e, TRUE, UTC_TIMESTAMP(3) - INTERVAL 1 HOUR, :rate, UTC_TIMESTAMP(3) - INTERVAL 1 HOUR)"""),
              {"e": event.event_id, "rate": rate})


def turn_comes(c, event) -> None:
    """A minute's worth of admissions is earned: the next in line goes in at the next poll."""
    c.execute(sa.text("UPDATE waiting_rooms SET credit_from = UTC_TIMESTAMP(3) - INTERVAL 61 SECOND WHERE event_id = :e"),
              {"e": event.event_id})


def test_a_visitor_waits_their_turn_then_the_page_takes_them_to_the_seats(page, second_page, live_server,
                                                                            committed_db):
    event = scenario.small_event(committed_db, title="The Big On-Sale")
    queue_on(committed_db, event)

    # The first in an empty line goes straight in.
    page.goto(f"{live_server}/events/{event.event_id}")
    expect(page).to_have_url(re.compile(rf"/events/{event.event_id}$"))

    # The next waits: one a minute.
    second_page.goto(f"{live_server}/events/{event.event_id}")
    expect(second_page).to_have_url(re.compile(rf"/events/{event.event_id}/queue$"))
    status = second_page.get_by_role("status").filter(has_text="in line")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_contain_text("You are number 1 in line.")
    expect(status).to_contain_text("Estimated wait: about 1 minute")

    turn_comes(committed_db, event)
    expect(second_page).to_have_url(re.compile(rf"/events/{event.event_id}$"), timeout=TURN_MS)
    hold_by_clicking(second_page, event, "B4")


def test_without_javascript_the_waiting_page_refreshes_itself_to_the_seats(browser, live_server, committed_db):
    event = scenario.small_event(committed_db, title="The Quiet On-Sale")
    queue_on(committed_db, event)
    first = browser.new_context(java_script_enabled=False)
    waiting = browser.new_context(java_script_enabled=False)
    try:
        first.new_page().goto(f"{live_server}/events/{event.event_id}")
        page = waiting.new_page()
        page.goto(f"{live_server}/events/{event.event_id}/queue")
        expect(page.locator("main")).to_contain_text("You are number 1 in line.")
        expect(page.get_by_role("link", name="Check my place now")).to_be_visible()
        turn_comes(committed_db, event)
        expect(page).to_have_url(re.compile(rf"/events/{event.event_id}$"), timeout=TURN_MS)
        expect(page.get_by_role("heading", name="The Quiet On-Sale")).to_be_visible()
    finally:
        first.close()
        waiting.close()
