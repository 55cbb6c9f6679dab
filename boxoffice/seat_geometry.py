"""Where a venue's seats, sections, row labels and stage go on its map.

One home for the geometry of both layout generators (the admin's, boxoffice/services/venues.py, and the
demo data's, boxoffice/demo_data.py). Map units: seats SEAT_PITCH apart in a row, rows ROW_PITCH apart;
every seat's (x, y) is its centre; the stage is at the top of the map and y grows away from it.

A section is first laid out in its own frame (its front row's middle at the origin) in one of four shapes:
`straight` rows facing the stage, `curved` rows (arcs around a point behind the stage, the ends of each row
closer to the stage), and the side terraces `left` and `right` of the stalls, whose rows run from the stage
backwards and face the middle of the hall. Sections are then placed by their boxes: in tiers from the
stage backwards (the first tier's middle section in front of the stage, terraces beside it, circles and
balconies behind), or around an arena floor (`ring`). Nothing here reads or writes the database.

Venues saved before their map had a stage and labels (revision 0007) have zeros there: `derived_stage`
and `row_label_point` give the rule the seat map then follows.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SEAT_PITCH = 10
ROW_PITCH = 12
PAD = 7            # from a seat's centre to its section's outline
GAP = 26           # between section outlines
MARGIN = 24        # around the whole map
STAGE_DEPTH = 40
STAGE_GAP = 30     # between the stage and the first tier
SHAPES = ("straight", "curved", "left", "right")
# The front row of a curved section lies on a circle of this many seat pitches; the rows behind it on
# concentric circles a row pitch further out each.
CURVE_RADIUS = 32 * SEAT_PITCH

Point = tuple[float, float]


@dataclass(frozen=True)
class Shape:
    """A section in its own frame: each row's seat centres, front row first, seat 1 first."""

    rows: tuple[tuple[Point, ...], ...]

    @property
    def box(self) -> tuple[float, float, float, float]:
        xs = [x for row in self.rows for x, _ in row]
        ys = [y for row in self.rows for _, y in row]
        return min(xs) - PAD, min(ys) - PAD, max(xs) + PAD, max(ys) + PAD


def shape(row_seats: Sequence[int], kind: str = "straight") -> Shape:
    """Lay out a section of rows of `row_seats` seats (front row first) in the shape `kind`."""
    if kind not in SHAPES:
        raise ValueError(f"unknown section shape {kind!r}")
    rows = []
    for r, count in enumerate(row_seats):
        middle = (count - 1) / 2
        if kind == "straight":
            row = [((i - middle) * SEAT_PITCH, r * ROW_PITCH) for i in range(count)]
        elif kind == "curved":
            radius = CURVE_RADIUS + r * ROW_PITCH
            row = []
            for i in range(count):
                angle = (i - middle) * SEAT_PITCH / radius
                row.append((radius * math.sin(angle), radius * math.cos(angle) - CURVE_RADIUS))
        else:
            # A side terrace: seat 1 nearest the stage, the front row nearest the middle of the hall.
            outward = -1 if kind == "left" else 1
            row = [(outward * r * ROW_PITCH, i * SEAT_PITCH) for i in range(count)]
        rows.append(tuple(row))
    return Shape(tuple(rows))


@dataclass(frozen=True)
class PlacedRow:
    seats: tuple[tuple[int, int], ...]
    label: tuple[int, int]


@dataclass(frozen=True)
class PlacedSection:
    rows: tuple[PlacedRow, ...]
    box: tuple[int, int, int, int]        # x, y, width, height
    outline: str                          # SVG polygon points, "x,y x,y ..."
    label: tuple[int, int]                # where its name is written


@dataclass(frozen=True)
class PlacedVenue:
    sections: tuple[PlacedSection, ...]
    stage: tuple[int, int, int, int]      # x, y, width, height
    width: int
    height: int


def _unit(dx: float, dy: float, fallback: Point) -> Point:
    length = math.hypot(dx, dy)
    return (dx / length, dy / length) if length > 1e-9 else fallback


def _outline(rows: Sequence[Sequence[Point]]) -> list[Point]:
    """A polygon hugging a section: down the rows' first seats, back up their last seats, PAD outside."""
    lefts, rights = [], []
    for row in rows:
        d = _unit(row[-1][0] - row[0][0], row[-1][1] - row[0][1], (1.0, 0.0))
        lefts.append((row[0][0] - d[0] * PAD, row[0][1] - d[1] * PAD))
        rights.append((row[-1][0] + d[0] * PAD, row[-1][1] + d[1] * PAD))
    first, last = rows[0], rows[-1]

    def centre(row):
        return sum(x for x, _ in row) / len(row), sum(y for _, y in row) / len(row)

    d0 = _unit(first[-1][0] - first[0][0], first[-1][1] - first[0][1], (1.0, 0.0))
    (fx, fy), (lx, ly) = centre(first), centre(last)
    # Towards the front: from the back row to the front row, or square to a lone row, towards the stage.
    n = _unit(fx - lx, fy - ly, (d0[1], -d0[0]) if d0[1] <= 0 else (-d0[1], d0[0]))

    def edge(row: Sequence[Point], outward: float) -> list[Point]:
        """Points PAD outside a row's seats (towards the stage for the front row, away for the back), with
        the row's own bend: every few seats, each moved square to the row where it is."""
        step = max(1, len(row) // 16)
        picked = list(range(0, len(row), step))
        if picked[-1] != len(row) - 1:
            picked.append(len(row) - 1)
        points = []
        for i in picked:
            a, b = row[max(0, i - 1)], row[min(len(row) - 1, i + 1)]
            d = _unit(b[0] - a[0], b[1] - a[1], d0)
            normal = (-d[1], d[0]) if (-d[1]) * n[0] + d[0] * n[1] >= 0 else (d[1], -d[0])
            end = -PAD if i == 0 else PAD if i == len(row) - 1 else 0
            points.append((row[i][0] + d[0] * end + normal[0] * PAD * outward,
                           row[i][1] + d[1] * end + normal[1] * PAD * outward))
        return points

    front = edge(first, 1)
    back = edge(last, -1)
    return [*front[:1], *lefts[1:-1], *back, *reversed(rights[1:-1]), *reversed(front[1:])]


def _place(section: Shape, dx: float, dy: float) -> PlacedSection:
    rows = [[(x + dx, y + dy) for x, y in row] for row in section.rows]
    placed_rows = []
    for row in rows:
        d = _unit(row[-1][0] - row[0][0], row[-1][1] - row[0][1], (1.0, 0.0))
        label = (row[0][0] - d[0] * SEAT_PITCH, row[0][1] - d[1] * SEAT_PITCH)
        placed_rows.append(PlacedRow(tuple((round(x), round(y)) for x, y in row), (round(label[0]), round(label[1]))))
    x0, y0, x1, y1 = section.box
    x0, y0, x1, y1 = x0 + dx, y0 + dy, x1 + dx, y1 + dy
    # Row labels sit just outside the seats; the box takes them in too.
    x0 = min(x0, *(r.label[0] - PAD for r in placed_rows))
    y0 = min(y0, *(r.label[1] - PAD for r in placed_rows))
    outline = " ".join(f"{round(x)},{round(y)}" for x, y in _outline(rows))
    return PlacedSection(tuple(placed_rows), (round(x0), round(y0), round(x1 - x0), round(y1 - y0)), outline,
                         (round((x0 + x1) / 2), round(y1 + 11)))


def _box_of(shape_: Shape) -> tuple[float, float, float, float]:
    """The shape's box with room for its row labels (left of, or above, each row's first seat)."""
    x0, y0, x1, y1 = shape_.box
    probe = _place(shape_, 0, 0)
    return (min(x0, *(r.label[0] - PAD for r in probe.rows)), min(y0, *(r.label[1] - PAD for r in probe.rows)),
            x1, y1 + 16)


def place_tiers(tiers: Sequence[Sequence[Shape]]) -> tuple[list[PlacedSection], tuple[int, int, int, int]]:
    """Tiers of sections from the stage backwards, each tier side by side and centred on the stage.
    Returns the placed sections (in the order given) and the stage."""
    boxes = [[_box_of(s) for s in tier] for tier in tiers]
    widths = [sum(b[2] - b[0] for b in tier) + GAP * (len(tier) - 1) for tier in boxes]
    axis = max(widths) / 2
    first = boxes[0]
    main = max(first, key=lambda b: b[2] - b[0])
    stage_width = max(60.0, (main[2] - main[0]) * 0.7)
    placed, y = [], STAGE_DEPTH + STAGE_GAP
    for tier, tier_boxes, width in zip(tiers, boxes, widths):
        x = axis - width / 2
        for s, (x0, y0, x1, y1) in zip(tier, tier_boxes):
            placed.append(_place(s, x - x0, y - y0))
            x += x1 - x0 + GAP
        y += max(b[3] - b[1] for b in tier_boxes) + GAP
    return placed, (round(axis - stage_width / 2), 0, round(stage_width), STAGE_DEPTH)


def place_arena(floor: Sequence[Shape], floor_columns: int, rings: Sequence[tuple[Sequence[Shape], Sequence[Shape],
                Sequence[Shape]]]) -> tuple[list[PlacedSection], tuple[int, int, int, int]]:
    """An arena: the stage at one end, floor sections in a grid of `floor_columns` in front of it, then
    rings of stands around the floor, each ring (left terraces, back, right terraces): the terraces in a
    column down each side from the stage end, the back ones along the far end. Returns the placed sections
    (floor first, then each ring's left, back and right) and the stage."""
    placed: list[PlacedSection] = []
    boxes = [_box_of(s) for s in floor]
    cell_w = max(b[2] - b[0] for b in boxes)
    cell_h = max(b[3] - b[1] for b in boxes)
    # An arena's stage is a big one: twice as deep as a theatre's.
    stage_depth = 2 * STAGE_DEPTH
    top = stage_depth + STAGE_GAP
    for index, (s, (x0, y0, x1, y1)) in enumerate(zip(floor, boxes)):
        col, row = index % floor_columns, index // floor_columns
        placed.append(_place(s, col * (cell_w + GAP) + (cell_w - (x1 - x0)) / 2 - x0, top + row * (cell_h + GAP) - y0))
    rows_of_floor = math.ceil(len(floor) / floor_columns)
    inner = [0.0, top, floor_columns * (cell_w + GAP) - GAP, top + rows_of_floor * (cell_h + GAP) - GAP]
    stage_width = inner[2] * 0.6
    stage = (inner[2] / 2 - stage_width / 2, 0.0, stage_width, float(stage_depth))
    for left, back, right in rings:
        lb, rb, bb = [_box_of(s) for s in left], [_box_of(s) for s in right], [_box_of(s) for s in back]
        x_left = inner[0] - GAP - max(b[2] - b[0] for b in lb)
        x_right = inner[2] + GAP
        bottoms = []
        for column, column_boxes, x in ((left, lb, x_left), (right, rb, x_right)):
            y = inner[1]
            for s, (x0, y0, x1, y1) in zip(column, column_boxes):
                placed.append(_place(s, x - x0 if column is right else x + (max(b[2] - b[0] for b in lb) - (x1 - x0)) - x0,
                                     y - y0))
                y += y1 - y0 + GAP
            bottoms.append(y)
        back_y = max(inner[3] + GAP, *bottoms)
        width = sum(b[2] - b[0] for b in bb) + GAP * (len(bb) - 1)
        x = (inner[0] + inner[2]) / 2 - width / 2
        for s, (x0, y0, x1, y1) in zip(back, bb):
            placed.append(_place(s, x - x0, back_y - y0))
            x += x1 - x0 + GAP
        inner = [min(x_left, (inner[0] + inner[2]) / 2 - width / 2), inner[1],
                 max(x_right + max(b[2] - b[0] for b in rb), (inner[0] + inner[2]) / 2 + width / 2),
                 back_y + max(b[3] - b[1] for b in bb)]
    # The order the sections were given in: floor, then each ring's left, back, right.
    ordered, cursor = placed[:len(floor)], len(floor)
    for left, back, right in rings:
        lefts = placed[cursor:cursor + len(left)]
        rights = placed[cursor + len(left):cursor + len(left) + len(right)]
        backs = placed[cursor + len(left) + len(right):cursor + len(left) + len(right) + len(back)]
        ordered += lefts + backs + rights
        cursor += len(left) + len(right) + len(back)
    return ordered, tuple(round(v) for v in stage)


def normalised(sections: Sequence[PlacedSection], stage: tuple[int, int, int, int]) -> PlacedVenue:
    """The venue moved so that everything lies MARGIN or more inside positive coordinates."""
    xs = [stage[0]] + [s.box[0] for s in sections]
    ys = [stage[1]] + [s.box[1] for s in sections]
    dx, dy = MARGIN - min(xs), MARGIN - min(ys)

    def moved_outline(points: str) -> str:
        return " ".join(f"{int(p.split(',')[0]) + dx},{int(p.split(',')[1]) + dy}" for p in points.split())

    moved = tuple(PlacedSection(
        tuple(PlacedRow(tuple((x + dx, y + dy) for x, y in r.seats), (r.label[0] + dx, r.label[1] + dy)) for r in s.rows),
        (s.box[0] + dx, s.box[1] + dy, s.box[2], s.box[3]), moved_outline(s.outline),
        (s.label[0] + dx, s.label[1] + dy)) for s in sections)
    width = max([stage[0] + dx + stage[2]] + [s.box[0] + s.box[2] for s in moved]) + MARGIN
    height = max([stage[1] + dy + stage[3]] + [s.box[1] + s.box[3] for s in moved]) + MARGIN
    return PlacedVenue(moved, (stage[0] + dx, stage[1] + dy, stage[2], stage[3]), width, height)


def derived_stage(seat_points: Sequence[Point]) -> tuple[float, float, float, float]:
    """The stage of a venue saved without one: across the middle 70 % of the seats' width, STAGE_GAP in
    front of the front-most seat (the map grows upwards to make room)."""
    xs = [x for x, _ in seat_points]
    ys = [y for _, y in seat_points]
    width = max(60.0, (max(xs) - min(xs)) * 0.7)
    middle = (max(xs) + min(xs)) / 2
    return middle - width / 2, min(ys) - PAD - STAGE_GAP - STAGE_DEPTH, width, float(STAGE_DEPTH)


def row_label_point(first: Point, last: Point) -> Point:
    """Where a row's label goes when the venue has none saved: a seat pitch before its first seat."""
    d = _unit(last[0] - first[0], last[1] - first[1], (1.0, 0.0))
    return first[0] - d[0] * SEAT_PITCH, first[1] - d[1] * SEAT_PITCH
