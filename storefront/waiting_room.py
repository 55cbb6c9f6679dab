"""The on-sale waiting room's page: a visitor joins the event's line, sees their place and the estimated wait
(HTMX polls it; without JavaScript the page refreshes itself), and is sent to the event with a signed
admission when their turn comes (boxoffice/services/waiting_room.py)."""
from __future__ import annotations

import datetime as dt
import random

from flask import request, url_for

from boxoffice.clock import utcnow
from boxoffice.services import catalogue
from boxoffice.services import waiting_room as rooms
from boxoffice.templating import render_page

from .blueprint import NOT_SHARED, VISITOR_COOKIE, admission_cookie, bp, go_to, set_waiting_room_cookie, visitor_id
from .views import event_or_404

# A visitor's id outlives a visit: their place in a line is kept while they come back within a day.
VISITOR_LIFETIME = dt.timedelta(days=1)
# The page asks again after a quarter of the estimated wait, within these bounds (seconds): often near the
# front, rarely at the back, so ten thousand people waiting do not all ask every few seconds.
POLL_FASTEST, POLL_SLOWEST = 3, 30
# Early arrivals ask again at the opening plus up to this many seconds, each at random: thousands of them
# not all in the same second.
OPENING_SPREAD = 10


def _poll_seconds(place: rooms.Place | None) -> int:
    if place is not None and place.status == "waiting" and not place.paused:
        return max(POLL_FASTEST, min(POLL_SLOWEST, place.wait_seconds // 4))
    if place is not None and place.status == "early":
        # Early arrivals are spread over a few seconds after the opening, not all at its first instant.
        return max(POLL_FASTEST, min(POLL_SLOWEST, int(place.opens_in_seconds))) + random.randint(0, OPENING_SPREAD)
    return POLL_SLOWEST


@bp.get("/events/<int:event_id>/queue")
def waiting_room(event_id: int):
    """Join the event's line (once) and show where the visitor stands; their turn come, the signed admission
    goes into a cookie and the browser on to the event."""
    event, venue = event_or_404(event_id)
    event_url = url_for("storefront.event", event_id=event_id)
    if rooms.gate(event_id) is None:
        return go_to(event_url)
    visitor = visitor_id()
    if rooms.is_admitted(request.cookies.get(admission_cookie(event_id)), event_id, visitor):
        return go_to(event_url)
    sale = catalogue.sale_state(event)
    place = None
    new_visitor = False
    # Once the seats are gone there is nothing to queue for: the page says so instead.
    if sale.kind not in ("sold_out", "closed", "past", "cancelled"):
        place = rooms.join(event_id, visitor) if visitor else None
        if place is None or place.status == "expired":
            # A first visit, or an admission that ran out: a new visitor, at the back of the line.
            visitor, new_visitor = rooms.new_visitor(), True
            place = rooms.join(event_id, visitor)
    if place is not None and place.status == "admitted":
        response = go_to(event_url)
        set_waiting_room_cookie(response, admission_cookie(event_id),
                                rooms.admission_token(event_id, visitor, place.admission_expires_at),
                                place.admission_expires_at)
    else:
        response = render_page("storefront/waiting_room.html", fragment="status", event=event, venue=venue,
                               sale=sale, place=place, poll=_poll_seconds(place),
                               room_url=url_for("storefront.waiting_room", event_id=event_id))
        response.headers["Cache-Control"] = NOT_SHARED
    if new_visitor:
        set_waiting_room_cookie(response, VISITOR_COOKIE, visitor, utcnow() + VISITOR_LIFETIME)
    return response
