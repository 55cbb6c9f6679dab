"""Venues and their seating layouts.

A new venue's layout is generated, not drawn: sections of equal size, each of some rows of some seats;
seat categories given by row ranges; wheelchair spaces at both ends of chosen rows, each with a companion
seat beside it; and map coordinates for every seat and section box. `plan_layout` works the plan out
without touching the database (so the admin page can preview it as it is typed); `create_venue` saves a
plan. Every section labels its rows A, B, C... as theatres do (skipping I and O), so a row range such as
A-C means the first three rows of every section.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import sqlalchemy as sa

from .. import seat_geometry as geometry
from ..clock import utcnow
from ..errors import BoxOfficeError
from ..extensions import db
from ..models import Event, Seat, SeatCategory, SeatRow, Section, Venue
from ..pagination import Page, paginate
from .unit_of_work import unit_of_work

MAX_SECTIONS = 8
MAX_ROWS_PER_SECTION = 30
MAX_SEATS_PER_ROW = 60
# Both end seats of a row become wheelchair spaces, each with a companion seat beside it.
MIN_SEATS_FOR_WHEELCHAIR_ROW = 4
ARRANGEMENTS = {"stacked": "One behind the other (stalls, circle, balcony)",
                "side_by_side": "Side by side (left, centre, right blocks)",
                "terraces": "Stalls with a terrace on either side, the rest behind"}
ROW_SHAPES = {"straight": "Straight rows", "curved": "Curved rows, facing the stage"}
ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

VENUE_REFUSALS = {"uq_venues_name_city": "There is already a venue of that name in that city."}


def row_labels(count: int) -> list[str]:
    """The labels of a section's rows, front first: A to Z without I and O, then AA, BB, ..."""
    return [ROW_LETTERS[i % len(ROW_LETTERS)] * (i // len(ROW_LETTERS) + 1) for i in range(count)]


@dataclass(frozen=True)
class LayoutRequest:
    """What the admin asks for. `category_rows` gives each category its row ranges, as (first, last)
    labels; rows in no range get `other_rows_category`. `wheelchair_rows` are row ranges too: both end
    seats of those rows are wheelchair spaces."""

    section_names: Sequence[str]
    rows_per_section: int
    seats_per_row: int
    category_rows: Mapping[int, Sequence[tuple[str, str]]]
    other_rows_category: int
    wheelchair_rows: Sequence[tuple[str, str]] = ()
    arrangement: str = "stacked"
    row_shape: str = "straight"


@dataclass(frozen=True)
class SeatPlan:
    number: int
    category_id: int
    is_wheelchair: bool
    is_companion: bool
    map_x: int
    map_y: int


def _kind(seat: SeatPlan) -> str:
    return "wheelchair" if seat.is_wheelchair else "companion" if seat.is_companion else "seat"


@dataclass(frozen=True)
class SeatRun:
    """The seats of one row of one category and kind ('seat', 'wheelchair' or 'companion'), in seat order. The
    map draws a run as one element with a mark at each of its points (an SVG marker), so the 20,000-seat
    arena is about a thousand elements, not 20,000 (and its page is read with one row per run)."""

    category_id: int
    kind: str
    points: tuple[tuple[int, int], ...]

    @property
    def points_text(self) -> str:
        """The points as an SVG polyline's `points` (a single seat twice: a polyline needs two)."""
        points = self.points if len(self.points) > 1 else self.points * 2
        return " ".join(f"{x},{y}" for x, y in points)


@dataclass(frozen=True)
class RowPlan:
    label: str
    seats: tuple[SeatPlan, ...]
    label_x: int = 0
    label_y: int = 0
    # A saved venue's row as its runs only (saved_plan): no SeatPlan per seat.
    summary: tuple[SeatRun, ...] = ()

    @cached_property
    def runs(self) -> tuple[SeatRun, ...]:
        if self.summary:
            return self.summary
        grouped: dict[tuple[int, str], list[tuple[int, int]]] = {}
        for seat in self.seats:
            grouped.setdefault((seat.category_id, _kind(seat)), []).append((seat.map_x, seat.map_y))
        return tuple(SeatRun(category_id, kind, tuple(points)) for (category_id, kind), points in grouped.items())


@dataclass(frozen=True)
class SectionPlan:
    name: str
    map_x: int
    map_y: int
    map_width: int
    map_height: int
    rows: tuple[RowPlan, ...]
    outline: str = ""
    label_x: int = 0
    label_y: int = 0

    @property
    def seats(self) -> list[SeatPlan]:
        return [seat for row in self.rows for seat in row.seats]


@dataclass(frozen=True)
class VenuePlan:
    sections: tuple[SectionPlan, ...]
    width: int
    height: int
    stage: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def seats(self) -> list[SeatPlan]:
        return [seat for section in self.sections for seat in section.seats]

    # The figures are added up from the rows' runs, which a saved plan has without a SeatPlan per seat.
    @cached_property
    def _runs(self) -> list[SeatRun]:
        return [run for section in self.sections for row in section.rows for run in row.runs]

    @property
    def capacity(self) -> int:
        return sum(len(run.points) for run in self._runs)

    @property
    def seats_by_category(self) -> dict[int, int]:
        counts: Counter[int] = Counter()
        for run in self._runs:
            counts[run.category_id] += len(run.points)
        return dict(sorted(counts.items()))

    @property
    def wheelchair_spaces(self) -> int:
        return sum(len(run.points) for run in self._runs if run.kind == "wheelchair")

    @property
    def companion_seats(self) -> int:
        return sum(len(run.points) for run in self._runs if run.kind == "companion")


def _rows_in(ranges: Sequence[tuple[str, str]], labels: list[str]) -> list[str]:
    """The labels of the rows in `ranges` ((first, last) pairs, both ends included)."""
    position = {label: index for index, label in enumerate(labels)}
    rows = []
    for first, last in ranges:
        for label in (first, last):
            if label not in position:
                raise BoxOfficeError(f"There is no row {label}: each section has rows {labels[0]} to {labels[-1]}.")
        if position[last] < position[first]:
            raise BoxOfficeError(f"The row range {first}-{last} runs backwards; write it as {last}-{first}.")
        rows.extend(labels[position[first]:position[last] + 1])
    return rows


def _category_of_rows(request: LayoutRequest, labels: list[str]) -> dict[str, int]:
    category_of: dict[str, int] = {}
    for category_id, ranges in request.category_rows.items():
        for label in _rows_in(ranges, labels):
            if category_of.setdefault(label, category_id) != category_id:
                raise BoxOfficeError(f"Row {label} is given two seat categories.")
    return {label: category_of.get(label, request.other_rows_category) for label in labels}


def _placed(count: int, arrangement: str, rows: list[int], row_shape: str) -> geometry.PlacedVenue:
    """Every section's seats, outline and labels, and the stage, for `count` equal sections."""
    shape = geometry.shape(rows, row_shape)
    if arrangement == "side_by_side":
        placed, stage = geometry.place_tiers([[shape] * count])
    elif arrangement == "terraces" and count >= 3:
        # The first section in front of the stage, the next two beside it, the rest behind.
        left, right = geometry.shape(rows, "left"), geometry.shape(rows, "right")
        placed, stage = geometry.place_tiers([[left, shape, right]] + [[shape]] * (count - 3))
        placed = [placed[1], placed[0], placed[2], *placed[3:]]
    else:
        placed, stage = geometry.place_tiers([[shape]] * count)
    return geometry.normalised(placed, stage)


def plan_layout(request: LayoutRequest) -> VenuePlan:
    """Work out every section, row and seat of a layout, with categories, wheelchair and companion seats
    and map coordinates. Reads nothing and writes nothing. Raises BoxOfficeError when the request does
    not make a layout (too big, unknown rows, a row in two categories...)."""
    names = [name.strip() for name in request.section_names if name.strip()]
    if not 1 <= len(names) <= MAX_SECTIONS:
        raise BoxOfficeError(f"A venue has from 1 to {MAX_SECTIONS} sections.")
    if len({name.casefold() for name in names}) != len(names):
        raise BoxOfficeError("Give every section a different name.")
    if not 1 <= request.rows_per_section <= MAX_ROWS_PER_SECTION:
        raise BoxOfficeError(f"A section has from 1 to {MAX_ROWS_PER_SECTION} rows.")
    if not 1 <= request.seats_per_row <= MAX_SEATS_PER_ROW:
        raise BoxOfficeError(f"A row has from 1 to {MAX_SEATS_PER_ROW} seats.")
    if request.arrangement not in ARRANGEMENTS:
        raise BoxOfficeError("Choose how the sections are arranged.")
    if request.arrangement == "terraces" and len(names) < 3:
        raise BoxOfficeError("Stalls with terraces need three sections or more: the stalls, then each terrace.")
    if request.row_shape not in ROW_SHAPES:
        raise BoxOfficeError("Choose straight or curved rows.")
    labels = row_labels(request.rows_per_section)
    category_of = _category_of_rows(request, labels)
    wheelchair_rows = set(_rows_in(request.wheelchair_rows, labels))
    if wheelchair_rows and request.seats_per_row < MIN_SEATS_FOR_WHEELCHAIR_ROW:
        raise BoxOfficeError(f"Wheelchair spaces with a companion seat need rows of at least "
                             f"{MIN_SEATS_FOR_WHEELCHAIR_ROW} seats.")

    n = request.seats_per_row
    venue = _placed(len(names), request.arrangement, [n] * request.rows_per_section, request.row_shape)
    sections = []
    for name, placed in zip(names, venue.sections):
        rows = []
        for label, placed_row in zip(labels, placed.rows):
            accessible = label in wheelchair_rows
            rows.append(RowPlan(label, tuple(
                SeatPlan(number, category_of[label],
                         is_wheelchair=accessible and number in (1, n),
                         is_companion=accessible and number in (2, n - 1),
                         map_x=x, map_y=y)
                for number, (x, y) in enumerate(placed_row.seats, start=1)), *placed_row.label))
        sections.append(SectionPlan(name, *placed.box, tuple(rows), placed.outline, *placed.label))
    return VenuePlan(tuple(sections), venue.width, venue.height, venue.stage)


def create_venue(name: str, city: str, address: str, plan: VenuePlan) -> int:
    """Save a venue with its layout: the venue and its capacity, sections, rows and seats, in one
    transaction. Returns the venue's id. Raises DuplicateRecord if the city already has a venue of that
    name."""
    with unit_of_work(messages=VENUE_REFUSALS):
        stage_x, stage_y, stage_width, stage_height = plan.stage
        venue = Venue(name=name, city=city, address=address, capacity=plan.capacity, map_width=plan.width,
                      map_height=plan.height, stage_x=stage_x, stage_y=stage_y, stage_width=stage_width,
                      stage_height=stage_height)
        db.session.add(venue)
        db.session.flush()
        seats = []
        for order, section_plan in enumerate(plan.sections, start=1):
            section = Section(venue_id=venue.venue_id, name=section_plan.name, sort_order=order,
                              map_x=section_plan.map_x, map_y=section_plan.map_y,
                              map_width=section_plan.map_width, map_height=section_plan.map_height,
                              outline=section_plan.outline, label_x=section_plan.label_x,
                              label_y=section_plan.label_y)
            db.session.add(section)
            db.session.flush()
            for row_order, row_plan in enumerate(section_plan.rows, start=1):
                row = SeatRow(section_id=section.section_id, label=row_plan.label, sort_order=row_order,
                              label_x=row_plan.label_x, label_y=row_plan.label_y)
                db.session.add(row)
                db.session.flush()
                seats.extend({"venue_id": venue.venue_id, "section_id": section.section_id, "row_id": row.row_id,
                              "seat_number": seat.number, "category_id": seat.category_id,
                              "is_wheelchair": seat.is_wheelchair, "is_companion": seat.is_companion,
                              "map_x": seat.map_x, "map_y": seat.map_y} for seat in row_plan.seats)
        db.session.execute(sa.insert(Seat), seats)
    return venue.venue_id


def saved_plan(venue_id: int) -> VenuePlan:
    """A saved venue's layout as a plan (for its map), read from its sections, rows and seats. A venue saved
    before its map had a stage and labels gets them by the rule of boxoffice/seat_geometry.py.

    The seats are read as runs (SeatRun): one row of the result per row of seats, category and kind, its
    points put together by the database. Read seat by seat, the arena's 20,000 rows took most of a second
    to arrive and to turn into objects, and as many SVG elements to render. (A run's points fit MySQL's
    default group_concat_max_len of 1,024 bytes: at most MAX_SEATS_PER_ROW seats of a few digits each.)"""
    venue_row = db.session.get(Venue, venue_id)
    sections = db.session.scalars(sa.select(Section).where(Section.venue_id == venue_id)
                                  .order_by(Section.sort_order)).all()
    kind = sa.case((Seat.is_wheelchair.is_(True), "wheelchair"), (Seat.is_companion.is_(True), "companion"),
                   else_="seat").label("kind")
    runs = db.session.execute(
        sa.select(Seat.section_id, SeatRow.label, SeatRow.label_x, SeatRow.label_y, Seat.category_id, kind,
                  sa.func.min(Seat.seat_number).label("first_number"), sa.func.max(Seat.seat_number).label("last_number"),
                  sa.func.group_concat(sa.text("seats.map_x, ',', seats.map_y ORDER BY seats.seat_number SEPARATOR ' '"))
                  .label("points"))
        .join(SeatRow, SeatRow.row_id == Seat.row_id)
        .where(Seat.venue_id == venue_id)
        .group_by(Seat.section_id, SeatRow.row_id, SeatRow.label, SeatRow.label_x, SeatRow.label_y,
                  SeatRow.sort_order, Seat.category_id, kind)
        .order_by(Seat.section_id, SeatRow.sort_order, sa.text("first_number"))).all()
    rows_of: dict[int, dict[str, list]] = {section.section_id: {} for section in sections}
    all_points: list[tuple[int, int]] = []
    for run in runs:
        points = tuple(tuple(int(v) for v in point.split(",")) for point in run.points.split(" "))
        all_points.extend(points)
        rows_of[run.section_id].setdefault(run.label, [run.label_x, run.label_y, []])[2].append(
            (run.first_number, run.last_number, SeatRun(run.category_id, run.kind, points)))

    def row_plan(label: str, label_x: int, label_y: int, row: list[tuple[int, int, SeatRun]]) -> RowPlan:
        if not (label_x or label_y):
            # The label goes by the row's first and last seats, as for a plan made seat by seat.
            first = min(row, key=lambda found: found[0])[2].points[0]
            last = max(row, key=lambda found: found[1])[2].points[-1]
            label_x, label_y = (round(v) for v in geometry.row_label_point(first, last))
        return RowPlan(label, (), label_x, label_y, tuple(found[2] for found in row))

    plans = tuple(SectionPlan(s.name, s.map_x, s.map_y, s.map_width, s.map_height,
                              tuple(row_plan(label, *found) for label, found in rows_of[s.section_id].items()),
                              s.outline, s.label_x, s.label_y)
                  for s in sections)
    if venue_row is not None and venue_row.stage_width:
        stage = (venue_row.stage_x, venue_row.stage_y, venue_row.stage_width, venue_row.stage_height)
    else:
        stage = tuple(round(v) for v in geometry.derived_stage(all_points or [(0, 0)]))
    width = max([s.map_x + s.map_width for s in plans] + [stage[0] + stage[2], venue_row.map_width if venue_row else 0])
    height = max([s.map_y + s.map_height for s in plans] + [stage[1] + stage[3], venue_row.map_height if venue_row else 0])
    return VenuePlan(plans, width, height, stage)


def seat_categories() -> list[SeatCategory]:
    """Every seat category, best first."""
    return list(db.session.scalars(sa.select(SeatCategory).order_by(SeatCategory.rank)))


@dataclass(frozen=True)
class VenueListing:
    venue: Venue
    sections: int
    upcoming_events: int


def list_venues(page: int, per_page: int) -> Page[VenueListing]:
    """Venues by city and name, with their number of sections and of events still to come."""
    sections = (sa.select(sa.func.count()).where(Section.venue_id == Venue.venue_id)
                .correlate(Venue).scalar_subquery())
    upcoming = (sa.select(sa.func.count()).where(Event.venue_id == Venue.venue_id, Event.status != "cancelled",
                                                 Event.starts_at > utcnow())
                .correlate(Venue).scalar_subquery())
    query = sa.select(Venue, sections, upcoming).order_by(Venue.city, Venue.name, Venue.venue_id)
    return paginate(query, page, per_page, lambda row: VenueListing(*row))


def venue(venue_id: int) -> Venue | None:
    """The venue with this id, or None."""
    return db.session.get(Venue, venue_id)
