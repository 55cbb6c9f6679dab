"""Seat geometry (boxoffice/seat_geometry.py): the demo venues as the generator lays them out, the rule for
venues saved without a stage, and where an event's sales stand (catalogue.sale_state)."""
from __future__ import annotations

import datetime as dt
import math

import pytest

from boxoffice import seat_geometry as geometry
from boxoffice.demo_data import VENUE_PLANS
from boxoffice.services import catalogue, seatmap
from tests.builders import make_event, make_venue, now, sell_seats


@pytest.mark.parametrize("key", VENUE_PLANS)
def test_every_demo_venue_has_its_seats_apart_inside_the_map_and_behind_the_stage(key):
    blocks, venue = VENUE_PLANS[key].layout()
    assert [len(s.rows) for s in venue.sections] == [len(b.row_seats) for b in blocks]
    seats = [seat for section in venue.sections for row in section.rows for seat in row.seats]
    assert len(seats) == sum(sum(b.row_seats) for b in blocks)
    stage_x, stage_y, stage_width, stage_height = venue.stage
    for x, y in seats:
        assert 0 < x < venue.width and stage_y + stage_height < y < venue.height < 65536
    for section in venue.sections:
        assert len(section.outline) <= 2000
        x, y, width, height = section.box
        assert all(x <= sx <= x + width and y <= sy <= y + height for row in section.rows for sx, sy in row.seats)
    # Neighbours at least 8 map units apart (a seat is drawn 8 units wide): checked cell by cell.
    cells: dict[tuple[int, int], list] = {}
    for point in seats:
        cells.setdefault((point[0] // 10, point[1] // 10), []).append(point)
    for (cx, cy), points in cells.items():
        near = [p for dx in (-1, 0, 1) for dy in (-1, 0, 1) for p in cells.get((cx + dx, cy + dy), [])]
        for p in points:
            assert all(q == p or math.dist(p, q) >= 8 for q in near), f"{key}: seats overlap at {p}"


def test_the_arena_keeps_its_sections_in_their_real_order():
    blocks, _ = VENUE_PLANS["arena"].layout()
    assert [b.name for b in blocks] == ([f"Floor {x}" for x in "ABCD"] + [f"Block {n}" for n in range(101, 117)]
                                        + [f"Block {n}" for n in range(201, 221)])


def test_side_terraces_face_the_middle_and_curved_rows_bend_towards_the_stage():
    left, right, curved = (geometry.shape([5, 5], kind) for kind in ("left", "right", "curved"))
    assert left.rows[1][0][0] < left.rows[0][0][0] and right.rows[1][0][0] > right.rows[0][0][0]
    assert left.rows[0][0][1] < left.rows[0][-1][1], "seat 1 is nearest the stage"
    front = curved.rows[0]
    assert front[0][1] < front[2][1] and front[-1][1] < front[2][1]


def test_a_venue_saved_without_geometry_gets_a_stage_in_front_of_its_seats(db_session):
    venue = make_venue(db_session, sections=2, rows=3, seats_per_row=6)
    event = make_event(db_session, venue)
    plan = seatmap.venue_plan(event.event_id)
    drawn = seatmap.seat_map(event.event_id, plan=plan)
    seats = [seat for section in drawn.sections for row in section.rows for seat in row.seats]
    stage_x, stage_y, stage_width, stage_height = plan.stage
    assert all(stage_y + stage_height < seat.y < plan.height and 0 < seat.x < plan.width for seat in seats)
    assert stage_x < sum(seat.x for seat in seats) / len(seats) < stage_x + stage_width
    assert len(plan.sections) == 2
    assert all(row.label_x < row.seats[0].x for section in drawn.sections for row in section.rows)


@pytest.mark.parametrize("change, kind", [
    ({}, "on_sale"),
    ({"status": "cancelled"}, "cancelled"),
    ({"starts_in": dt.timedelta(days=-2), "sales_start": now() - dt.timedelta(days=30),
      "sales_end": now() - dt.timedelta(days=2)}, "past"),
    ({"sales_start": now() + dt.timedelta(days=3)}, "not_yet"),
    ({"sales_end": now() - dt.timedelta(hours=1)}, "closed"),
])
def test_an_events_sale_state_says_whether_and_why_not(db_session, change, kind):
    event = make_event(db_session, make_venue(db_session), **change)
    found, _ = catalogue.event_for_sale(event.event_id)
    db_session.refresh(found)
    state = catalogue.sale_state(found)
    assert state.kind == kind and state.buyable == (kind == "on_sale")
    if kind == "not_yet":
        assert state.opens_at == event.sales_start


def test_a_sold_out_event_is_sold_out(db_session):
    event = make_event(db_session, make_venue(db_session))
    sell_seats(db_session, event, event.seat_ids())
    found, _ = catalogue.event_for_sale(event.event_id)
    db_session.refresh(found)
    assert catalogue.sale_state(found).kind == "sold_out"
