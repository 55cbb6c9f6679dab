"""The storefront blueprint and what its views share: the buyer's hold owner, who is buying, and the
on-sale waiting room's gate."""
from __future__ import annotations

import datetime as dt
from functools import wraps
from typing import Callable

from flask import Blueprint, Response, current_app, make_response, redirect, request, session, url_for
from flask_login import current_user

from boxoffice.auth import session_customer_id
from boxoffice.extensions import htmx
from boxoffice.services import holds, waiting_room
from boxoffice.services.accounts import address_key

bp = Blueprint("storefront", __name__)


def hold_owner(create: bool = False) -> str | None:
    """This browser's hold owner token (kept in the session, so it survives signing in)."""
    if create and "hold_owner" not in session:
        session["hold_owner"] = holds.new_hold_owner()
    return session.get("hold_owner")


def signed_in_customer():
    return current_user if current_user.is_authenticated and not current_user.is_admin else None


def current_buyer() -> holds.Buyer:
    """Who is taking seats, for the per-buyer cap: the signed-in customer, if any, and the network address.
    (A seat click reads the customer from the session, not the database: the cap only limits.)"""
    return holds.Buyer(session_customer_id(), address_key(request.remote_addr) if request.remote_addr else None)


def customer_required(view: Callable) -> Callable:
    """Customers only: anyone else goes to the customer sign-in and comes back afterwards."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if signed_in_customer() is None:
            return redirect(url_for("storefront.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped


# The waiting room's cookies: the visitor's random id (their place in a line), and per event the signed
# admission bound to it (boxoffice/services/waiting_room.py).
VISITOR_COOKIE = "visitor"
# Pages of an event behind a queue are for one admitted visitor: never kept by a shared cache (nginx's
# micro-cache, a CDN) nor by the browser, so nobody without an admission is ever served one.
NOT_SHARED = "private, no-store"


def admission_cookie(event_id: int) -> str:
    return f"admission_{event_id}"


def visitor_id() -> str | None:
    """This browser's waiting-room visitor id, if it has a well-formed one."""
    visitor = request.cookies.get(VISITOR_COOKIE, "")
    return visitor if len(visitor) == 32 and all(c in "0123456789abcdef" for c in visitor) else None


def set_waiting_room_cookie(response: Response, name: str, value: str, expires: dt.datetime) -> None:
    response.set_cookie(name, value, expires=expires.replace(tzinfo=dt.timezone.utc), httponly=True,
                        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])


def go_to(url: str) -> Response:
    """Send the browser to `url`: HTMX (a poll, a seat click, a boosted link) by HX-Redirect, which it
    follows whatever the status; anything else by a plain redirect."""
    if htmx:
        response = make_response("", 403 if request.method == "POST" else 200)
        response.headers["HX-Redirect"] = url
    else:
        response = redirect(url, 303)
    response.headers["Cache-Control"] = NOT_SHARED
    return response


def admission_required(view: Callable) -> Callable:
    """For the views of one event's sale (its page, seat map poll, seat clicks, checkout): while the event's
    queue is on, only a visitor whose signed admission checks out (or staff) gets through; anyone else
    goes to the waiting room, whatever URL they typed or form they posted. The check needs no database
    round trip (the token is verified here; whether the queue is on is known per process for a second).
    What such a view answers is marked private, no-store."""

    @wraps(view)
    def wrapped(*args, event_id: int, **kwargs):
        if waiting_room.gate(event_id) is None:
            return view(*args, event_id=event_id, **kwargs)
        admitted = waiting_room.is_admitted(request.cookies.get(admission_cookie(event_id)), event_id, visitor_id())
        if not admitted and not getattr(current_user, "is_admin", False):
            to_queue = go_to(url_for("storefront.waiting_room", event_id=event_id))
            if request.method == "GET" and not request.cookies and not htmx:
                # Everyone without a cookie is sent to the same queue (nobody without one can hold an
                # admission): nginx's micro-cache may keep this redirect for a second, so that a rush's first
                # wave is not let through one by one behind its cache lock. Browsers never keep it (a kept
                # redirect would send someone just admitted back to the queue). nginx before 1.23 reads these
                # two headers in order, and a no-store read first makes it keep nothing: X-Accel-Expires goes
                # first.
                browsers = to_queue.headers.pop("Cache-Control")
                to_queue.headers["X-Accel-Expires"] = "1"
                to_queue.headers["Cache-Control"] = browsers
            return to_queue
        response = make_response(view(*args, event_id=event_id, **kwargs))
        response.headers["Cache-Control"] = NOT_SHARED
        return response

    return wrapped
