"""The public storefront: the catalogue, event pages with their live seat map, and seat holds."""
from __future__ import annotations

import datetime as dt

from flask import abort, current_app, flash, make_response, redirect, request, url_for
from flask_login import current_user

from boxoffice import http_cache, rate_limits
from boxoffice.errors import BoxOfficeError
from boxoffice.forms import record_id
from boxoffice.models import Event, Venue
from boxoffice.services import best_available, catalogue, holds, seatmap
from boxoffice.templating import event_date, render_page, wants_fragment

from .blueprint import admission_required, bp, current_buyer, hold_owner
from .seat_map_cache import seat_maps
from .forms import BestAvailableForm, CatalogueFilterForm


@bp.get("/")
@http_cache.shared_briefly
def index():
    form = CatalogueFilterForm(request.args)
    venues = catalogue.venues_with_upcoming_events()
    form.venue.choices = [("", "All venues")] + [(str(v.venue_id), f"{v.name}, {v.city}") for v in venues]
    valid = form.validate()
    query = catalogue.CatalogueQuery(
        text=form.q.data or None,
        date_from=form.date_from.data if valid else None,
        date_to=form.date_to.data if valid else None,
        venue_id=int(form.venue.data) if valid and form.venue.data else None,
        genre=form.genre.data or None,
        max_price=form.max_price.data if valid else None,
        sort=form.sort.data or "date",
    )
    events = catalogue.upcoming_events(query, page=request.args.get("page", 1, type=record_id),
                                       per_page=current_app.config["CATALOGUE_PAGE_SIZE"])
    return render_page("storefront/index.html", fragment="results", events=events, form=form)


def _basket(event_id: int, shown) -> tuple[holds.Hold, list[seatmap.SeatView]]:
    """This browser's hold for the event and its seats, as of the map `shown` beside them."""
    owner = hold_owner()
    basket = seatmap.read_changes(event_id, owner, shown.version, shown.as_of) if owner else None
    return (basket.hold, basket.held) if basket else (holds.Hold.empty(event_id), [])


# What a read-only map says when a seat is pressed (static/js/seatmap.js), by catalogue.sale_state.
SALE_MESSAGES = {"closed": "sales have closed",
                 "sold_out": "this event is sold out", "past": "this event has already taken place",
                 "cancelled": "this event has been cancelled"}


def _seat_picker_context(event, venue, section_id: int | None, message: str | None = None,
                         error: str | None = None, categories: dict[int, seatmap.Category] | None = None) -> dict:
    large = event.seats_total >= seatmap.LARGE_VENUE_SEATS
    categories = seatmap.categories(event.event_id) if categories is None else categories
    overview = seat_maps().overview(event.event_id, categories) if large else None
    if large and section_id is None:
        drawn = None
    else:
        drawn = seat_maps().current(event.event_id, section_id if large else None, categories)
    shown = drawn or overview
    hold, cart_seats = _basket(event.event_id, shown)
    seat_map = drawn.html(mine=cart_seats) if drawn else None
    version, as_of = shown.version, shown.as_of
    sale = catalogue.sale_state(event)
    best_form = BestAvailableForm(formdata=None)
    best_form.category.choices = [(c.category_id, f"{c.name} · €{c.price:,.2f}") for c in categories.values()]
    return {
        "event": event, "event_id": event.event_id, "venue": venue, "large": large, "section_id": section_id,
        "overview": overview.sections if overview else None,
        "overview_by_id": {s.section_id: s for s in overview.sections} if overview else None,
        "plan": seat_maps().plan(event.event_id), "sale": sale,
        "sale_message": (f"sales open on {event_date(sale.opens_at)}" if sale.kind == "not_yet"
                         else SALE_MESSAGES.get(sale.kind)),
        "seat_map": seat_map, "categories": categories, "hold": hold, "cart_seats": cart_seats,
        "best_form": best_form, "message": message, "error": error,
        "version": version, "as_of": as_of.isoformat(), "hold_minutes": current_app.config["HOLD_MINUTES"],
    }


def event_or_404(event_id: int):
    found = catalogue.event_for_sale(event_id)
    if found is None:
        abort(404)
    return found


def _viewer() -> tuple:
    """Who a page is drawn for: the person signed in (as of their session) and this browser's hold owner."""
    return current_user.get_id(), getattr(current_user, "customer_type", None), hold_owner()


# The event's columns that a seat changing moves: the map's version in the ETag stands for them.
_MOVED_BY_SEATS = {"seat_version", "seats_available"}


def _page_context(event, venue, categories: dict[int, seatmap.Category]) -> str:
    """Everything an event page shows besides its seat map, as an ETag's digest (boxoffice/http_cache.py)."""
    details = [getattr(event, c.key) for c in Event.__table__.columns if c.key not in _MOVED_BY_SEATS]
    details += [getattr(venue, c.key) for c in Venue.__table__.columns]
    prices = [(c.category_id, c.name, c.colour, c.rank, c.price) for c in categories.values()]
    return http_cache.digest(details, prices, catalogue.sale_state(event), _viewer())


@bp.get("/events/<int:event_id>")
@admission_required
@http_cache.shared_briefly
def event(event_id: int):
    event, venue = event_or_404(event_id)
    section_id = request.args.get("section", type=record_id)
    categories = seatmap.categories(event_id)
    context = _page_context(event, venue, categories)
    unchanged = http_cache.not_modified(event_id, context)
    if unchanged is not None:
        return unchanged
    picker = _seat_picker_context(event, venue, section_id, categories=categories)
    page = render_page("storefront/event.html", fragment="seat_picker", **picker)
    return http_cache.tagged(page, picker["version"], dt.datetime.fromisoformat(picker["as_of"]), context)


def _page_version(values) -> tuple[int, dt.datetime] | None:
    """The seat version and time of the map a page shows (the poller's `v` and `t`), if it sent them."""
    version = values.get("v", type=int)
    try:
        as_of = dt.datetime.fromisoformat(values.get("t", ""))
    except ValueError:
        return None
    return (version, as_of) if version is not None else None


def _live_update(event_id: int, section_id: int | None, changes: seatmap.SeatChanges, status: dict | None = None):
    """What changed on the map since the page's version, swapped into the page out of band: the changed
    seats as this viewer sees them, the basket and the poller's new version; after a seat click also the
    picker's message (`status`)."""
    return render_page("storefront/_seat_changes.html", changes=changes, event_id=event_id, section_id=section_id,
                       hold=changes.hold, cart_seats=changes.held, hold_minutes=current_app.config["HOLD_MINUTES"],
                       status=status)


@bp.get("/events/<int:event_id>/seats/changes")
@admission_required
@http_cache.shared_briefly
def seat_changes(event_id: int):
    """The live map's poll: only the seats that changed since the page's version; 204 when none did. Its
    ETag names the version and time the answer brings the map to."""
    page_version = _page_version(request.args)
    if page_version is None:
        abort(400)
    section_id = request.args.get("section", type=record_id)
    context = http_cache.digest(_viewer())
    unchanged = http_cache.not_modified(event_id, context)
    if unchanged is not None:
        return unchanged
    changes = seatmap.changes_since(event_id, hold_owner(), *page_version, section_id)
    if changes is None:
        return http_cache.tagged(make_response("", 204), *page_version, context)
    return http_cache.tagged(_live_update(event_id, section_id, changes), changes.version, changes.as_of, context)


@bp.post("/events/<int:event_id>/seats")
@admission_required
def choose_seats(event_id: int):
    """Hold or give back seats: a seat button toggles it, 'release' gives back the whole hold, and
    'best' holds the best block in a category. Without JavaScript this redirects back to the map; a seat
    pressed on a live map gets only what changed on it since, as the poll does, and the rest redraws the
    seat picker."""
    section_id = request.form.get("section", type=record_id)
    owner = hold_owner(create=True)
    minutes = current_app.config["HOLD_MINUTES"]
    action = request.form.get("action")
    message = error = None
    try:
        if action == "release":
            holds.release_hold(event_id, owner)
            message = "Your seats have been released."
        elif action == "best":
            form = BestAvailableForm()
            form.category.choices = [(c, c) for c in seatmap.categories(event_id)]
            if not form.validate():
                raise BoxOfficeError("Choose a category and how many seats you need.")
            rate_limits.check_hold_rate(owner, request.remote_addr)
            best_available.hold_best_available(event_id, form.category.data, form.count.data, owner, minutes,
                                               current_buyer())
            message = f"We found {form.count.data} seats together for you. They are held for {minutes} minutes."
        else:
            seat_id = request.form.get("seat", type=record_id)
            if seat_id is None:
                abort(400)
            rate_limits.check_hold_rate(owner, request.remote_addr)
            holds.toggle_seat(event_id, seat_id, owner, minutes, current_buyer())
    except BoxOfficeError as refusal:
        error = refusal.message
    if not wants_fragment():
        if error:
            flash(error, "error")
        elif message:
            flash(message, "ok")
        return redirect(url_for("storefront.event", event_id=event_id, section=section_id))
    page_version = _page_version(request.form)
    if action is None and page_version is not None:
        changes = seatmap.read_changes(event_id, owner, *page_version, section_id)
        if changes is None:
            abort(404)
        response = _live_update(event_id, section_id, changes, status={"message": message, "error": error})
        response.headers["HX-Reswap"] = "none"
        return response
    event, venue = event_or_404(event_id)
    return render_page("storefront/event.html", fragment="seat_picker",
                       **_seat_picker_context(event, venue, section_id, message, error))
