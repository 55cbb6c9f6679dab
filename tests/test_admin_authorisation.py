"""Every route under /admin is for admins only. The routes are walked from the app's own url_map (every
route of the admin and reports blueprints, wherever it is mounted), with each method they take, as nobody,
as a signed-in customer and as an admin; URL parameters are filled with real rows. The one exception is a
reports dashboard shared by a secret link, which must open nothing for a made-up token."""
from __future__ import annotations

import re

import pytest
from werkzeug.routing import Rule

from boxoffice.services import mail
from tests.admin_support import paid_booking
from tests.builders import make_customer, make_discount, make_event, make_venue
from tests.conftest import SAME_ORIGIN

# The only pages open to people who are not signed in as admins: the staff sign-in and the password reset
# (whose link is checked by tests/test_password_reset.py).
SIGN_IN = {"admin.login", "admin.forgot_password", "admin.reset_password"}
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]*)"|name="csrf_token" value="([^"]*)"')


def is_shared_link(rule: Rule) -> bool:
    """A reports dashboard shared by a secret link: open without signing in, but only with a valid token."""
    return rule.endpoint.startswith("reports.") and "token" in rule.arguments


@pytest.fixture
def real_rows(db_session) -> dict:
    venue = make_venue(db_session, rows=2, seats_per_row=4)
    event = make_event(db_session, venue)
    buyer = make_customer(db_session)
    discount = make_discount(db_session)
    db_session.commit()
    booking = paid_booking(event, buyer, "A1", "A2")
    mail.queue_message(buyer.email, "A message for the outbox", "Hello.")
    db_session.commit()
    return {"event_id": event.event_id, "venue_id": venue.venue_id, "customer_id": buyer.customer_id,
            "discount_id": discount.discount_id, "booking_code": booking.booking_code,
            "booking_id": booking.booking_id, "ticket_code": booking.tickets[0].ticket_code,
            "token": "not-a-real-token"}


def requests(app, values: dict) -> list[tuple[Rule, str, str]]:
    """(rule, method, url) for every GET and POST of every route under /admin or of the admin and reports
    blueprints; signing out last."""
    adapter = app.url_map.bind("localhost")
    found = []
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/admin") or rule.endpoint.startswith(("admin.", "reports."))):
            continue
        unknown = rule.arguments - values.keys()
        assert not unknown, f"{rule.rule}: add a real row for {sorted(unknown)} to the real_rows fixture"
        url = adapter.build(rule.endpoint, {name: values[name] for name in rule.arguments})
        found += [(rule, method, url) for method in ("GET", "POST") if method in rule.methods]
    assert len(found) > 20, "the walk found too few admin routes"
    return sorted(found, key=lambda request: request[0].endpoint == "admin.logout")


def csrf_token(client, page: str) -> str:
    """The page's token ("" until the client has a session: its posts say they come from the site's page)."""
    match = CSRF.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF token field on {page}"
    return match.group(1) or match.group(2) or ""


def call(client, method: str, url: str, token: str):
    if method == "POST":
        return client.post(url, data={"csrf_token": token}, headers=SAME_ORIGIN)
    return client.get(url)


def test_nobody_signed_in_is_sent_to_the_sign_in_page(app, real_rows):
    client = app.test_client()
    token = csrf_token(client, "/admin/login")
    wrong = []
    for rule, method, url in requests(app, real_rows):
        if rule.endpoint in SIGN_IN:
            continue
        response = call(client, method, url, token)
        if is_shared_link(rule):  # a made-up token opens nothing
            ok = response.status_code in (403, 404)
        else:
            ok = response.status_code in (401, 403) or (
                response.status_code in (302, 303) and response.headers["Location"].startswith("/admin/login"))
        if not ok:
            wrong.append(f"{method} {url}: {response.status_code} {response.headers.get('Location', '')}")
    assert not wrong, "open to anybody:\n" + "\n".join(wrong)


def test_a_signed_in_customer_is_refused(app, db_session, real_rows):
    shopper = make_customer(db_session, password="a-long-password")
    db_session.commit()
    client = app.test_client()
    signed_in = client.post("/account/login", data={"email": shopper.email, "password": "a-long-password",
                                                    "csrf_token": csrf_token(client, "/account/login")},
                            headers=SAME_ORIGIN)
    assert signed_in.status_code == 302
    token = csrf_token(client, "/")
    wrong = []
    for rule, method, url in requests(app, real_rows):
        if rule.endpoint in SIGN_IN:
            continue
        response = call(client, method, url, token)
        expected = (403, 404) if is_shared_link(rule) else (403,)
        if response.status_code not in expected:
            wrong.append(f"{method} {url}: {response.status_code}")
    assert not wrong, "open to customers:\n" + "\n".join(wrong)


def test_an_admin_reaches_every_admin_page_without_an_error(app, admin_client, real_rows):
    token = csrf_token(admin_client, "/admin/")
    wrong = []
    for rule, method, url in requests(app, real_rows):
        response = call(admin_client, method, url, token)
        if response.status_code in (401, 403) or response.status_code >= 500:
            wrong.append(f"{method} {url}: {response.status_code}")
    assert not wrong, "refused or failed for an admin:\n" + "\n".join(wrong)

