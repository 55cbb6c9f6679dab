"""Orders: the order page, the e-tickets (a phone-friendly page that works offline once opened), the PDF,
the calendar file and cancelling, each for two kinds of access to one booking:

- a signed-in customer's own booking, by its code (/account/orders/<code>/...);
- anyone holding the booking's signed link (/orders/<token>/...): a guest after paying, the link in every
  mail, and the lookup by e-mail and booking code. The link opens that booking and nothing else.

Cancelling always goes through a confirmation step (a page that says which tickets and how much), and is
offered only while the event's policy allows it (refunds.cancellation_refusal)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from flask import abort, current_app, flash, g, redirect, request, send_from_directory, session, url_for

from boxoffice import pricing, rate_limits
from boxoffice.errors import BoxOfficeError, LookupTooFast, TooManyAttempts
from boxoffice.extensions import db
from boxoffice.models import Booking
from boxoffice.services import accounts, customers, orders, refunds, ticket_files
from boxoffice.templating import render_page

from .blueprint import bp, customer_required, signed_in_customer
from .forms import CancelTicketsForm, GuestAccountForm, OrderLookupForm

GUEST = "guest"  # the session's guest: {"customer_id": ..., "email": ...} (storefront/checkout.py)


def buyer_vip():
    """The signed-in buyer's VIP membership (its tier and discount_rate), None for anyone else: read once a
    request, and only by a page that shows it."""
    if "buyer_vip" not in g:
        customer = signed_in_customer()
        g.buyer_vip = (customers.vip_membership(customer.customer_id)
                       if customer is not None and customer.customer_type == "vip" else None)
    return g.buyer_vip


@bp.app_context_processor
def vip_prices() -> dict:
    """The event page's VIP prices, by the pricing rule (pricing.vip_price, which tests/test_pricing.py
    holds to the database's), never by arithmetic in a template: `vip_price(face)` at the entry VIP rate
    (what a regular customer is shown a VIP would pay) or at a given rate (the buyer's own, `buyer_vip()`)."""
    return {"vip_price": lambda price, rate=customers.ENTRY_VIP_RATE: pricing.vip_price(Decimal(price), rate),
            "vip_entry_rate": customers.ENTRY_VIP_RATE, "buyer_vip": buyer_vip}


@dataclass(frozen=True)
class Access:
    """How this request reaches a booking: its code for its signed-in owner, or its signed link."""

    booking_id: int
    booking_code: str
    token: str | None = None

    def url(self, what: str, **values) -> str:
        """The address of one of the order's pages: order, tickets, pdf, calendar, cancel."""
        if self.token:
            return url_for(f"storefront.linked_{what}", token=self.token, **values)
        endpoint = {"order": "order", "tickets": "printable_tickets", "pdf": "order_pdf",
                    "calendar": "order_calendar", "cancel": "cancel_order"}[what]
        return url_for(f"storefront.{endpoint}", booking_code=self.booking_code, **values)

    @property
    def link(self) -> str:
        """The booking's signed link, absolute, as in its mail (BASE_URL, never the request's Host)."""
        return current_app.config["BASE_URL"] + url_for(
            "storefront.linked_order", token=self.token or orders.order_token(self.booking_id, self.booking_code))


def _own(booking_code: str) -> Access:
    booking = orders.order_of(signed_in_customer().customer_id, booking_code) or abort(404)
    return Access(booking.booking_id, booking.booking_code)


def _linked(token: str) -> Access:
    booking_id = orders.booking_of_token(token) or abort(404)
    code = db.session.scalar(db.select(Booking.booking_code).where(Booking.booking_id == booking_id))
    return Access(booking_id, code, token)


def _order(access: Access) -> tuple[orders.OrderDetail, list[orders.TicketView]]:
    return orders.order_detail_by_id(access.booking_id) or abort(404)


def cancellation(order: orders.OrderDetail, tickets: list[orders.TicketView]) -> tuple[bool, str | None]:
    """Whether the order page offers to cancel, and if not, why (None: nothing left to cancel)."""
    if order.event_status == "cancelled" or order.status == "refunded":
        return False, None
    refused = refunds.cancellation_refusal(order.starts_at, order.refundable_until_hours,
                                           any(t.status == "checked_in" for t in tickets))
    if refused:
        return False, refused
    return any(t.status == "valid" for t in tickets), None


def _guest_of_session(order: orders.OrderDetail) -> int | None:
    """The session's guest when it bought this booking (it may then keep an account), else None."""
    guest = session.get(GUEST) or {}
    if not order.is_guest or not guest.get("customer_id"):
        return None
    return guest["customer_id"] if orders.order_of(guest["customer_id"], order.booking_code) else None


def order_page(access: Access, *, new: bool, account_form: GuestAccountForm | None = None, status: int = 200,
               detail: tuple[orders.OrderDetail, list[orders.TicketView]] | None = None):
    """The order with its e-tickets; `new`: just booked (the confirmation after paying). `detail`: the
    order and its tickets, when the caller has just read them (the checkout has)."""
    order, tickets = detail or _order(access)
    may_cancel, cancel_refusal = cancellation(order, tickets)
    keep_account = _guest_of_session(order) is not None
    return render_page("account/order.html", order=order, tickets=tickets, new=new, access=access,
                       may_cancel=may_cancel, cancel_refusal=cancel_refusal,
                       account_form=(account_form or GuestAccountForm(formdata=None)) if keep_account else None,
                       ), status


def _tickets_page(access: Access):
    order, tickets = _order(access)
    return render_page("account/tickets.html", order=order, tickets=tickets, access=access)


def _pdf(access: Access):
    order, tickets = _order(access)
    response = current_app.response_class(ticket_files.tickets_pdf(order, tickets), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="tickets-{order.booking_code}.pdf"'
    return response


def _calendar(access: Access):
    order, tickets = _order(access)
    response = current_app.response_class(ticket_files.calendar_ics(order, tickets, access.link),
                                          mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{order.booking_code}.ics"'
    return response


def _cancel(access: Access):
    """GET: the confirmation step (which tickets, how much back); POST: cancel the chosen tickets."""
    order, tickets = _order(access)
    may_cancel, refusal = cancellation(order, tickets)
    if not may_cancel:
        flash(refusal or "Nothing of this booking is left to cancel.", "error")
        return redirect(access.url("order"))
    valid = [t for t in tickets if t.status == "valid"]
    form = CancelTicketsForm(formdata=request.form if request.method == "POST" else None)
    form.tickets.choices = [(t.ticket_id, t.seat_label) for t in valid]
    if request.method == "GET":
        form.tickets.data = [t.ticket_id for t in valid]
    elif form.validate():
        booking = db.session.get(Booking, access.booking_id)
        try:
            result = refunds.cancel_booking(booking, ticket_ids=form.tickets.data)
        except BoxOfficeError as refusal_error:
            flash(refusal_error.message, "error")
        else:
            what = "Booking" if result.booking_status == "refunded" else f"{result.tickets} ticket(s) of booking"
            back = (f"€{result.amount:,.2f} is on its way back to you." if result.amount > 0
                    else "Nothing was paid for them, so no money goes back.")
            flash(f"{what} {result.booking_code} cancelled. {back} We have sent you an e-mail.", "ok")
        return redirect(access.url("order"))
    return render_page("account/order_cancel.html", order=order, tickets=valid, form=form, access=access), \
        422 if request.method == "POST" else 200


# ---------------------------------------------------------------- a signed-in customer's own booking

@bp.get("/account/orders/<booking_code>")
@customer_required
def order(booking_code: str):
    return order_page(_own(booking_code), new=request.args.get("new") == "1")


@bp.get("/account/orders/<booking_code>/tickets")
@customer_required
def printable_tickets(booking_code: str):
    return _tickets_page(_own(booking_code))


@bp.get("/account/orders/<booking_code>/tickets.pdf")
@customer_required
def order_pdf(booking_code: str):
    return _pdf(_own(booking_code))


@bp.get("/account/orders/<booking_code>/calendar.ics")
@customer_required
def order_calendar(booking_code: str):
    return _calendar(_own(booking_code))


@bp.route("/account/orders/<booking_code>/cancel", methods=["GET", "POST"])
@customer_required
def cancel_order(booking_code: str):
    return _cancel(_own(booking_code))


# ---------------------------------------------------------------- anyone with the booking's signed link

@bp.get("/orders/<token>")
def linked_order(token: str):
    return order_page(_linked(token), new=request.args.get("new") == "1")


@bp.get("/orders/<token>/tickets")
def linked_tickets(token: str):
    return _tickets_page(_linked(token))


@bp.get("/orders/<token>/tickets.pdf")
def linked_pdf(token: str):
    return _pdf(_linked(token))


@bp.get("/orders/<token>/calendar.ics")
def linked_calendar(token: str):
    return _calendar(_linked(token))


@bp.route("/orders/<token>/cancel", methods=["GET", "POST"])
def linked_cancel(token: str):
    return _cancel(_linked(token))


@bp.post("/orders/<token>/account")
def keep_account(token: str):
    """A guest who has just paid keeps an account: only the session that bought the booking may."""
    access = _linked(token)
    order, _ = _order(access)
    guest_id = _guest_of_session(order)
    if guest_id is None:
        abort(403)
    form = GuestAccountForm()
    if not form.validate():
        return order_page(access, new=False, account_form=form, status=422)
    try:
        # Like any registration: the account is made when the link mailed to the checkout's e-mail is
        # followed, and the answer is the same whether or not that e-mail has an account (its owner is mailed).
        accounts.register_customer(order.customer_email, form.full_name.data or order.customer_name or "",
                                   form.password.data, ip_address=request.remote_addr or "?", guest_id=guest_id,
                                   next_path=url_for("storefront.order", booking_code=order.booking_code))
    except TooManyAttempts as refusal:
        form.password.errors = [refusal.message]
        return order_page(access, new=False, account_form=form, status=429)
    session.pop(GUEST, None)
    flash(f"Check your inbox: we have sent a message about your account to {order.customer_email}. "
          "Open the link in it to confirm your address; your account opens then.", "ok")
    return redirect(access.url("order"))


@bp.route("/orders/find", methods=["GET", "POST"])
def find_order():
    """Find a booking by the e-mail it was bought with and its code; it opens at its signed link. Look-ups are
    counted like sign-in tries (boxoffice/rate_limits.py), so e-mails and codes cannot be tried by the
    thousand."""
    form = OrderLookupForm()
    status = 200
    if form.validate_on_submit():
        try:
            rate_limits.check_order_lookup_rate(form.email.data, request.remote_addr)
        except LookupTooFast as refusal:
            form.booking_code.errors = [refusal.message]
            return render_page("account/order_find.html", form=form), 429, {"Retry-After": str(refusal.retry_after)}
        booking_id = orders.find_order(form.email.data, form.booking_code.data)
        if booking_id is not None:
            return redirect(url_for("storefront.linked_order",
                                    token=orders.order_token(booking_id, form.booking_code.data)), code=303)
        form.booking_code.errors = ["We found no booking with this code for this e-mail address."]
        status = 404
    elif form.is_submitted():
        status = 422
    return render_page("account/order_find.html", form=form), status


@bp.get("/ticket-worker.js")
def ticket_worker():
    """The service worker that keeps opened e-ticket pages for offline use. Served from the site's root so
    that it may look after /orders/ and /account/orders/ pages (a worker's scope is its own folder)."""
    response = send_from_directory(current_app.static_folder, "js/ticket-worker.js", mimetype="text/javascript",
                                   max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    return response
