"""Accounts: staff and customers. Signing in under a throttle that cannot be turned against an account's
owner, sessions that end, registration that tells nobody which e-mails have accounts, and password reset
by e-mail.

The throttle counts a try *before* the password is checked, with conditional writes (so simultaneous
tries cannot all slip under a limit), and gives it back when the password is right. Two limits apply:
  * per account and address: the first few failures are free, then each try waits longer than the last
    (2 s, 4 s, 8 s, ... at most 15 minutes); the owner signing in from another address is not held back;
  * per address: a budget of failed sign-ins per window, at any accounts (a password sprayer's limit).
An unknown e-mail is throttled, checked against a real Argon2 hash and answered exactly like a known one.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..clock import utcnow
from ..errors import BoxOfficeError, DuplicateRecord, InvalidCredentials, TooManyAttempts
from ..extensions import db
from ..models import Customer, RegularCustomer, StaffUser, VipCustomer
from ..passwords import hash_password, verify_password
from . import customers, mail
from .unit_of_work import unit_of_work

# Tries at one account from one address before any wait, the longest wait, and how long a quiet account
# and address keep their count.
FREE_FAILURES = 3
MAX_WAIT = dt.timedelta(minutes=15)
FORGET_AFTER = dt.timedelta(hours=24)
# Failed sign-ins one address may have per window, at any accounts.
ADDRESS_BUDGET = 30
BUDGET_WINDOW = dt.timedelta(minutes=15)
# How long a password reset link works, and a registration's link.
RESET_LINK_LIFETIME = dt.timedelta(hours=1)
REGISTRATION_LINK_LIFETIME = dt.timedelta(hours=24)

# Checked against a real hash when the e-mail is unknown, so the time taken does not tell which exist.
_UNKNOWN_USER_HASH = hash_password("not-a-real-password")

_ACCOUNTS: dict[str, type[Customer] | type[StaffUser]] = {"customer": Customer, "staff": StaffUser}
EMAIL_TAKEN = {"uq_customers_email": "There is already an account with this e-mail address."}


class ResetLinkInvalid(BoxOfficeError):
    default_message = "This link has expired or has already been used. Ask for a new one below."


def _normalise(email: str) -> str:
    return email.strip().lower()


def address_key(address: str) -> str:
    """The network address tries are counted under: an IPv4 address as it is, an IPv6 address by its /64
    (one subscriber is given a whole /64, so single IPv6 addresses would be free for the taking)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:45]
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


# ---------------------------------------------------------------- the throttle

# A try locks the pair's row, then the address's budget row: always in that order (giving a try back too),
# so two tries cannot wait for each other. The budget is the row every try from an address queues on (a
# password sprayer's, at many accounts), so it is taken last, in one statement, and its lock is held for
# that statement and the COMMIT alone. The statement creates the row or takes a try from it: the window
# restarts once it is over; otherwise a try is taken only while the budget lasts. Its answer comes back in
# the OK packet's insert id (LAST_INSERT_ID(expr), set on every path, since it otherwise keeps the
# connection's last value): the try's number in the window, or 0 when the budget is spent. Both
# assignments read the old window (tries is set first), whatever the server's SIMULTANEOUS_ASSIGNMENT mode.
CLAIM_BUDGET = sa.text("""
    INSERT INTO sign_in_budgets (address, window_started_at, tries) VALUES (:address, :now, LAST_INSERT_ID(1))
        ON DUPLICATE KEY UPDATE
           tries = IF(window_started_at <= :window_over, LAST_INSERT_ID(1),
                      IF(tries < :budget, LAST_INSERT_ID(tries + 1), tries + LAST_INSERT_ID(0))),
           window_started_at = IF(window_started_at <= :window_over, :now, window_started_at)""")
# The pair's upsert locks its row at once (an exclusive lock even when the row exists: no shared lock to be
# upgraded later, which is how two simultaneous tries would deadlock).
ENSURE_PAIR = sa.text("""
    INSERT INTO sign_in_throttles (account_kind, email, address, failures, next_try_at, updated_at)
    VALUES (:kind, :email, :address, 0, :now, :now)
        ON DUPLICATE KEY UPDATE failures = failures""")
# The wait rule lives here alone: a try is taken only when its time has come, and it sets the next try's
# time as if it fails (n failures, counting this try: no wait while n < FREE_FAILURES, then 2 s doubling
# up to MAX_WAIT; the count stops at 1000, long past the longest wait). Every assignment reads only the
# old values (next_try_at first, updated_at last), so the statement means the same whatever the server's
# SIMULTANEOUS_ASSIGNMENT mode.
CLAIM_PAIR = sa.text("""
    UPDATE sign_in_throttles
       SET next_try_at = :now + INTERVAL LEAST(:max_wait,
               IF(IF(updated_at <= :forget_before, 0, failures) + 1 < :free, 0,
                  POW(2, IF(updated_at <= :forget_before, 0, failures) + 2 - :free))) SECOND,
           failures = LEAST(IF(updated_at <= :forget_before, 0, failures) + 1, 1000),
           updated_at = :now
     WHERE account_kind = :kind AND email = :email AND address = :address AND next_try_at <= :now""")
BUDGET_WAIT = sa.text("SELECT window_started_at FROM sign_in_budgets WHERE address = :address")
PAIR_WAIT = sa.text("""SELECT next_try_at FROM sign_in_throttles
                        WHERE account_kind = :kind AND email = :email AND address = :address""")
GIVE_BACK_BUDGET = sa.text("UPDATE sign_in_budgets SET tries = tries - 1 WHERE address = :address AND tries > 0")
FORGET_PAIR = sa.text("""DELETE FROM sign_in_throttles
                          WHERE account_kind = :kind AND email = :email AND address = :address""")
FORGET_ACCOUNT = sa.text("DELETE FROM sign_in_throttles WHERE account_kind = :kind AND email = :email")


# What no longer counts, oldest first, a batch at a time (forget_old_counts).
PRUNE_BATCH = 1000
PRUNE = (
    sa.text("DELETE FROM sign_in_throttles WHERE updated_at <= :before ORDER BY updated_at LIMIT :batch"),
    sa.text("DELETE FROM sign_in_budgets WHERE window_started_at <= :before ORDER BY window_started_at LIMIT :batch"),
    sa.text("DELETE FROM registrations WHERE requested_at <= :before ORDER BY requested_at LIMIT :batch"),
)


def forget_old_counts() -> int:
    """Delete what the sign-in throttle and registration no longer count, so the tables do not grow for ever:
    pairs not tried for FORGET_AFTER (their count would start again anyway), address budgets whose window
    is over (the next try starts a new one) and registrations whose link has expired. A batch per
    transaction, so no try waits long behind it; a try that touches a row meanwhile keeps it (the DELETE
    sees the row's new time). Returns how many rows went. Run by the jobs' pass (boxoffice/jobs.py)."""
    now = utcnow()
    removed = 0
    for statement, age in zip(PRUNE, (FORGET_AFTER, BUDGET_WINDOW, REGISTRATION_LINK_LIFETIME)):
        while True:
            with unit_of_work():
                gone = db.session.execute(statement, {"before": now - age, "batch": PRUNE_BATCH}).rowcount
            removed += gone
            if gone < PRUNE_BATCH:
                break
    return removed


class SignInWait(TooManyAttempts):
    """A sign-in refused by the throttle; `retry_after`: the seconds until a try is taken again."""

    def __init__(self, until: dt.datetime, now: dt.datetime):
        self.retry_after = max(1, int((until - now).total_seconds() + 0.999))
        seconds = self.retry_after
        wait = f"{seconds} seconds" if seconds < 120 else f"{(seconds + 59) // 60} minutes"
        super().__init__(f"Too many failed sign-ins. Please wait {wait} and try again.")


class _Refused(Exception):
    """A try the throttle did not take; `wait`: the statement that reads until when (after the rollback)."""

    def __init__(self, wait: sa.TextClause, after: dt.timedelta = dt.timedelta()):
        self.wait, self.after = wait, after


def _claim_try(kind: str, email: str, address: str, now: dt.datetime) -> None:
    """Count one try at (kind, email) from `address` against both limits, in a transaction of its own.
    Raises SignInWait (nothing was counted)."""
    params = {"kind": kind, "email": email, "address": address, "now": now}
    try:
        with unit_of_work():
            db.session.execute(ENSURE_PAIR, params)
            if not db.session.execute(CLAIM_PAIR, {**params, "forget_before": now - FORGET_AFTER,
                                                   "free": FREE_FAILURES,
                                                   "max_wait": int(MAX_WAIT.total_seconds())}).rowcount:
                raise _Refused(PAIR_WAIT)
            if not db.session.execute(CLAIM_BUDGET, {**params, "window_over": now - BUDGET_WINDOW,
                                                     "budget": ADDRESS_BUDGET}).lastrowid:
                raise _Refused(BUDGET_WAIT, BUDGET_WINDOW)
    except _Refused as refused:
        # Read once the rollback has let the rows go: how long to wait is no reason to hold them. A row gone
        # meanwhile (the owner signed in, the jobs' pass forgot it) takes the next try at once.
        until = db.session.scalar(refused.wait, params)
        raise SignInWait(until + refused.after if until else now, now) from None


def _account_with(model, email: str) -> sa.Select:
    """The account with this e-mail. A guest's customer row (a checkout without an account) may carry the
    same e-mail, but it is no account: it has no password and is never signed in (migration 0009)."""
    return sa.select(model).where(model.account_email == email if model is Customer else model.email == email)


def _authenticate(kind: str, email: str, password: str, ip_address: str):
    """The account of `kind` with this e-mail and password, under the throttle. Raises InvalidCredentials
    or TooManyAttempts, the same for an unknown e-mail as for a wrong password."""
    model = _ACCOUNTS[kind]
    email, address, now = _normalise(email), address_key(ip_address), utcnow()
    # The try is counted and committed before the password is checked: a check that is still running
    # counts already, and Argon2's tenth of a second is not spent holding the counters' locks.
    _claim_try(kind, email, address, now)
    person = db.session.scalar(_account_with(model, email))
    password_hash = person.password_hash if person is not None else _UNKNOWN_USER_HASH
    if not verify_password(password_hash, password) or person is None:
        raise InvalidCredentials()
    # Right: this account's count from this address starts again and the try is given back (the pair's row
    # before the budget's, as a try takes them).
    with unit_of_work():
        db.session.execute(FORGET_PAIR, {"kind": kind, "email": email, "address": address})
        db.session.execute(GIVE_BACK_BUDGET, {"address": address})
    return person


def authenticate_staff(email: str, password: str, ip_address: str) -> StaffUser:
    """The staff user with this e-mail and password. Raises InvalidCredentials or TooManyAttempts."""
    return _authenticate("staff", email, password, ip_address)


def authenticate_customer(email: str, password: str, ip_address: str) -> Customer:
    """The customer with this e-mail and password. Raises InvalidCredentials or TooManyAttempts."""
    return _authenticate("customer", email, password, ip_address)


# ---------------------------------------------------------------- sessions that end

def _table(kind: str) -> sa.Table:
    return _ACCOUNTS[kind].__table__


def _key(kind: str) -> sa.Column:
    return _table(kind).c.customer_id if kind == "customer" else _table(kind).c.staff_id


def _id_of(kind: str, person) -> int:
    return person.customer_id if kind == "customer" else person.staff_id


def end_sessions(kind: str, person_id: int) -> int:
    """End every session of this customer or staff user, wherever it is: their session epoch goes up, and
    sessions and remember-me cookies signed in under an older one are refused (boxoffice/auth.py). Returns
    the new epoch, for the session that asked to go on under it."""
    table = _table(kind)
    with unit_of_work():
        db.session.execute(sa.update(table).where(_key(kind) == person_id)
                           .values(session_epoch=table.c.session_epoch + 1))
        return db.session.scalar(sa.select(table.c.session_epoch).where(_key(kind) == person_id))


def _set_password(kind: str, person_id: int, old_hash: str, new_hash: str) -> int | None:
    """Replace the password hash if it is still `old_hash`, ending every session. Returns the new session
    epoch, or None if the password was changed meanwhile. Runs in the caller's transaction."""
    table = _table(kind)
    changed = db.session.execute(
        sa.update(table).where(_key(kind) == person_id, table.c.password_hash == old_hash)
        .values(password_hash=new_hash, session_epoch=table.c.session_epoch + 1)).rowcount
    return db.session.scalar(sa.select(table.c.session_epoch).where(_key(kind) == person_id)) if changed else None


def change_customer_password(customer_id: int, current: str, new: str, ip_address: str) -> int:
    """Change the customer's password, checking `current` under the sign-in throttle; every other session
    ends. Returns the new session epoch (for the session that changed it). Raises InvalidCredentials if
    `current` is not right, TooManyAttempts."""
    email = db.session.scalar(sa.select(Customer.email).where(Customer.customer_id == customer_id))
    try:
        customer = _authenticate("customer", email, current, ip_address)
    except InvalidCredentials:
        raise InvalidCredentials("Your current password is not right.") from None
    new_hash, old_hash = hash_password(new), customer.password_hash
    with unit_of_work():
        epoch = _set_password("customer", customer_id, old_hash, new_hash)
    if epoch is None:
        raise InvalidCredentials("Your password was changed meanwhile. Please try again.")
    return epoch


# ---------------------------------------------------------------- registration and staff

def _link(endpoint: str, **values) -> str:
    """An absolute link for a message: the site's configured address (BASE_URL), never the Host header of
    the request (which whoever sends the request chooses)."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def create_staff(email: str, full_name: str, password: str) -> StaffUser:
    """Create an admin, or reset the name and password of the one with this e-mail (ending their
    sessions)."""
    email = _normalise(email)
    new_hash = hash_password(password)
    with unit_of_work():
        staff = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == email))
        if staff is None:
            staff = StaffUser(email=email, full_name=full_name, password_hash=new_hash)
            db.session.add(staff)
        else:
            staff.full_name = full_name
            staff.password_hash = new_hash
            staff.session_epoch += 1
    return staff


def _count_mailing(kind: str, email: str, ip_address: str) -> None:
    """Count a request that sends someone mail (a password reset link, a registration's mail) from this
    address as a sign-in try that fails, under the same throttle: a few for one e-mail, then slower and
    slower, and within the address's budget, so nobody can fill someone's inbox. Raises SignInWait."""
    _claim_try(kind, _normalise(email), address_key(ip_address), utcnow())


# ---------------------------------------------------------------- registration, confirmed by e-mail

INSERT_REGISTRATION = sa.text("""
    INSERT INTO registrations (email, full_name, city, phone, password_hash, guest_customer_id, requested_at)
    VALUES (:email, :full_name, :city, :phone, :password_hash, :guest_id, :now)""")
REGISTRATION = sa.text("""
    SELECT registration_id, email, full_name, city, phone, password_hash, guest_customer_id FROM registrations
     WHERE registration_id = :registration_id FOR UPDATE""")
FORGET_REGISTRATIONS = sa.text("DELETE FROM registrations WHERE email = :email")


class RegistrationLinkInvalid(BoxOfficeError):
    default_message = "This link has expired or has already been used. Register again to be sent a new one."


@dataclass(frozen=True)
class Registration:
    """A registration waiting for its link: whose it is and where the new customer goes once it is followed."""

    email: str
    full_name: str
    next_path: str | None


def _registration_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="boxoffice.registration")


def register_customer(email: str, full_name: str, password: str, *, ip_address: str, city: str | None = None,
                      phone: str | None = None, guest_id: int | None = None, next_path: str | None = None) -> None:
    """Ask for a regular customer's account, which is made only when its e-mail is confirmed: a new address
    is mailed a signed link (valid for REGISTRATION_LINK_LIFETIME, once) that makes the account and signs it
    in (confirm_registration), then goes on to `next_path`. When the address has an account already, nothing
    is kept and its owner is mailed instead (someone tried to register with their address). The caller
    answers both the same way, and both take the same work (one Argon2 hash, one mail), so neither the
    answer nor its timing tells which e-mails have accounts. `guest_id`: a guest who has just paid keeps an
    account under its checkout's e-mail (the guest row, with its bookings, becomes the account). Counts
    against the sign-in throttle of the e-mail and `ip_address`: raises TooManyAttempts."""
    _count_mailing("customer", email, ip_address)
    email = _normalise(email)
    new_hash = hash_password(password)
    with unit_of_work():
        if db.session.scalar(sa.select(Customer.customer_id).where(Customer.account_email == email)):
            taken_mail(email)
            return
        registration_id = db.session.execute(INSERT_REGISTRATION, {
            "email": email, "full_name": full_name.strip(), "city": city, "phone": phone, "password_hash": new_hash,
            "guest_id": guest_id, "now": utcnow()}).lastrowid
        link = _link("storefront.confirm_registration",
                     token=_registration_signer().dumps([registration_id, next_path or ""]))
        mail.queue_message(email, "Confirm your e-mail address for Encore Box Office", (
            f"Dear {full_name.strip() or 'customer'},\n\nTo finish creating your Encore Box Office account, "
            f"confirm that this e-mail address is yours by opening this link within "
            f"{int(REGISTRATION_LINK_LIFETIME.total_seconds() // 3600)} hours (it works once):\n{link}\n\n"
            "If you did not ask for an account, ignore this message: nothing is created without the link.\n"))


def _registration(token: str):
    """The registration row a link is for (locked), and where to go next. Raises RegistrationLinkInvalid."""
    try:
        registration_id, next_path = _registration_signer().loads(
            token, max_age=int(REGISTRATION_LINK_LIFETIME.total_seconds()))
        row = db.session.execute(REGISTRATION, {"registration_id": int(registration_id)}).one_or_none()
    except (BadSignature, ValueError, TypeError):
        raise RegistrationLinkInvalid() from None
    if row is None:
        raise RegistrationLinkInvalid()
    return row, str(next_path) or None


def check_registration_link(token: str) -> Registration:
    """The registration a link confirms, if the link is genuine, unexpired and unused. Raises
    RegistrationLinkInvalid."""
    with unit_of_work():
        row, next_path = _registration(token)
    return Registration(row.email, row.full_name, next_path)


def confirm_registration(token: str) -> tuple[Customer, str | None]:
    """Follow a registration's link: the account is made (or the guest it was asked for becomes one), every
    other registration of the address is forgotten, and so are its sign-in counts (its owner has just shown
    they read its mail). Returns the customer, to be signed in, and where to go next. Raises
    RegistrationLinkInvalid, or DuplicateRecord when the address has had an account made meanwhile."""
    with unit_of_work(messages=EMAIL_TAKEN):
        row, next_path = _registration(token)
        if row.guest_customer_id is not None:
            customer = customers.guest(row.guest_customer_id)
            if customer is None:
                raise RegistrationLinkInvalid()
            customer.is_guest, customer.password_hash = False, row.password_hash
            customer.full_name = row.full_name or customer.full_name
        else:
            customer = Customer(email=row.email, full_name=row.full_name, password_hash=row.password_hash,
                                city=row.city, phone=row.phone, customer_type="regular")
            customer.regular = RegularCustomer(customer_type="regular")
            db.session.add(customer)
        db.session.flush()  # the unique key on account_email decides here
        db.session.execute(FORGET_REGISTRATIONS, {"email": row.email})
        db.session.execute(FORGET_ACCOUNT, {"kind": "customer", "email": row.email})
    return customer, next_path


def taken_mail(email: str) -> None:
    """Queue, in the caller's transaction, the mail to an account's owner that someone tried to make
    another account with their e-mail (registering, or a guest keeping an account after paying)."""
    mail.queue_message(email, "Someone tried to register with your e-mail address", (
        "Someone tried to create an Encore Box Office account with this e-mail address, which already "
        f"has one. If it was you, sign in:\n{_link('storefront.login')}\n\n"
        f"or, if you have forgotten your password, set a new one:\n{_link('storefront.forgot_password')}\n\n"
        "If it was not you, you need not do anything: your account has not changed.\n"))


def make_vip(customer: Customer, *, tier: str, discount_rate, member_since: dt.date) -> None:
    """Promote a customer to VIP, in the caller's transaction. The subtype rows swap (the composite keys
    require the regular row to go before the type changes)."""
    if customer.regular is not None:
        db.session.delete(customer.regular)
        db.session.flush()
    customer.customer_type = "vip"
    db.session.flush()
    customer.vip = VipCustomer(customer_type="vip", tier=tier, discount_rate=discount_rate,
                               member_since=member_since)
    db.session.flush()


# ---------------------------------------------------------------- password reset

def _reset_signer(kind: str) -> URLSafeTimedSerializer:
    # A salt per kind: a customer's link is no staff link, and no other signed value of the app is a link.
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"boxoffice.password-reset.{kind}")


def _fingerprint(password_hash: str) -> str:
    """Binds a link to the password it replaces: once that changes (the link used, or any other change),
    the link no longer matches. Argon2 hashes are salted, so even setting the same password again does."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def request_password_reset(kind: str, email: str, ip_address: str) -> None:
    """Mail the customer or staff user with this e-mail a link to set a new password (valid for an hour,
    once), through the outbox. Nothing happens for an unknown e-mail, and the caller answers the same. The
    request counts against the sign-in throttle of the e-mail and `ip_address`: raises TooManyAttempts."""
    _count_mailing(kind, email, ip_address)
    model = _ACCOUNTS[kind]
    with unit_of_work():
        person = db.session.scalar(_account_with(model, _normalise(email)))
        if person is None:
            return
        token = _reset_signer(kind).dumps([_id_of(kind, person), _fingerprint(person.password_hash)])
        endpoint = "storefront.reset_password" if kind == "customer" else "admin.reset_password"
        mail.queue_message(person.email, "Set a new password for Encore Box Office", (
            f"Dear {person.full_name},\n\nSomeone, hopefully you, asked to set a new password for your Encore Box "
            f"Office {'staff ' if kind == 'staff' else ''}account. Open this link within an hour to choose one "
            f"(it works once):\n{_link(endpoint, token=token)}\n\n"
            "If it was not you, ignore this message: your password stays as it is.\n"))


def _reset_target(kind: str, token: str):
    """The account a reset link is for, if the link is genuine, unexpired and unused. Raises ResetLinkInvalid."""
    try:
        key, fingerprint = _reset_signer(kind).loads(token, max_age=int(RESET_LINK_LIFETIME.total_seconds()))
        person = db.session.get(_ACCOUNTS[kind], int(key))
    except (BadSignature, ValueError, TypeError):
        raise ResetLinkInvalid() from None
    if person is None or not hmac.compare_digest(str(fingerprint), _fingerprint(person.password_hash)):
        raise ResetLinkInvalid()
    return person


def check_reset_link(kind: str, token: str) -> None:
    """Whether a reset link may still be used. Raises ResetLinkInvalid."""
    with unit_of_work():
        _reset_target(kind, token)


def reset_password(kind: str, token: str, new: str) -> None:
    """Set a new password with a reset link, which then stops working; every session of the person ends and
    their sign-in throttle starts again. Raises ResetLinkInvalid."""
    new_hash = hash_password(new)
    with unit_of_work():
        person = _reset_target(kind, token)
        if _set_password(kind, _id_of(kind, person), person.password_hash, new_hash) is None:
            raise ResetLinkInvalid()
        db.session.execute(FORGET_ACCOUNT, {"kind": kind, "email": person.email})
