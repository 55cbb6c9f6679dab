"""Sessions that end (boxoffice/auth.py, services/accounts.end_sessions): signing out, changing the password
and "sign out everywhere else" end every other session of the person, copies of the cookie included."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from flask_login.utils import encode_cookie

from boxoffice.services import accounts
from tests.builders import make_customer
from tests.conftest import Forms


class Browser(FlaskClient):
    """A test client whose every request has an app context of its own, as on a real server: the tests'
    app context would otherwise keep the user one request signed in (Flask-Login keeps it in `g`) for the
    next request, whichever browser makes it."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def new_browser(app) -> Browser:
    return Browser(app, app.response_class, use_cookies=True)


@pytest.fixture
def customer(db_session):
    made = make_customer(db_session, password="the customer's password")
    db_session.commit()
    return made


def signed_in(app, customer, path: str = "/account/login"):
    """A new browser, signed in as the customer."""
    client = new_browser(app)
    response = Forms(client).post(path, {"email": customer.email, "password": customer.password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def copy_of_session(app, client):
    """Another browser carrying a copy of this browser's session cookie (as a thief would)."""
    thief = new_browser(app)
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def opens_the_account(client) -> bool:
    response = client.get("/account/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def test_a_session_cookie_copied_before_signing_out_is_refused_after_it(app, db_session, customer):
    browser = signed_in(app, customer)
    thief = copy_of_session(app, browser)
    assert opens_the_account(thief), "the copy works while the session lasts"

    Forms(browser).post("/account/", {}, action="/account/logout")

    assert not opens_the_account(thief)
    assert not opens_the_account(browser)


def test_signing_out_ends_the_sessions_in_every_other_browser(app, db_session, customer):
    laptop, phone = signed_in(app, customer), signed_in(app, customer)

    Forms(laptop).post("/account/", {}, action="/account/logout")

    assert not opens_the_account(phone)


def test_a_remember_me_cookie_from_before_signing_out_is_refused_after_it(app, db_session, customer):
    browser = signed_in(app, customer)
    with app.test_request_context():
        epoch = db_session.execute(accounts.sa.text("SELECT session_epoch FROM customers WHERE customer_id = :c"),
                                   {"c": customer.customer_id}).scalar_one()
        remembered = encode_cookie(f"customer:{customer.customer_id}:{epoch}")
    returning = new_browser(app)
    returning.set_cookie("remember_token", remembered)
    assert opens_the_account(returning), "a remember-me cookie of the current epoch signs in"

    Forms(browser).post("/account/", {}, action="/account/logout")

    stale = new_browser(app)
    stale.set_cookie("remember_token", remembered)
    assert not opens_the_account(stale)


def test_sign_out_everywhere_else_keeps_this_browser_signed_in(app, db_session, customer):
    here, elsewhere = signed_in(app, customer), signed_in(app, customer)
    thief = copy_of_session(app, elsewhere)
    account_page = here.get("/account/").get_data(as_text=True)
    assert "Sign out everywhere else" in account_page

    response = Forms(here).post("/account/", {}, action="/account/sign-out-everywhere")

    assert response.status_code == 302
    assert "signed out on every other device" in here.get("/account/").get_data(as_text=True)
    assert not opens_the_account(elsewhere) and not opens_the_account(thief)


def test_changing_the_password_ends_every_other_session(app, db_session, customer):
    here, elsewhere = signed_in(app, customer), signed_in(app, customer)

    response = Forms(here).post("/account/password", {"current": customer.password, "password": "a brand new password",
                                                      "confirm": "a brand new password"})

    assert response.status_code == 302
    assert opens_the_account(here), "the browser that changed it stays signed in"
    assert not opens_the_account(elsewhere)
    assert accounts.authenticate_customer(customer.email, "a brand new password", "192.0.2.1")


def test_a_wrong_current_password_changes_nothing_and_says_so_next_to_the_field(app, db_session, customer):
    here, elsewhere = signed_in(app, customer), signed_in(app, customer)

    response = Forms(here).post("/account/password", {"current": "not it", "password": "a brand new password",
                                                      "confirm": "a brand new password"})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="current-error">Your current password is not right.' in html
    assert opens_the_account(elsewhere)


def test_a_staff_session_copied_before_signing_out_is_refused_after_it(app, db_session):
    accounts.create_staff("desk@example.test", "Desk", "the desk's own password")
    desk = new_browser(app)
    assert Forms(desk).post("/admin/login", {"email": "desk@example.test",
                                             "password": "the desk's own password"}).status_code == 302
    thief = copy_of_session(app, desk)
    assert thief.get("/admin/").status_code == 200

    Forms(desk).post("/admin/", {}, action="/admin/logout")

    assert thief.get("/admin/").status_code == 302


def test_resetting_a_staff_password_from_the_command_line_ends_their_sessions(app, db_session):
    accounts.create_staff("desk@example.test", "Desk", "the desk's own password")
    desk = new_browser(app)
    Forms(desk).post("/admin/login", {"email": "desk@example.test", "password": "the desk's own password"})

    accounts.create_staff("desk@example.test", "Desk", "a new password for the desk")

    assert desk.get("/admin/").status_code == 302


def test_a_session_from_before_session_epochs_is_refused(app, db_session, customer):
    old_style = new_browser(app)
    with old_style.session_transaction() as session:
        session["_user_id"] = f"customer:{customer.customer_id}"
        session["_fresh"] = True

    assert not opens_the_account(old_style)
