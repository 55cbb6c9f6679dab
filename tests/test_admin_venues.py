"""The venue layout generator: the plan it works out (a pure function), its live preview, and saving a venue
with its sections, rows, seats and capacity in one transaction."""
from __future__ import annotations

import itertools
import math
import re
from collections import Counter

import pytest

from boxoffice.errors import BoxOfficeError, DuplicateRecord
from boxoffice.services import venues
from boxoffice.services.venues import LayoutRequest, plan_layout
from tests.admin_support import HX
from tests.builders import ECONOMY, PREMIUM, RESTRICTED, STANDARD, rows


def layout(**changes) -> LayoutRequest:
    request = {"section_names": ["Stalls", "Circle"], "rows_per_section": 10, "seats_per_row": 12,
               "category_rows": {PREMIUM: [("A", "C")], ECONOMY: [("J", "K")]}, "other_rows_category": STANDARD,
               "wheelchair_rows": [("H", "H")], "arrangement": "stacked"}
    return LayoutRequest(**{**request, **changes})


def test_a_plan_has_sections_times_rows_times_seats():
    plan = plan_layout(layout(section_names=["Left", "Centre", "Right"], rows_per_section=4, seats_per_row=7,
                              category_rows={}, wheelchair_rows=[]))
    assert plan.capacity == 3 * 4 * 7
    assert [s.name for s in plan.sections] == ["Left", "Centre", "Right"]
    assert [[row.label for row in s.rows] for s in plan.sections] == [["A", "B", "C", "D"]] * 3
    assert {len(row.seats) for s in plan.sections for row in s.rows} == {7}
    assert [seat.number for seat in plan.sections[0].rows[0].seats] == list(range(1, 8))


def test_rows_skip_i_and_o_and_double_their_letters_after_z():
    assert venues.row_labels(10) == ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K"]
    assert venues.row_labels(26)[-3:] == ["Z", "AA", "BB"]


def test_categories_follow_the_row_ranges_in_every_section_and_other_rows_get_the_default():
    plan = plan_layout(layout())
    for section in plan.sections:
        by_row = {row.label: {seat.category_id for seat in row.seats} for row in section.rows}
        assert by_row == {"A": {PREMIUM}, "B": {PREMIUM}, "C": {PREMIUM}, "D": {STANDARD}, "E": {STANDARD},
                          "F": {STANDARD}, "G": {STANDARD}, "H": {STANDARD}, "J": {ECONOMY}, "K": {ECONOMY}}
    assert plan.seats_by_category == {PREMIUM: 72, STANDARD: 120, ECONOMY: 48}


def test_wheelchair_rows_have_a_space_at_each_end_with_a_companion_seat_beside_it():
    plan = plan_layout(layout(wheelchair_rows=[("H", "J")]))
    for section in plan.sections:
        for row in section.rows:
            wheelchair = [seat.number for seat in row.seats if seat.is_wheelchair]
            companion = [seat.number for seat in row.seats if seat.is_companion]
            if row.label in ("H", "J"):
                assert (wheelchair, companion) == ([1, 12], [2, 11])
            else:
                assert (wheelchair, companion) == ([], [])
    assert (plan.wheelchair_spaces, plan.companion_seats) == (8, 8)


@pytest.mark.parametrize("row_shape", venues.ROW_SHAPES)
def test_map_coordinates_put_every_seat_inside_its_sections_box_below_the_stage(row_shape):
    for arrangement in venues.ARRANGEMENTS:
        plan = plan_layout(layout(arrangement=arrangement, row_shape=row_shape,
                                  section_names=["Stalls", "Left", "Right", "Circle"]))
        stage_x, stage_y, stage_width, stage_height = plan.stage
        for section in plan.sections:
            assert section.map_y >= stage_y + stage_height
            for seat in section.seats:
                assert section.map_x <= seat.map_x < section.map_x + section.map_width
                assert section.map_y <= seat.map_y < section.map_y + section.map_height
        centres = [(seat.map_x, seat.map_y) for seat in plan.seats]
        assert min(math.dist(a, b) for a, b in itertools.combinations(centres, 2)) >= 8, "no two seats overlap"
        boxes = [(s.map_x, s.map_y) for s in plan.sections]
        assert len(set(boxes)) == len(boxes)
    stacked, side = plan_layout(layout()), plan_layout(layout(arrangement="side_by_side"))
    assert stacked.height > side.height and side.width > stacked.width


def test_terraces_stand_left_and_right_of_the_stalls_with_their_rows_facing_the_middle():
    plan = plan_layout(layout(arrangement="terraces", section_names=["Stalls", "Left", "Right", "Circle"]))
    stalls, left, right, circle = plan.sections
    assert left.map_x + left.map_width <= stalls.map_x and stalls.map_x + stalls.map_width <= right.map_x
    assert circle.map_y >= stalls.map_y + stalls.map_height
    # A terrace's rows run from the stage backwards: seat 1 is nearest the stage; row A nearest the stalls.
    assert left.rows[0].seats[0].map_y < left.rows[0].seats[-1].map_y
    assert left.rows[0].seats[0].map_x > left.rows[-1].seats[0].map_x
    assert right.rows[0].seats[0].map_x < right.rows[-1].seats[0].map_x


def test_curved_rows_bend_their_ends_towards_the_stage():
    row = plan_layout(layout(row_shape="curved")).sections[0].rows[0].seats
    middle = row[len(row) // 2]
    assert row[0].map_y < middle.map_y and row[-1].map_y < middle.map_y


@pytest.mark.parametrize("changes, message", [
    ({"category_rows": {PREMIUM: [("A", "D")], STANDARD: [("D", "E")]}}, "Row D is given two seat categories."),
    ({"category_rows": {PREMIUM: [("A", "Z")]}}, "There is no row Z: each section has rows A to K."),
    ({"category_rows": {PREMIUM: [("C", "A")]}}, "runs backwards"),
    ({"wheelchair_rows": [("Q", "Q")]}, "There is no row Q"),
    ({"seats_per_row": 3}, "at least 4 seats"),
    ({"section_names": ["Stalls", "stalls"]}, "different name"),
    ({"section_names": [" ", ""]}, "from 1 to 8 sections"),
    ({"rows_per_section": 31}, "from 1 to 30 rows"),
])
def test_a_layout_that_does_not_make_sense_is_refused_with_the_reason(changes, message):
    with pytest.raises(BoxOfficeError, match=re.escape(message)):
        plan_layout(layout(**changes))


def test_saving_a_plan_writes_the_venue_its_sections_rows_and_seats(db_session):
    plan = plan_layout(layout())
    venue_id = venues.create_venue("The Foundry", "Leeds", "1 Kiln Yard", plan)
    assert rows(db_session, "SELECT name, capacity FROM venues WHERE venue_id = :v", v=venue_id) == [
        ("The Foundry", 240)]
    assert rows(db_session, "SELECT name, map_width, map_height FROM sections WHERE venue_id = :v ORDER BY sort_order",
                v=venue_id) == [("Stalls", 134, 122), ("Circle", 134, 122)]
    assert rows(db_session, """SELECT COUNT(*) FROM seat_rows r JOIN sections s ON s.section_id = r.section_id
                                WHERE s.venue_id = :v""", v=venue_id) == [(20,)]
    seats = rows(db_session, "SELECT category_id, is_wheelchair, is_companion FROM seats WHERE venue_id = :v",
                 v=venue_id)
    assert Counter(category for category, _, _ in seats) == {PREMIUM: 72, STANDARD: 120, ECONOMY: 48}
    assert (sum(w for _, w, _ in seats), sum(c for _, _, c in seats)) == (4, 4)
    assert drawn(venues.saved_plan(venue_id)) == drawn(plan), "the saved layout reads back as the plan it was made from"


def test_a_second_venue_of_the_same_name_in_the_same_city_is_refused_and_nothing_is_left(db_session):
    plan = plan_layout(layout())
    venues.create_venue("The Foundry", "Leeds", "1 Kiln Yard", plan)
    before = rows(db_session, "SELECT COUNT(*) FROM seats")
    with pytest.raises(DuplicateRecord, match="already a venue of that name in that city"):
        venues.create_venue("The Foundry", "Leeds", "2 Other Street", plan)
    assert rows(db_session, "SELECT COUNT(*) FROM seats") == before


def venue_form(**changes) -> dict:
    form = {"name": "The Foundry", "city": "Leeds", "address": "1 Kiln Yard", "sections": "Stalls, Circle",
            "arrangement": "stacked", "rows_per_section": "10", "seats_per_row": "12",
            f"rows_{PREMIUM}": "A-C", f"rows_{STANDARD}": "D-H", f"rows_{ECONOMY}": "J-K", f"rows_{RESTRICTED}": "",
            "other_rows_category": str(STANDARD), "wheelchair_rows": "H"}
    return {**form, **changes}


def drawn(plan: venues.VenuePlan) -> tuple:
    """What a plan's map shows: its size and stage, and each section's box, name and rows with their label and
    runs of seats (a saved plan has no seat-by-seat list, only the runs)."""
    return (plan.width, plan.height, plan.stage, plan.capacity, plan.seats_by_category, plan.wheelchair_spaces,
            plan.companion_seats,
            [(s.name, s.map_x, s.map_y, s.map_width, s.map_height, s.outline, s.label_x, s.label_y,
              [(row.label, row.label_x, row.label_y, row.runs) for row in s.rows]) for s in plan.sections])


def test_the_live_preview_returns_only_the_map_of_what_was_typed(admin_client, forms):
    response = forms.post("/admin/venues/new", venue_form(name="", seats_per_row="20"), headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<form" not in html
    assert "400 seats" in html and "Wheelchair spaces: 4" in html and "Companion seats: 4" in html
    # One mark per seat along each run of a row (a polyline with markers), two rows with a space at each end.
    marks = {kind: sum(len(points.split()) for points in re.findall(rf'class="seat-plan__{kind}" points="([^"]*)"', html))
             for kind in ("wheelchair", "companion", "seat")}
    assert marks == {"wheelchair": 4, "companion": 4, "seat": 392}


def test_the_preview_explains_a_layout_it_cannot_draw(admin_client, forms):
    html = forms.post("/admin/venues/new", venue_form(**{f"rows_{ECONOMY}": "H-K"}), headers=HX).get_data(as_text=True)
    assert "Row H is given two seat categories." in html and "<svg" not in html
    html = forms.post("/admin/venues/new", venue_form(**{f"rows_{ECONOMY}": "J to K"}),
                      headers=HX).get_data(as_text=True)
    assert "Write rows as ranges like A-C, F" in html


def test_without_javascript_the_preview_button_shows_the_whole_page_with_the_map(admin_client, forms):
    response = forms.post("/admin/venues/new", venue_form(action="preview", seats_per_row="15"))
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<form" in html and "300 seats" in html
    assert 'value="15"' in html and 'value="The Foundry"' in html


def test_saving_from_the_page_creates_the_venue_and_shows_its_map(admin_client, forms, db_session):
    response = forms.post("/admin/venues/new", venue_form(action="save"))
    assert response.status_code == 302
    venue_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert rows(db_session, "SELECT capacity FROM venues WHERE venue_id = :v", v=venue_id) == [(240,)]
    html = admin_client.get(f"/admin/venues/{venue_id}").get_data(as_text=True)
    assert "has been saved with 240 seats" in html and "Premium: 72" in html
    assert "The Foundry" in admin_client.get("/admin/venues").get_data(as_text=True)


def test_saving_needs_the_venues_name_and_a_layout_that_works(admin_client, forms, db_session):
    response = forms.post("/admin/venues/new", venue_form(action="save", name="", wheelchair_rows="Z"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "There is no row Z" in html and "This field is required." in html
    assert rows(db_session, "SELECT COUNT(*) FROM venues WHERE city = 'Leeds'") == [(0,)]


def test_the_suggested_row_ranges_follow_the_rows_per_section(admin_client, forms):
    """Five rows instead of ten: the suggested ranges (A-C, D-H, J-K, wheelchair H) become A-B, C-D, E and D,
    in the preview's map and in the form (swapped in place), instead of "There is no row J"."""
    response = forms.post("/admin/venues/new", venue_form(name="", rows_per_section="5", seats_per_row="10",
                                                         **{f"rows_{PREMIUM}": "A-C", f"rows_{STANDARD}": "D-H",
                                                            f"rows_{ECONOMY}": "J-K", "wheelchair_rows": "H"}),
                          headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "There is no row" not in html
    assert "100 seats" in html and "Wheelchair spaces: 4" in html
    assert 'id="category-rows" hx-swap-oob="true"' in html
    for name, value in ((f"rows_{PREMIUM}", "A-B"), (f"rows_{STANDARD}", "C-D"), (f"rows_{ECONOMY}", "E"),
                        ("wheelchair_rows", "D")):
        assert re.search(rf'name="{name}" type="text" value="{value}"', html), name


def test_row_ranges_the_admin_typed_are_left_as_they_are(admin_client, forms):
    response = forms.post("/admin/venues/new", venue_form(name="", rows_per_section="5",
                                                         **{f"rows_{PREMIUM}": "A", f"rows_{STANDARD}": "B-E",
                                                            f"rows_{ECONOMY}": "", "wheelchair_rows": "E"}),
                          headers=HX)
    html = response.get_data(as_text=True)
    assert "hx-swap-oob" not in html and "Wheelchair spaces: 4" in html
