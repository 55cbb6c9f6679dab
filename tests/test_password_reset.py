"""Password reset by e-mail, for customers and staff (services/accounts.py): a signed link through the outbox
that works once, for an hour, and ends every session; the same answer for known and unknown e-mails. And
registration, which tells nobody which e-mails have accounts: every address is answered "check your inbox",
and an account is made, and signed in, only through the signed link mailed to a new address."""
from __future__ import annotations

import re

import pytest
from freezegun import freeze_time

from boxoffice.services import accounts
from tests.builders import make_customer, rows
from tests.conftest import Forms
from tests.test_sessions import new_browser

FORGOT = {"customer": "/account/password/forgot", "staff": "/admin/password/forgot"}
SIGN_IN = {"customer": "/account/login", "staff": "/admin/login"}
HOME = {"customer": "/account/", "staff": "/admin/"}


@pytest.fixture(params=["customer", "staff"])
def person(request, db_session):
    """A customer or a staff user: (kind, e-mail, password)."""
    if request.param == "customer":
        made = make_customer(db_session, email="ann.other@example.com", password="the old password")
        db_session.commit()
        return "customer", made.email, "the old password"
    accounts.create_staff("desk@example.com", "Desk", "the old password")
    return "staff", "desk@example.com", "the old password"


def mails_to(db_session, email: str) -> list[tuple[str, str]]:
    return rows(db_session, "SELECT subject, body_text FROM outbox_emails WHERE recipient = :r ORDER BY email_id",
                r=email)


def reset_link(db_session, email: str) -> str:
    (subject, body), = mails_to(db_session, email)
    assert subject == "Set a new password for Encore Box Office"
    return re.search(r"https?://\S+(/\S+/password/reset/\S+)", body).group(1)


def ask_for_a_link(app, kind: str, email: str):
    browser = new_browser(app)
    return Forms(browser).post(FORGOT[kind], {"email": email})


def sign_in(app, kind: str, email: str, password: str):
    browser = new_browser(app)
    response = Forms(browser).post(SIGN_IN[kind], {"email": email, "password": password})
    return browser, response.status_code


def set_password(app, link: str, password: str, confirm: str | None = None):
    # The form's CSRF token is the browser's, from any page: a link that no longer works shows no form.
    return Forms(new_browser(app)).post("/account/login", {"password": password, "confirm": confirm or password},
                                        action=link)


def main_text(response) -> str:
    """The page's own content (the header carries the browser's CSRF token, which differs)."""
    html = response.get_data(as_text=True)
    return html[html.index('<main'):html.index('</main>')]


# ---------------------------------------------------------------- asking for a link

@pytest.mark.parametrize("kind", ["customer", "staff"])
def test_both_sign_in_pages_offer_forgot_your_password(client, kind):
    html = client.get(SIGN_IN[kind]).get_data(as_text=True)

    assert f'href="{FORGOT[kind]}">Forgot your password?</a>' in html


def test_a_known_e_mail_is_sent_a_link_and_an_unknown_one_gets_the_same_answer(app, db_session, person):
    kind, email, _ = person

    known = ask_for_a_link(app, kind, email)
    unknown = ask_for_a_link(app, kind, "nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert main_text(known).replace(email, "…") == main_text(unknown).replace("nobody@example.com", "…")
    assert "Check your inbox" in known.get_data(as_text=True)
    assert reset_link(db_session, email).startswith(f"/{'account' if kind == 'customer' else 'admin'}/password/reset/")
    assert mails_to(db_session, "nobody@example.com") == []


def test_the_link_points_at_the_configured_site_never_at_the_host_the_request_named(app, db_session, person):
    kind, email, _ = person
    browser = new_browser(app)
    page = browser.get(FORGOT[kind], base_url="http://evil.example").get_data(as_text=True)
    token = Forms.TOKEN.search(page).group(1)

    browser.post(FORGOT[kind], data={"email": email, "csrf_token": token}, base_url="http://evil.example",
                 headers={"Sec-Fetch-Site": "same-origin"})

    (_, body), = mails_to(db_session, email)
    assert "evil.example" not in body
    assert app.config["BASE_URL"] + "/" in body


def test_a_mistyped_address_is_shown_next_to_the_field_and_kept(client, forms):
    response = forms.post(FORGOT["customer"], {"email": "not-an-address"})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="email-error">Invalid email address.' in html and 'value="not-an-address"' in html


def test_asking_needs_the_forms_csrf_token(client, db_session):
    assert client.post(FORGOT["customer"], data={"email": "someone@example.com"}).status_code == 400


def test_asking_again_and_again_from_one_address_is_slowed_like_sign_ins(app, db_session, person):
    """Nobody can fill someone's inbox: a few links, then each request waits, known e-mail or not."""
    kind, email, _ = person

    known = [ask_for_a_link(app, kind, email).status_code for _ in range(4)]
    unknown = [ask_for_a_link(app, kind, "nobody@example.com").status_code for _ in range(4)]

    assert known == unknown == [200, 200, 200, 429]
    assert len(mails_to(db_session, email)) == 3
    refused = ask_for_a_link(app, kind, email).get_data(as_text=True)
    assert 'id="email-error">Too many failed sign-ins. Please wait' in refused


# ---------------------------------------------------------------- using it

def test_the_link_sets_a_new_password_and_ends_every_session(app, db_session, person):
    kind, email, password = person
    elsewhere, _ = sign_in(app, kind, email, password)
    ask_for_a_link(app, kind, email)
    link = reset_link(db_session, email)
    assert 'name="password"' in new_browser(app).get(link).get_data(as_text=True)

    response = set_password(app, link, "a brand new password")

    assert response.status_code == 302 and response.headers["Location"] == SIGN_IN[kind]
    assert elsewhere.get(HOME[kind]).status_code == 302, "the session from before the reset has ended"
    assert sign_in(app, kind, email, password)[1] == 401
    assert sign_in(app, kind, email, "a brand new password")[1] == 302


def test_the_link_works_once(app, db_session, person):
    kind, email, _ = person
    ask_for_a_link(app, kind, email)
    link = reset_link(db_session, email)
    set_password(app, link, "a brand new password")

    again = set_password(app, link, "the attacker's password")

    assert again.status_code == 410
    assert "expired or has already been used" in again.get_data(as_text=True)
    assert sign_in(app, kind, email, "a brand new password")[1] == 302


def test_the_link_expires_after_an_hour(app, db_session, person):
    kind, email, _ = person
    with freeze_time("2026-12-06 12:00:00"):
        ask_for_a_link(app, kind, email)
    link = reset_link(db_session, email)

    with freeze_time("2026-12-06 12:59:00"):
        assert new_browser(app).get(link).status_code == 200
    with freeze_time("2026-12-06 13:01:00"):
        late = set_password(app, link, "a brand new password")

    assert late.status_code == 410
    assert 'href="' + FORGOT[kind] + '"' in late.get_data(as_text=True), "it offers a new link"


def test_a_link_stops_working_when_the_password_changes_otherwise(app, db_session, person):
    kind, email, _ = person
    ask_for_a_link(app, kind, email)
    link = reset_link(db_session, email)

    ask_for_a_link(app, kind, email)
    newer = rows(db_session, "SELECT body_text FROM outbox_emails WHERE recipient = :r ORDER BY email_id DESC LIMIT 1",
                 r=email)[0][0]
    set_password(app, re.search(r"https?://\S+(/\S+/password/reset/\S+)", newer).group(1), "a brand new password")

    assert new_browser(app).get(link).status_code == 410


@pytest.mark.parametrize("tampered", ["nonsense", "e30.e30.e30"])
def test_a_forged_link_is_refused(app, db_session, tampered):
    assert new_browser(app).get(f"/account/password/reset/{tampered}").status_code == 410


def test_a_customer_link_opens_no_staff_account(app, db_session):
    accounts.create_staff("both@example.com", "Both", "the staff password")
    make_customer(db_session, email="both@example.com", password="the customer password")
    db_session.commit()
    ask_for_a_link(app, "customer", "both@example.com")
    token = reset_link(db_session, "both@example.com").rsplit("/", 1)[1]

    assert new_browser(app).get(f"/admin/password/reset/{token}").status_code == 410


def test_a_new_password_too_short_or_mistyped_is_shown_next_to_its_field(app, db_session, person):
    kind, email, password = person
    ask_for_a_link(app, kind, email)
    link = reset_link(db_session, email)

    short = set_password(app, link, "short").get_data(as_text=True)
    differ = set_password(app, link, "a brand new password", "a different password").get_data(as_text=True)

    assert 'id="password-error">Use at least 10 characters.' in short
    assert 'id="confirm-error">The passwords differ.' in differ
    assert sign_in(app, kind, email, password)[1] == 302, "nothing changed"


# ---------------------------------------------------------------- registration

CONFIRM_SUBJECT = "Confirm your e-mail address for Encore Box Office"


def register(app, email: str, next_path: str | None = None):
    browser = new_browser(app)
    response = Forms(browser).post("/account/register", {
        "full_name": "Ann Other", "email": email, "password": "a long password", "confirm": "a long password"},
        action="/account/register" + (f"?next={next_path}" if next_path else ""))
    return browser, response


def confirmation_link(db_session, email: str) -> str:
    """The link of the newest registration mail to `email`, as a path."""
    subject, body = mails_to(db_session, email)[-1]
    assert subject == CONFIRM_SUBJECT
    return re.search(r"https?://\S+(/account/confirm/\S+)", body).group(1)


def confirm(browser, link: str):
    # The CSRF token is the browser's, from any page: a link that no longer works shows no form.
    return Forms(browser).post("/account/login", {}, action=link)


def test_registering_signs_nobody_in_until_the_link_in_the_mail_is_followed(app, db_session):
    browser, response = register(app, "new.buyer@example.com", next_path="/checkout/1")

    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    assert browser.get("/account/").status_code == 302, "no session before the address is confirmed"
    assert rows(db_session, "SELECT COUNT(*) FROM customers WHERE email = 'new.buyer@example.com'") == [(0,)]
    link = confirmation_link(db_session, "new.buyer@example.com")
    assert app.config["BASE_URL"] + link in mails_to(db_session, "new.buyer@example.com")[0][1]

    # The link may be opened on another device: the mail app's browser is signed in, and goes on to checkout.
    phone = new_browser(app)
    page = phone.get(link).get_data(as_text=True)
    assert "new.buyer@example.com" in page and "Confirm and sign in" in page
    confirmed = confirm(phone, link)

    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/checkout/1"
    assert "Hello, Ann" in phone.get("/account/").get_data(as_text=True)
    [(password_hash, is_guest)] = rows(db_session, "SELECT password_hash, is_guest FROM customers "
                                                   "WHERE account_email = 'new.buyer@example.com'")
    assert password_hash.startswith("$argon2id$") and is_guest == 0
    assert sign_in(app, "customer", "new.buyer@example.com", "a long password")[1] == 302
    assert rows(db_session, "SELECT COUNT(*) FROM registrations") == [(0,)], "a followed link is used up"


def test_opening_the_link_makes_nothing_until_its_button_is_pressed(app, db_session):
    """A mail scanner that opens every link in a message creates no account."""
    register(app, "new.buyer@example.com")
    link = confirmation_link(db_session, "new.buyer@example.com")

    assert new_browser(app).get(link).status_code == 200
    assert new_browser(app).get(link).status_code == 200

    assert rows(db_session, "SELECT COUNT(*) FROM customers WHERE email = 'new.buyer@example.com'") == [(0,)]


def test_registering_a_known_e_mail_answers_the_same_mails_the_owner_and_creates_nothing(app, db_session):
    owner = make_customer(db_session, email="taken@example.com", password="the owner's password")
    db_session.commit()

    fresh_browser, new = register(app, "fresh@example.com")
    known_browser, known = register(app, "taken@example.com")

    assert new.status_code == known.status_code == 200
    assert main_text(new).replace("fresh@example.com", "…") == main_text(known).replace("taken@example.com", "…")
    assert fresh_browser.get("/account/").status_code == known_browser.get("/account/").status_code == 302
    assert rows(db_session, "SELECT COUNT(*) FROM customers WHERE email = 'taken@example.com'") == [(1,)]
    assert rows(db_session, "SELECT email FROM registrations") == [("fresh@example.com",)]
    assert [subject for subject, _ in mails_to(db_session, "fresh@example.com")] == [CONFIRM_SUBJECT]
    [(subject, body)] = mails_to(db_session, owner.email)
    assert subject == "Someone tried to register with your e-mail address"
    assert "/account/login" in body and "/account/password/forgot" in body
    assert sign_in(app, "customer", owner.email, "the owner's password")[1] == 302, "the owner's password stands"


def test_a_known_and_a_new_e_mail_cost_the_same_work(app, db_session, monkeypatch):
    """One Argon2 hash and one mail each way, so the time taken does not tell them apart either."""
    make_customer(db_session, email="taken@example.com")
    db_session.commit()
    hashed = []
    real_hash = accounts.hash_password
    monkeypatch.setattr(accounts, "hash_password", lambda password: hashed.append(password) or real_hash(password))

    register(app, "fresh@example.com")
    register(app, "taken@example.com")

    assert hashed == ["a long password", "a long password"]
    assert len(mails_to(db_session, "fresh@example.com")) == len(mails_to(db_session, "taken@example.com")) == 1


def test_a_registration_link_works_once_and_for_a_day(app, db_session):
    with freeze_time("2026-12-06 12:00:00"):
        register(app, "late@example.com")
        register(app, "prompt@example.com")
    late, prompt = confirmation_link(db_session, "late@example.com"), confirmation_link(db_session, "prompt@example.com")

    with freeze_time("2026-12-07 11:59:00"):
        assert confirm(new_browser(app), prompt).status_code == 302
        again = confirm(new_browser(app), prompt)
    with freeze_time("2026-12-07 12:01:00"):
        expired = confirm(new_browser(app), late)

    assert again.status_code == expired.status_code == 410
    assert "expired or has already been used" in expired.get_data(as_text=True)
    assert 'href="/account/register"' in expired.get_data(as_text=True), "it offers to register again"
    assert rows(db_session, "SELECT email FROM customers WHERE email IN ('late@example.com', 'prompt@example.com')") == [
        ("prompt@example.com",)]


@pytest.mark.parametrize("tampered", ["nonsense", "WzEsIiJd.forged", "e30.e30.e30"])
def test_a_forged_registration_link_is_refused(app, db_session, tampered):
    register(app, "new.buyer@example.com")

    assert new_browser(app).get(f"/account/confirm/{tampered}").status_code == 410
    assert confirm(new_browser(app), f"/account/confirm/{tampered}").status_code == 410
    assert rows(db_session, "SELECT COUNT(*) FROM customers WHERE email = 'new.buyer@example.com'") == [(0,)]


def test_registering_one_address_twice_makes_one_account(app, db_session):
    register(app, "twice@example.com")
    first = confirmation_link(db_session, "twice@example.com")
    register(app, "twice@example.com")
    second = confirmation_link(db_session, "twice@example.com")

    assert confirm(new_browser(app), second).status_code == 302
    assert confirm(new_browser(app), first).status_code == 410, "the address's other registrations are gone"
    assert rows(db_session, "SELECT COUNT(*) FROM customers WHERE email = 'twice@example.com'") == [(1,)]


def test_a_link_followed_after_the_address_got_an_account_says_so(app, db_session):
    register(app, "raced@example.com")
    link = confirmation_link(db_session, "raced@example.com")
    make_customer(db_session, email="raced@example.com")  # made meanwhile, another way (by staff, a guest keeping one)
    db_session.commit()

    taken = confirm(new_browser(app), link)

    assert taken.status_code == 409
    html = taken.get_data(as_text=True)
    assert "There is already an account with this e-mail address." in html and 'href="/account/password/forgot"' in html


def test_registering_one_e_mail_again_and_again_is_slowed_like_sign_ins(app, db_session):
    make_customer(db_session, email="taken@example.com")
    db_session.commit()

    with freeze_time("2026-12-06 12:00:00"):  # all four at once, however slow the machine is
        statuses = [register(app, "taken@example.com")[1].status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert len(mails_to(db_session, "taken@example.com")) == 3
