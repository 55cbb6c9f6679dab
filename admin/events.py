"""Events: the list, a new event, changing one, putting it on sale and cancelling it."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from boxoffice.auth import admin_required
from boxoffice.errors import BoxOfficeError
from boxoffice.forms import record_id
from boxoffice.services import events, venues
from boxoffice.templating import render_page

from .blueprint import PAGE_SIZE, bp, page_number
from .forms import CancelEventForm, EventSearchForm, event_form


@bp.get("/events", endpoint="events")
@admin_required
def event_list():
    form = EventSearchForm(request.args)
    form.validate()
    found = events.search_events(form.q.data, form.status.data, form.when.data or "upcoming", page_number(),
                                 PAGE_SIZE)
    return render_page("admin/events.html", fragment="results", form=form, events=found,
                       statuses=events.STATUSES)


@bp.route("/events/new", methods=["GET", "POST"], endpoint="events_new")
@admin_required
def new_event():
    """A new event. Choosing a venue shows a price field for each of its seat categories: HTMX fetches
    the prices block when the venue changes; without JavaScript every category is offered."""
    venue_id = request.values.get("venue_id", type=record_id)
    categories = events.venue_categories(venue_id) if venue_id else venues.seat_categories()
    if request.method == "GET":
        form = event_form(categories, events.venue_choices(), formdata=request.args or None)
    else:
        form = event_form(categories, events.venue_choices())
    if form.validate_on_submit():
        try:
            event_id = events.create_event(form.venue_id.data, form.details())
        except BoxOfficeError as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash("The event has been created as a draft, with its seats. Put it on sale when it is ready.", "ok")
            return redirect(url_for("admin.events_edit", event_id=event_id))
    return render_page("admin/event_form.html", fragment="prices", form=form, event=None), \
        422 if form.is_submitted() else 200


@bp.route("/events/<int:event_id>", methods=["GET", "POST"], endpoint="events_edit")
@admin_required
def edit_event(event_id: int):
    event = events.event(event_id) or abort(404)
    form = event_form([price.category for price in event.prices], obj=event,
                      **{f"price_{price.category_id}": price.price for price in event.prices})
    if form.validate_on_submit():
        try:
            events.update_event(event_id, form.details())
        except BoxOfficeError as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash("The event has been saved.", "ok")
            return redirect(url_for("admin.events_edit", event_id=event_id))
    to_refund = events.bookings_to_refund(event_id) if event.status == "cancelled" else None
    return render_page("admin/event_form.html", form=form, event=event, to_refund=to_refund,
                       statuses=events.STATUSES), 422 if form.is_submitted() else 200


@bp.post("/events/<int:event_id>/publish", endpoint="events_publish")
@admin_required
def publish_event(event_id: int):
    try:
        events.publish_event(event_id)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
    else:
        flash("The event is on sale: it is in the storefront now.", "ok")
    return redirect(url_for("admin.events_edit", event_id=event_id))


@bp.route("/events/<int:event_id>/cancel", methods=["GET", "POST"], endpoint="events_cancel")
@admin_required
def cancel_event(event_id: int):
    """GET: the confirmation step, saying what cancelling will do (the bookings refunded, the money paid back,
    the mails sent); HTMX asks for its panel alone, in place on the event page. POST: do it."""
    event = events.event(event_id) or abort(404)
    form = CancelEventForm()
    if form.validate_on_submit():
        try:
            cancelled = events.cancel_event(event_id)
        except BoxOfficeError as refusal:
            flash(refusal.message, "error")
        else:
            flash(f"The event is cancelled. {cancelled.bookings_refunded:,} booking(s) refunded: "
                  f"{cancelled.tickets_refunded:,} ticket(s), €{cancelled.amount_refunded:,.2f} in all. "
                  "Each customer has been told by e-mail.", "ok")
            if cancelled.bookings_left:
                flash(f"{cancelled.bookings_left:,} booking(s) are still to be refunded: press "
                      "“Refund the next bookings” to go on.", "error")
        return redirect(url_for("admin.events_edit", event_id=event_id))
    plan = events.cancellation_plan(event_id)
    if event.status == "cancelled" and not plan.bookings:
        flash("This event is cancelled and every booking has been refunded.", "ok")
        return redirect(url_for("admin.events_edit", event_id=event_id))
    return render_page("admin/event_cancel.html", fragment="confirm", event=event, plan=plan, form=form)
