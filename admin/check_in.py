"""Check-in at the doors: type or scan a ticket code and get the answer in place, big and in colour."""
from __future__ import annotations

from flask import current_app, request

from boxoffice.auth import admin_required
from boxoffice.forms import record_id
from boxoffice.services import checkin
from boxoffice.templating import render_page

from .blueprint import bp
from .forms import CheckInForm


@bp.route("/check-in", methods=["GET", "POST"], endpoint="check_in")
@admin_required
def check_in():
    """With HTMX only the door desk (the form and the answer) comes back, ready for the next scan;
    without JavaScript the whole page does."""
    form = CheckInForm()
    events = checkin.door_events()
    # The door's event comes with every scan (and in the page's address): a door stays the same door.
    door = next((e for e in events if e.event_id == request.values.get("event", type=record_id)), None)
    answer = (checkin.check_in(form.ticket_code.data, door.event_id if door else None)
              if form.validate_on_submit() else None)
    # An empty field for the next ticket: the answer shows which code it was about.
    form.ticket_code.data = ""
    status = 422 if form.is_submitted() and answer is None else 200
    return render_page("admin/check_in.html", fragment="desk", form=form, answer=answer, events=events,
                       door=door, hours_before=current_app.config["CHECK_IN_HOURS_BEFORE"]), status
