"""Who is signed in: Flask-Login for customers and staff, and the admin role check for every admin view."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import wraps
from typing import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, abort, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from .errors import InvalidCredentials, TooManyAttempts
from .extensions import db, login_manager
from .forms import ForgotPasswordForm, ResetPasswordForm, SignInForm
from .models import Customer, CustomerLogin, StaffUser
from .services import accounts
from .templating import render_page


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
    session_epoch: int


# Built once, on the table rather than the entity (the ORM's execution path costs more than the query):
# every signed-in request runs it.
_customers = Customer.__table__.c
SIGNED_IN_CUSTOMER = (sa.select(_customers.customer_id, _customers.customer_type, _customers.email, _customers.full_name,
                                _customers.session_epoch)
                      .where(_customers.customer_id == sa.bindparam("customer_id")))
_USER_ID = re.compile(r"(customer|staff):([0-9]{1,10}):([0-9]{1,10})")


@login_manager.user_loader
def load_user(user_id: str):
    """The person a session or remember-me cookie is signed in as ("customer:<id>:<epoch>"), or None when
    the cookie's session epoch is not the person's current one: they signed out, changed or reset their
    password, or signed out everywhere since (services/accounts.end_sessions). The epoch comes with the row
    the request reads anyway, so the check costs no query."""
    match = _USER_ID.fullmatch(user_id)
    if match is None:
        return None
    kind, key, epoch = match.group(1), int(match.group(2)), int(match.group(3))
    if kind == "customer":
        row = db.session.execute(SIGNED_IN_CUSTOMER, {"customer_id": key}).one_or_none()
        person = SignedInCustomer(*row) if row else None
    else:
        person = db.session.get(StaffUser, key)
    return person if person is not None and person.session_epoch == epoch else None


def session_customer_id() -> int | None:
    """The customer this browser's session signed in as, from the session alone (no query, and so no check
    of the session's epoch, which load_user makes): for what only ever limits the customer, such as the
    per-buyer hold cap. Anything that acts for the customer uses current_user."""
    match = _USER_ID.fullmatch(session.get("_user_id") or "")
    return int(match.group(2)) if match and match.group(1) == "customer" else None


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in: only a path on this site, never another host."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return default


def sign_in(form: SignInForm, authenticate: Callable, default_next: str):
    """Handle a submitted sign-in form with `authenticate(email, password, ip)`. Returns a redirect on
    success, else (error message or None, HTTP status, headers) for the form page."""
    if not form.validate_on_submit():
        return None, (422 if form.is_submitted() else 200), {}
    try:
        user = authenticate(form.email.data, form.password.data, request.remote_addr or "?")
    except TooManyAttempts as refusal:
        wait = refusal.retry_after if isinstance(refusal, accounts.SignInWait) else 60
        return refusal.message, 429, {"Retry-After": str(wait)}
    except InvalidCredentials as refusal:
        return refusal.message, 401, {}
    login_user(user)
    return redirect(safe_next(request.args.get("next"), default_next))


def forgot_password_page(kind: str, template: str, sign_in_endpoint: str):
    """The "forgot your password?" page of customers or staff (`kind`): the e-mail's form, then the same
    answer whether or not the e-mail has an account (services/accounts.request_password_reset)."""
    form = ForgotPasswordForm()
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        try:
            accounts.request_password_reset(kind, form.email.data, request.remote_addr or "?")
        except TooManyAttempts as refusal:
            form.email.errors = [refusal.message]
            status = 429
        else:
            return render_page(template, form=None, email=form.email.data.strip(), sign_in=url_for(sign_in_endpoint))
    return render_page(template, form=form, sign_in=url_for(sign_in_endpoint)), status


def password_reset_page(kind: str, token: str, template: str, sign_in_endpoint: str, forgot_endpoint: str):
    """The page a password reset link opens, for customers or staff (`kind`): the new password's form, or
    why the link no longer works (410). Setting the password ends every session, this browser's too."""
    form = ResetPasswordForm()
    try:
        if form.validate_on_submit():
            accounts.reset_password(kind, token, form.password.data)
            logout_user()
            flash("Your password has been changed and you have been signed out everywhere. "
                  "Sign in with your new password.", "ok")
            return redirect(url_for(sign_in_endpoint))
        accounts.check_reset_link(kind, token)
    except accounts.ResetLinkInvalid as refusal:
        return render_page(template, form=None, error=refusal.message, forgot=url_for(forgot_endpoint)), 410
    return (render_page(template, form=form, error=None, forgot=url_for(forgot_endpoint)),
            422 if form.is_submitted() else 200)


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
    app.after_request(_mark_browser_session)


def _mark_browser_session(response):
    """A session started without signing in (seats held, a message to show) carries the browser's
    identifier, as Flask-Login's own sessions do from sign-in. Without it, strong session protection took
    every request of such a session (each page and poll of someone holding seats) for a stolen one: it
    rewrote the session and deleted a remember_token, setting two cookies on every answer."""
    if session.modified and session and "_id" not in session and "_user_id" not in session:
        session["_id"] = login_manager._session_identifier_generator()
    return response
