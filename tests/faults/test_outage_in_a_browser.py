"""A database outage seen in real Chromium: the live seat map says "Reconnecting…" once, quietly (never a
dialog), and catches up by itself when the database is back, without a reload."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS
from tests.browser.scenario import small_event
from tests.browser.shopping import seat
from tests.builders import hold_seats

pytestmark = pytest.mark.browser

OUTAGE_SECONDS = 8
# The poll backs off to one try in 10 s at most, and a try on a stalled database waits 4 s for its answer.
RECOVERY_MS = 16_000
UNREACHABLE = "We could not reach the box office; your seats are unchanged. Try again."


@pytest.fixture
def page(browser):
    """A browser page that fails the test on any dialog (alert, confirm): an outage is never a modal."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    dialogs: list[str] = []

    def dismiss(dialog):
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    yield page
    context.close()
    assert dialogs == [], f"the page opened dialogs: {dialogs}"


def _reconnecting(page):
    return page.get_by_text("Reconnecting…")


@pytest.mark.parametrize("outage", ["stalled", "killed"])
def test_the_seat_map_says_reconnecting_once_and_catches_up_without_a_reload(mariadb, committed_db, owner_engine,
                                                                              live_server, page, outage):
    event = small_event(committed_db)
    page.goto(f"{live_server}/events/{event.event_id}")
    expect(seat(page, event, "C5")).to_have_class(re.compile(r"\bseat--available\b"))
    page.evaluate("window.__sameDocument = true")

    if outage == "stalled":
        mariadb.stall()
    else:
        mariadb.kill9()
    started = time.monotonic()
    expect(_reconnecting(page)).to_have_count(1, timeout=OUTAGE_SECONDS * 1000)
    expect(page.get_by_role("status").filter(has_text="Reconnecting…")).to_have_count(1)

    if outage == "killed":
        # A seat pressed meanwhile: the picker says it did not work, the seat stays as it was.
        seat(page, event, "A1").click()
        expect(page.locator("#seat-picker-status")).to_have_text(UNREACHABLE)
        expect(seat(page, event, "A1")).to_have_attribute("aria-pressed", "false")

    while time.monotonic() - started < OUTAGE_SECONDS:
        assert _reconnecting(page).count() == 1, "more than one reconnecting notice"
        page.wait_for_timeout(500)

    if outage == "stalled":
        mariadb.resume()
    else:
        mariadb.restart()
    # Someone else holds a seat while this page is still backing off.
    with owner_engine.begin() as connection:
        hold_seats(connection, event, event.seat_ids("C5"))
    back = time.monotonic()

    expect(seat(page, event, "C5")).to_have_class(re.compile(r"\bseat--held\b"), timeout=RECOVERY_MS)
    expect(_reconnecting(page)).to_have_count(0)
    print(f"\n{outage}: the map caught up {time.monotonic() - back:.1f} s after the database came back")
    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"

    # And it works again: a seat press holds the seat.
    seat(page, event, "A1").click()
    expect(seat(page, event, "A1")).to_have_attribute("aria-pressed", "true")
