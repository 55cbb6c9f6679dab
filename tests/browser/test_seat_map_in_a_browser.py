"""The seat map in real Chromium: every demo venue drawn as it is and fitted to a laptop and a phone, zoom
that keeps the seat with focus in view, the grid and its live region as a screen reader gets them, a
keyboard-only purchase, the arena's plan opening a section in place, event states, and an axe-core scan of
all of it. Each test builds and commits its own data (cleaned up after)."""
from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from boxoffice.demo_data import VENUE_PLANS
from boxoffice.services.seatmap import LARGE_VENUE_SEATS
from tests.browser import scenario
from tests.browser.shopping import GOOD_CARD, seat, sign_in
from tests.builders import (ECONOMY, PREMIUM, RESTRICTED, STANDARD, Event, Seat, Venue, _run, hold_seats,
                            make_event, rows, sell_seats)

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
CATEGORY_IDS = {"Premium": PREMIUM, "Standard": STANDARD, "Economy": ECONOMY, "Restricted view": RESTRICTED}
PRICES = {PREMIUM: Decimal("80.00"), STANDARD: Decimal("50.00"), ECONOMY: Decimal("30.00"),
          RESTRICTED: Decimal("20.00")}


def demo_venue(c, key: str) -> Venue:
    """One of the demo data's venues (boxoffice/demo_data.py), laid out by the same generator, in bulk."""
    plan = VENUE_PLANS[key]
    blocks, placed = plan.layout()
    capacity = sum(sum(b.row_seats) for b in blocks)
    venue_id = _run(c, """INSERT INTO venues (name, city, address, capacity, map_width, map_height, stage_x, stage_y,
                                              stage_width, stage_height)
                          VALUES (:name, 'Testville', '1 Test Street', :capacity, :w, :h, :sx, :sy, :sw, :sh)""",
                    {"name": f"{plan.name} {time.monotonic_ns() % 10**9}", "capacity": capacity, "w": placed.width,
                     "h": placed.height, "sx": placed.stage[0], "sy": placed.stage[1], "sw": placed.stage[2],
                     "sh": placed.stage[3]}).lastrowid
    seat_rows = []
    for order, (block, section) in enumerate(zip(blocks, placed.sections), start=1):
        section_id = _run(c, """INSERT INTO sections (venue_id, name, sort_order, map_x, map_y, map_width, map_height,
                                                      outline, label_x, label_y)
                                VALUES (:v, :name, :o, :x, :y, :w, :h, :outline, :lx, :ly)""",
                          {"v": venue_id, "name": block.name, "o": order, "x": section.box[0], "y": section.box[1],
                           "w": section.box[2], "h": section.box[3], "outline": section.outline,
                           "lx": section.label[0], "ly": section.label[1]}).lastrowid
        for number, (row, category) in enumerate(zip(section.rows, block.row_categories), start=1):
            row_id = _run(c, """INSERT INTO seat_rows (section_id, label, sort_order, label_x, label_y)
                                VALUES (:s, :label, :o, :lx, :ly)""",
                          {"s": section_id, "label": block.row_label(number), "o": number, "lx": row.label[0],
                           "ly": row.label[1]}).lastrowid
            seat_rows += [{"v": venue_id, "s": section_id, "r": row_id, "n": n, "c": CATEGORY_IDS[category],
                           "x": x, "y": y} for n, (x, y) in enumerate(row.seats, start=1)]
    for start in range(0, len(seat_rows), 4000):
        _run(c, """INSERT INTO seats (venue_id, section_id, row_id, seat_number, category_id, map_x, map_y)
                   VALUES (:v, :s, :r, :n, :c, :x, :y)""", seat_rows[start:start + 4000])
    seats = _run(c, """SELECT s.seat_id, CONCAT(r.label, s.seat_number), s.section_id, s.category_id
                         FROM seats s JOIN seat_rows r ON r.row_id = s.row_id WHERE s.venue_id = :v
                        ORDER BY s.seat_id""", {"v": venue_id})
    return Venue(venue_id, plan.name, tuple(Seat(*row) for row in seats))


def demo_event(c, key: str, **options) -> Event:
    venue = demo_venue(c, key)
    return make_event(c, venue, prices={category: PRICES[category] for category in venue.categories}, **options)


@pytest.fixture
def new_page(browser) -> Iterator[Callable[[str], Page]]:
    """Opens pages at a size of SIZES, each closed at the test's end, passed or failed: a page left open goes
    on asking the live server for seat changes during later tests."""
    contexts = []

    def open_page(size: str) -> Page:
        phone = size == "phone"
        context = browser.new_context(viewport=SIZES[size], is_mobile=phone, has_touch=phone)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def overflow(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


# Every seat's box, the map's box and the stage's box, as the screen shows them.
MEASURE = """() => {
  const box = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  return {
    viewport: box(document.querySelector('.seat-map')),
    stage: box(document.querySelector('.seat-plan-map__stage')),
    seats: Array.from(document.querySelectorAll('.seat-grid .seat')).map(box),
    sections: Array.from(document.querySelectorAll('.seat-plan-map__section')).map(box),
  };
}"""


def _inside(inner, outer, slack: float = 0.5) -> bool:
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack and inner[2] <= outer[2] + slack
            and inner[3] <= outer[3] + slack)


def _overlapping(boxes) -> int:
    """How many pairs of seats overlap on screen (neighbours in a sweep along x)."""
    found = 0
    ordered = sorted(boxes)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b[0] >= a[2] - 0.01:
                break
            if b[1] < a[3] - 0.01 and a[1] < b[3] - 0.01:
                found += 1
    return found


def _check_fitted(page: Page, where: str) -> dict:
    measured = page.evaluate(MEASURE)
    viewport, seats = measured["viewport"], measured["seats"]
    outside = [b for b in seats + measured["sections"] + [measured["stage"]] if not _inside(b, viewport)]
    assert not outside, f"{where}: {len(outside)} seats or sections outside the map's box after fit"
    assert _overlapping(seats) == 0, f"{where}: seats overlap"
    assert overflow(page) <= 0, f"{where}: the page scrolls sideways"
    return measured


@pytest.mark.parametrize("key", ["cellar", "studio", "chapel", "lyric", "meridian", "pavilion", "arena"])
def test_every_demo_venue_fits_a_laptop_and_a_phone_with_the_stage_in_front(new_page, live_server, committed_db, key):
    event = demo_event(committed_db, key)
    for size in SIZES:
        page = new_page(size)
        page.goto(f"{live_server}/events/{event.event_id}")
        expect(page.locator(".seat-map.is-placed")).to_be_visible()
        measured = _check_fitted(page, f"{key} at {size}")
        # A venue of 5,000 seats or more opens on its plan of sections (the arena's test looks inside one).
        large = len(event.venue.seats) >= LARGE_VENUE_SEATS
        assert len(measured["seats"]) == (0 if large else len(event.venue.seats))
        drawn = measured["sections"] if large else measured["seats"]
        # The stage is where the layout puts it: in front of (above) everything, centred on the front tier.
        stage = measured["stage"]
        assert all(stage[3] <= seat[1] for seat in drawn), f"{key} at {size}: a seat is in front of the stage"
        front = min(seat[1] for seat in drawn)
        front_row = [s for s in drawn if s[1] - front < 40]
        middle = (min(s[0] for s in front_row) + max(s[2] for s in front_row)) / 2
        assert abs((stage[0] + stage[2]) / 2 - middle) < (stage[2] - stage[0]) / 2
        page.context.close()


def test_the_concert_halls_terraces_stand_left_and_right_of_the_stalls(page, live_server, committed_db):
    event = demo_event(committed_db, "meridian")
    page.goto(f"{live_server}/events/{event.event_id}")
    expect(page.locator(".seat-map.is-placed")).to_be_visible()

    def box(section: str):
        return page.evaluate("""name => {
          const seats = Array.from(document.querySelectorAll('.seat-grid .seat'))
            .filter(s => s.getAttribute('aria-label').startsWith(name + ','));
          const r = seats.map(s => s.getBoundingClientRect());
          return [Math.min(...r.map(b => b.left)), Math.min(...r.map(b => b.top)),
                  Math.max(...r.map(b => b.right)), Math.max(...r.map(b => b.bottom))];
        }""", section)
    left, stalls, right = box("Terrace Left"), box("Stalls"), box("Terrace Right")
    assert left[2] < stalls[0] and stalls[2] < right[0]
    assert left[1] < stalls[3] and right[1] < stalls[3], "the terraces are beside the stalls, not behind them"


@pytest.mark.parametrize("size", SIZES)
def test_zooming_changes_the_scale_and_keeps_the_seat_with_focus_in_view(new_page, live_server, committed_db, size):
    event = demo_event(committed_db, "lyric")
    page = new_page(size)
    page.goto(f"{live_server}/events/{event.event_id}")
    frame = page.locator("[data-seat-map]")
    expect(page.locator(".seat-map.is-placed")).to_be_visible()
    fitted = float(frame.get_attribute("data-scale"))
    chosen = seat(page, event, "M15")
    chosen.focus()
    page.get_by_role("button", name="Zoom in").click()
    assert float(frame.get_attribute("data-scale")) == pytest.approx(fitted * 2, rel=0.01)
    # Zoomed in all the way (a few presses), every seat is a target a finger can hit.
    for _ in range(6):
        before = float(frame.get_attribute("data-scale"))
        page.get_by_role("button", name="Zoom in").click()
        if float(frame.get_attribute("data-scale")) == before:
            break
    zoomed = float(frame.get_attribute("data-scale"))
    assert zoomed > fitted * 3
    viewport = page.locator(".seat-map").bounding_box()
    target = chosen.bounding_box()
    assert target["width"] >= 44, "a seat zoomed in is big enough to tap"
    assert _inside([target["x"], target["y"], target["x"] + target["width"], target["y"] + target["height"]],
                   [viewport["x"], viewport["y"], viewport["x"] + viewport["width"], viewport["y"] + viewport["height"]])
    page.get_by_role("button", name="Zoom out").click()
    assert float(frame.get_attribute("data-scale")) < zoomed
    page.get_by_role("button", name="Whole venue").click()
    assert float(frame.get_attribute("data-scale")) == pytest.approx(fitted, rel=0.01)
    # Arrow keys move the focus to seats out of view, and the map follows.
    chosen.focus()
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    chosen.focus()
    for _ in range(8):
        page.keyboard.press("ArrowDown")
    focused = page.locator(".seat:focus")
    expect(focused).to_have_attribute("aria-label", re.compile(r"^Stalls, row V,"))
    box = focused.bounding_box()
    assert viewport["y"] <= box["y"] and box["y"] + box["height"] <= viewport["y"] + viewport["height"]
    assert overflow(page) <= 0


def _box(locator) -> list[float]:
    b = locator.bounding_box()
    return [b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def zoomed_in_on_a_stalls_seat(page: Page, live_server: str, committed_db):
    """The Lyric's seat map zoomed in twice: the page, the map's box and seat M15 (mid-stalls)."""
    event = demo_event(committed_db, "lyric")
    page.goto(f"{live_server}/events/{event.event_id}")
    expect(page.locator(".seat-map.is-placed")).to_be_visible()
    for _ in range(2):
        page.get_by_role("button", name="Zoom in").click()
    page.locator(".seat-map").scroll_into_view_if_needed()
    return page, _box(page.locator(".seat-map")), seat(page, event, "M15")


def drag_seat_to(page: Page, chosen, viewport, x: float, y: float):
    """Drags the map from the middle of its box until the seat's centre is at (x, y); the seat's box then."""
    before = _box(chosen)
    middle = [(viewport[0] + viewport[2]) / 2, (viewport[1] + viewport[3]) / 2]
    page.mouse.move(*middle)
    page.mouse.down()
    page.mouse.move(middle[0] + x - (before[0] + before[2]) / 2, middle[1] + y - (before[1] + before[3]) / 2, steps=8)
    page.mouse.up()
    return _box(chosen)


@pytest.mark.parametrize("size", SIZES)
def test_zoomed_in_a_seat_in_the_corner_of_the_maps_box_is_pressed_where_it_shows(new_page, live_server, committed_db,
                                                                                  size):
    """The minimap lies under the map's box, never over it: a seat dragged into the box's far corner, where the
    minimap once lay over the seats, takes the press itself."""
    page, viewport, chosen = zoomed_in_on_a_stalls_seat(new_page(size), live_server, committed_db)
    expect(page.locator(".seat-map__minimap")).to_be_visible()
    # 30 px from the box's far corner: wholly inside the box, so that pressing it does not first bring it
    # into view.
    corner = drag_seat_to(page, chosen, viewport, viewport[2] - 30, viewport[3] - 30)
    assert [(corner[0] + corner[2]) / 2, (corner[1] + corner[3]) / 2] == pytest.approx(
        [viewport[2] - 30, viewport[3] - 30], abs=2), "the seat was dragged into the corner"
    assert chosen.evaluate("(seat, [x, y]) => seat.contains(document.elementFromPoint(x, y))",
                           [viewport[2] - 30, viewport[3] - 30]), "nothing lies over it"
    assert not _overlap(_box(page.locator(".seat-map__minimap")), viewport), "the minimap is off the map's box"

    chosen.click()
    expect(chosen).to_have_attribute("aria-pressed", "true")
    assert _box(chosen) == pytest.approx(corner, abs=1), "pressed where it showed (the view did not move)"
    assert overflow(page) <= 0


@pytest.mark.parametrize("size", SIZES)
def test_zoomed_in_a_seat_half_out_of_the_maps_box_is_held_by_one_press(new_page, live_server, committed_db, size):
    """Pressing a seat that straddles the box's edge holds it: the map does not jump to bring it into view
    under the pointer (it does so for the keyboard only)."""
    page, viewport, chosen = zoomed_in_on_a_stalls_seat(new_page(size), live_server, committed_db)
    # The seat's centre on the box's right edge: half of it shows.
    edge = drag_seat_to(page, chosen, viewport, viewport[2], (viewport[1] + viewport[3]) / 2)
    assert edge[0] < viewport[2] < edge[2], "the seat straddles the box's right edge"

    # The mouse presses the half that shows.
    page.mouse.click((edge[0] + viewport[2]) / 2, (edge[1] + edge[3]) / 2)

    expect(chosen).to_have_attribute("aria-pressed", "true")
    assert _box(chosen) == pytest.approx(edge, abs=1), "the view stayed where it was"


@pytest.mark.parametrize("size", SIZES)
def test_zoomed_in_a_minimap_shows_where_the_view_is_and_moves_it_by_pointer_and_keyboard(new_page, live_server,
                                                                                         committed_db, size):
    event = demo_event(committed_db, "lyric")
    page = new_page(size)
    page.goto(f"{live_server}/events/{event.event_id}")
    frame = page.locator("[data-seat-map]")
    expect(page.locator(".seat-map.is-placed")).to_be_visible()
    where = page.get_by_role("slider", name=re.compile(r"^Part of the venue in view"))
    expect(where).to_have_count(0)  # the whole venue shows: no minimap
    page.get_by_role("button", name="Zoom in").click()
    page.get_by_role("button", name="Zoom in").click()
    expect(where).to_be_visible()
    minimap, viewport = _box(page.locator(".seat-map__minimap")), _box(page.locator(".seat-map"))
    assert minimap[1] >= viewport[3] and minimap[2] == pytest.approx(viewport[2], abs=1), \
        "the minimap sits under the map's box, at its right"
    # Its frame is to the minimap what the box is to the whole venue drawn at this zoom.
    canvas_width = page.locator(".seat-map__canvas").evaluate("c => c.offsetWidth")
    shown = (viewport[2] - viewport[0]) / (canvas_width * float(frame.get_attribute("data-scale")))
    view = _box(where)
    assert (view[2] - view[0]) / (minimap[2] - minimap[0]) == pytest.approx(shown, rel=0.1)
    assert _inside(view, minimap, slack=2)
    expect(where).to_have_attribute("aria-valuetext",
                                    re.compile(r"^(Box A|Stalls|Box B|Dress Circle|Upper Circle)\b.* in view: .* of the venue$"))

    # The keyboard: Home to the middle of the venue, arrows move the view (and the frame with it); Tab leaves.
    where.focus()
    page.keyboard.press("Home")
    expect(where).to_have_attribute("aria-valuetext", re.compile(r"the middle of the venue$"))
    view, said = _box(where), where.get_attribute("aria-valuetext")
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    moved = _box(where)
    assert moved[0] < view[0], "the frame followed the view to the left"
    expect(where).not_to_have_attribute("aria-valuetext", said)
    expect(where).to_have_attribute("aria-valuetext", re.compile(r"left of the venue$"))
    page.keyboard.press("Home")
    assert _box(where)[0] == pytest.approx(view[0], abs=2)
    page.keyboard.press("Tab")
    assert page.evaluate("!document.activeElement.matches('[role=slider]')"), "Tab leaves the minimap"

    # The pointer: a press on the minimap where the last row's last seat is brings that seat into view.
    last = page.locator(".seat-grid .seat").last
    at = last.evaluate("""seat => {
      const cell = seat.closest('td'), minimap = document.querySelector('.seat-map__minimap');
      const k = minimap.clientWidth / document.querySelector('.seat-map__canvas').offsetWidth;
      return {x: parseFloat(cell.style.left) * k, y: parseFloat(cell.style.top) * k};
    }""")
    page.locator(".seat-map__minimap").click(position=at)
    assert _inside(_box(last), _box(page.locator(".seat-map"))), "the seat pressed on the minimap is in view"
    expect(where).to_have_attribute("aria-valuetext", re.compile(r"Upper Circle in view: back \w+ of the venue$"))
    assert overflow(page) <= 0


def test_the_map_is_one_tab_stop_and_a_grid_a_screen_reader_can_walk(page, live_server, committed_db):
    event = scenario.small_event(committed_db)
    sell_seats(committed_db, event, event.seat_ids("A1"))
    page.goto(f"{live_server}/events/{event.event_id}")
    grid = page.get_by_role("grid", name=re.compile(r"^Seats"))
    expect(grid).to_be_attached()  # a box of no size of its own: its cells are placed on the map
    expect(grid.get_by_role("row")).to_have_count(4)
    expect(grid.get_by_role("row", name="Stalls, row B")).to_have_count(1)
    expect(grid.get_by_role("gridcell")).to_have_count(40)
    expect(grid.get_by_role("button", name="Stalls, row A, seat 1, Premium, €64.00, sold")).to_have_attribute(
        "aria-disabled", "true")
    # One Tab stop: the first free seat; the next Tab leaves the map.
    expect(page.locator('.seat-grid .seat[tabindex="0"]')).to_have_count(1)
    first_free = seat(page, event, "A2")
    first_free.focus()
    page.keyboard.press("End")
    expect(seat(page, event, "A10")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(seat(page, event, "B10")).to_be_focused()
    page.keyboard.press("Home")
    expect(seat(page, event, "B1")).to_be_focused()
    page.keyboard.press("PageDown")
    expect(seat(page, event, "D1")).to_be_focused()
    page.keyboard.press("Control+Home")
    expect(seat(page, event, "A1")).to_be_focused()
    page.keyboard.press("Control+End")
    expect(seat(page, event, "D10")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("!document.activeElement.closest('.seat-grid')"), "Tab leaves the grid"
    page.keyboard.press("Shift+Tab")
    expect(seat(page, event, "D10")).to_be_focused()
    # Someone else takes the seat with focus: the poll redraws it, and the focus stays on it.
    hold_seats(committed_db, event, event.seat_ids("D10"))
    expect(seat(page, event, "D10")).to_have_class(re.compile(r"\bseat--held\b"), timeout=5_000)
    expect(seat(page, event, "D10")).to_be_focused()


def _announced(page: Page):
    return page.locator("#seat-announcer")


def test_one_polite_live_region_says_holds_releases_refusals_and_the_last_two_minutes(page, live_server,
                                                                                          committed_db):
    event = scenario.small_event(committed_db)
    sell_seats(committed_db, event, event.seat_ids("A1"))
    page.goto(f"{live_server}/events/{event.event_id}")
    region = _announced(page)
    expect(region).to_have_attribute("aria-live", "polite")
    region.evaluate("el => { window.__region = el; }")
    expect(page.locator("[aria-live]")).to_have_count(1)

    seat(page, event, "B3").click()
    expect(region).to_have_text("Stalls, row B, seat 3 held for you. 1 seat in your basket.")
    expect(seat(page, event, "B3")).to_be_focused()
    seat(page, event, "B3").press("Enter")
    expect(region).to_have_text("Stalls, row B, seat 3 given back.")
    seat(page, event, "A1").click(force=True)  # aria-disabled, yet it answers
    expect(region).to_have_text("Stalls, row A, seat 1 is sold.")

    # A refusal from the box office: a seat sold a moment ago, which the map still shows free.
    _run(committed_db, """UPDATE event_seats SET state = 'sold', version = version + 1
                           WHERE event_id = :e AND seat_id = :s""", {"e": event.event_id, "s": event.seat_ids("C4")[0]})
    seat(page, event, "C4").click()
    expect(region).to_have_text("Sorry, Stalls row C seat 4 has already been sold.")

    seat(page, event, "B8").click()
    expect(region).to_have_text(re.compile(r"held for you"))
    page.get_by_role("button", name="Release all seats").click()
    expect(region).to_have_text("Your seats have been released.")
    expect(page.locator("#seat-picker-status")).to_be_focused()

    # The hold about to run out: said once, two minutes before.
    seat(page, event, "B8").click()
    expect(region).to_have_text(re.compile(r"held for you"))
    _run(committed_db, """UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 119 SECOND
                           WHERE event_id = :e AND state = 'held'""", {"e": event.event_id})
    page.reload()
    expect(_announced(page)).to_have_text("2 minutes left on your hold.", timeout=5_000)
    assert page.evaluate("document.getElementById('seat-announcer') !== null")


def test_the_live_region_is_never_replaced(page, live_server, committed_db):
    event = scenario.small_event(committed_db)
    page.goto(f"{live_server}/events/{event.event_id}")
    page.evaluate("window.__region = document.getElementById('seat-announcer')")
    seat(page, event, "B3").click()
    expect(_announced(page)).to_have_text(re.compile("held for you"))
    page.get_by_role("button", name="Find seats").click()
    expect(_announced(page)).to_have_text(re.compile(r"^We found"))
    assert page.evaluate("window.__region === document.getElementById('seat-announcer')")


def test_a_keyboard_only_purchase_takes_at_most_40_key_presses(page, live_server, committed_db):
    event = demo_event(committed_db, "studio", title=f"Keyboard Night {time.monotonic_ns() % 10**8}")
    buyer = scenario.buyers(committed_db).regular
    sign_in(page, live_server, buyer, next_path=f"/?q={event.title.replace(' ', '+')}")
    presses = 0

    def press(key: str, times: int = 1, new_page: bool = False) -> None:
        nonlocal presses
        for _ in range(times):
            page.keyboard.press(key)
            presses += 1
            page.wait_for_load_state()
            if new_page:  # a new page starts with the focus at its top, as a browser's does
                continue
            try:
                focused = page.evaluate("document.activeElement && document.activeElement !== document.body")
            except PlaywrightError:  # a press that followed a link: the new page has not started yet
                continue
            assert focused, f"focus was lost after {key}"

    def type_text(text: str) -> None:
        # Typing a field's value counts as one key press per field, as a password manager or autofill would.
        nonlocal presses
        page.keyboard.type(text)
        presses += 1

    def tab_to(locator, most: int = 25) -> None:
        for _ in range(most):
            press("Tab")
            if locator.evaluate("el => el === document.activeElement"):
                return
        pytest.fail(f"Tab never reached {locator}")

    # The skip links: past the site's header to the page, then past the filters to the events.
    tab_to(page.get_by_role("link", name="Skip to content"))
    press("Enter")
    tab_to(page.get_by_role("link", name="Skip to the events"))
    press("Enter")
    tab_to(page.get_by_role("link", name=event.title))
    press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text(event.title)
    tab_to(page.get_by_role("link", name="Skip to content"))
    press("Enter")
    tab_to(page.get_by_role("link", name="Skip to your seats"))
    press("Enter")
    active = page.locator(".seat-grid .seat:focus")
    expect(active).to_have_count(1)
    press("Enter")
    expect(page.locator("#cart .cart__seats li")).to_have_count(1)
    press("ArrowRight")
    press("Enter")
    expect(page.locator("#cart .cart__seats li")).to_have_count(2)
    tab_to(page.get_by_role("link", name="Continue to checkout"))
    press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout")
    tab_to(page.get_by_label("New card"))
    press("Space")
    press("Tab")
    type_text("Ada Lovelace")
    press("Tab")
    type_text(GOOD_CARD)
    press("Tab")
    type_text("12")
    press("Tab")
    type_text("2035")
    press("Tab")
    type_text("123")
    tab_to(page.get_by_role("button", name=re.compile(r"^Pay\b")))
    press("Enter", new_page=True)
    expect(page).to_have_url(re.compile(r"/account/orders/[A-Z0-9]+\?new=1$"))
    assert presses <= 40, f"{presses} key presses"
    assert rows(committed_db, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event.event_id) == [(1,)]


def test_the_arena_opens_a_section_in_place_and_back_keeps_the_plan(new_page, live_server, committed_db):
    event = demo_event(committed_db, "arena")
    for size in SIZES:
        page = new_page(size)
        page.goto(f"{live_server}/events/{event.event_id}")
        plan = page.get_by_role("group", name=re.compile(r"^Plan of "))
        expect(plan).to_be_visible()
        links = plan.get_by_role("link")
        expect(links).to_have_count(40)
        names = [name.split(":")[0] for name in links.evaluate_all("ls => ls.map(l => l.getAttribute('aria-label'))")]
        assert names == ([f"Floor {x}" for x in "ABCD"] + [f"Block {n}" for n in range(101, 117)]
                         + [f"Block {n}" for n in range(201, 221)]), "sections in their real order"
        _check_fitted(page, f"arena plan at {size}")
        page.evaluate("window.__sameDocument = true")
        plan.get_by_role("link", name=re.compile(r"^Block 104:")).click()
        expect(page.locator(".seat-grid .seat").first).to_be_visible()
        assert page.evaluate("window.__sameDocument === true"), "choosing a section loaded a new page"
        expect(page).to_have_url(re.compile(r"\?section=\d+$"))
        measured = page.evaluate(MEASURE)
        assert len(measured["seats"]) == 18 * 28
        assert all(_inside(s, measured["viewport"]) for s in measured["seats"]), "the section fits its box"
        assert _overlapping(measured["seats"]) == 0
        page.go_back()
        expect(page).to_have_url(re.compile(rf"/events/{event.event_id}$"))
        expect(page.get_by_role("group", name=re.compile(r"^Plan of "))).to_be_visible()
        assert page.evaluate("window.__sameDocument === true"), "going back loaded a new page"
        assert overflow(page) <= 0
        page.context.close()


@pytest.mark.parametrize("state, banner, badge", [
    ("not_yet", re.compile(r"^Sales open on \w{3} \d\d \w{3} \d{4}, \d\d:\d\d\.$"), re.compile(r"^Sales open ")),
    ("sold_out", re.compile(r"^Sold out"), re.compile(r"^Sold out$")),
    ("past", re.compile(r"already taken place"), None),
    ("cancelled", re.compile(r"cancelled"), None),
])
def test_an_event_that_cannot_be_bought_says_why_and_its_map_is_read_only(page, live_server, committed_db, state,
                                                                          banner, badge):
    title = f"State {state} {time.monotonic_ns() % 10**8}"
    options = {"title": title}
    if state == "not_yet":
        options["sales_start"] = dt.datetime.utcnow().replace(microsecond=0) + dt.timedelta(days=3)
    event = scenario.small_event(committed_db, title=title) if state != "not_yet" else None
    if event is None:
        from tests.builders import make_venue
        venue = make_venue(committed_db, rows=4, seats_per_row=10)
        event = make_event(committed_db, venue, **options)
    if state == "sold_out":
        sell_seats(committed_db, event, event.seat_ids())
    elif state == "past":
        _run(committed_db, "UPDATE events SET starts_at = UTC_TIMESTAMP() - INTERVAL 300 DAY, sales_start = "
                           "UTC_TIMESTAMP() - INTERVAL 400 DAY, sales_end = UTC_TIMESTAMP() - INTERVAL 300 DAY "
                           "WHERE event_id = :e", {"e": event.event_id})
    elif state == "cancelled":
        _run(committed_db, "UPDATE events SET status = 'cancelled' WHERE event_id = :e", {"e": event.event_id})
    if badge:
        page.goto(f"{live_server}/?q={title.replace(' ', '+')}")
        expect(page.locator("#results .event-card .badge")).to_have_text(badge)
    page.goto(f"{live_server}/events/{event.event_id}")
    expect(page.locator(".event-banner")).to_have_text(banner)
    expect(page.get_by_role("button", name="Find seats")).to_have_count(0)
    expect(page.locator("form.seat-map")).to_have_count(0)
    # The map's script has placed the seats (and listens to them) before the press.
    expect(page.locator(".seat-map.is-placed")).to_be_visible()
    first = page.locator(".seat-grid .seat").first
    first.click(force=True)
    expect(_announced(page)).to_have_text(re.compile(r"^Stalls, row A, seat 1: "))
    assert rows(committed_db, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id) == [(0,)]


def test_the_catalogue_says_only_how_many_events_match(page, live_server, committed_db):
    token = f"Countme{time.monotonic_ns() % 10**8}"
    scenario.small_event(committed_db, title=f"{token} One")
    scenario.small_event(committed_db, title=f"{token} Two")
    page.goto(f"{live_server}/")
    expect(page.locator("#results")).not_to_have_attribute("aria-live", re.compile("."))
    page.get_by_label("Search").fill(token)
    expect(page.locator("#results-status")).to_have_text("2 upcoming events.")


def _serious(page: Page) -> list[dict]:
    page.add_script_tag(url="/__test__/axe.min.js")
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_axe_finds_nothing_serious_on_the_map_zoomed_the_arena_plan_and_every_state(new_page, live_server,
                                                                                      committed_db):
    event = demo_event(committed_db, "lyric")
    sell_seats(committed_db, event, event.seat_ids("A1", "A2"))
    arena = demo_event(committed_db, "arena")
    past = scenario.small_event(committed_db)
    _run(committed_db, "UPDATE events SET status = 'cancelled' WHERE event_id = :e", {"e": past.event_id})
    found = {}
    for size in SIZES:
        page = new_page(size)
        page.route("**/__test__/axe.min.js", lambda route: route.fulfill(path=AXE, content_type="text/javascript"))
        page.goto(f"{live_server}/events/{event.event_id}")
        found[f"map at {size}"] = _serious(page)
        page.get_by_role("button", name="Zoom in").click()
        page.get_by_role("button", name="Zoom in").click()
        found[f"map zoomed at {size}"] = _serious(page)
        page.goto(f"{live_server}/events/{arena.event_id}")
        found[f"arena plan at {size}"] = _serious(page)
        page.get_by_role("link", name=re.compile(r"^Block 201:")).first.click()
        expect(page.locator(".seat-grid .seat").first).to_be_visible()
        found[f"arena section at {size}"] = _serious(page)
        page.goto(f"{live_server}/events/{past.event_id}")
        found[f"cancelled at {size}"] = _serious(page)
        page.context.close()
    report = {name: [f"{v['id']}: {v['nodes'][0]['target']}" for v in violations]
              for name, violations in found.items() if violations}
    assert report == {}


def test_the_wheel_and_a_double_tap_zoom_where_they_point(new_page, live_server, committed_db):
    event = demo_event(committed_db, "lyric")
    laptop = new_page("laptop")
    laptop.goto(f"{live_server}/events/{event.event_id}")
    frame = laptop.locator("[data-seat-map]")
    expect(laptop.locator(".seat-map.is-placed")).to_be_visible()
    fitted = float(frame.get_attribute("data-scale"))
    laptop.locator(".seat-map").scroll_into_view_if_needed()
    box = laptop.locator(".seat-map").bounding_box()
    laptop.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    laptop.mouse.wheel(0, -400)
    expect(frame).not_to_have_attribute("data-scale", f"{fitted:.4f}")
    assert float(frame.get_attribute("data-scale")) > fitted
    assert overflow(laptop) <= 0

    phone = new_page("phone")
    phone.goto(f"{live_server}/events/{event.event_id}")
    frame = phone.locator("[data-seat-map]")
    expect(phone.locator(".seat-map.is-placed")).to_be_visible()
    fitted = float(frame.get_attribute("data-scale"))
    phone.locator(".seat-map").scroll_into_view_if_needed()
    box = phone.locator(".seat-map").bounding_box()
    # A tap on the stage (no seat there), twice.
    stage = phone.locator(".seat-plan-map__stage").bounding_box()
    x, y = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
    phone.touchscreen.tap(x, y)
    phone.touchscreen.tap(x, y)
    expect(frame).not_to_have_attribute("data-scale", f"{fitted:.4f}")
    assert float(frame.get_attribute("data-scale")) == pytest.approx(fitted * 2, rel=0.05)
    # A tap on seats too small for a finger zooms to them instead of holding one.
    phone.locator(".seat-map").get_by_role("button").first.wait_for()
    phone.get_by_role("button", name="Whole venue").click()
    target = seat(phone, event, "J10").bounding_box()
    phone.touchscreen.tap(target["x"] + target["width"] / 2, target["y"] + target["height"] / 2)
    assert seat(phone, event, "J10").bounding_box()["width"] >= 44
    assert rows(committed_db, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id) == [(0,)]
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and overflow(phone) <= 0
