"""The waiting list of a sold-out event: join it (seats and category), see one's place, leave it, and take
up an offer from its mail (boxoffice/services/waiting_list.py)."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, request, url_for

from boxoffice.errors import BoxOfficeError
from boxoffice.services import waiting_list
from boxoffice.templating import render_page, wants_fragment

from .blueprint import bp, current_buyer, customer_required, hold_owner, signed_in_customer
from .views import event_or_404


def _panel(event_id: int, *, error: str | None = None, message: str | None = None, status: int = 200):
    """The waiting-list panel (the sold-out banner of the event page loads it), or its page without
    JavaScript."""
    event, venue = event_or_404(event_id)
    customer = signed_in_customer()
    place = waiting_list.place(event_id, customer.customer_id) if customer else None
    sold_out = event.status == "on_sale" and not waiting_list.has_free_seats(event_id)
    return render_page("storefront/waiting_list.html", fragment="panel", event=event, venue=venue, place=place,
                       sold_out=sold_out, customer=customer, error=error, message=message,
                       categories=[price.category for price in event.prices],
                       offer_minutes=current_app.config["WAITING_LIST_OFFER_MINUTES"]), status


@bp.get("/events/<int:event_id>/waiting-list")
def waiting_list_panel(event_id: int):
    return _panel(event_id)


def _answer(event_id: int, *, error: str | None = None, message: str | None = None):
    """With HTMX the panel answers in place; without JavaScript the browser goes back to the panel's page."""
    if wants_fragment():
        return _panel(event_id, error=error, message=message, status=422 if error else 200)
    flash(error or message, "error" if error else "ok")
    return redirect(url_for("storefront.waiting_list_panel", event_id=event_id))


@bp.post("/events/<int:event_id>/waiting-list")
@customer_required
def join_waiting_list(event_id: int):
    seats = request.form.get("seats", type=int)
    category = request.form.get("category", "any")
    # isascii: "²".isdigit() is true, and int() refuses it.
    category_id = None if category == "any" else (int(category) if category.isascii() and category.isdigit() else -1)
    if seats is None or category_id == -1:
        return _answer(event_id, error="Choose how many seats and which category you would like.")
    try:
        place = waiting_list.join(event_id, signed_in_customer().customer_id, seats, category_id)
    except BoxOfficeError as refusal:
        return _answer(event_id, error=refusal.message)
    return _answer(event_id, message=f"You are in the waiting list: number {place.position} in line.")


@bp.post("/events/<int:event_id>/waiting-list/leave")
@customer_required
def leave_waiting_list(event_id: int):
    try:
        waiting_list.leave(event_id, signed_in_customer().customer_id)
    except BoxOfficeError as refusal:
        return _answer(event_id, error=refusal.message)
    return _answer(event_id, message="You have left the waiting list.")


@bp.get("/waiting-list/offers/<token>")
@customer_required
def waiting_list_offer(token: str):
    """The link in an offer's mail: the offered seats move into this browser's hold, then on to checkout."""
    if len(token) != 32 or not token.isalnum():
        abort(404)
    try:
        event_id = waiting_list.claim_offer(token, signed_in_customer().customer_id, hold_owner(create=True),
                                            current_buyer().address)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
        return redirect(url_for("storefront.index"))
    return redirect(url_for("storefront.checkout", event_id=event_id))
