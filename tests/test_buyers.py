"""Buyers without an account and tickets people can carry: guest checkout, the order found by e-mail and
code or by its signed link (and no one else's), the calendar file, the PDF and its QR codes, cancelling
single seats after a confirmation step, refund lines, venue details, and the Pay button's amount."""
from __future__ import annotations

import datetime as dt
import io
import re
import secrets
from decimal import Decimal

import icalendar
import pypdf
import pypdfium2
import pytest
import sqlalchemy as sa
import zxingcpp

from boxoffice import create_app, rate_limits
from boxoffice.models import OutboxEmail
from boxoffice.services import customers, mail, orders, refunds
from tests.conftest import Forms
from tests.test_password_reset import confirmation_link
from tests.builders import PREMIUM, make_customer, make_discount, make_event, make_venue, rows

HX = {"HX-Request": "true"}


@pytest.fixture
def event(db_session):
    venue = make_venue(db_session, rows=2, seats_per_row=5, categories={"A": PREMIUM}, name="Harbour Hall",
                       city="Porto")
    db_session.execute(sa.text(
        "UPDATE venues SET address = '12 Quay Street', directions = 'Tram 1 to Ribeira.', "
        "access_info = 'Step-free entrance on the river side.', facilities = 'Cloakroom and two bars.' "
        "WHERE venue_id = :v"), {"v": venue.venue_id})
    event = make_event(db_session, venue, title="Lakeside Jazz", performer="The Quay Quartet")
    db_session.commit()
    return event


def hold(forms, event, *labels: str) -> None:
    for label in labels:
        forms.post(f"/events/{event.event_id}", {"seat": event.seat_ids(label)[0]},
                   action=f"/events/{event.event_id}/seats")


def pay_as_guest(client, forms, event, email: str, *labels: str, name: str = "") -> str:
    """Hold the seats, continue as a guest, pay with the test card; the confirmation's address."""
    hold(forms, event, *labels)
    login_page = f"/account/login?next=/checkout/{event.event_id}"
    response = client.get(f"/checkout/{event.event_id}")
    if response.status_code == 302:  # (not for a session that is a guest already)
        assert response.headers["Location"] == login_page
    assert "Or pay as a guest" in client.get(login_page).get_data(as_text=True)
    response = forms.post(login_page, {"guest-email": email, "guest-full_name": name}, action=f"/checkout/{event.event_id}/guest")
    assert response.headers["Location"] == f"/checkout/{event.event_id}"
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    assert email.lower() in page and "Save this card" not in page
    total = re.search(r'name="expected_total" value="([^"]+)"', page).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = forms.post(f"/checkout/{event.event_id}", {
        "method": "card", "holder": "Guest", "card_number": "4242 4242 4242 4242", "exp_month": "12",
        "exp_year": "2035", "cvv": "123", "expected_total": total, "promo_code": "", "idempotency_key": key})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def booking_code(html: str) -> str:
    return re.search(r'class="booking-code">([0-9A-Z]{10})<', html).group(1)


def test_a_guest_pays_with_an_e_mail_only_and_its_order_opens_at_a_signed_link(client, forms, db_session, event):
    location = pay_as_guest(client, forms, event, "Guest.One@example.com", "A1", "A2")

    assert location.startswith("/orders/") and location.endswith("?new=1")
    page = client.get(location).get_data(as_text=True)
    assert "You're going!" in page and "guest.one@example.com" in page
    assert "Harbour Hall, 12 Quay Street, Porto" in page and "Step-free entrance" in page
    assert "<dt>Paid with</dt><dd>Visa ending 4242</dd>" in page and "€160.00" in page
    # The guest is a Regular customer of its own, without a password, and never an account.
    [(is_guest, password_hash, account_email, customer_type)] = rows(db_session, """
        SELECT c.is_guest, c.password_hash, c.account_email, c.customer_type FROM bookings b
          JOIN customers c USING (customer_id) WHERE b.booking_code = :code""", code=booking_code(page))
    assert (is_guest, password_hash, account_email, customer_type) == (1, None, None, "regular")


def test_a_guest_using_a_vips_e_mail_pays_the_regular_price_and_learns_nothing(client, forms, db_session, event):
    vip = make_customer(db_session, vip=True, rate=Decimal("0.1000"), email="vip.guest@example.com")
    db_session.commit()
    page = client.get(pay_as_guest(client, forms, event, vip.email, "A1")).get_data(as_text=True)

    assert "€80.00" in page and "VIP discount" not in page
    assert rows(db_session, "SELECT COUNT(*) FROM bookings WHERE customer_id = :c", c=vip.customer_id) == [(0,)]


def test_an_order_is_found_by_its_e_mail_and_code_and_another_guests_code_is_refused(client, forms, db_session,
                                                                                     event):
    mine = booking_code(client.get(pay_as_guest(client, forms, event, "me@example.com", "A1")).get_data(as_text=True))
    other = booking_code(client.get(pay_as_guest(client, forms, event, "other@example.com", "B1")).get_data(as_text=True))

    found = forms.post("/orders/find", {"email": "ME@example.com", "booking_code": mine.lower()})
    assert found.status_code == 303 and found.headers["Location"].startswith("/orders/")
    assert mine in client.get(found.headers["Location"]).get_data(as_text=True)
    # Another guest's code with my e-mail, my code with another e-mail: nothing found, nothing said about it.
    for email, code in (("me@example.com", other), ("other@example.com", mine), ("me@example.com", "ZZZZZZZZZZ")):
        refused = forms.post("/orders/find", {"email": email, "booking_code": code})
        assert refused.status_code == 404
        assert "We found no booking with this code for this e-mail address." in refused.get_data(as_text=True)


@pytest.fixture
def lookup_limits(app, monkeypatch) -> dict:
    limits = {"ORDER_LOOKUP_LIMITS_ENABLED": True, "ORDER_LOOKUP_LIMIT": "3 per minute",
              "ORDER_LOOKUP_LIMIT_ADDRESS": "5 per minute"}
    for name, value in limits.items():
        monkeypatch.setitem(app.config, name, value)
    monkeypatch.setattr(rate_limits, "_storage_down_until", 0.0)
    return limits


def look_up(client, email: str, code: str, address: str):
    return Forms(client).post("/orders/find", {"email": email, "booking_code": code},
                              environ_base={"REMOTE_ADDR": address})


def test_looking_orders_up_faster_than_a_person_types_is_refused_with_a_wait(client, forms, db_session, event,
                                                                             lookup_limits):
    mine = booking_code(client.get(pay_as_guest(client, forms, event, "me@example.com", "A1")).get_data(as_text=True))
    here, elsewhere = f"198.51.100.{secrets.randbelow(250)}", f"203.0.113.{secrets.randbelow(250)}"

    guesses = [look_up(client, "me@example.com", f"GUESS0000{n}", here).status_code for n in range(3)]
    refused = look_up(client, "me@example.com", mine, here)

    assert guesses == [404, 404, 404] and refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many look-ups in a short time. Please wait" in refused.get_data(as_text=True)
    # Other e-mails from that address share its looser budget; the buyer elsewhere is never held back.
    assert [look_up(client, f"other{n}@example.com", "GUESS00000", here).status_code for n in range(3)] == [
        404, 404, 429]
    assert look_up(client, "me@example.com", mine, elsewhere).status_code == 303


def test_order_look_ups_are_counted_in_storage_every_app_server_shares(client, db_session, lookup_limits):
    other_server = create_app({"TESTING": True, "HOLD_RATE_LIMITS_ENABLED": False, **lookup_limits})
    address = f"192.0.2.{secrets.randbelow(250)}"

    other_client = other_server.test_client()

    answers = [look_up(browser, "me@example.com", "GUESS00000", address).status_code
               for browser in (client, other_client, client, other_client)]

    assert answers == [404, 404, 404, 429]


def test_a_signed_link_opens_its_own_booking_only_and_a_forged_one_nothing(client, forms, db_session, event):
    page = client.get(pay_as_guest(client, forms, event, "me@example.com", "A1")).get_data(as_text=True)
    code = booking_code(page)
    booking_id = rows(db_session, "SELECT booking_id FROM bookings WHERE booking_code = :c", c=code)[0][0]
    token = orders.order_token(booking_id, code)

    assert client.get(f"/orders/{token}").status_code == 200
    assert client.get(f"/orders/{token}x").status_code == 404
    # A token for another booking id with this code, or signed with another key: refused.
    assert client.get(f"/orders/{orders.order_token(booking_id + 1, code)}").status_code == 404
    assert client.get("/orders/WzEsIkFCQ0RFRkdISUoiXQ.forged").status_code == 404
    # A booking code is no way into an account's order pages either.
    assert client.get(f"/account/orders/{code}").status_code == 302


def keep_an_account(forms, location: str):
    return forms.post(location, {"password": "a-long-password", "confirm": "a-long-password"},
                      action=location.split("?")[0] + "/account")


def test_a_guest_keeps_an_account_once_it_follows_the_link_mailed_to_it(client, forms, db_session, event):
    location = pay_as_guest(client, forms, event, "keeper@example.com", "A1", name="Kim Keeper")
    code = booking_code(client.get(location).get_data(as_text=True))
    response = keep_an_account(forms, location)

    assert response.status_code == 302
    assert "Check your inbox" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert client.get("/account/").status_code == 302, "no account before the e-mail is confirmed"
    assert rows(db_session, "SELECT is_guest FROM customers WHERE email = 'keeper@example.com'") == [(1,)]

    confirmed = Forms(client).post("/account/login", {}, action=confirmation_link(db_session, "keeper@example.com"))

    assert confirmed.status_code == 302 and confirmed.headers["Location"] == f"/account/orders/{code}"
    assert rows(db_session, "SELECT is_guest, account_email FROM customers WHERE email = 'keeper@example.com'") == [
        (0, "keeper@example.com")]
    assert "Kim" in client.get("/account/").get_data(as_text=True)
    assert code in client.get(confirmed.headers["Location"]).get_data(as_text=True), "the guest's booking is its"


def test_a_guest_keeping_an_account_for_a_taken_e_mail_changes_nothing_and_the_owner_is_told(client, forms,
                                                                                             db_session, event):
    owner = make_customer(db_session, email="taken@example.com")
    db_session.commit()
    location = pay_as_guest(client, forms, event, owner.email, "A1")
    response = keep_an_account(forms, location)

    assert "Check your inbox" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert rows(db_session, "SELECT COUNT(*) FROM customers WHERE email = :e AND is_guest = 0", e=owner.email) == [(1,)]
    assert rows(db_session, "SELECT COUNT(*) FROM registrations") == [(0,)]
    assert rows(db_session, "SELECT subject FROM outbox_emails WHERE recipient = :e AND kind = 'message'",
                e=owner.email) == [("Someone tried to register with your e-mail address",)]


def test_only_the_session_that_paid_may_turn_the_guest_into_an_account(client, forms, db_session, event):
    location = pay_as_guest(client, forms, event, "me@example.com", "A1")
    order_url = location.split("?")[0]
    # Someone else with the link (a forwarded mail): sees the order, may not take it into an account.
    stranger = client.application.test_client()
    page = stranger.get(order_url).get_data(as_text=True)
    assert "Keep an account?" not in page
    response = Forms(stranger).post("/orders/find", {"password": "x" * 12, "confirm": "x" * 12},
                                    action=f"{order_url}/account")
    assert response.status_code in (400, 403)  # its form, or no guest of this session
    assert rows(db_session, "SELECT is_guest FROM customers WHERE email = 'me@example.com'") == [(1,)]


# ---------------------------------------------------------------- tickets people can carry

def confirmation_of(client, forms, event, *labels: str) -> tuple[str, str]:
    location = pay_as_guest(client, forms, event, "carry@example.com", *labels)
    return location.split("?")[0], booking_code(client.get(location).get_data(as_text=True))


def test_the_calendar_file_parses_back_with_the_event_the_venue_and_the_link(client, forms, db_session, event):
    order_url, code = confirmation_of(client, forms, event, "A1")
    response = client.get(f"{order_url}/calendar.ics")

    assert response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["summary"]) == "Lakeside Jazz"
    assert str(vevent["location"]) == "Harbour Hall, 12 Quay Street, Porto"
    assert vevent.decoded("dtstart").replace(tzinfo=None) == event.starts_at
    assert str(vevent["uid"]) == f"booking-{code}@encore-box-office"
    assert "Stalls, row A, seat 1" in str(vevent["description"]) and order_url in str(vevent["url"])
    assert str(vevent["status"]) == "CONFIRMED"


def qr_codes_of(pdf_bytes: bytes) -> list[str]:
    """Every QR code on every page, read back from the rendered PDF."""
    found = []
    document = pypdfium2.PdfDocument(pdf_bytes)
    for page in document:
        image = page.render(scale=2).to_pil()
        found += [barcode.text for barcode in zxingcpp.read_barcodes(image)]
    return found


def test_the_pdf_opens_and_its_qr_codes_are_the_tickets(client, forms, db_session, event):
    order_url, code = confirmation_of(client, forms, event, "A1", "A2")
    response = client.get(f"{order_url}/tickets.pdf")

    assert response.mimetype == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 2
    text = reader.pages[0].extract_text()
    assert "Lakeside Jazz" in text and "Harbour Hall" in text and code in text
    ticket_codes = {r[0] for r in rows(db_session, """
        SELECT t.ticket_code FROM tickets t JOIN bookings b USING (booking_id) WHERE b.booking_code = :c""", c=code)}
    assert sorted(qr_codes_of(response.data)) == sorted(f"BOXOFFICE-TICKET:{c}" for c in ticket_codes)


def test_the_confirmation_mail_carries_the_pdf_the_calendar_the_link_and_the_address(client, forms, db_session,
                                                                                     event):
    order_url, code = confirmation_of(client, forms, event, "A1")
    email = db_session.scalars(sa.select(OutboxEmail).where(OutboxEmail.kind == "booking_confirmation")
                               .order_by(OutboxEmail.email_id.desc()).limit(1)).one()
    subject, body = mail.compose(email)
    assert code in subject and "12 Quay Street" in body and "Tram 1 to Ribeira." in body
    assert re.search(r"/orders/[\w.-]+\n", body)
    files = mail.attachments(email.kind, email.booking_id)
    assert [f.filename for f in files] == [f"tickets-{code}.pdf", f"{code}.ics"]
    assert qr_codes_of(files[0].data)[0].startswith("BOXOFFICE-TICKET:")
    assert icalendar.Calendar.from_ical(files[1].data).walk("VEVENT")


# ---------------------------------------------------------------- cancelling, with a confirmation step

def test_cancelling_asks_first_then_gives_back_only_the_ticked_seat(client, forms, db_session, event):
    order_url, code = confirmation_of(client, forms, event, "A1", "A2")
    asked = client.get(f"{order_url}/cancel")
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Cancel tickets?" in html and "Yes, cancel the ticked tickets" in html
    assert rows(db_session, "SELECT status FROM bookings WHERE booking_code = :c", c=code) == [("confirmed",)]

    [a1] = [t for t, in rows(db_session, """SELECT t.ticket_id FROM tickets t JOIN bookings b USING (booking_id)
                                          WHERE b.booking_code = :c AND t.seat_id = :s""", c=code,
                             s=event.seat_ids("A1")[0])]
    response = forms.post(f"{order_url}/cancel", {"tickets": [a1]})
    assert response.status_code == 302
    assert rows(db_session, "SELECT status FROM bookings WHERE booking_code = :c", c=code) == [("partially_refunded",)]
    page = client.get(order_url).get_data(as_text=True)
    assert "Refund of 1 ticket" in page and "−€80.00" in page and "Paid after refunds" in page
    tickets = client.get(f"{order_url}/tickets").get_data(as_text=True)
    assert tickets.count('src="data:image/svg+xml') == 1 and "Refunded: this ticket is no longer valid." in tickets
    assert rows(db_session, """SELECT COUNT(*) FROM outbox_emails o JOIN bookings b USING (booking_id)
                               WHERE b.booking_code = :c AND o.kind = 'tickets_refunded'""", c=code) == [(1,)]


def test_a_past_or_checked_in_booking_offers_no_cancellation(client, forms, db_session, event):
    order_url, code = confirmation_of(client, forms, event, "A1")
    db_session.execute(sa.text(
        "UPDATE tickets t JOIN bookings b USING (booking_id) SET t.status = 'checked_in', "
        "t.checked_in_at = UTC_TIMESTAMP() WHERE b.booking_code = :c"), {"c": code})
    db_session.commit()

    page = client.get(order_url).get_data(as_text=True)
    assert "Cancel tickets…" not in page and "already been used" in page
    response = client.get(f"{order_url}/cancel")
    assert response.status_code == 302
    assert rows(db_session, "SELECT COUNT(*) FROM booking_refunds r JOIN bookings b USING (booking_id) "
                            "WHERE b.booking_code = :c", c=code) == [(0,)]


# ---------------------------------------------------------------- copy and venue details

def test_the_pay_button_shows_the_total_and_follows_a_promo_code(client, forms, db_session, event):
    promo = make_discount(db_session, kind="fixed", value=Decimal("5.00")).code
    db_session.commit()
    hold(forms, event, "A1")
    forms.post("/account/login", {"guest-email": "pay@example.com"}, action=f"/checkout/{event.event_id}/guest")
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    assert re.search(r'Pay <span id="pay-amount">€80\.00</span>', page)
    assert "SPRING10" not in page
    fragment = forms.post(f"/checkout/{event.event_id}", {"promo_code": promo},
                          action=f"/checkout/{event.event_id}/promo", headers=HX).get_data(as_text=True)
    assert '<span id="pay-amount" hx-swap-oob="true">€75.00</span>' in fragment


def test_the_event_page_shows_the_vip_price_by_the_pricing_rule_and_the_venue(client, event):
    html = client.get(f"/events/{event.event_id}").get_data(as_text=True)
    # €80.00 at the 5% entry rate (pricing.vip_discount): €76.00.
    assert "VIP €76.00" in html
    assert "Harbour Hall, 12 Quay Street, Porto" in html and "Tram 1 to Ribeira." in html


def test_the_admin_edits_the_visitor_information(admin_client, forms, db_session, event):
    venue_id = rows(db_session, "SELECT venue_id FROM events WHERE event_id = :e", e=event.event_id)[0][0]
    page = f"/admin/venues/{venue_id}"
    bad = forms.post(page, {"address": "1 New Road", "map_url": "javascript:alert(1)"},
                     action=f"{page}/details")
    assert bad.status_code == 422 and "https://" in bad.get_data(as_text=True)
    good = forms.post(page, {"address": "1 New Road", "map_url": "https://maps.example.test/harbour",
                             "directions": "Bus 500.", "access_info": "Lift to every floor.", "facilities": ""},
                      action=f"{page}/details")
    assert good.status_code == 302
    assert rows(db_session, "SELECT address, map_url, directions, access_info FROM venues WHERE venue_id = :v",
                v=venue_id) == [("1 New Road", "https://maps.example.test/harbour", "Bus 500.", "Lift to every floor.")]


def test_a_guest_is_never_an_account_to_sign_in_or_reset(db_session):
    guest_id = customers.new_guest("someone@example.com")
    db_session.commit()
    assert customers.guest(guest_id) is not None
    assert rows(db_session, "SELECT password_hash, account_email FROM customers WHERE customer_id = :c",
                c=guest_id) == [(None, None)]


def test_a_booking_whose_event_has_started_offers_no_cancellation(client, forms, db_session, event, monkeypatch):
    order_url, code = confirmation_of(client, forms, event, "A1")
    monkeypatch.setattr(refunds, "utcnow", lambda: event.starts_at + dt.timedelta(hours=1))

    page = client.get(order_url).get_data(as_text=True)
    assert "Cancel tickets…" not in page and "This event has taken place." in page
    assert client.get(f"{order_url}/cancel").status_code == 302
    assert forms.post(order_url, {"tickets": []}, action=f"{order_url}/cancel").status_code == 302
    assert rows(db_session, "SELECT status FROM bookings WHERE booking_code = :c", c=code) == [("confirmed",)]


def test_the_ticket_worker_may_look_after_the_order_pages(client):
    response = client.get("/ticket-worker.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
