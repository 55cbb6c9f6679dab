"""The storefront's pages through the Flask test client: what a buyer sees and can do, with and without HTMX."""
from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.models import Booking, OutboxEmail
from boxoffice.services import holds, mail, seatmap
from tests.builders import PREMIUM, make_customer, make_discount, make_event, make_venue, new_hold_owner, rows, sell_seats

HX = {"HX-Request": "true"}


@pytest.fixture
def event(db_session):
    venue = make_venue(db_session, rows=2, seats_per_row=5, categories={"A": PREMIUM}, wheelchair=["B1"],
                       companion=["B2"], name="The Velvet Room", city="Lisbon")
    event = make_event(db_session, venue, title="Midnight Strings", performer="The Nocturnes")
    db_session.commit()
    return event


@pytest.fixture
def buyer(db_session, client, forms):
    made = make_customer(db_session, vip=True, rate=Decimal("0.1000"), password="a-long-password")
    db_session.commit()
    response = forms.post("/account/login", {"email": made.email, "password": "a-long-password"})
    assert response.status_code == 302
    return made


def seat_button(html: str, seat_id: int) -> str:
    match = re.search(rf'<button[^>]*id="seat-{seat_id}"[^>]*>', html)
    assert match, f"seat {seat_id} is not on the page"
    return match.group(0)


def poll_url(html: str) -> str:
    return re.search(r'hx-get="([^"]*seats/changes[^"]*)"', html).group(1).replace("&amp;", "&")


def hold_running_out_soon(db_session, event, seat_id: int) -> None:
    """Someone else holds the seat until half a second from now: it then runs out with no write at all."""
    holds.hold_seats(event.event_id, [seat_id], new_hold_owner(), 10)
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 500000 MICROSECOND "
                               "WHERE event_id = :e AND seat_id = :s"), {"e": event.event_id, "s": seat_id})
    db_session.commit()


def test_the_catalogue_finds_an_event_by_venue_city_and_title(client, event):
    for term in ("Velvet", "lisbon", "midnight"):
        assert "Midnight Strings" in client.get("/", query_string={"q": term}).get_data(as_text=True)
    assert "Midnight Strings" not in client.get("/", query_string={"q": "no such show"}).get_data(as_text=True)


def test_a_filtered_catalogue_request_from_htmx_returns_only_the_results(client, event):
    html = client.get("/", query_string={"q": "Velvet"}, headers=HX).get_data(as_text=True)
    assert "Midnight Strings" in html and "<html" not in html and 'class="filters"' not in html


def test_a_price_filter_below_every_price_finds_nothing(client, event):
    html = client.get("/", query_string={"q": "Velvet", "max_price": "5"}).get_data(as_text=True)
    assert "No events match" in html


def test_an_impossible_date_range_is_explained_and_keeps_what_was_typed(client, event):
    html = client.get("/", query_string={"q": "Velvet", "date_from": "2030-05-02", "date_to": "2030-05-01"}).get_data(as_text=True)
    assert "The end date is before the start date." in html and 'value="Velvet"' in html


def test_the_event_page_shows_prices_and_an_accessible_seat_map(client, event):
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert "Midnight Strings" in html and "€80.00" in html
    button = seat_button(html, event.seat_ids("B1")[0])
    assert 'aria-label="Stalls, row B, seat 1, Standard, wheelchair space, €50.00, available"' in button
    assert "♿" in html and 'id="seat-poller"' in html


def test_a_thousand_seat_event_page_stays_under_212_kib(client, db_session):
    """Its size before the map was drawn as the venue (docs/benchmarks.md): a seat's markup is one cell, one
    line of button, and nothing a thousand seats repeat that the row or the stylesheet can say once."""
    hall = make_event(db_session, make_venue(db_session, sections=2, rows=20, seats_per_row=25,
                                             categories={"A": PREMIUM}))
    db_session.commit()
    html = client.get(f"/events/{hall.event_id}").get_data(as_text=True)
    assert html.count('<button name="seat"') == 1000
    assert len(html.encode()) < 212 * 1024, f"{len(html.encode()) / 1024:.1f} KiB"


def test_a_draft_event_is_not_public(client, db_session):
    draft = make_event(db_session, make_venue(db_session), status="draft")
    db_session.commit()
    assert client.get(f"/events/{draft.event_id}").status_code == 404


def test_pressing_a_seat_without_javascript_holds_it_and_comes_back_to_the_map(client, forms, event):
    seat_id = event.seat_ids("A3")[0]
    response = forms.post(f"/events/{event.event_id}", {"seat": seat_id}, action=f"/events/{event.event_id}/seats")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/events/{event.event_id}")
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert 'aria-pressed="true"' in seat_button(html, seat_id) and "Continue to checkout" in html


def test_pressing_a_seat_with_htmx_returns_the_seat_picker_only(client, forms, event):
    seat_id = event.seat_ids("A3")[0]
    html = forms.post(f"/events/{event.event_id}", {"seat": seat_id}, action=f"/events/{event.event_id}/seats",
                      headers=HX).get_data(as_text=True)
    assert html.lstrip().startswith('<section id="seat-picker"')
    assert "held for you" in seat_button(html, seat_id)
    html = forms.post(f"/events/{event.event_id}", {"seat": seat_id}, action=f"/events/{event.event_id}/seats",
                      headers=HX).get_data(as_text=True)
    assert ", available" in seat_button(html, seat_id), "pressing it again gives it back"


def page_state(html: str) -> dict:
    """The poller's inputs, which HTMX sends with every seat pressed on the live map."""
    return dict(re.findall(r'<input type="hidden" name="([vt])" value="([^"]*)"', html))


def test_a_seat_pressed_on_the_live_map_gets_only_what_changed_since_the_page(client, forms, event):
    page = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    taken_meanwhile, pressed = event.seat_ids("B5")[0], event.seat_ids("A3")[0]
    holds.hold_seats(event.event_id, [taken_meanwhile], new_hold_owner(), 10)
    response = forms.post(f"/events/{event.event_id}", {"seat": pressed, **page_state(page)},
                          action=f"/events/{event.event_id}/seats", headers=HX)
    html = response.get_data(as_text=True)
    assert response.headers["HX-Reswap"] == "none", "nothing replaces the picker: every part is swapped out of band"
    assert sorted(map(int, re.findall(r'id="seat-(\d+)"', html))) == sorted([taken_meanwhile, pressed])
    assert "held for you" in seat_button(html, pressed) and "held by someone else" in seat_button(html, taken_meanwhile)
    assert 'id="cart" class="cart" aria-labelledby="cart-title" hx-swap-oob="true"' in html and "Stalls · Row A · Seat 3" in html
    assert int(page_state(html)["v"]) > int(page_state(page)["v"]), "the poller moves on to the new version"
    assert client.get(poll_url(html), headers=HX).status_code == 204


def test_a_seat_taken_a_moment_earlier_is_explained_on_the_live_map(client, forms, event):
    page = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    seat_id = event.seat_ids("A1")[0]
    holds.hold_seats(event.event_id, [seat_id], new_hold_owner(), 10)
    html = forms.post(f"/events/{event.event_id}", {"seat": seat_id, **page_state(page)},
                      action=f"/events/{event.event_id}/seats", headers=HX).get_data(as_text=True)
    assert re.search(r'<div id="seat-picker-status"[^>]*hx-swap-oob="true">\s*<p class="alert alert--error">'
                     r'Sorry, Stalls row A seat 1 is held by someone else\. It may come free at \d\d:\d\d\.', html)
    assert "held by someone else" in seat_button(html, seat_id)


def test_a_seat_taken_a_moment_earlier_gets_a_clear_message_and_a_fresh_map(client, forms, event):
    seat_id = event.seat_ids("A1")[0]
    holds.hold_seats(event.event_id, [seat_id], new_hold_owner(), 10)
    html = forms.post(f"/events/{event.event_id}", {"seat": seat_id}, action=f"/events/{event.event_id}/seats",
                      headers=HX).get_data(as_text=True)
    assert "Sorry, Stalls row A seat 1 is held by someone else." in html
    assert "held by someone else" in seat_button(html, seat_id)


@pytest.mark.parametrize("taken, said", [
    ("sold", r"Sorry, Stalls row A seat 4 has already been sold\."),
    ("held", r"Sorry, Stalls row A seat 4 is held by someone else\. It may come free at \d\d:\d\d\."),
])
def test_a_taken_seat_pressed_without_javascript_says_whether_it_is_sold_or_held(client, forms, db_session, event,
                                                                                 taken, said):
    seat_id = event.seat_ids("A4")[0]
    if taken == "sold":
        sell_seats(db_session, event, [seat_id])
        db_session.commit()
    else:
        holds.hold_seats(event.event_id, [seat_id], new_hold_owner(), 10)
    response = forms.post(f"/events/{event.event_id}", {"seat": seat_id}, action=f"/events/{event.event_id}/seats")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'<p class="alert alert--error"[^>]*>\s*{said}', html), "the flash says why"
    assert "someone else has just taken" not in html


def test_the_poll_answers_no_content_when_nothing_changed_and_only_the_changed_seats_otherwise(client, event):
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    poll_url = re.search(r'hx-get="([^"]*seats/changes[^"]*)"', html).group(1).replace("&amp;", "&")
    assert client.get(poll_url, headers=HX).status_code == 204
    taken = event.seat_ids("A2")[0]
    holds.hold_seats(event.event_id, [taken], new_hold_owner(), 10)
    response = client.get(poll_url, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.findall(r'id="seat-(\d+)"', body) == [str(taken)]
    assert 'hx-swap-oob="true"' in seat_button(body, taken) and "held by someone else" in body
    next_poll = re.search(r'hx-get="([^"]*seats/changes[^"]*)"', body).group(1).replace("&amp;", "&")
    assert client.get(next_poll, headers=HX).status_code == 204


def test_a_hold_that_runs_out_reaches_the_poll_without_any_write(client, db_session, event):
    seat_id = event.seat_ids("A4")[0]
    hold_running_out_soon(db_session, event, seat_id)
    url = poll_url(client.get(f"/events/{event.event_id}").get_data(as_text=True))
    assert client.get(url, headers=HX).status_code == 204
    time.sleep(0.6)
    body = client.get(url, headers=HX).get_data(as_text=True)
    assert ", available" in seat_button(body, seat_id)


def test_the_poll_brings_the_seats_left_per_category_up_to_date(client, db_session, event):
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert re.search(r"€80\.00</span>\s*<span id=\"seats-left-\d+\" class=\"muted\">5 left", html)
    sell_seats(db_session, event, event.seat_ids("A1", "A2"))
    db_session.commit()
    body = client.get(poll_url(html), headers=HX).get_data(as_text=True)
    assert re.search(r"<span id=\"seats-left-\d+\" class=\"muted\" hx-swap-oob=\"true\">3 left</span>", body)


def test_the_event_page_shows_a_seat_taken_since_the_map_was_last_drawn(client, event):
    seat_id = event.seat_ids("A2")[0]
    assert ", available" in seat_button(client.get(f"/events/{event.event_id}").get_data(as_text=True), seat_id)
    holds.hold_seats(event.event_id, [seat_id], new_hold_owner(), 10)
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert "held by someone else" in seat_button(html, seat_id)


def test_the_event_page_shows_a_hold_that_ran_out_as_available_without_any_write(client, db_session, event):
    seat_id = event.seat_ids("A5")[0]
    hold_running_out_soon(db_session, event, seat_id)
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert "held by someone else" in seat_button(html, seat_id)
    time.sleep(0.6)
    later = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert ", available" in seat_button(later, seat_id)
    assert poll_url(later).split("&t=")[0] == poll_url(html).split("&t=")[0], "no write moved the seat version"


def test_a_buyer_sees_their_own_seats_as_theirs_while_others_see_them_held(app, client, forms, event):
    mine = event.seat_ids("B4")[0]
    forms.post(f"/events/{event.event_id}", {"seat": mine}, action=f"/events/{event.event_id}/seats")
    assert "held for you" in seat_button(client.get(f"/events/{event.event_id}").get_data(as_text=True), mine)
    with app.test_client() as someone_else:
        html = someone_else.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert "held by someone else" in seat_button(html, mine) and 'aria-pressed="false"' in seat_button(html, mine)


def test_a_new_price_reaches_every_seat_label(client, db_session, event):
    seat_id = event.seat_ids("A1")[0]
    assert "€80.00" in seat_button(client.get(f"/events/{event.event_id}").get_data(as_text=True), seat_id)
    db_session.execute(sa.text("UPDATE event_prices SET price = 95 WHERE event_id = :e AND price = 80"),
                       {"e": event.event_id})
    db_session.commit()
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert "€95.00, available" in seat_button(html, seat_id)


def test_a_large_venues_section_overview_follows_every_hold_and_every_expiry(client, db_session, event, monkeypatch):
    monkeypatch.setattr(seatmap, "LARGE_VENUE_SEATS", 10)

    def free_in_stalls() -> str:
        html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
        assert "Choose a section on the plan to see its seats." in html
        return re.search(r'section-tile__free">(\d+ of \d+) free', html).group(1)

    assert free_in_stalls() == "10 of 10"
    holds.hold_seats(event.event_id, event.seat_ids("A1"), new_hold_owner(), 10)
    assert free_in_stalls() == "9 of 10"
    hold_running_out_soon(db_session, event, event.seat_ids("B3")[0])
    assert free_in_stalls() == "8 of 10"
    time.sleep(0.6)
    assert free_in_stalls() == "9 of 10", "a hold that ran out frees its seat without any write"


def price_key(html: str) -> list[tuple[str, str, str, str | None]]:
    """The map's key of prices: (category rank, name, price, the buyer's own VIP price) per category."""
    key = re.search(r'<ul class="legend legend--prices"[^>]*>(.*?)</ul>', html, re.S).group(1)
    return [(rank, name, price, vip or None) for rank, name, price, vip in re.findall(
        r'seat--cat(\d)" aria-hidden="true"></span>\s*([\w ]+?) <strong class="price">(€[\d.,]+)</strong>'
        r'(?: <span class="legend__vip">you pay (€[\d.,]+)</span>)?</li>', key)]


def test_the_maps_key_gives_each_categorys_shape_and_price(client, event):
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    assert price_key(html) == [("1", "Premium", "€80.00", None), ("2", "Standard", "€50.00", None)]
    assert "VIP €76.00" in html, "a regular buyer is shown what a VIP at the entry rate pays"


def test_a_signed_in_vip_sees_their_own_price_in_the_key_and_the_price_list(client, event, buyer):
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    # €80.00 and €50.00 less the buyer's own 10 % (pricing.vip_price), not the 5 % entry rate.
    assert price_key(html) == [("1", "Premium", "€80.00", "€72.00"), ("2", "Standard", "€50.00", "€45.00")]
    assert "You pay €72.00" in html and "You pay €45.00" in html and "VIP €76.00" not in html
    assert "Your Gold VIP rate: 10% off each order." in html


def test_a_large_venues_plan_is_filled_by_the_category_of_each_sections_cheapest_free_seat(client, db_session,
                                                                                           event, monkeypatch):
    monkeypatch.setattr(seatmap, "LARGE_VENUE_SEATS", 10)

    def stalls() -> tuple[str, str]:
        html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
        link = re.search(r'<a class="seat-plan-map__link seat-plan-map__link--(\w+)[^>]*aria-label="([^"]*)"[^>]*>\s*'
                         r'<polygon class="([^"]*)"', html)
        assert link, "the plan links to the section"
        return link.group(1), link.group(2), link.group(3)

    assert stalls() == ("on_sale", "Stalls: 10 of 10 seats free, from €50.00",
                        "seat-plan-map__section seat-plan-map__fill--cat2")
    sell_seats(db_session, event, event.seat_ids("B1", "B2", "B3", "B4", "B5"))
    db_session.commit()
    assert stalls() == ("few_left", "Stalls: 5 of 10 seats free, from €80.00",
                        "seat-plan-map__section seat-plan-map__fill--cat1"), "the cheapest seats are gone"
    sell_seats(db_session, event, event.seat_ids("A1", "A2", "A3", "A4", "A5"))
    db_session.commit()
    assert stalls() == ("sold_out", "Stalls: 0 of 10 seats free", "seat-plan-map__section")


def test_checkout_asks_a_signed_out_buyer_to_sign_in_and_keeps_the_seats(client, forms, db_session, event):
    seat_id = event.seat_ids("A1")[0]
    forms.post(f"/events/{event.event_id}", {"seat": seat_id}, action=f"/events/{event.event_id}/seats")
    response = client.get(f"/checkout/{event.event_id}")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    made = make_customer(db_session, password="a-long-password")
    db_session.commit()
    response = forms.post(f"/account/login?next=/checkout/{event.event_id}", {"email": made.email, "password": "a-long-password"})
    assert response.headers["Location"] == f"/checkout/{event.event_id}"
    html = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    assert "Stalls · Row A · Seat 1" in html and "€80.00" in html


def test_a_vip_pays_with_a_promo_code_and_gets_e_tickets(client, forms, db_session, event, buyer):
    code = make_discount(db_session, kind="fixed", value=Decimal("5.00")).code
    db_session.commit()
    for label in ("A1", "A2"):
        forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids(label)[0]}, action=f"/events/{event.event_id}/seats")
    html = forms.post(f"/checkout/{event.event_id}", {"promo_code": code.lower()},
                      action=f"/checkout/{event.event_id}/promo", headers=HX).get_data(as_text=True)
    # 160.00 - 10% VIP (16.00) - 5.00 promo = 139.00
    assert "−€16.00" in html and "−€5.00" in html and "€139.00" in html
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = forms.post(f"/checkout/{event.event_id}", {
        "method": "card", "holder": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "exp_month": "12",
        "exp_year": "2035", "cvv": "123", "expected_total": "139.00", "promo_code": code, "idempotency_key": key})
    assert response.status_code == 303, response.get_data(as_text=True)
    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is confirmed" in confirmation and "€139.00" in confirmation and buyer.email in confirmation
    assert "Midnight Strings" in confirmation and "The Velvet Room, 1 Test Street, Lisbon" in confirmation
    assert "Stalls, row A, seat 1" in confirmation and "Cancel tickets…" in confirmation
    code_on_page = re.search(r'class="booking-code">([0-9A-Z]{10})<', confirmation).group(1)
    tickets = client.get(f"/account/orders/{code_on_page}/tickets").get_data(as_text=True)
    assert tickets.count('src="data:image/svg+xml') == 2


def test_paying_from_the_boosted_form_answers_with_the_confirmation_and_its_address(client, forms, db_session,
                                                                                    event, buyer):
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A3")[0]}, action=f"/events/{event.event_id}/seats")
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    payment = {"method": "card", "holder": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "exp_month": "12",
               "exp_year": "2035", "cvv": "123", "expected_total": "72.00", "idempotency_key": key,
               "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)}
    boosted = {**HX, "HX-Boosted": "true"}
    response = client.post(f"/checkout/{event.event_id}", data=payment, headers=boosted)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "is confirmed" in html and "Stalls, row A, seat 3" in html
    code = re.search(r'class="booking-code">([0-9A-Z]{10})<', html).group(1)
    assert response.headers["HX-Push-Url"] == f"/account/orders/{code}?new=1"
    # The address it leaves behind shows the same order; a second press of "Pay" the same confirmation.
    assert code in client.get(response.headers["HX-Push-Url"]).get_data(as_text=True)
    again = client.post(f"/checkout/{event.event_id}", data=payment, headers=boosted)
    assert again.status_code == 200 and again.headers["HX-Push-Url"] == f"/account/orders/{code}?new=1"
    assert rows(db_session, "SELECT COUNT(*) FROM bookings WHERE idempotency_key = :k", k=key) == [(1,)]
    mails = db_session.scalars(sa.select(OutboxEmail).join(Booking, Booking.booking_id == OutboxEmail.booking_id)
                               .where(Booking.booking_code == code)).all()
    assert len(mails) == 1 and mails[0].recipient == buyer.email
    subject, body = mail.compose(mails[0])
    assert "Stalls, row A, seat 3" in body and "Total paid: €72.00" in body


def test_a_saved_card_is_offered_first_at_checkout_and_pays(client, forms, db_session, event, buyer):
    forms.post("/account/cards", {"holder": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "exp_month": "12",
                                  "exp_year": "2035", "cvv": "123"})
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A4")[0]}, action=f"/events/{event.event_id}/seats")
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    saved = re.search(r'<input[^>]*value="(saved:\d+)"[^>]*>\s*<span>Visa ending 4242 \(expires 12/2035\)</span>', page)
    assert saved and "checked" in saved.group(0), "the saved card is listed and chosen"
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = forms.post(f"/checkout/{event.event_id}", {
        "method": saved.group(1), "expected_total": "72.00", "idempotency_key": key})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert rows(db_session, "SELECT p.card_brand, p.last_four, p.amount FROM payments p JOIN bookings b "
                            "ON b.booking_id = p.booking_id WHERE b.idempotency_key = :k", k=key) == [
        ("visa", "4242", Decimal("72.00"))]


def test_a_saved_card_past_its_expiry_is_shown_expired_and_never_offered(client, forms, db_session, event, buyer):
    forms.post("/account/cards", {"holder": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "exp_month": "12",
                                  "exp_year": "2035", "cvv": "123"})
    db_session.execute(sa.text("UPDATE saved_payment_methods SET exp_month = 7, exp_year = 2025 WHERE customer_id = :c"),
                       {"c": buyer.customer_id})
    assert "Expired 07/2025" in client.get("/account/cards").get_data(as_text=True)
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A4")[0]}, action=f"/events/{event.event_id}/seats")
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    assert 'value="saved:' not in page, "an expired card is not a way to pay"
    assert "ending 4242 expired 07/2025 and cannot be used" in page
    chosen = re.search(r'<input[^>]*name="method"[^>]*value="card"[^>]*>', page).group(0)
    assert "checked" in chosen, "a new card is chosen instead"


def test_a_declined_card_keeps_what_was_typed_except_the_card_number(client, forms, db_session, event, buyer):
    forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids("A5")[0]}, action=f"/events/{event.event_id}/seats")
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = forms.post(f"/checkout/{event.event_id}", {
        "method": "card", "holder": "Grace Hopper", "card_number": "4000 0000 0000 0002", "exp_month": "11",
        "exp_year": "2034", "cvv": "999", "expected_total": "72.00", "idempotency_key": key})
    html = response.get_data(as_text=True)
    assert response.status_code == 402 and "declined" in html
    assert 'value="Grace Hopper"' in html and 'value="2034"' in html
    assert 'value="4000 0000 0000 0002"' not in html and 'value="999"' not in html
    assert re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1) != key, "a fresh attempt gets a fresh key"


def test_someone_elses_order_is_not_found(client, db_session, buyer):
    assert client.get("/account/orders/NOTMINE000").status_code == 404


def test_a_booking_code_with_strange_characters_is_simply_not_found(client, buyer):
    assert client.get("/account/orders/ÉÀ✓ü-ΩΣ").status_code == 404


def test_every_form_needs_its_csrf_token(client, event):
    response = client.post(f"/events/{event.event_id}/seats", data={"seat": event.seat_ids("A1")[0]})
    assert response.status_code == 400
    assert client.post("/account/login", data={"email": "a@b.c", "password": "x"}).status_code == 400


def test_every_page_carries_the_security_headers(client, event):
    headers = client.get(f"/events/{event.event_id}").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_passwords_are_stored_as_argon2_hashes(db_session, client, forms):
    forms.post("/account/register", {"full_name": "New Buyer", "email": "new.buyer@example.com",
                                     "password": "a-long-password", "confirm": "a-long-password"})
    # Kept as the registration's until its e-mail is confirmed, and moved into the account as it is.
    (password_hash,) = rows(db_session, "SELECT password_hash FROM registrations WHERE email = 'new.buyer@example.com'")[0]
    assert password_hash.startswith("$argon2id$")


def test_a_registration_with_mistakes_shows_them_and_keeps_what_was_typed(forms):
    html = forms.post("/account/register", {"full_name": "Typo Person", "email": "not-an-email",
                                            "password": "short", "confirm": "other"}).get_data(as_text=True)
    assert 'value="Typo Person"' in html and "Use at least 10 characters." in html and "Invalid email" in html


def test_a_saved_card_keeps_only_its_last_four_digits(client, forms, db_session, buyer):
    response = forms.post("/account/cards", {"holder": "Ada", "card_number": "5555 5555 5555 4444", "exp_month": "10",
                                             "exp_year": "2031", "cvv": "123"})
    assert response.status_code == 302
    html = client.get("/account/cards").get_data(as_text=True)
    assert "ending 4444" in html and "5555 5555 5555 4444" not in html
    assert rows(db_session, "SELECT card_brand, last_four FROM saved_payment_methods WHERE customer_id = :c",
                c=buyer.customer_id) == [("mastercard", "4444")]


def test_saving_the_same_card_twice_keeps_one_entry(client, forms, db_session, buyer):
    card = {"holder": "Ada", "card_number": "4242 4242 4242 4242", "exp_month": "10", "exp_year": "2031", "cvv": "123"}
    forms.post("/account/cards", card)
    forms.post("/account/cards", card)
    assert rows(db_session, "SELECT COUNT(*) FROM saved_payment_methods WHERE customer_id = :c",
                c=buyer.customer_id) == [(1,)]
