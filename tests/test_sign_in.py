"""Signing in under a throttle that cannot be turned against the account's owner (services/accounts.py):
growing waits per account and address, a budget per address, and the same answer for every e-mail."""
from __future__ import annotations

import datetime as dt
import statistics
import time

import pytest
import sqlalchemy as sa

from boxoffice.errors import InvalidCredentials, TooManyAttempts
from boxoffice.services import accounts
from tests.builders import make_customer, rows

ATTACKER = "203.0.113.66"
OWNER_AT_HOME = "198.51.100.20"


class Clock:
    """accounts.utcnow, moved on by hand."""

    def __init__(self):
        self.now = dt.datetime(2026, 12, 6, 12, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(accounts, "utcnow", clock)
    return clock


@pytest.fixture
def owner(db_session):
    made = make_customer(db_session, password="the owner's own password")
    db_session.commit()
    return made


def sign_in(forms, email: str, password: str, address: str):
    return forms.post("/account/login", {"email": email, "password": password},
                      environ_base={"REMOTE_ADDR": address})


def attempt(email: str, password: str, address: str) -> str:
    """'ok', 'wrong' or 'wait': what the customer sign-in answered."""
    try:
        accounts.authenticate_customer(email, password, address)
    except TooManyAttempts:
        return "wait"
    except InvalidCredentials:
        return "wrong"
    return "ok"


# ---------------------------------------------------------------- one account, one address

def test_three_wrong_passwords_are_answered_then_the_next_try_from_that_address_waits(forms, owner, clock):
    statuses = [sign_in(forms, owner.email, "guess", ATTACKER).status_code for _ in range(4)]
    refused = sign_in(forms, owner.email, "guess", ATTACKER)

    assert statuses == [401, 401, 401, 429]
    assert "Please wait 2 seconds" in refused.get_data(as_text=True)
    assert refused.headers["Retry-After"] == "2"


def test_the_owner_signing_in_from_another_address_is_not_held_back(forms, owner, clock):
    for _ in range(20):
        sign_in(forms, owner.email, "guess", ATTACKER)

    response = sign_in(forms, owner.email, owner.password, OWNER_AT_HOME)

    assert response.status_code == 302, "the attacker's failures never lock the owner out"


def test_even_the_right_password_waits_at_the_address_that_failed(forms, owner, clock):
    for _ in range(3):
        sign_in(forms, owner.email, "guess", ATTACKER)

    assert sign_in(forms, owner.email, owner.password, ATTACKER).status_code == 429
    clock.advance(seconds=2)
    assert sign_in(forms, owner.email, owner.password, ATTACKER).status_code == 302


def test_each_wait_is_twice_the_last_up_to_fifteen_minutes(db_session, owner, clock):
    waits = []
    for _ in range(14):
        assert attempt(owner.email, "guess", ATTACKER) == "wrong"
        waits.append(_seconds_until_next_try(db_session, owner.email))
        if waits[-1]:
            clock.advance(seconds=waits[-1] - 1)
            assert attempt(owner.email, "guess", ATTACKER) == "wait", "not a second early"
            clock.advance(seconds=1)

    assert waits == [0, 0, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]


def _seconds_until_next_try(db_session, email: str) -> int:
    [(next_try_at,)] = rows(db_session, "SELECT next_try_at FROM sign_in_throttles WHERE email = :e AND address = :a",
                            e=email, a=ATTACKER)
    return int((next_try_at - accounts.utcnow()).total_seconds())


def test_a_right_password_starts_the_count_again(db_session, owner, clock):
    outcomes = [attempt(owner.email, "guess", ATTACKER) for _ in range(2)]
    outcomes.append(attempt(owner.email, owner.password, ATTACKER))
    outcomes += [attempt(owner.email, "guess", ATTACKER) for _ in range(3)]

    assert outcomes == ["wrong", "wrong", "ok", "wrong", "wrong", "wrong"]


def test_failures_are_forgotten_after_a_quiet_day(owner, clock):
    for _ in range(10):
        attempt(owner.email, "guess", ATTACKER)
        clock.advance(minutes=16)
    clock.advance(hours=24)

    assert [attempt(owner.email, "guess", ATTACKER) for _ in range(4)] == ["wrong", "wrong", "wrong", "wait"]


def test_counts_that_no_longer_count_are_deleted_and_the_others_kept(db_session, owner, clock, monkeypatch):
    """The jobs' pass forgets, a batch at a time, pairs quiet for a day, budgets whose window is over and
    registrations whose link has expired; the tables stop growing and nothing that still counts goes."""
    monkeypatch.setattr(accounts, "PRUNE_BATCH", 1)
    start = clock.now
    attempt(owner.email, "guess", ATTACKER)
    clock.advance(hours=23)
    attempt(owner.email, "guess", OWNER_AT_HOME)
    clock.advance(hours=1, minutes=1)
    attempt("someone@example.test", "guess", "192.0.2.7")
    for email, requested_at in (("expired@example.test", start), ("waiting@example.test", clock.now)):
        db_session.execute(sa.text("""INSERT INTO registrations (email, full_name, password_hash, requested_at)
                                      VALUES (:email, 'Someone', 'x', :at)"""), {"email": email, "at": requested_at})
    db_session.commit()

    # (At least these four: rows other tests committed and left count too, when their time is up.)
    assert accounts.forget_old_counts() >= 4, "a pair, two budgets and a registration, one batch at a time"
    assert accounts.forget_old_counts() == 0

    mine = [ATTACKER, OWNER_AT_HOME, "192.0.2.7"]
    assert rows(db_session, "SELECT address FROM sign_in_throttles WHERE address IN :mine ORDER BY address",
                mine=mine) == [("192.0.2.7",), (OWNER_AT_HOME,)]
    assert rows(db_session, "SELECT address FROM sign_in_budgets WHERE address IN :mine", mine=mine) == [("192.0.2.7",)]
    assert rows(db_session, "SELECT email FROM registrations WHERE email IN :mine",
                mine=["expired@example.test", "waiting@example.test"]) == [("waiting@example.test",)]
    assert [attempt(owner.email, "guess", OWNER_AT_HOME) for _ in range(3)] == ["wrong", "wrong", "wait"], \
        "a pair that still counts kept its count"


# ---------------------------------------------------------------- one address, many accounts

def test_an_address_has_a_budget_of_failures_at_any_accounts(db_session, owner, clock):
    for n in range(accounts.ADDRESS_BUDGET):
        assert attempt(f"someone-{n}@example.test", "guess", ATTACKER) == "wrong"

    assert attempt("yet-another@example.test", "guess", ATTACKER) == "wait"
    assert attempt(owner.email, owner.password, ATTACKER) == "wait", "the budget is spent for every account"
    assert attempt(owner.email, owner.password, OWNER_AT_HOME) == "ok", "other addresses keep theirs"
    clock.advance(minutes=15)
    assert attempt(owner.email, owner.password, ATTACKER) == "ok", "a new window, a new budget"


def test_right_passwords_do_not_spend_the_budget(owner, clock):
    """A busy office behind one address signs in all day."""
    outcomes = {attempt(owner.email, owner.password, ATTACKER) for _ in range(accounts.ADDRESS_BUDGET + 5)}

    assert outcomes == {"ok"}


def test_an_ipv6_subscriber_counts_as_one_address():
    first, second = accounts.address_key("2001:db8:1:2::1"), accounts.address_key("2001:db8:1:2:ffff::9")

    assert first == second == "2001:db8:1:2::/64"
    assert accounts.address_key("2001:db8:1:3::1") != first
    assert accounts.address_key("::ffff:192.0.2.7") == accounts.address_key("192.0.2.7") == "192.0.2.7"


# ---------------------------------------------------------------- known and unknown e-mails

def test_an_unknown_e_mail_gets_the_same_answer_as_a_wrong_password(forms, owner, clock):
    wrong = sign_in(forms, owner.email, "guess", ATTACKER)
    unknown = sign_in(forms, "nobody@example.test", "guess", ATTACKER)

    assert wrong.status_code == unknown.status_code == 401
    assert _alert(wrong) == _alert(unknown) == "That e-mail address and password do not match."


def test_an_unknown_e_mail_is_throttled_like_a_known_one(forms, clock):
    statuses = [sign_in(forms, "nobody@example.test", "guess", ATTACKER).status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]


def _alert(response) -> str:
    html = response.get_data(as_text=True)
    return html.split('role="alert">', 1)[1].split("<", 1)[0]


def test_an_unknown_e_mail_is_checked_against_a_real_argon2_hash(monkeypatch, owner, clock):
    checked = []
    real = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda h, p: checked.append(h) or real(h, p))

    attempt(owner.email, "guess", ATTACKER)
    attempt("nobody@example.test", "guess", ATTACKER)

    known, unknown = checked
    assert unknown.startswith("$argon2id$") and unknown != known
    assert unknown.split("$")[2:4] == known.split("$")[2:4], "the same Argon2 version and cost"


def test_known_and_unknown_e_mails_take_about_the_same_time(owner, clock):
    def timed(email: str) -> float:
        clock.advance(hours=25)  # no wait ever applies
        started = time.perf_counter()
        attempt(email, "guess", ATTACKER)
        return time.perf_counter() - started

    known = statistics.median(timed(owner.email) for _ in range(7))
    unknown = statistics.median(timed("nobody@example.test") for _ in range(7))

    assert 0.5 < unknown / known < 2, f"known {known * 1000:.1f} ms, unknown {unknown * 1000:.1f} ms"


# ---------------------------------------------------------------- staff

def test_staff_sign_in_has_the_same_rule(forms, db_session, clock):
    accounts.create_staff("desk@example.test", "Desk", "the desk's own password")

    def staff_sign_in(password: str, address: str) -> int:
        return forms.post("/admin/login", {"email": "desk@example.test", "password": password},
                          environ_base={"REMOTE_ADDR": address}).status_code

    assert [staff_sign_in("guess", ATTACKER) for _ in range(4)] == [401, 401, 401, 429]
    assert staff_sign_in("the desk's own password", OWNER_AT_HOME) == 302
