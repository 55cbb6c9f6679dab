"""Screenshots of every storefront page (an on-sale queue's too), and the back office's page of a disputed booking
and of a queue's controls, at desktop (1280 wide) and phone (390 wide) widths, for looking at.

    .venv/bin/python -m tests.browser.screenshots OUTDIR              # serves the app itself
    .venv/bin/python -m tests.browser.screenshots OUTDIR --url URL    # a server already running

The pages show data this script builds in the database named by BOXOFFICE_DB (the same variables as the app;
`make db` sets one up): a small hall with some seats sold and held, a 5,200-seat arena, a VIP and a regular
customer, a member of staff. With --url, the server must use that same database. Everything built, and everything the app
wrote while the script shopped, is deleted at the end. It prints, per page, whether the page itself scrolls
sideways (the seat map may scroll inside its own box; the page must not).
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright

from boxoffice.config import DatabaseSettings
from boxoffice.passwords import hash_password
from tests.browser import scenario
from tests.browser.shopping import GOOD_CARD, fill_card, hold_by_clicking, sign_in
from tests.builders import (Event, committed, hold_seats, make_customer, make_discount, make_past_booking,
                            now)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
STAFF_PASSWORD = "screenshots-staff-password"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@contextmanager
def serve_app() -> Iterator[str]:
    """The app on a free port of this machine, in a thread, for as long as the block runs."""
    from werkzeug.serving import make_server

    from boxoffice import create_app

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, create_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


class Shop:
    """The data the pages show: events in three venues, a VIP, a regular customer with a past booking that
    the buyer's bank disputes, and staff to look at it."""

    def __init__(self, c: sa.Connection):
        self.connection = c
        self.hall = scenario.small_event(
            c, title="Midnight Strings", performer="The Aurora Quartet", genre="classical",
            venue_name="The Lantern Room", city="Bristol", starts_in=dt.timedelta(days=21),
            description="Four players, one candle-lit room: Haydn, Bartók and a late-night Schubert quintet "
                        "with guest cellist Mira Okafor.")
        self.arena = scenario.arena_event(
            c, title="Harbour Lights Festival", performer="Nova Lane & the Tidal Band", venue_name="Harbour Arena",
            city="Liverpool", description="The summer's big night by the water: three hours of Nova Lane's "
                                          "anthems, with the Tidal Band and a fireworks finale.")
        for title, performer, genre, days in (
                ("An Evening of Stand-up", "Priya Shah", "comedy", 9),
                ("The Tempest", "Bristol Old Vic Company", "theatre", 14),
                ("Dinosaur Day Out", "Roar Theatre", "family", 33)):
            scenario.small_event(c, title=title, performer=performer, genre=genre, venue_name=f"{title} Studio",
                                 city="Bristol", starts_in=dt.timedelta(days=days))
        self.vip = make_customer(c, vip=True, tier="gold", full_name="Vera Importante",
                                 email=f"vera-{now():%H%M%S}@example.test")
        self.regular = make_customer(c, full_name="Rory Regular", email=f"rory-{now():%H%M%S}@example.test")
        self.promo = make_discount(c, code=f"SHOTS{now():%H%M%S}", value=scenario.Decimal("15"))
        make_discount(c, code=f"VIPNIGHT{now():%H%M%S}", value=scenario.Decimal("20"), vip_only=True)
        # Someone else holds two seats and four are sold, so the map shows every state.
        hold_seats(c, self.hall, self.hall.seat_ids("B5", "B6"), minutes=30)
        past = make_past_booking(c, self.hall, self.regular, self.hall.seat_ids("C3", "C4", "C5", "C6"),
                                 now() - dt.timedelta(days=2))
        self.disputed_code = c.scalar(sa.text("SELECT booking_code FROM bookings WHERE booking_id = :b"),
                                      {"b": past.booking_id})
        c.execute(sa.text("UPDATE bookings SET disputed_at = UTC_TIMESTAMP(), dispute_reference = 'dp_screenshots' "
                          "WHERE booking_id = :b"), {"b": past.booking_id})
        # A big on-sale behind its queue: 1,234 people in line, the first 200 let in, nobody more for now; and a
        # presale whose queue opens in two days.
        self.rush = scenario.small_event(c, title="Stadium Tour: Opening Night", performer="Nova Lane",
                                         venue_name="The Big Shed", city="Manchester")
        self.presale = scenario.small_event(c, title="Festival Weekend Presale", performer="Many Bands",
                                            venue_name="Meadow Field", city="Somerset")
        for event, opens_in_minutes in ((self.rush, -10), (self.presale, 2 * 24 * 60)):
            c.execute(sa.text("""INSERT INTO waiting_rooms (event_id, enabled, opens_at, admit_per_minute, max_active,
                                                             drawn, credit_from)
                                 VALUES (:e, TRUE, UTC_TIMESTAMP(3) + INTERVAL :minutes MINUTE, 120, 400, :minutes < 0,
                                         UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)"""),
                      {"e": event.event_id, "minutes": opens_in_minutes})
        c.execute(sa.text("""INSERT INTO waiting_room_visitors (event_id, visitor_id, joined_at, position, admitted_at,
                                                                finished_at)
                             SELECT :e, LPAD(HEX(seq), 32, '0'), UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE, seq,
                                    IF(seq <= 200, UTC_TIMESTAMP(3) - INTERVAL 5 MINUTE, NULL),
                                    IF(seq <= 150, UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE, NULL)
                               FROM seq_1_to_1234"""), {"e": self.rush.event_id})
        c.execute(sa.text("UPDATE waiting_rooms SET last_position = 1234, admitted_through = 200 WHERE event_id = :e"),
                  {"e": self.rush.event_id})
        self.staff_email = f"staff-{now():%H%M%S}@example.test"
        c.execute(sa.text("INSERT INTO staff_users (email, full_name, password_hash) VALUES (:e, 'Sam Staff', :h)"),
                  {"e": self.staff_email, "h": hash_password(STAFF_PASSWORD)})


def shoot(page: Page, out: Path, name: str, overflowing: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=out / f"{name}.png", full_page=True)
    wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    if wide > 0:
        overflowing.append(f"{name} ({wide}px too wide)")
    print(f"  {name}.png" + (f"   PAGE OVERFLOWS BY {wide}px" if wide > 0 else ""))


def buy(page: Page, base: str, event: Event, seats: tuple[str, ...], promo: str, out: Path, tag: str,
        overflowing: list[str]) -> None:
    """Hold seats, check out with the promo code, pay with a card that is saved, and shoot each step."""
    page.goto(f"{base}/events/{event.event_id}")
    hold_by_clicking(page, event, *seats)
    shoot(page, out, f"{tag}-event-small-hall-seats-held", overflowing)
    page.get_by_role("link", name="Continue to checkout").click()
    page.get_by_label("Promo code").fill(promo)
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#order-summary .breakdown")).to_contain_text(promo)
    shoot(page, out, f"{tag}-checkout", overflowing)
    fill_card(page, GOOD_CARD, holder="Vera Importante")
    page.get_by_label("Save this card for next time").check()
    page.get_by_role("button", name=re.compile(r"^Pay €")).click()
    expect(page).to_have_url(re.compile(r"\?new=1$"))
    shoot(page, out, f"{tag}-confirmation", overflowing)
    page.get_by_role("link", name="Show e-tickets").click()
    shoot(page, out, f"{tag}-e-tickets", overflowing)


def page_of(browser: Browser, options: dict) -> Page:
    """A page in a browser context of its own (no cookies), closed with the browser."""
    context = browser.new_context(**options)
    context.set_default_timeout(10_000)
    return context.new_page()


def register(page: Page, base: str, shop: Shop, out: Path, tag: str, overflowing: list[str]) -> None:
    """Register a new address (the same "check your inbox" a known one gets), follow the mailed link, confirm
    it, and open the link again once it is used; shoot each step."""
    email = f"nora-{tag}-{now():%H%M%S}@example.com"
    page.goto(f"{base}/account/register")
    page.get_by_label("Full name").fill("Nora Newcomer")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill("a long password")
    page.get_by_label("Repeat password").fill("a long password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    shoot(page, out, f"{tag}-register-check-your-inbox", overflowing)
    body = shop.connection.scalar(sa.text("SELECT body_text FROM outbox_emails WHERE recipient = :r"), {"r": email})
    link = re.search(r"https?://\S+(/account/confirm/\S+)", body).group(1)
    page.goto(base + link)
    shoot(page, out, f"{tag}-register-confirm", overflowing)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("heading", name="Hello, Nora")).to_be_visible()
    shoot(page, out, f"{tag}-register-confirmed", overflowing)
    page.goto(base + link)
    shoot(page, out, f"{tag}-register-link-used", overflowing)
    page.context.close()


def shoot_all(browser: Browser, base: str, shop: Shop, out: Path) -> list[str]:
    overflowing: list[str] = []
    gallery = shop.arena.venue.seat("AN1").section_id
    for tag, options in VIEWPORTS.items():
        print(tag)
        seats = ("A3", "A4") if tag == "desktop" else ("A7", "A8")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        page = context.new_page()
        for name, path in (
                ("catalogue", "/"),
                ("catalogue-filtered", "/?q=Bristol&genre=classical"),
                ("catalogue-no-results", "/?q=no+such+show"),
                ("event-small-hall", f"/events/{shop.hall.event_id}"),
                ("event-arena-overview", f"/events/{shop.arena.event_id}"),
                ("event-arena-section", f"/events/{shop.arena.event_id}?section={gallery}"),
                ("sign-in", "/account/login"),
                ("register", "/account/register"),
                ("admin-sign-in", "/admin/login")):
            page.goto(base + path)
            shoot(page, out, f"{tag}-{name}", overflowing)
        register(page_of(browser, options), base, shop, out, tag, overflowing)
        # Zoomed in, with the minimap under the map.
        page.goto(f"{base}/events/{shop.hall.event_id}")
        for _ in range(2):
            page.get_by_role("button", name="Zoom in").click()
        shoot(page, out, f"{tag}-event-small-hall-zoomed", overflowing)
        sign_in(page, base, shop.vip)
        buy(page, base, shop.hall, seats, shop.promo.code, out, tag, overflowing)
        page.goto(f"{base}/account/")
        shoot(page, out, f"{tag}-account-vip", overflowing)
        page.goto(f"{base}/account/cards")
        shoot(page, out, f"{tag}-saved-cards", overflowing)
        context.close()

        context = browser.new_context(**options)
        page = context.new_page()
        sign_in(page, base, shop.regular, next_path="/account/")
        shoot(page, out, f"{tag}-account-regular", overflowing)
        page.goto(f"{base}/account/cards")
        shoot(page, out, f"{tag}-saved-cards-empty", overflowing)
        context.close()

        for name, event in (("queue-waiting", shop.rush), ("queue-before-opening", shop.presale)):
            context = browser.new_context(**options)  # a visitor of their own: a new place in line
            page = context.new_page()
            page.goto(f"{base}/events/{event.event_id}")
            expect(page).to_have_url(re.compile(r"/queue$"))
            shoot(page, out, f"{tag}-{name}", overflowing)
            context.close()

        context = browser.new_context(**options)
        page = context.new_page()
        page.goto(f"{base}/admin/login")
        page.get_by_label("E-mail").fill(shop.staff_email)
        page.get_by_label("Password").fill(STAFF_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).not_to_have_url(re.compile(r"/admin/login"))
        page.goto(f"{base}/admin/bookings/{shop.disputed_code}")
        expect(page.locator(".badge--disputed")).to_have_text("Disputed")
        shoot(page, out, f"{tag}-admin-booking-disputed", overflowing)
        page.goto(f"{base}/admin/events/{shop.rush.event_id}/waiting-room")
        shoot(page, out, f"{tag}-admin-waiting-room", overflowing)
        context.close()
    return overflowing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--url", help="a running server (using the database BOXOFFICE_DB); default: serve the app")
    args = parser.parse_args(argv)
    if not shutil.which(CHROMIUM):
        parser.error(f"{CHROMIUM} is missing: run `make setup`.")
    args.outdir.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(DatabaseSettings.from_env().owner_url,
                              connect_args={"init_command": "SET time_zone = '+00:00'"})
    try:
        with committed(engine) as c, (nullcontext(args.url.rstrip("/")) if args.url else serve_app()) as base, \
                sync_playwright() as playwright:
            shop = Shop(c)
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                overflowing = shoot_all(browser, base, shop, args.outdir)
            finally:
                browser.close()
    finally:
        engine.dispose()
    if overflowing:
        print("Pages wider than the screen: " + ", ".join(overflowing))
        return 1
    print(f"Screenshots in {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
