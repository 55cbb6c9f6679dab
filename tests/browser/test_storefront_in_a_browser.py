"""The storefront in real Chromium: choosing seats live, paying, keyboard use, accessibility, the catalogue's
filters, and the seat map without JavaScript. Each test builds and commits its own data (cleaned up after)."""
from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser import scenario
from tests.browser.shopping import DECLINED_CARD, GOOD_CARD, fill_card, hold_by_clicking, seat, sign_in
from tests.builders import ECONOMY, PREMIUM, RESTRICTED, hold_seats, rows, sell_seats

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
POLL_SECONDS = 2


def _mark_document(page: Page) -> None:
    """Leave a mark on the current document: it survives HTMX swaps and vanishes with a full page load."""
    page.evaluate("window.__sameDocument = true")


def _same_document(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def _result_titles(page: Page) -> list[str]:
    return page.locator("#results .event-card__title").all_inner_texts()


def test_a_vip_buys_seats_and_a_second_browser_sees_them_taken_within_one_poll(page, second_page, live_server,
                                                                                committed_db):
    event = scenario.small_event(committed_db)
    people = scenario.buyers(committed_db, promo_percent=Decimal("10"))

    # The second buyer is already looking at the event when the first one chooses.
    second_page.goto(f"{live_server}/events/{event.event_id}")
    expect(seat(second_page, event, "A1")).to_have_class(re.compile(r"\bseat--available\b"))
    _mark_document(second_page)

    page.goto(f"{live_server}/")
    page.get_by_label("Search").fill(event.title)
    expect(page.locator("#results .event-card__title")).to_have_text([event.title])
    page.get_by_role("link", name=event.title).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(event.title)

    hold_by_clicking(page, event, "A1", "A2")
    held_at = time.monotonic()
    for label in ("A1", "A2"):
        taken = seat(second_page, event, label)
        expect(taken).to_have_class(re.compile(r"\bseat--held\b"), timeout=(POLL_SECONDS + 1) * 1000)
        expect(taken).to_have_attribute("aria-label", re.compile(r"held by someone else$"))
        expect(taken).to_have_attribute("aria-disabled", "true")
    assert time.monotonic() - held_at <= POLL_SECONDS + 1
    assert _same_document(second_page), "the second browser reloaded the page instead of polling"

    # Checkout asks the buyer to sign in; the seats stay held through it.
    page.get_by_role("link", name="Continue to checkout").click()
    expect(page).to_have_url(re.compile(r"/account/login\?next="))
    sign_in(page, live_server, people.vip)
    expect(page).to_have_url(re.compile(rf"/checkout/{event.event_id}$"))
    summary = page.locator("#order-summary")
    expect(summary.locator(".cart__seats li")).to_have_count(2)
    expect(seat(second_page, event, "A1")).to_have_class(re.compile(r"\bseat--held\b"))

    page.get_by_label("Promo code").fill(people.promo.code.lower())
    page.get_by_role("button", name="Apply").click()
    # Two premium seats: 128.00; VIP gold 10% off: 12.80; then the code's 10% of 115.20: 11.52.
    breakdown = page.locator("#order-summary .breakdown")
    expect(breakdown).to_contain_text("VIP Gold discount (10%)")
    expect(breakdown.locator("div", has_text="VIP Gold discount").locator("dd")).to_have_text("−€12.80")
    expect(breakdown.locator("div", has_text=people.promo.code).locator("dd")).to_have_text("−€11.52")
    expect(page.locator("#order-total")).to_have_text("€103.68")

    fill_card(page, GOOD_CARD, holder="Vera Importante")
    page.get_by_role("button", name=re.compile(r"^Pay €")).click()
    expect(page).to_have_url(re.compile(r"/account/orders/[A-Z0-9]+\?new=1$"))
    code = page.locator(".confirmation .booking-code").inner_text()
    expect(page.locator(".confirmation")).to_contain_text(f"Booking {code} is confirmed")
    assert rows(committed_db, """SELECT total, (SELECT COUNT(*) FROM tickets t WHERE t.booking_id = b.booking_id)
                                   FROM bookings b WHERE booking_code = :code""", code=code) == [(Decimal("103.68"), 2)]

    page.get_by_role("link", name="Show e-tickets").click()
    expect(page).to_have_url(re.compile(rf"/account/orders/{code}/tickets$"))
    qr_codes = page.get_by_role("img", name=re.compile(r"^QR code of ticket "))
    expect(qr_codes).to_have_count(2)
    for index in range(2):
        assert qr_codes.nth(index).evaluate("img => img.complete && img.naturalWidth > 0"), "a QR code did not load"
    expect(page.locator(".eticket__seat")).to_have_text(["Stalls, row A, seat 1", "Stalls, row A, seat 2"])


def test_a_declined_card_shows_why_and_keeps_the_seats(page, live_server, committed_db):
    event = scenario.small_event(committed_db)
    buyer = scenario.buyers(committed_db).regular
    sign_in(page, live_server, buyer, next_path=f"/events/{event.event_id}")
    hold_by_clicking(page, event, "B4", "B5")
    page.get_by_role("link", name="Continue to checkout").click()

    fill_card(page, DECLINED_CARD, holder="Ada Lovelace", month="11", year="2034")
    page.get_by_role("button", name=re.compile(r"^Pay €")).click()

    expect(page.get_by_role("alert")).to_have_text(re.compile(r"^Your card was declined by the bank\."))
    assert urlsplit(page.url).path == f"/checkout/{event.event_id}"
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"Seats held for \d+:\d\d$"))
    expect(page.locator("#order-summary .cart__seats li")).to_have_count(2)
    expect(page.get_by_label("Name on card")).to_have_value("Ada Lovelace")
    expect(page.get_by_label("Expiry month")).to_have_value("11")
    expect(page.get_by_label("Expiry year")).to_have_value("2034")
    # The card number and security code are never written back into a page.
    expect(page.get_by_label("Card number")).to_have_value("")
    expect(page.get_by_label("Security code")).to_have_value("")
    held = rows(committed_db, """SELECT s.state, s.hold_expires_at > UTC_TIMESTAMP(3) FROM event_seats s
                                  WHERE s.event_id = :e AND s.seat_id IN :ids""",
                e=event.event_id, ids=event.seat_ids("B4", "B5"))
    assert held == [("held", 1), ("held", 1)]
    assert rows(committed_db, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(0,)]


def test_seats_can_be_chosen_with_the_keyboard_only(page, live_server, committed_db):
    event = scenario.small_event(committed_db)
    page.goto(f"{live_server}/events/{event.event_id}")

    first_seat = seat(page, event, "A1")
    for _ in range(40):
        page.keyboard.press("Tab")
        if first_seat.evaluate("button => button === document.activeElement"):
            break
    else:
        pytest.fail("Tab never reached the first seat of the map")
    expect(first_seat).to_have_accessible_name("Stalls, row A, seat 1, Premium, €64.00, available")

    page.keyboard.press("Enter")
    expect(first_seat).to_have_accessible_name("Stalls, row A, seat 1, Premium, €64.00, held for you")
    expect(first_seat).to_be_focused()

    page.keyboard.press("ArrowRight")
    second_seat = seat(page, event, "A2")
    expect(second_seat).to_be_focused()
    page.keyboard.press("Space")
    expect(second_seat).to_have_accessible_name("Stalls, row A, seat 2, Premium, €64.00, held for you")
    expect(second_seat).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#cart .cart__seats li")).to_have_count(2)

    wheelchair = seat(page, event, "D1")
    expect(wheelchair).to_have_accessible_name("Stalls, row D, seat 1, Economy, wheelchair space, €28.00, available")


def _serious_violations(page: Page) -> list[dict]:
    page.add_script_tag(url="/__test__/axe.min.js")
    results = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [v for v in results if v["impact"] in ("serious", "critical")]


def _readable(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"[{violation['impact']}] {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {' '.join(node['target'])}: {node['failureSummary'].splitlines()[-1].strip()}")
    return "\n".join(lines)


def test_pages_have_no_serious_accessibility_violations(page, live_server, committed_db):
    # Every seat category and seat state appears on the map: the colours carry white seat numbers.
    event = scenario.small_event(committed_db, categories={"A": PREMIUM, "C": RESTRICTED, "D": ECONOMY})
    hold_seats(committed_db, event, event.seat_ids("B5", "B6"))
    sell_seats(committed_db, event, event.seat_ids("B9", "B10"))
    arena = scenario.arena_event(committed_db)
    buyer = scenario.buyers(committed_db).regular
    # axe-core is served from this site's own origin, so the page's content security policy stays as it is.
    page.route("**/__test__/axe.min.js", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))

    found = {}
    page.goto(f"{live_server}/")
    found["catalogue"] = _serious_violations(page)
    page.goto(f"{live_server}/account/login")
    found["sign-in"] = _serious_violations(page)
    page.goto(f"{live_server}/account/register")
    found["register"] = _serious_violations(page)
    page.goto(f"{live_server}/events/{arena.event_id}")
    found["arena overview"] = _serious_violations(page)
    sign_in(page, live_server, buyer, next_path=f"/events/{event.event_id}")
    hold_by_clicking(page, event, "A1")
    found["event page"] = _serious_violations(page)
    page.get_by_role("link", name="Continue to checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    found["checkout"] = _serious_violations(page)
    page.goto(f"{live_server}/account/")
    found["account"] = _serious_violations(page)

    report = "\n".join(f"{name}:\n{_readable(violations)}" for name, violations in found.items() if violations)
    assert not report, "serious accessibility violations:\n" + report


def test_catalogue_filters_update_in_place_and_push_the_url(page, no_js_page, live_server, committed_db):
    token = f"Filtertest{time.monotonic_ns() % 10**8}"
    concert = scenario.small_event(committed_db, title=f"{token} Strings", genre="concert",
                                   venue_name=f"{token} Hall", city="Bristol")
    comedy = scenario.small_event(committed_db, title=f"{token} Laughs", genre="comedy",
                                  venue_name=f"{token} Cellar", city="Leeds", starts_in=dt.timedelta(days=31))
    both = [concert.title, comedy.title]

    page.goto(f"{live_server}/")
    _mark_document(page)
    page.get_by_label("Search").fill(token)
    expect(page).to_have_url(re.compile(rf"\?.*q={token}"))
    assert sorted(_result_titles(page)) == sorted(both)

    page.get_by_label("Category").select_option("comedy")
    expect(page).to_have_url(re.compile(r"genre=comedy"))
    expect(page.locator("#results .event-card__title")).to_have_text([comedy.title])

    page.get_by_label("Category").select_option("")
    page.get_by_label("Venue").select_option(str(concert.venue.venue_id))
    expect(page).to_have_url(re.compile(rf"venue={concert.venue.venue_id}"))
    expect(page.locator("#results .event-card__title")).to_have_text([concert.title])
    assert _same_document(page), "a filter reloaded the whole page"
    filtered_url = page.url
    query = parse_qs(urlsplit(filtered_url).query)
    assert query["q"] == [token] and query["venue"] == [str(concert.venue.venue_id)]

    page.reload()
    assert not _same_document(page)
    expect(page.locator("#results .event-card__title")).to_have_text([concert.title])
    expect(page.get_by_label("Search")).to_have_value(token)
    expect(page.get_by_label("Venue")).to_have_value(str(concert.venue.venue_id))

    no_js_page.goto(filtered_url)
    expect(no_js_page.locator("#results .event-card__title")).to_have_text([concert.title])
    # Without JavaScript the form itself searches: a plain GET to the same address.
    no_js_page.get_by_label("Venue").select_option("")
    no_js_page.get_by_label("Category").select_option("comedy")
    no_js_page.get_by_role("button", name="Search").click()
    expect(no_js_page.locator("#results .event-card__title")).to_have_text([comedy.title])


def test_the_seat_map_works_without_javascript(no_js_page, live_server, committed_db):
    event = scenario.small_event(committed_db)
    no_js_page.goto(f"{live_server}/events/{event.event_id}")
    seat(no_js_page, event, "C5").click()

    expect(no_js_page).to_have_url(re.compile(rf"/events/{event.event_id}(\?section=)?$"))
    held = seat(no_js_page, event, "C5")
    expect(held).to_have_class(re.compile(r"\bseat--mine\b"))
    expect(held).to_have_attribute("aria-label", "Stalls, row C, seat 5, Standard, €42.50, held for you")
    expect(no_js_page.locator("#cart .cart__seats li")).to_have_count(1)
    expect(no_js_page.locator("#cart")).to_contain_text("Row C · Seat 5")
    assert rows(committed_db, "SELECT state FROM event_seats WHERE event_id = :e AND seat_id = :s",
                e=event.event_id, s=event.venue.seat("C5").seat_id) == [("held",)]


def test_pages_fit_a_phone_screen_and_nothing_scrolls_sideways(phone_page, live_server, committed_db):
    page = phone_page
    page.set_default_timeout(5_000)
    event = scenario.small_event(committed_db)
    arena = scenario.arena_event(committed_db)
    buyer = scenario.buyers(committed_db).regular

    def overflow() -> int:
        return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")

    too_wide = {}
    page.goto(f"{live_server}/")
    too_wide["catalogue"] = overflow()
    page.goto(f"{live_server}/events/{arena.event_id}?section={arena.venue.seat('AN1').section_id}")
    too_wide["arena section"] = overflow()
    seat_map = page.locator(".seat-map")
    assert seat_map.evaluate("map => map.scrollWidth <= map.clientWidth"), "the map zooms instead of scrolling"
    sign_in(page, live_server, buyer, next_path=f"/events/{event.event_id}")
    hold_by_clicking(page, event, "A1")
    too_wide["event page"] = overflow()
    page.get_by_role("link", name="Continue to checkout").click()
    page.get_by_label("New card").check()
    too_wide["checkout"] = overflow()
    page.goto(f"{live_server}/account/cards")
    too_wide["saved cards"] = overflow()
    assert {name: px for name, px in too_wide.items() if px > 0} == {}


def test_on_a_phone_the_catalogue_opens_on_search_with_the_other_filters_one_press_away(phone_page, live_server):
    page = phone_page
    page.goto(f"{live_server}/")
    more = page.get_by_role("button", name="Filters", exact=True)
    expect(page.get_by_label("Search")).to_be_visible()
    expect(more).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_label("Venue")).to_be_hidden()
    more.click()
    expect(more).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_label("Venue")).to_be_visible()

    page.goto(f"{live_server}/?genre=comedy")
    expect(page.get_by_label("Category")).to_be_visible()  # a filter in use is never hidden
    expect(page.get_by_role("button", name="Filters", exact=True)).to_have_attribute("aria-expanded", "true")


def test_on_a_wide_screen_every_catalogue_filter_shows(page, live_server):
    page.goto(f"{live_server}/")
    expect(page.get_by_label("Venue")).to_be_visible()
    expect(page.get_by_role("button", name="Filters", exact=True)).to_be_hidden()
