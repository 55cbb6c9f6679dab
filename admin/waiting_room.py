"""An event's on-sale waiting room, for staff: turn the queue on with its opening and rate, watch the line
(HTMX refreshes the figures), pause it and go on (boxoffice/services/waiting_room.py)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from boxoffice.auth import admin_required
from boxoffice.errors import BoxOfficeError
from boxoffice.services import events, waiting_room
from boxoffice.templating import render_page

from .blueprint import bp
from .forms import WaitingRoomForm

# How often the staff page's figures refresh themselves (seconds).
FIGURES_POLL = 5


@bp.route("/events/<int:event_id>/waiting-room", methods=["GET", "POST"], endpoint="events_waiting_room")
@admin_required
def waiting_room_page(event_id: int):
    event = events.event(event_id) or abort(404)
    settings = waiting_room.room_settings(event_id)
    if settings is None:
        # A first queue opens with the sale, letting in a hundred people a minute, until staff say otherwise.
        settings = waiting_room.RoomSettings(False, event.sales_start, 100)
    form = WaitingRoomForm(obj=settings)
    if form.validate_on_submit():
        try:
            waiting_room.configure(event_id, form.settings())
        except BoxOfficeError as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash("The queue is on: the event's page, seats and checkout are for people it lets in."
                  if form.enabled.data else "The queue is off: anyone may buy.", "ok")
            return redirect(url_for("admin.events_waiting_room", event_id=event_id))
    return render_page("admin/waiting_room.html", fragment="figures", event=event, form=form,
                       figures=waiting_room.figures(event_id), poll=FIGURES_POLL), \
        422 if form.is_submitted() else 200


@bp.post("/events/<int:event_id>/waiting-room/pause", endpoint="events_waiting_room_pause")
@admin_required
def pause_waiting_room(event_id: int):
    paused = request.form.get("paused") == "1"
    try:
        waiting_room.set_paused(event_id, paused)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
    else:
        flash("The queue is paused: nobody is let in until you go on." if paused
              else "The queue goes on letting people in.", "ok")
    return redirect(url_for("admin.events_waiting_room", event_id=event_id))
