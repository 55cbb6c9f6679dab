"""The smaller defences: personal pages are never cached, HSTS in production, settings checked when the app
starts, and CSV cells that a spreadsheet would run as formulas are neutralised."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest

from boxoffice import create_app
from boxoffice.config import ConfigurationError, load_config
from boxoffice.security import STRICT_TRANSPORT_SECURITY
from boxoffice.services.reports_figures import Column, Table, csv_text
from tests.builders import make_customer, make_event, make_past_booking, make_venue, now, rows


# ---------------------------------------------------------------- no-store on personal pages

@pytest.fixture
def order(db_session, client, forms):
    """A customer signed in on `client`, with a booking: its code."""
    buyer = make_customer(db_session, password="a long password")
    event = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=4))
    booking = make_past_booking(db_session, event, buyer, event.seat_ids("A1"), now() - dt.timedelta(days=1))
    db_session.commit()
    assert forms.post("/account/login", {"email": buyer.email, "password": "a long password"}).status_code == 302
    [(code,)] = rows(db_session, "SELECT booking_code FROM bookings WHERE booking_id = :b", b=booking.booking_id)
    return code


@pytest.mark.parametrize("path", ["/account/", "/account/orders/{code}", "/account/orders/{code}/tickets",
                                  "/account/cards", "/account/password"])
def test_the_customers_own_pages_are_never_stored(client, order, path):
    response = client.get(path.format(code=order))

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/admin/", "/admin/customers", "/admin/outbox", "/admin/reports/"])
def test_the_back_office_is_never_stored(admin_client, path):
    response = admin_client.get(path)

    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_sign_in_pages_and_reset_links_are_never_stored(client):
    for path in ("/account/login", "/admin/login", "/account/password/forgot", "/account/password/reset/x"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_the_catalogue_may_be_kept_by_the_browser(client, db_session):
    assert "no-store" not in client.get("/").headers.get("Cache-Control", "")


# ---------------------------------------------------------------- HSTS

def test_production_tells_browsers_to_use_https_only(test_database):
    production = create_app({"TESTING": True, "BOXOFFICE_ENV": "production"})

    response = production.test_client().get("/admin/login")

    assert response.headers["Strict-Transport-Security"] == STRICT_TRANSPORT_SECURITY


def test_development_does_not_pin_https(client):
    assert "Strict-Transport-Security" not in client.get("/admin/login").headers


# ---------------------------------------------------------------- settings checked at start-up

@pytest.mark.parametrize("name, value, says", [
    ("BOXOFFICE_HOLD_MINUTES", "0", "BOXOFFICE_HOLD_MINUTES is how long a seat hold lasts, in minutes: "
                                    "a whole number from 1 to 60, not '0'."),
    ("BOXOFFICE_HOLD_MINUTES", "ten", "a whole number from 1 to 60, not 'ten'"),
    ("BOXOFFICE_HOLD_MINUTES", "100000", "a whole number from 1 to 60, not '100000'"),
    ("BOXOFFICE_PAGE_SIZE", "0", "BOXOFFICE_PAGE_SIZE is how many events a catalogue page shows"),
    ("BOXOFFICE_PAGE_SIZE", "-3", "a whole number from 1 to 100, not '-3'"),
    ("BOXOFFICE_MAIL_MAX_TRIES", "0", "BOXOFFICE_MAIL_MAX_TRIES is how often a message is tried"),
    ("BOXOFFICE_JOBS_INTERVAL", "nan", "a number from 0 to 86400, not 'nan'"),
    ("BOXOFFICE_ENV", "prod", "BOXOFFICE_ENV must be development or production, not 'prod'."),
    ("BOXOFFICE_BASE_URL", "javascript:alert(1)", "BOXOFFICE_BASE_URL is the site's address"),
])
def test_a_setting_out_of_range_stops_the_start_with_a_clear_message(monkeypatch, name, value, says):
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError) as refusal:
        create_app({"TESTING": True})

    assert says in str(refusal.value)


def test_production_needs_a_secret_key_and_an_https_address(monkeypatch):
    monkeypatch.setenv("BOXOFFICE_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SECRET_KEY must be set"):
        load_config()

    monkeypatch.setenv("SECRET_KEY", "x" * 64)
    monkeypatch.setenv("BOXOFFICE_BASE_URL", "http://tickets.example.com")
    with pytest.raises(ConfigurationError, match="starting with https://;"):
        load_config()

    monkeypatch.setenv("BOXOFFICE_BASE_URL", "https://tickets.example.com/")
    assert load_config()["BASE_URL"] == "https://tickets.example.com"


def test_settings_in_range_are_taken_as_given(monkeypatch):
    monkeypatch.setenv("BOXOFFICE_HOLD_MINUTES", "15")
    monkeypatch.setenv("BOXOFFICE_PAGE_SIZE", " 24 ")
    monkeypatch.setenv("BOXOFFICE_JOBS_INTERVAL", "0")

    config = load_config()

    assert (config["HOLD_MINUTES"], config["CATALOGUE_PAGE_SIZE"], config["JOBS_INTERVAL"]) == (15, 24, 0)


# ---------------------------------------------------------------- CSV cells that would be formulas

def test_csv_cells_a_spreadsheet_would_run_are_neutralised():
    names = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
             "\t=1+1", "\r=1+1", "Ann = Other", "O'Brien"]
    table = Table("spenders", "Top spenders", (Column("customer", "Customer"), Column("spent", "Spent", "money")),
                  [{"customer": name, "spent": Decimal("-12.50")} for name in names])

    cells = list(csv.reader(io.StringIO(csv_text(table), newline="")))

    assert [row[0] for row in cells[1:]] == ["'" + name for name in names[:6]] + ["Ann = Other", "O'Brien"]
    assert {row[1] for row in cells[1:]} == {"-12.50"}, "a negative amount stays a number"


def test_a_column_label_that_would_be_a_formula_is_neutralised_too():
    table = Table("t", "T", (Column("x", "=1+1"),), [{"x": "a"}])

    assert csv_text(table).splitlines()[0] == "'=1+1"
