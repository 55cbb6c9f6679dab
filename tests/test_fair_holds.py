"""Fair holds: one buyer holds at most the event's limit across its sessions, account and address, no faster
than a person clicks; a refusal says why; and input at the edge (ids, amounts, dates, codes) is checked
before it reaches the database."""
from __future__ import annotations

import datetime as dt
import json
import secrets
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import g
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from limits import storage, strategies
from werkzeug.datastructures import MultiDict

from boxoffice import rate_limits
from boxoffice.errors import TooManySeats
from boxoffice.forms import (EARLIEST_DATE, LATEST_DATE, MAX_ID, AmountField, BoundedDateField, optional_record_id,
                             record_id)
from boxoffice.services import holds, waiting_list
from tests.admin_support import HX
from tests.builders import make_customer, make_discount, make_event, make_venue, new_hold_owner, rows


@pytest.fixture
def event(db_session):
    venue = make_venue(db_session, rows=3, seats_per_row=8)
    event = make_event(db_session, venue, max_seats_per_order=4)
    db_session.commit()
    return event


@pytest.fixture
def no_csrf(app, monkeypatch):
    # These tests are about holds, not forms: Flask-WTF's CSRF check is tested elsewhere.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)


def browser(app, address: str | None = None):
    """A browser of its own (its own session, so its own hold owner) at `address` (a fresh one if None)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address or f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.7"
    return client


def click(client, event, label: str, *, htmx: bool = False):
    """A seat pressed on the map, as that browser."""
    for name in list(g):  # the tests' app context outlives requests: each browser is served as itself
        g.pop(name)
    return client.post(f"/events/{event.event_id}/seats", data={"seat": event.seat_ids(label)[0]},
                       headers=HX if htmx else None)


def sign_in(client, customer) -> None:
    for name in list(g):
        g.pop(name)
    answer = client.post("/account/login", data={"email": customer.email, "password": customer.password})
    assert answer.status_code == 302


def held_by_event(db_session, event) -> int:
    return rows(db_session, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id)[0][0]


# ---------------------------------------------------------------- the cap

@pytest.fixture
def address_cap(app, monkeypatch) -> int:
    """Ten seats an address (the event's orders are four): two and a half buyers' worth."""
    monkeypatch.setitem(app.config, "HOLD_SEATS_PER_ADDRESS", 10)
    return 10


def test_buyers_behind_one_address_each_hold_an_order_until_the_addresss_cap(app, db_session, event, no_csrf,
                                                                              address_cap):
    """A household, an office or a mobile carrier's NAT: several buyers share one address. Each holds up to
    the event's seats per order; together no more than the address's cap."""
    address = "203.0.113.9"
    first, second, third = (browser(app, address) for _ in range(3))
    for client, row in ((first, "A"), (second, "B")):
        for seat in range(1, 5):
            assert click(client, event, f"{row}{seat}").status_code == 302
    too_many = click(first, event, "A5", htmx=True).get_data(as_text=True)
    assert "One order can hold at most 4 seats for this event." in too_many
    for label in ("C1", "C2"):
        assert click(third, event, label).status_code == 302
    refused = click(third, event, "C3", htmx=True)

    assert refused.status_code == 200
    assert ("At most 10 seats for this event may be held at once from one network connection, and yours has "
            "reached it.") in refused.get_data(as_text=True)
    assert held_by_event(db_session, event) == address_cap
    assert click(browser(app), event, "C8").status_code == 302, "another address is not counted"
    assert held_by_event(db_session, event) == address_cap + 1


def test_the_addresss_cap_is_never_below_one_order(app, db_session, event, no_csrf, monkeypatch):
    monkeypatch.setitem(app.config, "HOLD_SEATS_PER_ADDRESS", 1)
    owner = new_hold_owner()
    held = holds.hold_seats(event.event_id, event.seat_ids("A1", "A2", "A3", "A4"), owner, 10,
                            holds.Buyer(None, "203.0.113.11"))
    assert len(held.seat_ids) == 4


def test_a_refused_plain_post_says_why_on_the_seat_map(app, db_session, event, no_csrf, address_cap):
    address = "203.0.113.10"
    for row in "AB":
        holder = browser(app, address)
        for seat in range(1, 5):
            click(holder, event, f"{row}{seat}")
    other_tab = browser(app, address)
    for label in ("C1", "C2"):
        click(other_tab, event, label)
    response = click(other_tab, event, "C3")
    assert response.status_code == 302
    page = other_tab.get(response.headers["Location"]).get_data(as_text=True)
    assert "may be held at once from one network connection" in page


def test_an_account_is_one_buyer_on_every_device(app, db_session, event, no_csrf):
    customer = make_customer(db_session)
    db_session.commit()
    owners = [new_hold_owner(), new_hold_owner()]
    buyer_at = [holds.Buyer(customer.customer_id, "198.51.100.1"), holds.Buyer(customer.customer_id, "192.0.2.77")]
    holds.hold_seats(event.event_id, event.seat_ids("C1", "C2", "C3"), owners[0], 10, buyer_at[0])
    with pytest.raises(TooManySeats, match="counting the 3 held"):
        holds.hold_seats(event.event_id, event.seat_ids("C4", "C5"), owners[1], 10, buyer_at[1])
    assert holds.hold_seats(event.event_id, event.seat_ids("C4"), owners[1], 10, buyer_at[1]).seat_ids == tuple(
        event.seat_ids("C4"))


def test_a_signed_in_customers_clicks_on_two_devices_share_the_accounts_cap(app, db_session, event, no_csrf):
    customer = make_customer(db_session)
    db_session.commit()
    phone, laptop = browser(app), browser(app)
    for client in (phone, laptop):
        sign_in(client, customer)
    for client, label in ((phone, "C1"), (phone, "C2"), (laptop, "C3"), (laptop, "C4")):
        assert click(client, event, label).status_code == 302, label
    refused = click(laptop, event, "C5", htmx=True)
    assert "You can hold at most 4 seats for this event at a time" in refused.get_data(as_text=True)
    assert rows(db_session, "SELECT DISTINCT hold_customer_id FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id) == [(customer.customer_id,)]


def test_buyers_at_other_addresses_and_accounts_are_not_counted(app, db_session, event, no_csrf):
    for index, client in enumerate(browser(app) for _ in range(5)):
        for seat in range(1, 5):
            label = f"{'ABC'[index % 3]}{seat + 4 * (index // 3)}"
            assert click(client, event, label).status_code == 302, label
    assert held_by_event(db_session, event) == 20


def test_seats_given_back_or_expired_are_no_longer_counted(app, db_session, event, monkeypatch):
    monkeypatch.setitem(app.config, "HOLD_SEATS_PER_ADDRESS", 4)
    address, owner, other = "198.51.100.20", new_hold_owner(), new_hold_owner()
    buyer = holds.Buyer(None, address)
    holds.hold_seats(event.event_id, event.seat_ids("A1", "A2", "A3", "A4"), owner, 10, buyer)
    holds.toggle_seat(event.event_id, event.seat_ids("A4")[0], owner, 10, buyer)
    holds.hold_seats(event.event_id, event.seat_ids("B1"), other, 10, buyer)
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                               "WHERE event_id = :e AND hold_owner = :o"), {"e": event.event_id, "o": owner})
    assert len(holds.hold_seats(event.event_id, event.seat_ids("B2", "B3", "B4"), other, 10, buyer).seat_ids) == 4


def test_held_seats_record_who_took_them(db_session, event):
    customer = make_customer(db_session)
    owner = new_hold_owner()
    buyer = holds.Buyer(customer.customer_id, "2001:db8::/64")
    holds.hold_seats(event.event_id, event.seat_ids("A1", "A2"), owner, 10, buyer)
    assert rows(db_session, "SELECT DISTINCT hold_customer_id, hold_address FROM event_seats WHERE hold_owner = :o",
                o=owner) == [(customer.customer_id, "2001:db8::/64")]


def left_by_someone_else(db_session, event, *labels: str) -> None:
    """The seats as a hold that ran out and was given back leaves them: free, with the last holder's marks."""
    db_session.execute(sa.text("""
        UPDATE event_seats SET state = 'available', hold_owner = NULL, hold_expires_at = NULL,
               hold_customer_id = 4000000000, hold_address = '192.0.2.200'
         WHERE event_id = :e AND seat_id IN :ids""").bindparams(sa.bindparam("ids", expanding=True)),
        {"e": event.event_id, "ids": event.seat_ids(*labels)})


def test_seats_reclaimed_after_a_late_payment_are_the_payers_for_the_caps(app, db_session, event):
    customer = make_customer(db_session)
    left_by_someone_else(db_session, event, "A1", "A2", "A3")
    payer = holds.Buyer(customer.customer_id, "198.51.100.30")

    assert holds.reclaim_seats(event.event_id, new_hold_owner(), event.seat_ids("A1", "A2", "A3"), payer)

    assert rows(db_session, "SELECT DISTINCT hold_customer_id, hold_address FROM event_seats "
                            "WHERE event_id = :e AND state = 'held'", e=event.event_id) == [
        (customer.customer_id, "198.51.100.30")]
    with pytest.raises(TooManySeats, match="counting the 3 held"):
        holds.hold_seats(event.event_id, event.seat_ids("B1", "B2"), new_hold_owner(), 10,
                         holds.Buyer(customer.customer_id, "192.0.2.31"))


def offer_from_the_waiting_list(db_session, event, customer, *labels: str) -> str:
    """The seats offered to the customer's new place in the event's waiting list (OfferSeats); the offer's token."""
    entry_id = db_session.execute(sa.text("""
        INSERT INTO waiting_list_entries (event_id, customer_id, seats_wanted, joined_at)
        VALUES (:e, :c, :n, UTC_TIMESTAMP(3))"""), {"e": event.event_id, "c": customer.customer_id,
                                                    "n": len(labels)}).lastrowid
    token = new_hold_owner()
    db_session.execute(sa.text("CALL OfferSeats(:e, :entry, :ids, :token, 30)"), {
        "e": event.event_id, "entry": entry_id, "ids": json.dumps(event.seat_ids(*labels)), "token": token})
    return token


def test_seats_offered_from_the_waiting_list_are_the_entrys_customers_for_the_caps(app, db_session, event):
    customer = make_customer(db_session)
    left_by_someone_else(db_session, event, "A1", "A2")

    offer_from_the_waiting_list(db_session, event, customer, "A1", "A2")

    assert rows(db_session, "SELECT DISTINCT hold_customer_id, hold_address FROM event_seats "
                            "WHERE event_id = :e AND state = 'held'", e=event.event_id) == [(customer.customer_id, None)]
    with pytest.raises(TooManySeats, match="counting the 2 held"):
        holds.hold_seats(event.event_id, event.seat_ids("B1", "B2", "B3"), new_hold_owner(), 10,
                         holds.Buyer(customer.customer_id, "192.0.2.32"))


def test_seats_claimed_from_a_waiting_list_offer_are_the_claimers_address_for_its_cap(app, db_session, event,
                                                                                     monkeypatch):
    monkeypatch.setitem(app.config, "HOLD_SEATS_PER_ADDRESS", 4)
    customer = make_customer(db_session)
    left_by_someone_else(db_session, event, "A1", "A2")
    token = offer_from_the_waiting_list(db_session, event, customer, "A1", "A2")

    waiting_list.claim_offer(token, customer.customer_id, new_hold_owner(), "198.51.100.41")

    assert rows(db_session, "SELECT DISTINCT hold_customer_id, hold_address FROM event_seats "
                            "WHERE event_id = :e AND state = 'held'", e=event.event_id) == [
        (customer.customer_id, "198.51.100.41")]
    with pytest.raises(TooManySeats, match="from one network connection"):
        holds.hold_seats(event.event_id, event.seat_ids("B1", "B2", "B3"), new_hold_owner(), 10,
                         holds.Buyer(None, "198.51.100.41"))


def test_one_buyer_is_one_address_by_its_ipv6_slash_64(app):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "2001:db8:1:2:aaaa::1"}):
        from storefront.blueprint import current_buyer

        assert current_buyer() == holds.Buyer(None, "2001:db8:1:2::/64")


# ---------------------------------------------------------------- the rate limits

@pytest.fixture
def limits_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "HOLD_RATE_LIMITS_ENABLED", True)
    monkeypatch.setitem(app.config, "HOLD_RATE_LIMIT_SESSION", "3 per minute")
    monkeypatch.setitem(app.config, "HOLD_RATE_LIMIT_ADDRESS", "5 per minute")
    monkeypatch.setattr(rate_limits, "_storage_down_until", 0.0)


def test_a_session_clicking_faster_than_a_person_is_told_to_slow_down(app, db_session, event, no_csrf, limits_on):
    client = browser(app)
    for label in ("A1", "A2", "A3"):
        click(client, event, label, htmx=True)
    refused = click(client, event, "B1", htmx=True).get_data(as_text=True)
    assert "faster than we can keep up with" in refused
    assert held_by_event(db_session, event) == 3


def test_new_sessions_from_one_address_are_limited_too(app, db_session, event, no_csrf, limits_on):
    address = f"192.0.2.{secrets.randbelow(250)}"
    answers = [click(browser(app, address), event, label) for label in ("A1", "A2", "A3", "A4", "A5", "A6")]
    assert all(answer.status_code == 302 for answer in answers)
    assert held_by_event(db_session, event) == 5  # five sessions' clicks, then the address's limit
    page = browser(app, address)
    response = click(page, event, "C1")
    assert "faster than we can keep up with" in page.get(response.headers["Location"]).get_data(as_text=True)


def test_holds_go_on_when_the_rate_limit_storage_is_away(app, db_session, event, no_csrf, limits_on, monkeypatch,
                                                         caplog):
    nobody_listens = storage.storage_from_string("redis://127.0.0.1:9/0", socket_connect_timeout=0.3)
    monkeypatch.setitem(app.extensions, "rate_limiter", strategies.SlidingWindowCounterRateLimiter(nobody_listens))
    monkeypatch.setattr(rate_limits, "_storage_down_until", 0.0)  # the storage is asked again after the test
    assert click(browser(app), event, "A1").status_code == 302
    assert held_by_event(db_session, event) == 1
    assert "limits skipped" in caplog.text


def test_the_limits_are_kept_in_storage_every_worker_shares(app):
    assert app.config["RATE_LIMIT_STORAGE"].startswith("redis://")
    with app.app_context():
        assert type(rate_limits.rate_limiter().storage).__name__ == "RedisStorage"


# ---------------------------------------------------------------- input at the edge

@pytest.mark.parametrize("url", ["/checkout/4294967296", "/events/18446744073709551616", "/events/4294967296/seats"])
def test_an_id_beyond_the_columns_is_not_found(client, url):
    assert client.get(url).status_code in (404, 405)


def test_a_seat_id_out_of_range_is_a_bad_request_and_holds_nothing(app, db_session, event, no_csrf):
    client = browser(app)
    for seat in ("-1", "18446744073709551616", "4294967296", "²", "1e3"):
        assert client.post(f"/events/{event.event_id}/seats", data={"seat": seat}).status_code == 400
    assert held_by_event(db_session, event) == 0


@pytest.mark.parametrize("code", ["WELCOME–10", "TAKE5’", "🎟️", "x" * 33])
def test_a_promo_code_with_characters_no_code_has_is_unknown(app, db_session, event, no_csrf, code):
    customer = make_customer(db_session)
    make_discount(db_session)  # a code exists; the ones typed below cannot
    db_session.commit()
    client = browser(app)
    sign_in(client, customer)
    click(client, event, "A1")
    answer = client.post(f"/checkout/{event.event_id}/promo", data={"promo_code": code}, headers=HX)
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert "This promo code does not exist." in text or "Field cannot be longer than 32 characters." in text


@pytest.mark.parametrize(("field", "value"), [("expected_total", "sNaN"), ("expected_total", "Infinity"),
                                              ("idempotency_key", "clé-ü"), ("promo_code", "WELCOME–10")])
def test_the_payment_forms_hidden_fields_are_checked(app, db_session, event, no_csrf, field, value):
    customer = make_customer(db_session)
    db_session.commit()
    client = browser(app)
    sign_in(client, customer)
    click(client, event, "A1")
    form = {"method": "card", "expected_total": "95.00", "idempotency_key": "a" * 24 + "-" + "b" * 32,
            field: value}
    before = rows(db_session, "SELECT COUNT(*) FROM payment_attempts")
    assert client.post(f"/checkout/{event.event_id}", data=form).status_code == 422
    assert rows(db_session, "SELECT COUNT(*) FROM payment_attempts") == before


@pytest.mark.parametrize("query", [{"date_to": "9999-12-31"}, {"date_from": "0001-01-01"}])
def test_a_date_outside_the_window_is_refused_with_a_message(client, db_session, query):
    html = client.get("/", query_string=query).get_data(as_text=True)
    assert f"Choose a date from {EARLIEST_DATE:%-d %b %Y} to {LATEST_DATE:%-d %b %Y}." in html


def _amount(text: str, **kwargs):
    from flask_wtf import FlaskForm

    class Form(FlaskForm):
        class Meta:
            csrf = False

        amount = AmountField(**kwargs)

    form = Form(MultiDict({"amount": text}))
    return form.validate(), form.amount


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=30), st.from_regex(r"-?[0-9]{0,12}(\.[0-9]{0,4})?([eE][+-]?[0-9]{1,7})?",
                                                          fullmatch=True),
                      st.sampled_from(["NaN", "sNaN", "-sNaN", "Infinity", "-inf", "9E+999999", "1e-999999"])))
def test_an_amount_is_a_finite_decimal_with_two_places_in_range_or_an_error(app, text):
    with app.test_request_context():
        valid, field = _amount(text, maximum=Decimal("100000"))
    if valid and field.data is not None:
        assert field.data.is_finite() and Decimal("0") <= field.data <= Decimal("100000")
        assert field.data == field.data.quantize(Decimal("0.01"))
    elif not valid:
        assert field.data is None and field.errors


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(st.text(max_size=25), st.integers(min_value=-2**70, max_value=2**70).map(str)))
def test_an_id_from_a_request_is_between_1_and_max_id_or_refused(text):
    try:
        value = record_id(text)
    except ValueError:
        return
    assert 1 <= value <= MAX_ID and str(value) == text.lstrip("0")
    assert optional_record_id(text) == value


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)))
def test_a_date_field_takes_the_window_only(app, day):
    from flask_wtf import FlaskForm

    class Form(FlaskForm):
        class Meta:
            csrf = False

        day = BoundedDateField()

    with app.test_request_context():
        form = Form(MultiDict({"day": day.isoformat()}))
        assert form.validate() == (EARLIEST_DATE <= day <= LATEST_DATE)
