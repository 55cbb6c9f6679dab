"""The reports in Chromium: the dashboards draw every chart with its figures, a filter redraws them in place
and pushes the URL, a shared link opens signed out and stops once revoked, the downloaded dashboard opens
offline, and the pages have no serious accessibility violations.

Each test sells tickets of its own (committed for real, deleted afterwards) and signs in an admin of its own.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlalchemy.engine import Connection

from boxoffice.passwords import hash_password
from tests.builders import (PREMIUM, STANDARD, Event, make_customer, make_event, make_past_booking, make_venue, now,
                            refund_tickets)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
DAY = dt.timedelta(days=1)
ADMIN_PASSWORD = "reports-admin-password"
CHARTS = 7
# Whether every <canvas data-chart> on the page has a Chart.js chart with at least one figure.
CHARTS_DRAWN = """() => [...document.querySelectorAll("canvas[data-chart]")].map(canvas => {
    const chart = typeof Chart === "undefined" ? null : Chart.getChart(canvas);
    return !!chart && chart.data.labels.length > 0
        && chart.data.datasets.some(d => d.data.some(v => v !== null && v !== 0));
})"""


@dataclass(frozen=True)
class Sales:
    hall: Event
    club: Event
    admin_email: str


def sell(c: Connection) -> Sales:
    """Two venues selling over three months (one refund among them), and an admin to look at them."""
    token = f"{time.monotonic_ns() % 10**8}"
    hall = make_event(c, make_venue(c, rows=3, seats_per_row=8, categories={"A": PREMIUM},
                                    name=f"Reports Hall {token}"),
                      prices={PREMIUM: Decimal("80.00"), STANDARD: Decimal("45.00")}, title=f"Hall Night {token}",
                      sales_start=now() - 100 * DAY, starts_in=20 * DAY)
    club = make_event(c, make_venue(c, rows=2, seats_per_row=6, name=f"Reports Club {token}"),
                      prices={STANDARD: Decimal("25.00")}, title=f"Club Night {token}", genre="comedy",
                      sales_start=now() - 100 * DAY, starts_in=10 * DAY)
    ann, vip = make_customer(c), make_customer(c, vip=True)
    make_past_booking(c, hall, ann, hall.seat_ids("A1", "A2"), now() - 80 * DAY)
    refunded = make_past_booking(c, hall, vip, hall.seat_ids("B1", "B2", "B3"), now() - 45 * DAY, method="wallet")
    make_past_booking(c, club, ann, club.seat_ids("A1"), now() - 40 * DAY, method="paypal")
    make_past_booking(c, club, vip, club.seat_ids("B1", "B2"), now() - 5 * DAY, method="gift_card")
    refund_tickets(c, refunded.booking_id, refunded.ticket_ids[:1], at=now() - 30 * DAY)
    email = f"reports-{token}@example.test"
    c.execute(sa.text("INSERT INTO staff_users (email, full_name, password_hash) VALUES (:e, 'Report Reader', :h)"),
              {"e": email, "h": hash_password(ADMIN_PASSWORD)})
    return Sales(hall, club, email)


def sign_in_as_admin(page: Page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/admin/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/admin/login"))


def open_dashboards(page: Page, base_url: str, sales: Sales) -> None:
    sign_in_as_admin(page, base_url, sales.admin_email)
    page.goto(f"{base_url}/admin/reports/")
    page.get_by_role("link", name="All time", exact=True).click()
    expect(page).to_have_url(re.compile(r"date_from="))


def assert_every_chart_is_drawn(page: Page) -> None:
    expect(page.locator("canvas[data-chart]")).to_have_count(CHARTS)
    page.wait_for_function(f"({CHARTS_DRAWN})().every(Boolean)")


def test_the_dashboards_draw_every_chart_with_its_figures(page, live_server, committed_db):
    sales = sell(committed_db)

    open_dashboards(page, live_server, sales)

    assert_every_chart_is_drawn(page)
    venues = page.evaluate("Chart.getChart(document.getElementById('chart-top-venues')).data.labels")
    assert sales.hall.venue.name in venues and sales.club.venue.name in venues


def test_a_filter_redraws_the_charts_in_place_and_pushes_the_url(page, live_server, committed_db):
    sales = sell(committed_db)
    open_dashboards(page, live_server, sales)
    page.evaluate("window.__sameDocument = true")
    before = page.evaluate("Chart.getChart(document.getElementById('chart-top-events')).data.labels")

    page.get_by_label("Venue", exact=True).select_option(str(sales.club.venue.venue_id))

    expect(page).to_have_url(re.compile(rf"venue={sales.club.venue.venue_id}"))
    page.wait_for_function("""name => {
        const chart = Chart.getChart(document.getElementById('chart-top-venues'));
        return chart && chart.data.labels.length === 1 && chart.data.labels[0] === name;
    }""", arg=sales.club.venue.name)
    after = page.evaluate("Chart.getChart(document.getElementById('chart-top-events')).data.labels")
    # The chart names each event with its date first (reporting._revenue_group).
    assert after == [f"{sales.club.starts_at:%d %b %Y} · {sales.club.title}"]
    assert f"{sales.hall.starts_at:%d %b %Y} · {sales.hall.title}" in before
    assert page.evaluate("window.__sameDocument === true"), "the filter reloaded the whole page"
    assert_every_chart_is_drawn(page)

    page.reload()
    expect(page.get_by_label("Venue", exact=True)).to_have_value(str(sales.club.venue.venue_id))
    expect(page.locator("#table-top-events tbody tr")).to_have_count(1)


def test_the_event_filter_lists_the_chosen_venues_events(page, live_server, committed_db):
    sales = sell(committed_db)
    open_dashboards(page, live_server, sales)
    event = page.get_by_label("Event", exact=True)
    expect(event.locator("option")).to_have_text(["All events"])

    page.get_by_label("Venue", exact=True).select_option(str(sales.club.venue.venue_id))
    expect(event.locator("option")).to_have_text(["All events", f"{sales.club.starts_at:%d %b %Y} · {sales.club.title}"])
    event.select_option(str(sales.club.event_id))
    expect(page).to_have_url(re.compile(rf"event={sales.club.event_id}"))
    expect(page.locator("#table-top-events tbody tr")).to_have_count(1)

    # Another venue: its events are listed, and the club's event is no longer part of the filter.
    page.get_by_label("Venue", exact=True).select_option(str(sales.hall.venue.venue_id))
    expect(event).to_have_value("")
    expect(event.locator("option")).to_contain_text([f"{sales.hall.starts_at:%d %b %Y} · {sales.hall.title}"])
    expect(page.locator("#table-top-venues")).to_contain_text(sales.hall.venue.name)
    expect(page.locator("#table-top-venues")).not_to_contain_text(sales.club.venue.name)


def test_a_shared_link_opens_signed_out_and_stops_once_revoked(page, browser, live_server, committed_db):
    sales = sell(committed_db)
    open_dashboards(page, live_server, sales)
    page.get_by_text("Share this view").click()
    page.get_by_label("Name of the link").fill("For the board")
    page.get_by_role("button", name="Make a read-only link").click()
    link = page.locator(".alert--ok code").inner_text()
    assert "/shared/reports/" in link

    outsider = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        shared = outsider.new_page()
        shared.goto(link)
        expect(shared.get_by_role("heading", level=1)).to_have_text("For the board")
        assert_every_chart_is_drawn(shared)
        expect(shared.locator("form")).to_have_count(0)
        expect(shared.get_by_role("link", name="Reports")).to_have_count(0)

        page.get_by_role("button", name="Revoke “For the board”").click()
        expect(page.locator(".alert--ok")).to_contain_text("no longer opens")

        gone = shared.goto(link)
        assert gone.status == 410
        expect(shared.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    finally:
        outsider.close()


def test_the_downloaded_dashboard_opens_offline_and_draws_its_charts(page, browser, live_server, committed_db,
                                                                     tmp_path):
    sales = sell(committed_db)
    open_dashboards(page, live_server, sales)

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as HTML").click()
    saved = tmp_path / "dashboard.html"
    download.value.save_as(saved)

    offline = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
    try:
        copy = offline.new_page()
        requested = []
        copy.on("request", lambda request: requested.append(request.url))
        copy.goto(saved.as_uri())
        assert_every_chart_is_drawn(copy)
        assert sales.club.title in copy.locator("#table-top-events").inner_text()
        assert all(url.startswith(("file:", "data:")) for url in requested), requested
    finally:
        offline.close()


def _serious_violations(page: Page) -> list[str]:
    page.add_script_tag(url="/__test__/axe.min.js")
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [f"{v['id']}: {' '.join(n['target'][0] for n in v['nodes'][:3])}" for v in found
            if v["impact"] in ("serious", "critical")]


def test_the_reports_pages_have_no_serious_accessibility_violations(page, live_server, committed_db):
    sales = sell(committed_db)
    # axe-core is served from this site's own origin, so the page's content security policy stays as it is.
    page.route("**/__test__/axe.min.js", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
    open_dashboards(page, live_server, sales)
    page.get_by_text("Share this view").click()
    page.get_by_label("Name of the link").fill("Accessibility")
    page.get_by_role("button", name="Make a read-only link").click()
    link = page.locator(".alert--ok code").inner_text()

    found = {"shared links": _serious_violations(page)}
    for name, path in (("dashboards", "/admin/reports/"), ("questions", "/admin/reports/questions"),
                       ("shared dashboard", link.removeprefix(live_server))):
        page.goto(f"{live_server}{path}")
        found[name] = _serious_violations(page)

    assert not any(found.values()), found
