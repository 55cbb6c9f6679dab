"""The customer's account: register, sign in and out, the list of orders, saved cards, password (one order,
its e-tickets and cancelling: orders.py)."""
from __future__ import annotations

import dataclasses
import re

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import login_user, logout_user

from boxoffice.auth import forgot_password_page, password_reset_page, safe_next, sign_in
from boxoffice.errors import (BoxOfficeError, DuplicateRecord, InvalidCard, InvalidCredentials,
                              PaymentProviderUnavailable, TooManyAttempts)
from boxoffice.forms import SignInForm, record_id
from boxoffice.services import accounts, customers, orders
from boxoffice.services.payments import CardDetails
from boxoffice.templating import render_page

from .blueprint import bp, customer_required, signed_in_customer
from .forms import (CardSetupForm, ChangePasswordForm, ConfirmRegistrationForm, GuestCheckoutForm, RegisterForm,
                    SavedCardForm)

CHECKOUT = re.compile(r"/checkout/([0-9]{1,10})")


@bp.route("/account/login", methods=["GET", "POST"])
def login():
    form = SignInForm()
    outcome = sign_in(form, accounts.authenticate_customer, url_for("storefront.account"))
    if not isinstance(outcome, tuple):
        return outcome
    error, status, headers = outcome
    return render_page("account/login.html", form=form, error=error, guest_form=_guest_checkout_form()), status, headers


def _guest_checkout_form() -> tuple[int, GuestCheckoutForm] | None:
    """On the way to a checkout (next=/checkout/<event>), the sign-in page offers to pay as a guest too."""
    going_to = CHECKOUT.fullmatch(request.args.get("next") or "")
    return (int(going_to.group(1)), GuestCheckoutForm(formdata=None, prefix="guest")) if going_to else None


@bp.route("/account/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.register_customer(form.email.data, form.full_name.data, form.password.data,
                                       ip_address=request.remote_addr or "?", city=form.city.data or None,
                                       next_path=safe_next(request.args.get("next"), ""))
        except TooManyAttempts as refusal:
            form.email.errors = [refusal.message]
            return render_page("account/register.html", form=form), 429
        # The same page whether the e-mail is new (a link to confirm it is on its way) or has an account (its
        # owner is mailed): nobody is signed in before the address is confirmed, so nothing tells them apart.
        return render_page("account/register.html", form=None, email=form.email.data.strip())
    elif form.is_submitted():
        status = 422
    return render_page("account/register.html", form=form), status


@bp.route("/account/confirm/<token>", methods=["GET", "POST"])
def confirm_registration(token: str):
    """A registration's link: the page says whose account it makes, and its button makes it and signs it
    in (a POST, so that a mail scanner opening the link makes nothing)."""
    form = ConfirmRegistrationForm()
    try:
        if form.validate_on_submit():
            customer, next_path = accounts.confirm_registration(token)
            login_user(customer)
            flash("Your e-mail address is confirmed and your account is ready: you are signed in.", "ok")
            return redirect(safe_next(next_path, url_for("storefront.account")))
        registration = accounts.check_registration_link(token)
    except accounts.RegistrationLinkInvalid as refusal:
        return render_page("account/confirm.html", form=None, error=refusal.message), 410
    except DuplicateRecord as refusal:
        # Whoever follows the link reads the address's mail: they may know it has an account.
        return render_page("account/confirm.html", form=None, error=refusal.message, taken=True), 409
    return render_page("account/confirm.html", form=form, registration=registration), \
        422 if form.is_submitted() else 200


@bp.post("/account/logout")
def logout():
    customer = signed_in_customer()
    if customer is not None:
        # Every session of this customer ends, so a copy of this session's cookie is worth nothing either.
        accounts.end_sessions("customer", customer.customer_id)
    logout_user()
    return redirect(url_for("storefront.index"))


def go_on_under(epoch: int) -> None:
    """Keep this browser signed in under the customer's new session epoch (every other session has ended)."""
    login_user(dataclasses.replace(signed_in_customer()._get_current_object(), session_epoch=epoch))


@bp.post("/account/sign-out-everywhere")
@customer_required
def sign_out_everywhere():
    customer = signed_in_customer()
    epoch = accounts.end_sessions("customer", customer.customer_id)
    go_on_under(epoch)
    flash("You have been signed out on every other device and browser.", "ok")
    return redirect(url_for("storefront.account"))


@bp.get("/account/")
@customer_required
def account():
    customer = signed_in_customer()
    vip = customers.vip_status(customer.customer_id)
    return render_page("account/index.html", customer=customer, vip=vip, offers=customers.offers_for(vip.is_vip),
                       orders=orders.orders_of(customer.customer_id, request.args.get("page", 1, type=record_id)))


@bp.route("/account/password", methods=["GET", "POST"])
@customer_required
def change_password():
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        customer = signed_in_customer()
        try:
            epoch = accounts.change_customer_password(customer.customer_id, form.current.data, form.password.data,
                                                      request.remote_addr or "?")
        except TooManyAttempts as refusal:
            form.current.errors = [refusal.message]
            status = 429
        except InvalidCredentials as refusal:
            form.current.errors = [refusal.message]
            status = 422
        else:
            # Every other session has ended; this one goes on under the new epoch.
            go_on_under(epoch)
            flash("Your password has been changed, and you have been signed out everywhere else.", "ok")
            return redirect(url_for("storefront.account"))
    elif form.is_submitted():
        status = 422
    return render_page("account/password.html", form=form), status


@bp.route("/account/password/forgot", methods=["GET", "POST"])
def forgot_password():
    return forgot_password_page("customer", "account/forgot.html", "storefront.login")


@bp.route("/account/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return password_reset_page("customer", token, "account/reset.html", "storefront.login",
                               "storefront.forgot_password")


# Stripe out of reach while a card is saved or removed (its own message says the seats are still held).
CARD_NOT_SAVED = "Our payment provider cannot be reached just now, so the card was not saved. Please try again."
CARD_NOT_REMOVED = "Our payment provider cannot be reached just now, so the card was not removed. Please try again."
SAVING_NEEDS_JAVASCRIPT = ("Your card goes straight from your browser to our payment provider, Stripe, which "
                           "needs JavaScript. Please turn JavaScript on to save a card.")


@bp.route("/account/cards", methods=["GET", "POST"])
@customer_required
def cards():
    if current_app.config.get("STRIPE") is not None:
        return _stripe_cards()
    customer = signed_in_customer()
    form = SavedCardForm()
    status = 200
    if form.validate_on_submit():
        if not (form.card_number.data and form.exp_month.data and form.exp_year.data and form.cvv.data):
            form.card_number.errors = ["Enter the card number, its expiry month and year, and the security code."]
            status = 422
        else:
            try:
                customers.save_card(customer.customer_id, CardDetails(
                    form.card_number.data, form.exp_month.data, form.exp_year.data, form.cvv.data, form.holder.data))
            except BoxOfficeError as refusal:
                form.card_number.errors = [refusal.message]
                status = 422
            else:
                flash("Your card has been saved. Only its last four digits are kept.", "ok")
                return redirect(url_for("storefront.cards"))
    elif form.is_submitted():
        status = 422
    return render_page("account/cards.html", form=form, cards=customers.saved_cards(customer.customer_id)), status


def _stripe_cards():
    """The saved cards with Stripe: a card is given to Stripe in the browser (a SetupIntent that Stripe.js
    completes, see start_card_setup), and only the finished SetupIntent's id comes here."""
    customer = signed_in_customer()
    form = CardSetupForm()
    status = 200
    if form.validate_on_submit():
        try:
            if not form.setup_intent.data:
                raise InvalidCard(SAVING_NEEDS_JAVASCRIPT)
            customers.save_set_up_card(customer.customer_id, form.setup_intent.data)
        except PaymentProviderUnavailable:
            form.setup_intent.errors = [CARD_NOT_SAVED]
            status = 503
        except BoxOfficeError as refusal:
            form.setup_intent.errors = [refusal.message]
            status = 422
        else:
            flash("Your card has been saved. Only its brand, last four digits and expiry are kept here.", "ok")
            return redirect(url_for("storefront.cards"))
    elif form.is_submitted():
        status = 422
    return render_page("account/cards.html", form=form, stripe=current_app.config["STRIPE"],
                       cards=customers.saved_cards(customer.customer_id)), status


@bp.post("/account/cards/setup")
@customer_required
def start_card_setup():
    """With Stripe: the client secret of a new SetupIntent for the customer, for Stripe.js (JSON)."""
    if current_app.config.get("STRIPE") is None:
        abort(404)
    try:
        return {"client_secret": customers.start_card_setup(signed_in_customer().customer_id)}
    except PaymentProviderUnavailable:
        return {"error": CARD_NOT_SAVED}, 503


@bp.post("/account/cards/<int:saved_method_id>/remove")
@customer_required
def remove_card(saved_method_id: int):
    try:
        removed = customers.remove_card(signed_in_customer().customer_id, saved_method_id)
    except PaymentProviderUnavailable:
        flash(CARD_NOT_REMOVED, "error")
        return redirect(url_for("storefront.cards"))
    if not removed:
        abort(404)
    flash("The card has been removed.", "ok")
    return redirect(url_for("storefront.cards"))
