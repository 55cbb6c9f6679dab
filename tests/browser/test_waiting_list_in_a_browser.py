"""The waiting list in Chromium: a customer joins a sold-out event's line, seats come back, the pass offers
them with a mail, and the link in the mail takes the customer to checkout with those seats, to pay."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from boxoffice.services import waiting_list
from tests.browser import scenario
from tests.browser.shopping import GOOD_CARD, fill_card, sign_in
from tests.builders import rows, sell_seats

pytestmark = pytest.mark.browser


def test_a_waiting_list_offer_is_taken_from_its_mail_to_a_booking(app, page, live_server, committed_db):
    event = scenario.small_event(committed_db, title="The Sold-Out Show")
    sell_seats(committed_db, event, event.seat_ids())
    buyer = scenario.buyers(committed_db).regular

    sign_in(page, live_server, buyer, next_path=f"/events/{event.event_id}/waiting-list")
    panel = page.locator("#waiting-list")
    expect(panel).to_contain_text("Sold out: join the waiting list")
    panel.get_by_label("Seats").select_option("2")
    panel.get_by_label("Category").select_option("any")
    panel.get_by_role("button", name="Join the waiting list").click()
    expect(panel).to_contain_text("Number 1 in line, for 2 seats in any category")

    # Two seats come back (a refund), and the jobs' pass offers them to the first in line.
    committed_db.execute(sa.text("UPDATE event_seats SET state = 'available' WHERE event_id = :e AND seat_id IN :s"),
                         {"e": event.event_id, "s": event.seat_ids("B4", "B5")})
    with app.app_context():
        [offer] = waiting_list.pass_down_the_line().offers
    assert offer.customer_id == buyer.customer_id

    [(body,)] = rows(committed_db, "SELECT body_text FROM outbox_emails WHERE recipient = :r AND subject LIKE 'Seats for %'",
                     r=buyer.email)
    link = re.search(r"https?://\S+/waiting-list/offers/\w+", body).group(0)
    page.reload()
    expect(panel).to_contain_text("Seats are held for you")

    # The mail's link names the configured site (BASE_URL); the test's server listens elsewhere.
    page.goto(live_server + "/" + link.split("/", 3)[3])
    expect(page).to_have_url(re.compile(rf"/checkout/{event.event_id}$"))
    expect(page.locator("#order-summary .cart__seats li")).to_have_count(2)
    fill_card(page, GOOD_CARD)
    page.get_by_role("button", name=re.compile(r"^Pay")).click()
    expect(page).to_have_url(re.compile(r"/account/orders/[A-Z0-9]+\?new=1$"))
    assert rows(committed_db, """SELECT COUNT(*) FROM tickets t JOIN bookings b ON b.booking_id = t.booking_id
                                  WHERE b.customer_id = :c AND t.seat_id IN :s""",
                c=buyer.customer_id, s=event.seat_ids("B4", "B5")) == [(2,)]
    assert rows(committed_db, "SELECT status FROM waiting_list_entries WHERE customer_id = :c",
                c=buyer.customer_id) == [("claimed",)]
