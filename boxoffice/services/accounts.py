"""Accounts: staff and customers, password checks and the sign-in rate limit."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..clock import utcnow
from ..errors import DuplicateRecord, InvalidCredentials, TooManyAttempts
from ..extensions import db
from ..models import Customer, LoginFailure, RegularCustomer, StaffUser, VipCustomer
from ..passwords import hash_password, verify_password

FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 30
# Checked against a real hash even when the e-mail is unknown, so timing does not tell which exist.
_UNKNOWN_USER_HASH = hash_password("not-a-real-password")


def _normalise(email: str) -> str:
    return email.strip().lower()


def _check_rate_limit(email: str, ip_address: str) -> None:
    since = utcnow() - FAILURE_WINDOW
    by_email = db.session.scalar(
        sa.select(sa.func.count()).where(LoginFailure.email == email, LoginFailure.failed_at >= since))
    by_address = db.session.scalar(
        sa.select(sa.func.count()).where(LoginFailure.ip_address == ip_address, LoginFailure.failed_at >= since))
    if by_email >= MAX_FAILURES_PER_EMAIL or by_address >= MAX_FAILURES_PER_ADDRESS:
        raise TooManyAttempts()


def _authenticate(model, email: str, password: str, ip_address: str):
    email = _normalise(email)
    _check_rate_limit(email, ip_address)
    user = db.session.scalar(sa.select(model).where(model.email == email))
    if user is None or not verify_password(user.password_hash, password):
        if user is None:
            verify_password(_UNKNOWN_USER_HASH, password)
        # Committed on its own: the failure must count even though the request goes on to fail.
        db.session.add(LoginFailure(email=email, ip_address=ip_address, failed_at=utcnow()))
        db.session.commit()
        raise InvalidCredentials()
    return user


def authenticate_staff(email: str, password: str, ip_address: str) -> StaffUser:
    """The staff user with this e-mail and password. Raises InvalidCredentials or TooManyAttempts."""
    return _authenticate(StaffUser, email, password, ip_address)


def authenticate_customer(email: str, password: str, ip_address: str) -> Customer:
    """The customer with this e-mail and password. Raises InvalidCredentials or TooManyAttempts."""
    return _authenticate(Customer, email, password, ip_address)


def create_staff(email: str, full_name: str, password: str) -> StaffUser:
    """Create an admin, or reset the name and password of the one with this e-mail."""
    email = _normalise(email)
    staff = db.session.scalar(sa.select(StaffUser).where(StaffUser.email == email))
    if staff is None:
        staff = StaffUser(email=email, full_name=full_name, password_hash=hash_password(password))
        db.session.add(staff)
    else:
        staff.full_name = full_name
        staff.password_hash = hash_password(password)
    db.session.commit()
    return staff


def register_customer(email: str, full_name: str, password: str, *, city: str | None = None,
                      phone: str | None = None) -> Customer:
    """A new regular customer. Raises DuplicateRecord if the e-mail is taken."""
    email = _normalise(email)
    if db.session.scalar(sa.select(Customer.customer_id).where(Customer.email == email)):
        raise DuplicateRecord("There is already an account with this e-mail address.")
    customer = Customer(email=email, full_name=full_name, password_hash=hash_password(password),
                        city=city, phone=phone, customer_type="regular")
    customer.regular = RegularCustomer(customer_type="regular")
    db.session.add(customer)
    try:
        db.session.commit()
    except sa.exc.IntegrityError as error:
        db.session.rollback()
        raise DuplicateRecord("There is already an account with this e-mail address.") from error
    return customer


def make_vip(customer: Customer, *, tier: str, discount_rate, member_since: dt.date) -> None:
    """Promote a customer to VIP. The subtype rows swap in one transaction (the composite keys require
    the regular row to go before the type changes)."""
    if customer.regular is not None:
        db.session.delete(customer.regular)
        db.session.flush()
    customer.customer_type = "vip"
    db.session.flush()
    customer.vip = VipCustomer(customer_type="vip", tier=tier, discount_rate=discount_rate,
                               member_since=member_since)
    db.session.commit()
