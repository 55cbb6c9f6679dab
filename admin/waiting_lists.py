"""The waiting lists of sold-out events, for staff: every event with a line, and one event's line in the
order it was joined, with each place's offer and whether it became a booking (the conversions)."""
from __future__ import annotations

from flask import abort

from boxoffice.auth import admin_required
from boxoffice.extensions import db
from boxoffice.models import Event
from boxoffice.services import waiting_list
from boxoffice.templating import render_page

from .blueprint import bp


@bp.get("/waiting-lists", endpoint="waiting_lists")
@admin_required
def waiting_lists():
    return render_page("admin/waiting_lists.html", lines=waiting_list.lines_for_staff())


@bp.get("/waiting-lists/<int:event_id>", endpoint="waiting_lists_show")
@admin_required
def waiting_lists_show(event_id: int):
    event = db.session.get(Event, event_id)
    if event is None:
        abort(404)
    entries, summary = waiting_list.line_for_staff(event_id)
    return render_page("admin/waiting_list.html", event=event, entries=entries, summary=summary)
