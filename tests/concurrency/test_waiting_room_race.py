"""The on-sale waiting room under concurrency, against the real MariaDB: visitors joining at once each get a place
of their own in arrival order; early arrivals racing the opening's draw all get a place; many app servers
admitting at once let each place in once, in order, never faster than the rate; and seat clicks from
visitors without an admission hold nothing while admitted ones hold their seats. With a control showing that
admitting read-then-write, without the room's row lock, lets the same places in twice."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import sqlalchemy as sa

from boxoffice.extensions import db
from boxoffice.services import waiting_room
from tests.builders import committed, make_event, make_venue, now, rows
from tests.concurrency.harness import assert_no_faults, at_once

pytestmark = pytest.mark.concurrency


def room(c, *, opens_in: dt.timedelta, rate: int = 60, max_active: int | None = None, seats: int = 4):
    """A committed event with its queue on; its seats one a row (no seat is ever left alone between two)."""
    event = make_event(c, make_venue(c, rows=seats, seats_per_row=1))
    c.execute(sa.text("""INSERT INTO waiting_rooms (event_id, enabled, opens_at, admit_per_minute, max_active, credit_from)
                         VALUES (:e, TRUE, UTC_TIMESTAMP(3) + INTERVAL :us MICROSECOND, :rate, :max_active,
                                 UTC_TIMESTAMP(3) + INTERVAL :us MICROSECOND)"""),
              {"e": event.event_id, "us": int(opens_in.total_seconds() * 1_000_000), "rate": rate, "max_active": max_active})
    return event


def line(c, event) -> list[tuple]:
    """(position, visitor, joined_at, admitted_at) of everyone in line, by place."""
    return rows(c, """SELECT position, visitor_id, joined_at, admitted_at FROM waiting_room_visitors
                       WHERE event_id = :e ORDER BY position""", e=event.event_id)


def test_visitors_joining_at_once_each_get_a_place_of_their_own_in_arrival_order(app, owner_engine):
    with committed(owner_engine) as c:
        event = room(c, opens_in=-dt.timedelta(hours=1), rate=1)
        outcomes = at_once(app, 32, lambda client, _: waiting_room.join(event.event_id, waiting_room.new_visitor()))
        assert_no_faults(outcomes)
        found = line(c, event)
        assert [position for position, *_ in found] == list(range(1, 33)), "32 places, none shared, none skipped"
        joined = [joined_at for _, _, joined_at, _ in found]
        assert joined == sorted(joined), "places follow the order of arrival"


def test_early_arrivals_racing_the_opening_all_get_a_place(app, owner_engine):
    with committed(owner_engine) as c:
        for _ in range(3):
            event = room(c, opens_in=dt.timedelta(milliseconds=150), rate=1)

            def act(client, _):
                # Each client keeps arriving (new visitors) from before the opening until after it.
                for _ in range(6):
                    waiting_room.join(event.event_id, waiting_room.new_visitor())
                    time.sleep(0.04)

            assert_no_faults(at_once(app, 16, act))
            found = line(c, event)
            assert len(found) == 96
            assert [position for position, *_ in found] == list(range(1, 97)), \
                "every visitor has a place of their own, the early ones drawn, none left without"
            [(drawn,)] = rows(c, "SELECT drawn FROM waiting_rooms WHERE event_id = :e", e=event.event_id)
            assert drawn


def admit_for(event_id: int, seconds: float, pause: float = 0.005) -> int:
    """One app server's requests trying to let people in, again and again for `seconds`; how many it let in."""
    let_in = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        let_in += waiting_room.advance(event_id)
        time.sleep(pause)
    return let_in


def test_servers_admitting_at_once_let_each_place_in_once_in_order_at_the_rate(app, owner_engine):
    with committed(owner_engine) as c:
        rate = 600  # ten a second
        event = room(c, opens_in=dt.timedelta(hours=1), rate=rate)
        with app.app_context():
            for _ in range(120):
                waiting_room.join(event.event_id, waiting_room.new_visitor())
            db.session.remove()
        c.execute(sa.text("UPDATE waiting_rooms SET opens_at = UTC_TIMESTAMP(3), credit_from = UTC_TIMESTAMP(3) "
                          "WHERE event_id = :e"), {"e": event.event_id})
        [(opened,)] = rows(c, "SELECT opens_at FROM waiting_rooms WHERE event_id = :e", e=event.event_id)

        outcomes = at_once(app, 16, lambda client, _: admit_for(event.event_id, 2.5))
        assert_no_faults(outcomes)

        found = line(c, event)
        admitted = [(position, admitted_at) for position, _, _, admitted_at in found if admitted_at is not None]
        assert admitted, "somebody was let in"
        assert sum(o.value for o in outcomes) == len(admitted), "each place let in once"
        assert [position for position, _ in admitted] == list(range(1, len(admitted) + 1)), \
            "let in in the order of their places"
        times = [admitted_at for _, admitted_at in admitted]
        assert times == sorted(times)
        for count, admitted_at in enumerate(times, start=1):
            earned = (admitted_at - opened).total_seconds() * rate / 60
            assert count <= earned + 1, f"{count} let in {admitted_at - opened} after the opening: faster than the rate"
        [(through,)] = rows(c, "SELECT admitted_through FROM waiting_rooms WHERE event_id = :e", e=event.event_id)
        assert through == len(admitted)


def naive_advance(event_id: int, both_have_read: threading.Barrier) -> int:
    """Admitting done wrong: read where the line stands, then let people in, without the room's lock."""
    through, last = db.session.execute(sa.text(
        "SELECT admitted_through, last_position FROM waiting_rooms WHERE event_id = :e"), {"e": event_id}).one()
    both_have_read.wait(10)
    admitting = min(5, last - through)
    db.session.execute(sa.text("""UPDATE waiting_room_visitors SET admitted_at = UTC_TIMESTAMP(3)
                                   WHERE event_id = :e AND position > :t AND position <= :u"""),
                       {"e": event_id, "t": through, "u": through + admitting})
    db.session.execute(sa.text("UPDATE waiting_rooms SET admitted_through = :u WHERE event_id = :e"),
                       {"e": event_id, "u": through + admitting})
    db.session.commit()
    return admitting


def test_control_admitting_without_the_rooms_lock_lets_the_same_places_in_twice(app, owner_engine):
    with committed(owner_engine) as c:
        event = room(c, opens_in=dt.timedelta(hours=1))
        with app.app_context():
            for _ in range(20):
                waiting_room.join(event.event_id, waiting_room.new_visitor())
            db.session.remove()
        c.execute(sa.text("UPDATE waiting_rooms SET opens_at = UTC_TIMESTAMP(3) WHERE event_id = :e"),
                  {"e": event.event_id})
        with app.app_context():
            waiting_room.advance(event.event_id)  # the draw
            db.session.remove()
        barrier = threading.Barrier(2)
        outcomes = at_once(app, 2, lambda client, _: naive_advance(event.event_id, barrier))
        assert_no_faults(outcomes)
        let_in = len([row for row in line(c, event) if row[3] is not None])
        assert sum(o.value for o in outcomes) == 2 * let_in, "both let in the same five: the race is real"


def test_without_an_admission_seat_clicks_hold_nothing_while_admitted_buyers_hold_theirs(app, owner_engine,
                                                                                        monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)  # the gate is under test, not the CSRF check
    with committed(owner_engine) as c:
        event = room(c, opens_in=-dt.timedelta(hours=1), seats=16)
        seats = event.seat_ids()
        later = now() + dt.timedelta(minutes=20)

        def prepare(client):
            browser = app.test_client()
            visitor = waiting_room.new_visitor()
            browser.set_cookie("visitor", visitor)
            if client % 2 == 0:
                browser.set_cookie(f"admission_{event.event_id}",
                                   waiting_room.admission_token(event.event_id, visitor, later))
            return browser

        def act(client, browser):
            return browser.post(f"/events/{event.event_id}/seats", data={"seat": seats[client]}).status_code

        outcomes = at_once(app, 16, act, prepare=prepare)
        assert_no_faults(outcomes)
        assert [o.value for o in outcomes] == [302, 303] * 8, "admitted: back to the map; the others: to the queue"
        held = {seat for (seat,) in rows(c, "SELECT seat_id FROM event_seats WHERE event_id = :e AND state = 'held'",
                                         e=event.event_id)}
        assert held == {seats[i] for i in range(0, 16, 2)}, "only the admitted buyers' seats are held"
