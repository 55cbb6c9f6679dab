"""Ten anonymous sessions pressing seats at the same moment from one network address: together they hold no
more than the address's cap (HOLD_SEATS_PER_ADDRESS), and the address's rate limit holds across them. Real
requests through the seat map's view, each session in a thread of its own, committing for real.

The control shows the race is real: the same ten sessions from ten addresses are ten buyers, and hold ten
times as many seats (what one buyer with ten sessions did before the caps, issue 11)."""
from __future__ import annotations

import secrets

import pytest

from boxoffice import rate_limits
from tests.builders import committed, make_event, make_venue, rows
from tests.concurrency.harness import at_once

pytestmark = pytest.mark.concurrency

SESSIONS = 10
CLICKS = 10
CAP = 10
ADDRESS_CAP = 25


@pytest.fixture
def seat_map(app, monkeypatch):
    # The sessions post like browsers without JavaScript; the CSRF check is tested elsewhere.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    monkeypatch.setattr(rate_limits, "_storage_down_until", 0.0)
    return app


def press_seats_at_once(app, event, addresses: list[str]) -> list:
    """Session i (at addresses[i]) presses the ten seats of row i, one after another, all sessions at once.
    Returns every answer's status code."""

    def prepare(i):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = addresses[i]
        return client

    def act(i, client):
        return [client.post(f"/events/{event.event_id}/seats",
                            data={"seat": event.venue.seats[i * CLICKS + k].seat_id}).status_code
                for k in range(CLICKS)]

    outcomes = at_once(app, SESSIONS, act, prepare=prepare)
    failed = [o for o in outcomes if not o.ok]
    assert not failed, failed[0].trace
    return [status for o in outcomes for status in o.value]


def held(c, event) -> int:
    return rows(c, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'", e=event.event_id)[0][0]


def an_address() -> str:
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def test_ten_sessions_at_one_address_hold_no_more_than_its_cap(seat_map, owner_engine, monkeypatch):
    monkeypatch.setitem(seat_map.config, "HOLD_SEATS_PER_ADDRESS", ADDRESS_CAP)
    with committed(owner_engine) as c:
        event = make_event(c, make_venue(c, rows=SESSIONS, seats_per_row=CLICKS), max_seats_per_order=CAP)
        answers = press_seats_at_once(seat_map, event, [an_address()] * SESSIONS)
        assert set(answers) == {302}, "every press is answered with the seat map, none with an error"
        assert held(c, event) == ADDRESS_CAP


def test_control_ten_buyers_hold_ten_times_as_many(seat_map, owner_engine):
    with committed(owner_engine) as c:
        event = make_event(c, make_venue(c, rows=SESSIONS, seats_per_row=CLICKS), max_seats_per_order=CAP)
        press_seats_at_once(seat_map, event, [an_address() for _ in range(SESSIONS)])
        assert held(c, event) == SESSIONS * CLICKS


def test_an_addresss_rate_limit_holds_across_sessions_pressing_at_once(seat_map, owner_engine, monkeypatch):
    monkeypatch.setitem(seat_map.config, "HOLD_RATE_LIMITS_ENABLED", True)
    monkeypatch.setitem(seat_map.config, "HOLD_RATE_LIMIT_SESSION", "100 per minute")
    monkeypatch.setitem(seat_map.config, "HOLD_RATE_LIMIT_ADDRESS", "6 per minute")
    with committed(owner_engine) as c:
        event = make_event(c, make_venue(c, rows=SESSIONS, seats_per_row=CLICKS), max_seats_per_order=50)
        answers = press_seats_at_once(seat_map, event, [an_address()] * SESSIONS)
        assert set(answers) == {302}
        assert held(c, event) == 6
