"""Drawn seat maps (and section overviews), kept by each worker process and brought up to date with the
live poll's change query.

Drawing a thousand seat buttons costs more CPU than everything else on the event page together, yet
between two views of a map usually nothing, or a handful of seats, changed. So each process keeps every
map it drew as someone without a hold sees it, asks the database before each use what changed since (the
poll's one-query check, which answers "nothing" in the common case), and redraws only the seats that
changed. A viewer's own held seats are drawn over the shared copy.

Prices are part of every seat's spoken label but do not bump the seat version, so a map drawn at other
prices is drawn again.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable

from flask import current_app, get_template_attribute, render_template
from markupsafe import Markup

from boxoffice.services import seatmap
from boxoffice.services.seatmap import Category, SeatView

# Stands in for a seat while the layout is drawn. Autoescaping turns every "<" of a section name or row
# label into "&lt;", so no venue data can forge one.
_SLOT = re.compile(r"<!--seat:(\d+)-->")


def _price_list(categories: dict[int, Category]) -> tuple:
    return tuple((c.category_id, c.name, c.rank, c.price) for c in categories.values())


def _button(seat: SeatView) -> str:
    return str(get_template_attribute("storefront/_seat.html", "seat_button")(seat))


@dataclass(frozen=True)
class DrawnSeatMap:
    """The map's markup in parts: the layout at even indexes, one seat's button at each odd index."""

    version: int
    as_of: dt.datetime
    prices: tuple
    parts: tuple[str, ...]
    slots: dict[int, int]

    def _redrawn(self, seats: Iterable[SeatView]) -> list[str]:
        parts = list(self.parts)
        for seat in seats:
            index = self.slots.get(seat.seat_id)
            if index is not None:
                parts[index] = _button(seat)
        return parts

    @cached_property
    def _everyones(self) -> Markup:
        return Markup("".join(self.parts))

    def html(self, mine: Iterable[SeatView] = ()) -> Markup:
        """The map as it stands, with the viewer's own held seats (`mine`) drawn as theirs."""
        return Markup("".join(self._redrawn(mine))) if mine else self._everyones

    def updated(self, changes: seatmap.SeatChanges) -> DrawnSeatMap:
        return DrawnSeatMap(changes.version, changes.as_of, self.prices, tuple(self._redrawn(changes.seats)),
                            self.slots)


def draw(event_id: int, section_id: int | None, categories: dict[int, Category],
         plan: seatmap.Plan | None = None) -> DrawnSeatMap:
    """Every seat of the event (or one section of it) as someone without a hold sees it, each seat's cell
    at its place on the venue's `plan`."""
    seat_map = seatmap.seat_map(event_id, section_id, categories, plan)
    buttons: dict[int, str] = {}

    def seat_slot(seat: SeatView) -> Markup:
        buttons[seat.seat_id] = _button(seat)
        return Markup(f"<!--seat:{seat.seat_id}-->")

    parts = _SLOT.split(render_template("storefront/_seat_map.html", seat_map=seat_map, seat_slot=seat_slot))
    slots = {}
    for index in range(1, len(parts), 2):
        seat_id = int(parts[index])
        parts[index] = buttons[seat_id]
        slots[seat_id] = index
    return DrawnSeatMap(seat_map.version, seat_map.as_of, _price_list(categories), tuple(parts), slots)


@dataclass(frozen=True)
class SectionOverview:
    """A large venue's sections with their free seats, as of a seat version and time."""

    version: int
    as_of: dt.datetime
    prices: tuple
    sections: list[seatmap.SectionSummary]


class SeatMapCache:
    """The drawn maps and section overviews of one process, the most recently used `capacity` of each."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._maps: OrderedDict[tuple[int, int | None], DrawnSeatMap] = OrderedDict()
        self._overviews: OrderedDict[int, SectionOverview] = OrderedDict()
        self._plans: OrderedDict[int, seatmap.Plan] = OrderedDict()
        self._lock = threading.Lock()

    def _keep(self, kept: OrderedDict, key, fresh) -> None:
        with self._lock:
            # Another thread may have kept a newer copy meanwhile; versions only grow.
            other = kept.get(key)
            if other is None or (fresh.version, fresh.as_of) >= (other.version, other.as_of):
                kept[key] = fresh
            kept.move_to_end(key)
            while len(kept) > self.capacity:
                kept.popitem(last=False)

    def plan(self, event_id: int) -> seatmap.Plan | None:
        """The map of the event's venue: a saved layout never changes (events sell its seats), so it is
        read once."""
        with self._lock:
            kept = self._plans.get(event_id)
        if kept is None:
            kept = seatmap.venue_plan(event_id)
            if kept is None:
                return None
            with self._lock:
                self._plans[event_id] = kept
                while len(self._plans) > self.capacity:
                    self._plans.popitem(last=False)
        return kept

    def current(self, event_id: int, section_id: int | None, categories: dict[int, Category]) -> DrawnSeatMap:
        """The map as the database has it now: the kept copy, brought up to date, or a new drawing."""
        key = (event_id, section_id)
        with self._lock:
            kept = self._maps.get(key)
        if kept is None or kept.prices != _price_list(categories):
            fresh = draw(event_id, section_id, categories, self.plan(event_id))
        else:
            changes = seatmap.changes_since(event_id, None, kept.version, kept.as_of, section_id)
            if changes is None:
                return kept
            fresh = kept.updated(changes)
        self._keep(self._maps, key, fresh)
        return fresh

    def overview(self, event_id: int, categories: dict[int, Category]) -> SectionOverview:
        """The sections of a large venue with their free seats now: counting 20,000 seats takes the
        database several milliseconds, asking whether any changed a fraction of one."""
        with self._lock:
            kept = self._overviews.get(event_id)
        if kept is not None and kept.prices != _price_list(categories):
            kept = None
        state = seatmap.map_state(event_id, kept.version if kept else None, kept.as_of if kept else None)
        if kept is not None and not state.changed:
            return kept
        fresh = SectionOverview(state.version, state.as_of, _price_list(categories),
                                seatmap.section_overview(event_id))
        self._keep(self._overviews, event_id, fresh)
        return fresh


def seat_maps() -> SeatMapCache:
    """This app's cache (one per app, so a test's new app never sees another database's maps)."""
    return current_app.extensions["seat_map_cache"]


def init_app(app) -> None:
    app.extensions["seat_map_cache"] = SeatMapCache(app.config.get("SEAT_MAP_CACHE_SIZE", 64))
