"""The seat map of an event as one viewer sees it, and what changed in it since a given version.

A seat's state for a viewer is `available`, `held` (by someone else), `sold` or `mine` (in the viewer's
live hold); a hold past its expiry shows as available. Polls are cheap when nothing changed: one primary
key read of the event's seat_version and one range read of the expiry index.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cached_property
from itertools import groupby
from decimal import Decimal

import sqlalchemy as sa

from .. import seat_geometry as geometry
from ..extensions import db
from .holds import Hold

# From this many seats on, the event page opens on the section overview instead of every seat.
LARGE_VENUE_SEATS = 5000

_VIEW_STATE = """
    CASE WHEN es.state = 'sold' THEN 'sold'
         WHEN es.state = 'held' AND es.hold_expires_at > :now
              THEN IF(es.hold_owner <=> :owner, 'mine', 'held')
         ELSE 'available' END"""


@dataclass(frozen=True)
class Category:
    category_id: int
    name: str
    colour: str
    rank: int
    price: Decimal
    seats_available: int

    @cached_property
    def price_text(self) -> str:
        """The price as a seat's label says it (worked out once per category, not once per seat)."""
        return f"€{self.price:,.2f}"


_SPOKEN_STATE = {"available": "available", "held": "held by someone else", "sold": "sold", "mine": "held for you"}


@dataclass(frozen=True)
class SeatView:
    seat_id: int
    section_name: str
    row_label: str
    seat_number: int
    category: Category
    state: str
    is_wheelchair: bool
    is_companion: bool
    # The seat's centre on the map (the plan's units, moved as the plan is: see venue_plan); a seat redrawn
    # by a live update keeps the place of the cell it is drawn in, so only the map's drawing reads them.
    x: int = 0
    y: int = 0

    @property
    def label(self) -> str:
        """What a screen reader says for the seat."""
        extras = " wheelchair space," if self.is_wheelchair else (" companion seat," if self.is_companion else "")
        return (f"{self.section_name}, row {self.row_label}, seat {self.seat_number}, {self.category.name},"
                f"{extras} {self.category.price_text}, {_SPOKEN_STATE[self.state]}")


@dataclass
class RowView:
    label: str
    seats: list[SeatView] = field(default_factory=list)
    label_x: int = 0
    label_y: int = 0


@dataclass
class SectionView:
    section_id: int
    name: str
    rows: list[RowView] = field(default_factory=list)


@dataclass(frozen=True)
class PlanSection:
    section_id: int
    name: str
    outline: str                       # SVG polygon points
    label_x: int
    label_y: int
    box: tuple[int, int, int, int]     # x, y, width, height


@dataclass(frozen=True)
class Plan:
    """A venue's map as the seat map draws it: its size, the stage and every section's outline, moved so
    that the map starts at (0, 0); `offset` is what was added to the saved coordinates."""

    venue_id: int
    width: int
    height: int
    stage: tuple[int, int, int, int]
    sections: tuple[PlanSection, ...]
    offset: tuple[int, int]

    def section(self, section_id: int | None) -> PlanSection | None:
        return next((s for s in self.sections if s.section_id == section_id), None)

    @property
    def pattern(self) -> int:
        """The size of one tile of the patterns a large venue's sections are filled with (_seat_plan.html),
        in the plan's units: about ninety across the whole venue."""
        return max(4, round(max(self.width, self.height) / 90))


@dataclass(frozen=True)
class SectionSummary:
    section_id: int
    name: str
    seats_total: int
    seats_available: int
    # The lowest price of a free seat and the rank of its category (the plan's colour and pattern for the
    # section); None when every seat is taken.
    from_price: Decimal | None
    from_rank: int | None = None

    @property
    def availability(self) -> str:
        if self.seats_available == 0:
            return "sold_out"
        return "few_left" if self.seats_available <= max(5, self.seats_total // 10) else "on_sale"


@dataclass(frozen=True)
class SeatMap:
    event_id: int
    version: int
    as_of: dt.datetime
    categories: dict[int, Category]
    sections: list[SectionView]


@dataclass(frozen=True)
class SeatChanges:
    """What a live map needs since the version and time it shows: the seats that changed (in the section
    shown), the event's categories, and the viewer's own live hold with its seats (the basket)."""

    version: int
    as_of: dt.datetime
    seats: list[SeatView]
    categories: dict[int, Category]
    hold: Hold
    held: list[SeatView]


def categories(event_id: int) -> dict[int, Category]:
    rows = db.session.execute(sa.text("""
        SELECT c.category_id, c.name, c.colour, c.`rank`, ep.price, ep.seats_available
          FROM event_prices ep JOIN seat_categories c ON c.category_id = ep.category_id
         WHERE ep.event_id = :event_id ORDER BY c.`rank`"""), {"event_id": event_id}).all()
    return {r.category_id: Category(r.category_id, r.name, r.colour, r.rank, r.price, r.seats_available)
            for r in rows}


def venue_plan(event_id: int) -> Plan | None:
    """The map of the event's venue: stage, section outlines and labels, as saved by the layout generator;
    for a venue saved before it drew them (revision 0007), by the rule of boxoffice/seat_geometry.py, from
    its seats: each section's outline is the box round its seats, the stage lies in front of the front
    row. None if there is no such event."""
    venue = db.session.execute(sa.text("""
        SELECT v.venue_id, v.stage_x, v.stage_y, v.stage_width, v.stage_height
          FROM events e JOIN venues v ON v.venue_id = e.venue_id WHERE e.event_id = :event_id"""),
        {"event_id": event_id}).one_or_none()
    if venue is None:
        return None
    # The seats' extent per section is grouped by the section's id alone: grouping by the outline text too
    # would make the server sort wide rows in a temporary table on disk.
    rows = db.session.execute(sa.text("""
        SELECT sec.section_id, sec.name, sec.outline, sec.label_x, sec.label_y, e.x0, e.y0, e.x1, e.y1
          FROM sections sec
          JOIN (SELECT s.section_id, MIN(s.map_x) AS x0, MIN(s.map_y) AS y0, MAX(s.map_x) AS x1, MAX(s.map_y) AS y1
                  FROM seats s WHERE s.venue_id = :venue_id GROUP BY s.section_id) e ON e.section_id = sec.section_id
         WHERE sec.venue_id = :venue_id
         ORDER BY sec.sort_order, sec.section_id"""), {"venue_id": venue.venue_id}).all()
    room = geometry.PAD + geometry.SEAT_PITCH      # round the seats: their outline and row labels
    sections = []
    for r in rows:
        box = (r.x0 - room, r.y0 - room, r.x1 - r.x0 + 2 * room, r.y1 - r.y0 + 2 * room)
        outline = r.outline or (f"{r.x0 - geometry.PAD},{r.y0 - geometry.PAD} {r.x1 + geometry.PAD},{r.y0 - geometry.PAD} "
                                f"{r.x1 + geometry.PAD},{r.y1 + geometry.PAD} {r.x0 - geometry.PAD},{r.y1 + geometry.PAD}")
        label = (r.label_x, r.label_y) if r.outline else ((r.x0 + r.x1) // 2, r.y1 + room + 4)
        sections.append((r.section_id, r.name, outline, label, box))
    if venue.stage_width:
        stage = (venue.stage_x, venue.stage_y, venue.stage_width, venue.stage_height)
    else:
        corners = [(b[0] + room, b[1] + room) for *_, b in sections] + [(b[0] + b[2] - room, b[1] + b[3] - room)
                                                                        for *_, b in sections]
        stage = tuple(round(v) for v in geometry.derived_stage(corners or [(0, 0)]))
    left = min([stage[0]] + [b[0] for *_, b in sections]) - geometry.MARGIN
    top = min([stage[1]] + [b[1] for *_, b in sections]) - geometry.MARGIN
    right = max([stage[0] + stage[2]] + [b[0] + b[2] for *_, b in sections]) + geometry.MARGIN
    bottom = max([stage[1] + stage[3]] + [b[1] + b[3] + 16 for *_, b in sections]) + geometry.MARGIN

    def moved(points: str) -> str:
        return " ".join(f"{int(x) - left},{int(y) - top}" for x, y in (p.split(",") for p in points.split()))

    return Plan(venue.venue_id, right - left, bottom - top,
                (stage[0] - left, stage[1] - top, stage[2], stage[3]),
                tuple(PlanSection(section_id, name, moved(outline), label[0] - left, label[1] - top,
                                  (box[0] - left, box[1] - top, box[2], box[3]))
                      for section_id, name, outline, label, box in sections),
                (-left, -top))


def seat_map(event_id: int, section_id: int | None = None, cats: dict[int, Category] | None = None,
             plan: Plan | None = None) -> SeatMap:
    """Every seat of the event (or of one section), grouped by section and row, as someone without a hold
    sees them (a viewer's own seats are drawn over it). `cats` are the event's categories when the caller
    has already read them."""
    # The clock and the version in one round trip, both read before the seats: a change committed while
    # the seats are read then shows up again in the next poll instead of being missed.
    state = map_state(event_id, None, None)
    now, version = state.as_of, state.version
    cats = cats or categories(event_id)
    condition, params = ("es.section_id = :section_id", {"section_id": section_id}) if section_id else ("TRUE", {})
    # One result row per seat row, its seats packed in a JSON array: the pure-Python driver decodes a
    # thousand small result rows several times slower than json.loads reads forty strings. (No ORDER BY
    # inside JSON_ARRAYAGG: MySQL 8 lacks it, so each row's seats are sorted here.)
    rows = db.session.execute(sa.text(f"""
        SELECT sec.section_id, sec.name AS section_name, r.label AS row_label,
               r.label_x, r.label_y,
               JSON_ARRAYAGG(JSON_ARRAY(s.seat_number, es.seat_id, es.category_id, s.is_wheelchair,
                                        s.is_companion, {_VIEW_STATE}, s.map_x, s.map_y)) AS seats
          FROM event_seats es
          JOIN seats s ON s.seat_id = es.seat_id
          JOIN seat_rows r ON r.row_id = s.row_id
          JOIN sections sec ON sec.section_id = es.section_id
         WHERE es.event_id = :event_id AND {condition}
         GROUP BY sec.sort_order, sec.section_id, sec.name, r.sort_order, r.row_id, r.label, r.label_x, r.label_y
         ORDER BY sec.sort_order, sec.section_id, r.sort_order, r.row_id"""),
        {"event_id": event_id, "owner": None, "now": now, **params}).all()
    dx, dy = plan.offset if plan else (0, 0)
    sections: list[SectionView] = []
    for row in rows:
        if not sections or sections[-1].section_id != row.section_id:
            sections.append(SectionView(row.section_id, row.section_name))
        seats = [SeatView(seat_id, row.section_name, row.row_label, number, cats[category_id], state,
                          bool(wheelchair), bool(companion), x + dx, y + dy)
                 for number, seat_id, category_id, wheelchair, companion, state, x, y in sorted(json.loads(row.seats))]
        if row.label_x or row.label_y:
            label_x, label_y = row.label_x + dx, row.label_y + dy
        else:
            label_x, label_y = (round(v) for v in geometry.row_label_point((seats[0].x, seats[0].y),
                                                                            (seats[-1].x, seats[-1].y)))
        sections[-1].rows.append(RowView(row.row_label, seats, label_x, label_y))
    return SeatMap(event_id, version, now, cats, sections)


def section_overview(event_id: int) -> list[SectionSummary]:
    """Seats and free seats per section, and the cheapest free seat's price and category, for the overview
    of a large venue."""
    # Counted per (section, category) straight off the event's primary-key range first, then joined to
    # the four prices and the section names: joining every one of 20,000 seats to its price before
    # grouping made MariaDB look each seat up through the price index and sort them in a temporary table.
    # A few rows a section, added up here.
    rows = db.session.execute(sa.text("""
        SELECT sec.section_id, sec.name, g.seats, g.free, ep.price, c.`rank`
          FROM (SELECT es.section_id, es.category_id, COUNT(*) AS seats,
                       SUM(es.state = 'available' OR (es.state = 'held' AND es.hold_expires_at <= UTC_TIMESTAMP(3))) AS free
                  FROM event_seats es
                 WHERE es.event_id = :event_id
                 GROUP BY es.section_id, es.category_id) g
          JOIN sections sec ON sec.section_id = g.section_id
          JOIN event_prices ep ON ep.event_id = :event_id AND ep.category_id = g.category_id
          JOIN seat_categories c ON c.category_id = g.category_id
         ORDER BY sec.sort_order, sec.section_id, ep.price"""), {"event_id": event_id}).all()
    summaries = []
    for (section_id, name), group in groupby(rows, key=lambda r: (r.section_id, r.name)):
        group = list(group)
        free = [r for r in group if r.free]  # the cheapest first
        summaries.append(SectionSummary(section_id, name, sum(int(r.seats) for r in group),
                                        sum(int(r.free or 0) for r in group),
                                        free[0].price if free else None, free[0].rank if free else None))
    return summaries


@dataclass(frozen=True)
class MapState:
    """Where an event's seats stand: their version, the database's clock, and whether anything changed
    since the version and time asked about."""
    version: int
    as_of: dt.datetime
    changed: bool


def map_state(event_id: int, version: int | None, as_of: dt.datetime | None) -> MapState | None:
    """One round trip that answers the common question of a live map, "did anything change?": a write
    moves the seat version; a hold running out writes nothing, so the expiry index is read for holds
    that ran out after `as_of`. None if there is no such event."""
    state = db.session.execute(sa.text("""
        SELECT e.seat_version, UTC_TIMESTAMP(3) AS now,
               EXISTS (SELECT 1 FROM event_seats es WHERE es.event_id = e.event_id
                          AND es.hold_expires_at > :as_of AND es.hold_expires_at <= UTC_TIMESTAMP(3)) AS expired
          FROM events e WHERE e.event_id = :event_id"""), {"event_id": event_id, "as_of": as_of}).one_or_none()
    if state is None:
        return None
    return MapState(state.seat_version, state.now, state.seat_version != version or bool(state.expired))


# The seats a live map must redraw: changed by a write since its version, or a hold that ran out since its
# time (which writes nothing).
_CHANGED = "(es.version > :version OR (es.hold_expires_at > :as_of AND es.hold_expires_at <= UTC_TIMESTAMP(3)))"
_IN_SECTION = "(:section_id IS NULL OR es.section_id = :section_id)"
# Everything a live update shows, in one statement (one snapshot, one clock): the version, the categories
# and, packed in JSON (which the pure-Python driver reads far faster than rows), the changed seats and the
# viewer's held seats. Those two come from a UNION so that each reads its own index: the change indexes
# (version, expiry) for the first, the owner's for the second.
_READ_CHANGES = sa.text(f"""
    SELECT e.seat_version AS version, UTC_TIMESTAMP(3) AS now,
           (SELECT JSON_ARRAYAGG(JSON_ARRAY(c.category_id, c.name, c.colour, c.`rank`, ep.price, ep.seats_available))
              FROM event_prices ep JOIN seat_categories c ON c.category_id = ep.category_id
             WHERE ep.event_id = e.event_id) AS categories,
           (SELECT JSON_ARRAYAGG(JSON_ARRAY(sec.sort_order, r.sort_order, s.seat_number, es.seat_id, sec.name, r.label,
                                            es.category_id, s.is_wheelchair, s.is_companion,
                                            {_VIEW_STATE.replace(":now", "UTC_TIMESTAMP(3)")},
                                            {_CHANGED} AND {_IN_SECTION}, es.hold_expires_at, es.hold_extended))
              FROM (SELECT es.seat_id FROM event_seats es
                     WHERE es.event_id = :event_id AND {_CHANGED} AND {_IN_SECTION}
                    UNION
                    SELECT es.seat_id FROM event_seats es USE INDEX (ix_event_seats_owner)
                     WHERE es.hold_owner = :owner AND es.event_id = :event_id AND es.state = 'held') shown
              JOIN event_seats es ON es.event_id = :event_id AND es.seat_id = shown.seat_id
              JOIN seats s ON s.seat_id = es.seat_id
              JOIN seat_rows r ON r.row_id = s.row_id
              JOIN sections sec ON sec.section_id = es.section_id) AS seats
      FROM events e WHERE e.event_id = :event_id""")


def _categories_from_json(packed: str | None) -> dict[int, Category]:
    found = [Category(category_id, name, colour, rank, Decimal(str(price)), seats_available)
             for category_id, name, colour, rank, price, seats_available in json.loads(packed or "[]")]
    return {c.category_id: c for c in sorted(found, key=lambda c: c.rank)}


def read_changes(event_id: int, owner: str | None, version: int, as_of: dt.datetime,
                 section_id: int | None = None) -> SeatChanges | None:
    """The seats that changed since `version` (a write) or whose hold ran out since `as_of`, only those of
    `section_id` if given, with the categories and the owner's live hold, in one round trip. None if there
    is no such event."""
    row = db.session.execute(_READ_CHANGES, {"event_id": event_id, "owner": owner, "version": version,
                                             "as_of": as_of, "section_id": section_id}).one_or_none()
    if row is None:
        return None
    cats = _categories_from_json(row.categories)
    changed: list[SeatView] = []
    held: list[SeatView] = []
    expiries: list[dt.datetime] = []
    extended = False
    for (_, _, number, seat_id, section_name, row_label, category_id, wheelchair, companion, state, is_changed,
         expires_at, hold_extended) in sorted(json.loads(row.seats or "[]")):
        seat = SeatView(seat_id, section_name, row_label, number, cats[category_id], state, bool(wheelchair),
                        bool(companion))
        if is_changed:
            changed.append(seat)
        if state == "mine":
            held.append(seat)
            expiries.append(dt.datetime.fromisoformat(expires_at))
            extended = extended or bool(hold_extended)
    hold = Hold(event_id, tuple(sorted(s.seat_id for s in held)), min(expiries, default=None), extended)
    return SeatChanges(row.version, row.now, changed, cats, hold, held)


def changes_since(event_id: int, owner: str | None, version: int, as_of: dt.datetime,
                  section_id: int | None = None) -> SeatChanges | None:
    """As read_changes, after the cheap check of map_state: None when nothing changed (the poll then
    answers with no content)."""
    state = map_state(event_id, version, as_of)
    if state is None or not state.changed:
        return None
    return read_changes(event_id, owner, version, as_of, section_id)
