"""Who is signed in: Flask-Login for customers and staff, and the admin role check for every admin view."""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from typing import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user, login_user

from .errors import InvalidCredentials, TooManyAttempts
from .forms import SignInForm

from .extensions import db, login_manager
from .models import Customer, CustomerLogin, StaffUser


@dataclass(frozen=True)
class SignedInCustomer(CustomerLogin):
    """The customer a request is made by, as read when the request began. A value, not an ORM entity:
    every storefront request reads it, and an entity would be read again after each commit of the request
    (a hold, a payment), only for the page's header to ask whether the customer is a VIP. Code that changes
    the customer loads the entity by id."""

    customer_id: int
    customer_type: str
    email: str
    full_name: str


# Built once, on the table rather than the entity (the ORM's execution path costs more than the query):
# every signed-in request runs it.
_customers = Customer.__table__.c
SIGNED_IN_CUSTOMER = (sa.select(_customers.customer_id, _customers.customer_type, _customers.email, _customers.full_name)
                      .where(_customers.customer_id == sa.bindparam("customer_id")))


@login_manager.user_loader
def load_user(user_id: str):
    kind, _, key = user_id.partition(":")
    if not key.isdigit():
        return None
    if kind == "customer":
        row = db.session.execute(SIGNED_IN_CUSTOMER, {"customer_id": int(key)}).one_or_none()
        return SignedInCustomer(*row) if row else None
    return db.session.get(StaffUser, int(key)) if kind == "staff" else None


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: only a path on this site, never another host."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return default


def sign_in(form: SignInForm, authenticate: Callable, default_next: str):
    """Handle a submitted sign-in form with `authenticate(email, password, ip)`. Returns a redirect on
    success, else (error message or None, HTTP status) for the form page."""
    if not form.validate_on_submit():
        return None, (422 if form.is_submitted() else 200)
    try:
        user = authenticate(form.email.data, form.password.data, request.remote_addr or "?")
    except TooManyAttempts as refusal:
        return refusal.message, 429
    except InvalidCredentials as refusal:
        return refusal.message, 401
    login_user(user)
    return redirect(safe_next(request.args.get("next"), default_next))


def admin_required(view: Callable) -> Callable:
    """Only staff with the admin role; others are sent to the admin sign-in (or refused if signed in)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("admin.login", next=request.full_path))
        if not getattr(current_user, "is_admin", False):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def init_app(app: Flask) -> None:
    # Flask-Login's own context processor loads the user for every template rendered, fragments included
    # (a poll's seat changes never show who is signed in); the proxy loads them only where a template asks.
    login_manager.init_app(app, add_context_processor=False)
    app.context_processor(lambda: {"current_user": current_user})
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "strong"
