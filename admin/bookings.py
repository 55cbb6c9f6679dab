"""Bookings: find them by code, customer e-mail or event; one booking with its tickets and payments; a
full or partial refund, after a confirmation step."""
from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, request, url_for

from boxoffice.auth import admin_required
from boxoffice.errors import BoxOfficeError
from boxoffice.services import bookings_admin, refunds
from boxoffice.templating import render_page

from .blueprint import PAGE_SIZE, bp, page_number
from .forms import BookingSearchForm, RefundForm


@bp.get("/bookings", endpoint="bookings")
@admin_required
def booking_list():
    form = BookingSearchForm(request.args)
    form.validate()
    found = bookings_admin.search_bookings(form.q.data, form.event.data, page_number(), PAGE_SIZE)
    return render_page("admin/bookings.html", fragment="results", form=form, bookings=found)


def _booking(booking_code: str) -> bookings_admin.BookingDetail:
    return bookings_admin.booking_detail(booking_code) or abort(404)


@bp.get("/bookings/<booking_code>", endpoint="bookings_show")
@admin_required
def show_booking(booking_code: str):
    return render_page("admin/booking.html", detail=_booking(booking_code), form=RefundForm(formdata=None))


@bp.post("/bookings/<booking_code>/refund", endpoint="bookings_refund")
@admin_required
def refund_booking(booking_code: str):
    """Refund the chosen tickets, or every valid one, through refunds.refund_tickets."""
    detail = _booking(booking_code)
    form = RefundForm()
    form.tickets.choices = [(ticket.ticket_id, ticket.ticket_code) for ticket in detail.refundable]
    if not form.validate():
        return render_page("admin/booking.html", detail=detail, form=form), 422
    chosen = None if form.everything.data else form.tickets.data
    if request.form.get("confirmed") != "yes":
        # The confirmation step: which tickets, how much goes back, and to whom, before anything happens.
        tickets = [t for t in detail.refundable if chosen is None or t.ticket_id in chosen]
        return render_page("admin/booking_refund.html", detail=detail, tickets=tickets, everything=chosen is None,
                           amount=sum((t.paid_amount for t in tickets), Decimal("0.00")))
    try:
        refunded = refunds.refund_tickets(detail.booking.booking_id, chosen)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
    else:
        flash(f"Refunded {refunded.tickets} ticket(s) of booking {refunded.booking_code}: "
              f"€{refunded.amount:,.2f} goes back to the customer.", "ok")
    return redirect(url_for("admin.bookings_show", booking_code=detail.booking.booking_code))
