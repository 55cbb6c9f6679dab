"""Events in the back office: created with prices and inventory in one go, refused dates shown on the form,
put on sale, changed, and cancelled with every booking refunded (real database, real checkout)."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.errors import BoxOfficeError
from boxoffice.models import OutboxEmail
from boxoffice.services import events, mail, refunds
from tests.admin_support import HX, paid_booking
from tests.builders import ECONOMY, PREMIUM, STANDARD, make_customer, make_event, make_venue, now, rows

FORMAT = "%Y-%m-%dT%H:%M"


@pytest.fixture
def venue(db_session):
    made = make_venue(db_session, sections=2, rows=2, seats_per_row=5, categories={"A": PREMIUM, "D": ECONOMY},
                      name="The Lantern")
    db_session.commit()
    return made


def event_form(venue, **changes) -> dict:
    starts = now() + dt.timedelta(days=40)
    form = {"venue_id": venue.venue_id, "title": "Winter Quartets", "performer": "The Ashdown Quartet",
            "genre": "classical", "description": "Haydn and Britten by candlelight.",
            "starts_at": starts.strftime(FORMAT), "sales_start": now().strftime(FORMAT),
            "sales_end": (starts - dt.timedelta(hours=1)).strftime(FORMAT), "max_seats_per_order": "8",
            "refundable_until_hours": "24", f"price_{PREMIUM}": "95.00", f"price_{STANDARD}": "60.00",
            f"price_{ECONOMY}": "25.50"}
    return {**form, **changes}


def counts(session, event_id: int) -> dict:
    [(total, available)] = rows(session, "SELECT seats_total, seats_available FROM events WHERE event_id = :e",
                                e=event_id)
    [(inventory, unsold)] = rows(session, """SELECT COUNT(*), COALESCE(SUM(state <> 'sold'), 0) FROM event_seats
                                              WHERE event_id = :e""", e=event_id)
    return {"total": total, "available": available, "inventory": inventory, "unsold": int(unsold)}


def test_creating_an_event_writes_it_its_prices_and_its_seat_inventory(admin_client, forms, db_session, venue):
    response = forms.post("/admin/events/new", event_form(venue))
    assert response.status_code == 302
    event_id = int(re.search(r"/admin/events/(\d+)$", response.headers["Location"]).group(1))
    assert rows(db_session, "SELECT title, status, max_seats_per_order, refundable_until_hours FROM events "
                            "WHERE event_id = :e", e=event_id) == [("Winter Quartets", "draft", 8, 24)]
    assert rows(db_session, """SELECT category_id, price, seats_total, seats_available FROM event_prices
                                WHERE event_id = :e ORDER BY category_id""", e=event_id) == [
        (PREMIUM, Decimal("95.00"), 5, 5), (STANDARD, Decimal("60.00"), 10, 10), (ECONOMY, Decimal("25.50"), 5, 5)]
    assert counts(db_session, event_id) == {"total": 20, "available": 20, "inventory": 20, "unsold": 20}
    assert "created as a draft" in admin_client.get(f"/admin/events/{event_id}").get_data(as_text=True)


def test_a_sales_window_the_database_refuses_is_a_form_error_that_keeps_what_was_typed(admin_client, forms,
                                                                                      db_session, venue):
    starts = now() + dt.timedelta(days=40)
    late = (starts + dt.timedelta(days=1)).strftime(FORMAT)
    response = forms.post("/admin/events/new", event_form(venue, sales_end=late, title="Too Late Sonatas"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Ticket sales must open before they close, and close no later than the start" in html
    assert 'value="Too Late Sonatas"' in html and f'value="{late}"' in html and 'value="25.50"' in html
    assert rows(db_session, "SELECT COUNT(*) FROM events WHERE title = 'Too Late Sonatas'") == [(0,)]


def test_an_event_needs_a_price_for_every_category_of_its_venue(admin_client, forms, db_session, venue):
    response = forms.post("/admin/events/new", event_form(venue, **{f"price_{ECONOMY}": ""}))
    assert response.status_code == 422
    assert "(missing: Economy)" in response.get_data(as_text=True)


def test_an_event_needs_a_venue_and_a_venues_page_offers_itself(admin_client, forms, venue):
    response = forms.post("/admin/events/new", event_form(venue, venue_id=""))
    assert response.status_code == 422 and "Choose a venue." in response.get_data(as_text=True)
    html = admin_client.get(f"/admin/venues/{venue.venue_id}").get_data(as_text=True)
    link = re.search(r'href="(/admin/events/new\?venue_id=\d+)"', html).group(1)
    assert f'<option selected value="{venue.venue_id}">' in admin_client.get(link).get_data(as_text=True)


def test_choosing_a_venue_with_htmx_returns_its_price_fields_only(admin_client, venue):
    html = admin_client.get("/admin/events/new", query_string={"venue_id": venue.venue_id, f"price_{PREMIUM}": "70"},
                            headers=HX).get_data(as_text=True)
    assert "<form" not in html and "<legend>Prices</legend>" in html
    assert set(re.findall(r'name="(price_\d+)"', html)) == {f"price_{PREMIUM}", f"price_{STANDARD}",
                                                             f"price_{ECONOMY}"}
    assert 'value="70"' in html, "a price typed before the venue changed stays"


def test_putting_a_draft_on_sale(admin_client, forms, db_session, venue):
    draft = make_event(db_session, venue, status="draft")
    db_session.commit()
    page = f"/admin/events/{draft.event_id}"
    assert forms.post(page, {}, action=f"{page}/publish").status_code == 302
    assert rows(db_session, "SELECT status FROM events WHERE event_id = :e", e=draft.event_id) == [("on_sale",)]
    assert "on sale" in admin_client.get(page).get_data(as_text=True)
    forms.post(page, {}, action=f"{page}/publish")
    assert "Only a draft event can be put on sale." in admin_client.get(page).get_data(as_text=True)


def test_changing_an_event_keeps_its_venue_and_changes_its_prices(admin_client, forms, db_session, venue):
    event = make_event(db_session, venue)
    db_session.commit()
    changed = event_form(venue, title="Winter Quartets (new date)", **{f"price_{PREMIUM}": "99.00"})
    del changed["venue_id"]
    assert forms.post(f"/admin/events/{event.event_id}", changed).status_code == 302
    assert rows(db_session, "SELECT title, venue_id FROM events WHERE event_id = :e", e=event.event_id) == [
        ("Winter Quartets (new date)", venue.venue_id)]
    assert rows(db_session, "SELECT price FROM event_prices WHERE event_id = :e AND category_id = :c",
                e=event.event_id, c=PREMIUM) == [(Decimal("99.00"),)]


def test_cancelling_an_event_refunds_every_booking_and_puts_every_seat_back(admin_client, forms, db_session, venue):
    event = make_event(db_session, venue)
    first, second = make_customer(db_session), make_customer(db_session, vip=True, rate=Decimal("0.1000"))
    db_session.commit()
    bookings = [paid_booking(event, first, "A1", "A2"), paid_booking(event, second, "B1", "C3", "D5")]
    partly = paid_booking(event, first, "C1", "C2")
    refunds.refund_tickets(partly.booking_id, [partly.tickets[0].ticket_id])
    assert counts(db_session, event.event_id)["available"] == 20 - 6

    page = f"/admin/events/{event.event_id}"
    assert f'href="{page}/cancel"' in admin_client.get(page).get_data(as_text=True), "a step, not a tick-box"
    [(owed,)] = rows(db_session, "SELECT SUM(paid_amount) FROM tickets WHERE event_id = :e AND status = 'valid'",
                     e=event.event_id)
    confirm = admin_client.get(f"{page}/cancel").get_data(as_text=True)
    assert "Cancel the event and refund every booking?" in confirm
    assert re.search(r"<strong>3 bookings</strong>\s*\(6 tickets\) refunded in full:\s*"
                     rf"<strong>€{owed:,.2f}</strong> paid back", confirm)
    assert "<strong>3 e-mails</strong>, one per booking" in confirm and f"Yes, cancel and refund €{owed:,.2f}" in confirm
    assert rows(db_session, "SELECT status FROM events WHERE event_id = :e", e=event.event_id) == [("on_sale",)], \
        "the confirmation step changes nothing"
    admin_client.post(f"{page}/cancel")
    assert rows(db_session, "SELECT status FROM events WHERE event_id = :e", e=event.event_id) == [("on_sale",)], \
        "a POST without the form's token changes nothing"

    assert forms.post(f"{page}/cancel", {}).status_code == 302
    assert "3 booking(s) refunded: 6 ticket(s)" in admin_client.get(page).get_data(as_text=True)
    assert rows(db_session, "SELECT status FROM events WHERE event_id = :e", e=event.event_id) == [("cancelled",)]
    for booking in bookings + [partly]:
        assert rows(db_session, "SELECT status FROM bookings WHERE booking_id = :b", b=booking.booking_id) == [
            ("refunded",)]
        [(paid,)] = rows(db_session, "SELECT total FROM bookings WHERE booking_id = :b", b=booking.booking_id)
        [(back,)] = rows(db_session, "SELECT SUM(amount) FROM payments WHERE booking_id = :b AND kind = 'refund'",
                         b=booking.booking_id)
        assert back == paid, "every booking gets back all it paid"
    assert counts(db_session, event.event_id) == {"total": 20, "available": 20, "inventory": 20, "unsold": 20}
    assert rows(db_session, """SELECT COUNT(*) FROM event_prices
                                WHERE event_id = :e AND seats_available <> seats_total""", e=event.event_id) == [(0,)]
    told = db_session.scalars(sa.select(OutboxEmail).where(
        OutboxEmail.kind == "tickets_refunded",
        OutboxEmail.booking_id.in_([b.booking_id for b in bookings + [partly]]))).all()
    assert {m.booking_id for m in told} == {b.booking_id for b in bookings + [partly]}, "each customer is told"
    assert all("has been cancelled" in mail.compose(m)[1] for m in told)


def test_a_big_cancellation_refunds_a_batch_per_call_until_none_is_left(admin_client, forms, db_session, venue):
    event = make_event(db_session, venue)
    buyer = make_customer(db_session)
    db_session.commit()
    for label in ("A1", "A2", "A3"):
        paid_booking(event, buyer, label)
    first = events.cancel_event(event.event_id, batch=2)
    assert (first.bookings_refunded, first.bookings_left) == (2, 1)
    page = f"/admin/events/{event.event_id}"
    assert "1 booking still to be refunded." in admin_client.get(page).get_data(as_text=True)
    confirm = admin_client.get(f"{page}/cancel").get_data(as_text=True)
    assert "Refund the next bookings?" in confirm and "Yes, refund the next 1 booking" in confirm
    forms.post(f"{page}/cancel", {})
    assert "every booking has been refunded" in admin_client.get(page).get_data(as_text=True)
    assert events.bookings_to_refund(event.event_id) == 0
    assert counts(db_session, event.event_id)["available"] == 20


def test_the_cancel_step_comes_in_place_with_htmx_and_says_when_nobody_booked(admin_client, forms, db_session, venue):
    event = make_event(db_session, venue)
    db_session.commit()
    page = f"/admin/events/{event.event_id}"
    assert f'hx-get="{page}/cancel" hx-target="#cancel-panel"' in admin_client.get(page).get_data(as_text=True)
    panel = admin_client.get(f"{page}/cancel", headers=HX).get_data(as_text=True)
    assert panel.lstrip().startswith('<section id="cancel-panel"') and "<html" not in panel
    assert "Nobody has booked it: there is nothing to refund" in panel and "Yes, cancel the event" in panel
    assert 'name="csrf_token"' in panel and f'action="{page}/cancel"' in panel
    forms.post(f"{page}/cancel", {})
    assert rows(db_session, "SELECT status FROM events WHERE event_id = :e", e=event.event_id) == [("cancelled",)]
    done = admin_client.get(f"{page}/cancel")
    assert done.status_code == 302 and done.location.endswith(page), "nothing left to confirm"


def test_a_cancelled_event_cannot_be_sold_or_changed(db_session, venue):
    event = make_event(db_session, venue)
    db_session.commit()
    assert events.cancel_event(event.event_id).bookings_refunded == 0
    details = events.EventDetails("New title", "Someone", "concert", "Text", now() + dt.timedelta(days=9),
                                  now(), now() + dt.timedelta(days=8), 4, 24, {PREMIUM: Decimal("1"),
                                                                             STANDARD: Decimal("1"),
                                                                             ECONOMY: Decimal("1")})
    with pytest.raises(BoxOfficeError, match="cancelled event cannot be changed"):
        events.update_event(event.event_id, details)
    with pytest.raises(BoxOfficeError, match="Only a draft"):
        events.publish_event(event.event_id)


def test_the_event_list_finds_events_by_title_venue_and_status(admin_client, db_session, venue):
    make_event(db_session, venue, title="Lantern Lights", status="draft")
    make_event(db_session, venue, title="Harbour Songs")
    db_session.commit()
    html = admin_client.get("/admin/events", query_string={"q": "lantern lights"}).get_data(as_text=True)
    assert "Lantern Lights" in html and "Harbour Songs" not in html
    html = admin_client.get("/admin/events", query_string={"q": "The Lantern", "status": "on_sale"},
                            headers=HX).get_data(as_text=True)
    assert "Harbour Songs" in html and "Lantern Lights" not in html and "<form" not in html


def test_the_event_list_is_paginated(db_session, venue):
    for number in range(7):
        make_event(db_session, venue, title=f"Matinee {number}", starts_in=dt.timedelta(days=10 + number))
    db_session.commit()
    first = events.search_events("Matinee", None, "upcoming", 1, 5)
    second = events.search_events("Matinee", None, "upcoming", 2, 5)
    assert (first.total, first.pages, len(first.items), len(second.items)) == (7, 2, 5, 2)
    assert [e.event.title for e in first.items + second.items] == [f"Matinee {n}" for n in range(7)]


def test_a_booking_after_the_cancellation_is_refused(db_session, venue):
    event = make_event(db_session, venue)
    buyer = make_customer(db_session)
    db_session.commit()
    events.cancel_event(event.event_id)
    with pytest.raises(BoxOfficeError):
        paid_booking(event, buyer, "A1")
    assert rows(db_session, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(0,)]
