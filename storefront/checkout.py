"""Checkout: the price breakdown, promo codes, payment and the confirmation."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Callable

from flask import abort, current_app, flash, redirect, request, session, url_for

from boxoffice.errors import (AuthenticationRequired, BoxOfficeError, HoldExpired, InvalidCard, NoSeatsHeld,
                              PaymentDeclined, PaymentFormExpired, PaymentInProgress, PaymentProviderUnavailable,
                              PriceChanged)
from boxoffice.extensions import htmx
from boxoffice.services import checkout as checkout_service
from boxoffice.services import customers, holds, orders, waiting_room
from boxoffice.services.payments import CardDetails, PaymentRequest, gateway
from boxoffice.templating import render_page, wants_fragment

from .blueprint import admission_required, bp, current_buyer, hold_owner, signed_in_customer, visitor_id
from .forms import GuestCheckoutForm, PaymentForm, PromoForm
from .orders import GUEST, Access, order_page

METHODS = [("card", "New card"), ("wallet", "Mobile wallet"), ("paypal", "PayPal"), ("gift_card", "Gift card")]


def _methods() -> list[tuple[str, str]]:
    """The ways to pay the configured provider takes (Stripe: cards only)."""
    return [method for method in METHODS if gateway.offers(method[0])]


@dataclass(frozen=True)
class Guest:
    """A buyer paying without an account: the guest customer row this session checks out as."""

    customer_id: int
    email: str
    is_guest = True


def _buyer():
    """Who pays: the signed-in customer, else this session's guest (None: neither yet)."""
    customer = signed_in_customer()
    if customer is not None:
        return customer
    guest = session.get(GUEST)
    return Guest(guest["customer_id"], guest["email"]) if guest else None


def buyer_required(view: Callable) -> Callable:
    """A customer or a guest: anyone else goes to the sign-in page, which offers to pay as a guest too."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if _buyer() is None:
            return redirect(url_for("storefront.login", next=request.path))
        return view(*args, **kwargs)

    return wrapped


def _promo_code(event_id: int) -> str | None:
    return session.get("promo_codes", {}).get(str(event_id))


def _remember_promo(event_id: int, code: str | None) -> None:
    codes = dict(session.get("promo_codes", {}))
    if code:
        codes[str(event_id)] = code
    elif codes.pop(str(event_id), None) is None:
        return  # nothing to forget: the session, and so its cookie, stays as it was
    session["promo_codes"] = codes


def _card_choices(cards: list[customers.SavedCard]) -> list[tuple[str, str]]:
    """The saved cards one may pay with: those not past their expiry."""
    return [(f"saved:{c.saved_method_id}", f"{c.card_brand.title()} ending {c.last_four} "
             f"(expires {c.exp_month:02d}/{c.exp_year})") for c in cards if not c.is_expired]


def _payment_form(customer, formdata) -> PaymentForm:
    """The submitted payment form. Its methods include the customer's saved cards only when it pays with
    one: the other methods do not need them read (a page that shows the form lists them, see _page)."""
    form = PaymentForm(formdata=formdata)
    paying_with_saved_card = (formdata.get("method") or "").startswith("saved:")
    saved = customers.saved_cards(customer.customer_id) if paying_with_saved_card else []
    form.method.choices = _card_choices(saved) + _methods()
    return form


def _page(event_id: int, *, form: PaymentForm | None = None, promo_form: PromoForm | None = None,
          error: str | None = None, status: int = 200, fragment: str | None = None,
          hold: holds.Hold | None = None, oob_pay: bool = False,
          action: AuthenticationRequired | None = None):
    """The checkout page (or its order summary, for HTMX). `hold`: the owner's hold if the caller has
    just read it."""
    customer = _buyer()
    owner = hold_owner()
    promo_form = promo_form or PromoForm(formdata=None, promo_code=_promo_code(event_id))
    promo_error = None
    try:
        basket = checkout_service.basket(event_id, owner, customer.customer_id, _promo_code(event_id))
    except BoxOfficeError as refusal:
        # A remembered code that no longer applies (used up meanwhile): drop it, say so, price without it.
        _remember_promo(event_id, None)
        promo_error = refusal.message
        basket = checkout_service.basket(event_id, owner, customer.customer_id, None)
    if basket is None:
        abort(404)
    saved = _card_choices(basket.saved_cards)
    if form is None:
        form = PaymentForm(formdata=None)
        form.method.data = saved[0][0] if saved else "card"
    form.method.choices = saved + _methods()
    quote = basket.quote
    form.expected_total.data = str(quote.total)
    form.promo_code.data = quote.promo_code or ""
    # Every page issues a new key, signed for this buyer, hold and total (a changed total needs a new one).
    form.idempotency_key.data = checkout_service.payment_key(customer.customer_id, event_id, owner, quote.total)
    return render_page(
        "storefront/checkout.html", fragment=fragment, event=basket.event, quote=quote, form=form,
        promo_form=promo_form, promo_error=promo_error, error=error,
        expired_cards=[card for card in basket.saved_cards if card.is_expired],
        hold=hold if hold is not None else holds.current_hold(event_id, owner), seats=basket.seats, vip=basket.vip,
        hold_minutes=current_app.config["HOLD_MINUTES"], guest=customer if isinstance(customer, Guest) else None,
        oob_pay=oob_pay, stripe=current_app.config.get("STRIPE"), action=action,
    ), status


def _no_hold(event_id: int):
    flash("You are not holding any seats for this event (a hold lasts "
          f"{current_app.config['HOLD_MINUTES']} minutes). Please choose your seats.", "error")
    return redirect(url_for("storefront.event", event_id=event_id))


@bp.post("/checkout/<int:event_id>/guest")
@admission_required
def checkout_as_guest(event_id: int):
    """Pay without an account: the e-mail (and a name) the tickets go to. The session checks out as a guest
    customer of its own from now on (a new one for a new e-mail)."""
    form = GuestCheckoutForm(prefix="guest")  # beside the sign-in form, whose fields are email and password
    if not form.validate():
        flash("Please enter a valid e-mail address for your tickets.", "error")
        return redirect(url_for("storefront.login", next=url_for("storefront.checkout", event_id=event_id)))
    email = form.email.data.strip().lower()
    guest = session.get(GUEST)
    if not guest or guest.get("email") != email:
        session[GUEST] = {"customer_id": customers.new_guest(email, form.full_name.data or ""), "email": email}
    return redirect(url_for("storefront.checkout", event_id=event_id))


@bp.get("/checkout/<int:event_id>")
@admission_required
@buyer_required
def checkout(event_id: int):
    # Reaching the payment step buys the buyer a little more time, once. (An empty hold is not
    # extended: the buyer goes back to the seat map.)
    hold = holds.extend_for_payment(event_id, hold_owner())
    if hold.is_empty:
        return _no_hold(event_id)
    return _page(event_id, hold=hold)


@bp.post("/checkout/<int:event_id>/promo")
@admission_required
@buyer_required
def apply_promo(event_id: int):
    hold = holds.current_hold(event_id, hold_owner())
    if hold.is_empty:
        return _no_hold(event_id)
    promo_form = PromoForm()
    customer = _buyer()
    code = (promo_form.promo_code.data or "").strip().upper() or None
    valid = promo_form.validate()
    if valid and code:
        try:
            checkout_service.quote(event_id, hold_owner(), customer.customer_id, code)
        except BoxOfficeError as refusal:
            promo_form.promo_code.errors = [refusal.message]
        else:
            _remember_promo(event_id, code)
    elif valid:
        _remember_promo(event_id, None)
    return _page(event_id, promo_form=promo_form, fragment="order_summary", hold=hold, oob_pay=wants_fragment(),
                 status=422 if promo_form.promo_code.errors else 200)


def _payment_request(form: PaymentForm, customer) -> PaymentRequest:
    """What the form says about paying; InvalidCard names what is missing."""
    method = form.method.data or ""
    if method.startswith("saved:"):
        card = customers.saved_card(customer.customer_id, int(method.split(":", 1)[1]))
        if card is None:
            raise InvalidCard("Choose one of your saved cards.")
        return PaymentRequest("card", saved_token=card.gateway_token, saved_brand=card.card_brand,
                              saved_last_four=card.last_four)
    if method == "card" and current_app.config.get("STRIPE") is not None:
        # The card went from the browser to Stripe: only Stripe's id for it comes here (none without
        # JavaScript, which the gateway answers with a message saying so).
        return PaymentRequest("card", provider_token=request.form.get("provider_token", "").strip()[:255] or None)
    if method == "card":
        if not (form.card_number.data and form.exp_month.data and form.exp_year.data and form.cvv.data):
            raise InvalidCard("Enter the card number, its expiry month and year, and the security code.")
        return PaymentRequest("card", card=CardDetails(form.card_number.data, form.exp_month.data,
                                                       form.exp_year.data, form.cvv.data, form.holder.data or ""))
    if method == "gift_card":
        return PaymentRequest("gift_card", gift_card_code=form.gift_card_code.data)
    return PaymentRequest(method)


@bp.post("/checkout/<int:event_id>")
@admission_required
@buyer_required
def pay(event_id: int):
    customer = _buyer()
    form = _payment_form(customer, formdata=request.form)
    if not form.validate():
        return _page(event_id, form=form, error="Please check the highlighted fields.", status=422)
    try:
        expected = Decimal(form.expected_total.data)
    except InvalidOperation:
        return _page(event_id, form=form, error="Please review your order and pay again.", status=422)
    try:
        payment = _payment_request(form, customer)
        confirmation = checkout_service.pay(event_id, hold_owner(), customer.customer_id,
                                            form.promo_code.data or None, payment, form.idempotency_key.data, expected,
                                            address=current_buyer().address)
    except (HoldExpired, NoSeatsHeld) as refusal:
        flash(refusal.message, "error")
        return redirect(url_for("storefront.event", event_id=event_id))
    except AuthenticationRequired as waiting:
        # 3-D Secure: the page comes back with the bank's step, which the provider's script opens; then the
        # browser resumes this same payment attempt (`resume`).
        return _page(event_id, form=form, action=waiting, status=202)
    except PaymentProviderUnavailable as away:
        # (409, not 503: the page's htmx swaps 402, 409 and 422 answers in, so the buyer reads why.)
        return _page(event_id, form=form, error=away.message, status=409)
    except (InvalidCard, PaymentDeclined, PriceChanged, PaymentFormExpired, PaymentInProgress) as refusal:
        if isinstance(refusal, InvalidCard):
            form.card_number.errors = [refusal.message]
        status = 402 if isinstance(refusal, PaymentDeclined) else 409 if isinstance(refusal, PaymentInProgress) else 422
        return _page(event_id, form=form, error=refusal.message, status=status)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
        return redirect(url_for("storefront.event", event_id=event_id))
    is_guest = isinstance(customer, Guest)
    if form.save_card.data and payment.card is not None and not confirmation.replayed and not is_guest:
        customers.save_card(customer.customer_id, payment.card)
    if form.save_card.data and payment.provider_token is not None and not confirmation.replayed and not is_guest:
        _keep_provider_card(customer.customer_id, form.idempotency_key.data)
    return _confirmed(event_id, confirmation, is_guest)


def _keep_provider_card(customer_id: int, idempotency_key: str) -> None:
    """Save the card the provider charged, for next time; the booking stands whatever happens here."""
    try:
        checkout_service.save_paid_card(customer_id, idempotency_key)
    except PaymentProviderUnavailable:
        flash("Your tickets are booked, but your card could not be saved just now.", "error")


@bp.post("/checkout/<int:event_id>/resume")
@admission_required
@buyer_required
def resume_payment(event_id: int):
    """Back from the buyer's bank (3-D Secure): the same payment attempt, finished as the provider says."""
    customer = _buyer()
    key = request.form.get("idempotency_key", "")
    try:
        confirmation = checkout_service.resume(event_id, customer.customer_id, key)
    except AuthenticationRequired as waiting:
        return _page(event_id, action=waiting, status=202)
    except PaymentProviderUnavailable as away:
        return _page(event_id, error=away.message, status=409)
    except (PaymentDeclined, PaymentFormExpired, PaymentInProgress) as refusal:
        status = 402 if isinstance(refusal, PaymentDeclined) else 409 if isinstance(refusal, PaymentInProgress) else 422
        return _page(event_id, error=refusal.message, status=status)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
        return redirect(url_for("storefront.event", event_id=event_id))
    if request.form.get("save_card") and not isinstance(customer, Guest) and not confirmation.replayed:
        _keep_provider_card(customer.customer_id, key)
    return _confirmed(event_id, confirmation, isinstance(customer, Guest))


def _confirmed(event_id: int, confirmation: checkout_service.Confirmation, is_guest: bool):
    """The answer to a paid checkout: its confirmation."""
    _remember_promo(event_id, None)
    if waiting_room.gate(event_id) is not None:
        # Booked: a buyer let in through the queue stops counting among those shopping at once.
        waiting_room.finish(event_id, visitor_id())
    # A guest's order opens at its signed link (the one its mail carries too).
    access = Access(confirmation.booking_id, confirmation.booking_code,
                    orders.order_token(confirmation.booking_id, confirmation.booking_code) if is_guest else None)
    confirmation_url = access.url("order", new=1)
    if htmx.boosted:
        # The boosted payment form gets the confirmation at once, and the address bar its page: reloading
        # it reads the order, it never pays again.
        response, _ = order_page(access, new=True, detail=(confirmation.order, confirmation.tickets))
        response.headers["HX-Push-Url"] = confirmation_url
        return response
    return redirect(confirmation_url, code=303)
