"""Forgot your password? in Chromium, for a customer and for staff: the link arrives by mail through an SMTP
server (the outbox delivered by mail.deliver_due), opens the page that sets a new password, works once, and
the new password signs in."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from boxoffice.passwords import hash_password
from boxoffice.services import mail
from tests.builders import make_customer

pytestmark = pytest.mark.browser

OLD, NEW = "the forgotten password", "a password to remember"
SIGN_IN = {"customer": "/account/login", "staff": "/admin/login"}
SIGNED_IN = {"customer": r"/account/$", "staff": r"/admin/$"}


def make_person(c, kind: str) -> str:
    if kind == "customer":
        return make_customer(c, email="forgetful.buyer@example.com", password=OLD).email
    c.execute(sa.text("INSERT INTO staff_users (email, full_name, password_hash) VALUES (:e, 'Forgetful', :h)"),
              {"e": "forgetful.desk@example.com", "h": hash_password(OLD)})
    return "forgetful.desk@example.com"


def delivered_link(app, smtp_server, email: str, live_server: str) -> str:
    with app.app_context():
        mail.deliver_due()
    [message] = [m for m in smtp_server.messages if email in m.envelope_to]
    assert message["Subject"] == "Set a new password for Encore Box Office"
    link = re.search(r"https?://\S+/password/reset/\S+", message.get_content()).group(0)
    # The mail links to the configured site (BASE_URL); the test's server listens elsewhere.
    return live_server + "/" + link.split("/", 3)[3]


def sign_in(page: Page, live_server: str, kind: str, email: str, password: str) -> None:
    page.goto(live_server + SIGN_IN[kind])
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("kind", ["customer", "staff"])
def test_a_forgotten_password_is_reset_through_the_link_in_the_mail(app, page, live_server, committed_db,
                                                                    smtp_server, kind):
    email = make_person(committed_db, kind)
    try:
        page.goto(live_server + SIGN_IN[kind])
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("E-mail").fill(email)
        page.get_by_role("button", name="Send the link").click()
        expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()

        link = delivered_link(app, smtp_server, email, live_server)
        page.goto(link)
        page.get_by_label("New password", exact=True).fill(NEW)
        page.get_by_label("Repeat new password").fill(NEW)
        page.get_by_role("button", name="Set the new password").click()
        expect(page.get_by_role("status").first).to_contain_text("Your password has been changed")

        sign_in(page, live_server, kind, email, NEW)
        expect(page).to_have_url(re.compile(SIGNED_IN[kind]))
        page.goto(link)
        expect(page.get_by_role("alert")).to_contain_text("expired or has already been used")
    finally:
        committed_db.execute(sa.text("DELETE FROM sign_in_throttles WHERE email = :e"), {"e": email})
        committed_db.execute(sa.text("DELETE FROM sign_in_budgets WHERE address = '127.0.0.1'"))
