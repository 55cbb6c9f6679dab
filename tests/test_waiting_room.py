"""The on-sale waiting room: early arrivals drawn at random at the opening, later ones in arrival order; people
let in at the room's rate (or as buyers finish, with a cap on buyers at once), never while paused; the signed
admission bound to its event and visitor; and the gate: without an admission the event's page, seat clicks
and checkout lead to the queue, whatever the URL or form, while staff watch, pause and change the rate."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from boxoffice.services import waiting_room
from tests.builders import make_customer, make_event, make_venue, now, rows
from tests.admin_support import GOOD_CARD

EARLY = dt.timedelta(hours=1)


@pytest.fixture
def posting(app, monkeypatch):
    """Forms posted as a program would: what is under test is the queue's gate, not the CSRF check (which
    refuses a forged post before any view runs, tests/test_hardening.py)."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)


@pytest.fixture
def event(db_session):
    made = make_event(db_session, make_venue(db_session, rows=2, seats_per_row=5))
    db_session.commit()
    return made


def open_room(event, *, opens_in: dt.timedelta = -dt.timedelta(seconds=1), rate: int = 60,
              max_active: int | None = None) -> None:
    waiting_room.configure(event.event_id, waiting_room.RoomSettings(True, now() + opens_in, rate, max_active))


def open_now(db_session, event) -> None:
    """The opening time comes (moved into the past)."""
    db_session.execute(sa.text("UPDATE waiting_rooms SET opens_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
                               "WHERE event_id = :e"), {"e": event.event_id})


def earn(db_session, event, seconds: float) -> None:
    """`seconds` of admission credit have built up since the last admission."""
    db_session.execute(sa.text("UPDATE waiting_rooms SET credit_from = UTC_TIMESTAMP(3) - INTERVAL :us MICROSECOND "
                               "WHERE event_id = :e"), {"e": event.event_id, "us": int(seconds * 1_000_000) + 999})


def join(event, count: int) -> list[str]:
    visitors = [waiting_room.new_visitor() for _ in range(count)]
    for visitor in visitors:
        waiting_room.join(event.event_id, visitor)
    return visitors


def positions(db_session, event, visitors) -> list[int | None]:
    found = dict(rows(db_session, "SELECT visitor_id, position FROM waiting_room_visitors WHERE event_id = :e",
                      e=event.event_id))
    return [found[visitor] for visitor in visitors]


def admitted(db_session, event) -> list[int]:
    """The places let in, in order."""
    return [p for (p,) in rows(db_session, """SELECT position FROM waiting_room_visitors
                                               WHERE event_id = :e AND admitted_at IS NOT NULL ORDER BY position""",
                               e=event.event_id)]


# ---------------------------------------------------------------- the line

def test_visitors_who_arrive_before_the_opening_get_a_random_place_at_it(db_session, event):
    open_room(event, opens_in=EARLY)
    early = join(event, 40)
    assert {waiting_room.place(event.event_id, v).status for v in early} == {"early"}
    assert positions(db_session, event, early) == [None] * 40

    open_now(db_session, event)
    late = join(event, 3)

    drawn = positions(db_session, event, early)
    assert sorted(drawn) == list(range(1, 41)), "every early arrival has a place of their own"
    assert drawn != list(range(1, 41)), "the places are drawn, not given in arrival order (1 in 40! to fail)"
    assert positions(db_session, event, late) == [41, 42, 43], "later arrivals queue in arrival order"
    assert waiting_room.place(event.event_id, late[0]).position == 41 - len(admitted(db_session, event))


def test_joining_again_keeps_the_visitors_place(db_session, event):
    open_room(event)
    first, second = join(event, 2)
    waiting_room.join(event.event_id, first)
    assert positions(db_session, event, [first, second]) == [1, 2]


def test_a_room_that_is_off_takes_nobody_in_line(db_session, event):
    waiting_room.configure(event.event_id, waiting_room.RoomSettings(False, now(), 60))
    with pytest.raises(waiting_room.NoWaitingRoom):
        waiting_room.join(event.event_id, waiting_room.new_visitor())


# ---------------------------------------------------------------- letting people in

def test_the_room_lets_people_in_at_its_rate_in_the_order_of_their_places(db_session, event):
    open_room(event, opens_in=EARLY, rate=60)
    join(event, 30)
    open_now(db_session, event)
    earn(db_session, event, 0)
    assert waiting_room.advance(event.event_id) == 0, "no credit yet: nobody goes in"
    earn(db_session, event, 5)
    assert waiting_room.advance(event.event_id) == 5, "60 a minute: five in five seconds"
    assert waiting_room.advance(event.event_id) == 0, "the credit is spent"
    assert admitted(db_session, event) == [1, 2, 3, 4, 5]
    earn(db_session, event, 2)
    waiting_room.advance(event.event_id)
    assert admitted(db_session, event) == [1, 2, 3, 4, 5, 6, 7]


def test_credit_from_a_quiet_spell_is_never_a_burst(db_session, event):
    open_room(event, opens_in=EARLY, rate=60)
    join(event, 30)
    open_now(db_session, event)
    earn(db_session, event, 600)
    assert waiting_room.advance(event.event_id) == waiting_room.MAX_CREDIT.total_seconds(), "ten seconds' worth"


def test_someone_arriving_at_an_empty_line_goes_straight_in(db_session, event):
    open_room(event, opens_in=-EARLY, rate=1)
    [visitor] = join(event, 1)
    assert waiting_room.place(event.event_id, visitor).status == "admitted"
    [next_one] = join(event, 1)
    assert waiting_room.place(event.event_id, next_one).status == "waiting", "one a minute: the next one waits"


def test_a_paused_room_lets_nobody_in_and_gains_no_credit_meanwhile(db_session, event):
    open_room(event, opens_in=EARLY, rate=60)
    join(event, 10)
    open_now(db_session, event)
    waiting_room.set_paused(event.event_id, True)
    earn(db_session, event, 5)
    assert waiting_room.advance(event.event_id) == 0
    waiting_room.set_paused(event.event_id, False)
    assert waiting_room.advance(event.event_id) == 0, "the paused time earned nothing"
    earn(db_session, event, 3)
    assert waiting_room.advance(event.event_id) == 3


def test_with_a_cap_on_buyers_at_once_the_next_goes_in_as_one_books(db_session, event):
    open_room(event, opens_in=EARLY, rate=600, max_active=2)
    first, second, third = join(event, 3)
    open_now(db_session, event)
    earn(db_session, event, 5)
    assert waiting_room.advance(event.event_id) == 2
    assert waiting_room.advance(event.event_id) == 0, "two are shopping: the third waits"
    waiting_room.finish(event.event_id, positions_to_visitors(db_session, event)[1])
    assert waiting_room.advance(event.event_id) == 1
    assert admitted(db_session, event) == [1, 2, 3]


def positions_to_visitors(db_session, event) -> dict[int, str]:
    return {p: v for v, p in rows(db_session, "SELECT visitor_id, position FROM waiting_room_visitors WHERE event_id = :e",
                                  e=event.event_id)}


def test_the_wait_is_estimated_from_the_place_and_the_rate(db_session, event):
    open_room(event, opens_in=EARLY, rate=30)
    visitors = join(event, 10)
    open_now(db_session, event)
    earn(db_session, event, 0)
    waiting_room.advance(event.event_id)
    by_place = positions_to_visitors(db_session, event)
    place = waiting_room.place(event.event_id, by_place[10])
    assert (place.status, place.position, place.wait_seconds) == ("waiting", 10, 20)
    assert len(visitors) == 10


# ---------------------------------------------------------------- the signed admission

def test_an_admission_admits_its_visitor_to_its_event_until_it_expires(app):
    with app.app_context():
        later = now() + dt.timedelta(minutes=5)
        token = waiting_room.admission_token(7, "a" * 32, later)
        assert waiting_room.is_admitted(token, 7, "a" * 32)
        assert not waiting_room.is_admitted(token, 8, "a" * 32), "another event"
        assert not waiting_room.is_admitted(token, 7, "b" * 32), "another visitor"
        assert not waiting_room.is_admitted(token, 7, "a" * 32, now=later.timestamp() + 3600 * 24), "expired"
        forged = token.replace(f".{'a' * 32}.", f".{'b' * 32}.")
        assert not waiting_room.is_admitted(forged, 7, "b" * 32), "the signature covers the visitor"
        stretched = re.sub(r"\.(\d+)\.", lambda m: f".{int(m.group(1)) + 3600}.", token, count=1)
        assert not waiting_room.is_admitted(stretched, 7, "a" * 32), "the signature covers the expiry"
        assert not waiting_room.is_admitted("7.x.y", 7, "a" * 32) and not waiting_room.is_admitted("", 7, "a" * 32)


def test_an_admission_signed_with_another_secret_is_refused(app, monkeypatch):
    with app.app_context():
        token = waiting_room.admission_token(7, "a" * 32, now() + dt.timedelta(minutes=5))
        monkeypatch.setitem(app.config, "SECRET_KEY", "another box office's secret")
        assert not waiting_room.is_admitted(token, 7, "a" * 32)


# ---------------------------------------------------------------- the gate

def queued(client, event) -> str:
    """Join the event's queue as this browser; returns its visitor id."""
    response = client.get(f"/events/{event.event_id}/queue")
    assert response.status_code in (200, 303), response.status_code
    return client.get_cookie("visitor").value


def test_without_an_admission_the_event_page_leads_to_the_queue(client, event):
    open_room(event, opens_in=EARLY)
    response = client.get(f"/events/{event.event_id}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/events/{event.event_id}/queue")
    assert response.headers["Cache-Control"] == "private, no-store", "no browser keeps it"
    assert response.headers["X-Accel-Expires"] == "1", "nginx keeps the redirect everyone without a cookie gets"
    names = [name for name, _ in response.headers]
    assert names.index("X-Accel-Expires") < names.index("Cache-Control"), "nginx 1.22 reads them in order"
    queued(client, event)
    again = client.get(f"/events/{event.event_id}")
    assert again.status_code == 303 and "X-Accel-Expires" not in again.headers, "a visitor's own"
    htmx = client.get(f"/events/{event.event_id}/seats/changes?v=1&t=2026-01-01T00:00:00", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"].endswith(f"/events/{event.event_id}/queue")


@pytest.mark.parametrize("path", ["/events/{id}/seats", "/checkout/{id}", "/checkout/{id}/promo",
                                  "/checkout/{id}/guest", "/checkout/{id}/resume"])
def test_seat_clicks_and_checkout_are_refused_without_an_admission(client, posting, db_session, event, path):
    open_room(event)
    form = {"seat": event.seat_ids("A1")[0], "promo_code": "X", "guest-email": "a@b.test"}
    response = client.post(path.format(id=event.event_id), data=form)
    assert response.status_code == 303 and response.headers["Location"].endswith("/queue")
    htmx = client.post(path.format(id=event.event_id), data=form, headers={"HX-Request": "true"})
    assert htmx.status_code == 403 and htmx.headers["HX-Redirect"].endswith("/queue")
    assert rows(db_session, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state <> 'available'",
                e=event.event_id) == [(0,)], "nothing was held"


def test_a_visitor_let_in_gets_a_signed_admission_and_the_event(client, posting, db_session, event):
    open_room(event, opens_in=EARLY)
    visitor = queued(client, event)
    page = client.get(f"/events/{event.event_id}/queue").get_data(as_text=True)
    assert "The sale opens on" in page and 'aria-live="polite"' in page
    open_now(db_session, event)
    earn(db_session, event, 1)

    response = client.get(f"/events/{event.event_id}/queue")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/events/{event.event_id}")
    token = client.get_cookie(f"admission_{event.event_id}").value
    assert waiting_room.is_admitted(token, event.event_id, visitor)
    page = client.get(f"/events/{event.event_id}")
    assert page.status_code == 200 and "Choose your seats" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-store", "never from a shared cache"
    held = client.post(f"/events/{event.event_id}/seats", data={"seat": event.seat_ids("A1")[0]})
    assert held.status_code == 302
    assert rows(db_session, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id) == [(1,)]


def test_an_admission_for_another_event_or_visitor_does_not_open_this_one(client, db_session, event):
    other = make_event(db_session, make_venue(db_session))
    db_session.commit()
    open_room(event)
    open_room(other)
    visitor = queued(client, event)
    client.delete_cookie(f"admission_{event.event_id}")
    later = now() + dt.timedelta(minutes=20)
    client.set_cookie(f"admission_{event.event_id}", waiting_room.admission_token(other.event_id, visitor, later))
    assert client.get(f"/events/{event.event_id}").status_code == 303
    client.set_cookie(f"admission_{event.event_id}", waiting_room.admission_token(event.event_id, "f" * 32, later))
    assert client.get(f"/events/{event.event_id}").status_code == 303
    client.set_cookie(f"admission_{event.event_id}", waiting_room.admission_token(event.event_id, visitor, later))
    assert client.get(f"/events/{event.event_id}").status_code == 200


def test_the_waiting_page_shows_the_place_and_wait_and_is_never_shared(client, db_session, event):
    open_room(event, opens_in=EARLY, rate=60)
    join(event, 4)
    open_now(db_session, event)
    earn(db_session, event, 0)
    response = client.get(f"/events/{event.event_id}/queue")
    html = response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert re.search(r"number <strong[^>]*>5</strong> in line", html)
    assert "Estimated wait: <strong>less than a minute</strong>" in html
    assert '<meta http-equiv="refresh"' in html, "without JavaScript the page refreshes itself"
    fragment = client.get(f"/events/{event.event_id}/queue", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'hx-trigger="every' in fragment


def test_once_the_seats_are_gone_the_queue_says_so_and_takes_nobody(client, db_session, event):
    open_room(event)
    db_session.execute(sa.text("UPDATE event_seats SET state = 'sold' WHERE event_id = :e"), {"e": event.event_id})
    db_session.execute(sa.text("UPDATE events SET seats_available = 0 WHERE event_id = :e"), {"e": event.event_id})
    html = client.get(f"/events/{event.event_id}/queue").get_data(as_text=True)
    assert "Sold out" in html
    assert rows(db_session, "SELECT COUNT(*) FROM waiting_room_visitors WHERE event_id = :e", e=event.event_id) == [(0,)]


def test_with_the_queue_off_the_event_is_open_to_all(client, event):
    waiting_room.configure(event.event_id, waiting_room.RoomSettings(False, now(), 60))
    assert client.get(f"/events/{event.event_id}").status_code == 200
    assert client.get(f"/events/{event.event_id}/queue").headers["Location"].endswith(f"/events/{event.event_id}")


def test_staff_pass_the_gate(admin_client, event):
    open_room(event, opens_in=EARLY)
    assert admin_client.get(f"/events/{event.event_id}").status_code == 200


def test_booking_through_the_queue_frees_a_place_among_the_buyers_at_once(client, posting, db_session, event):
    buyer = make_customer(db_session)
    db_session.commit()
    open_room(event, max_active=1)
    visitor = queued(client, event)
    assert client.get(f"/events/{event.event_id}/queue").status_code == 303, "an empty line: straight in"
    client.post("/account/login", data={"email": buyer.email, "password": buyer.password})
    client.post(f"/events/{event.event_id}/seats", data={"seat": event.seat_ids("A1")[0]})
    page = client.get(f"/checkout/{event.event_id}").get_data(as_text=True)
    fields = dict(re.findall(r'name="(idempotency_key|expected_total)"[^>]*value="([^"]*)"', page))
    paid = client.post(f"/checkout/{event.event_id}", data={
        **fields, "method": "card", "card_number": GOOD_CARD.number, "exp_month": GOOD_CARD.exp_month,
        "exp_year": GOOD_CARD.exp_year, "cvv": GOOD_CARD.cvv, "holder": "Ada"})
    assert paid.status_code == 303, paid.get_data(as_text=True)[:500]
    assert rows(db_session, "SELECT finished_at IS NOT NULL FROM waiting_room_visitors WHERE visitor_id = :v",
                v=visitor) == [(1,)]


# ---------------------------------------------------------------- staff

def test_staff_turn_the_queue_on_watch_it_and_pause_it(admin_client, forms, db_session, event):
    page = f"/admin/events/{event.event_id}/waiting-room"
    response = forms.post(page, {"enabled": "y", "opens_at": (now() + EARLY).strftime("%Y-%m-%dT%H:%M"),
                                 "admit_per_minute": "250", "max_active": ""})
    assert response.status_code == 302
    settings = waiting_room.room_settings(event.event_id)
    assert (settings.enabled, settings.admit_per_minute, settings.max_active) == (True, 250, None)
    join(event, 3)
    html = admin_client.get(page).get_data(as_text=True)
    assert re.search(r"<dt>In line</dt><dd>3</dd>", html) and "Waiting for the opening" in html
    figures = admin_client.get(page, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in figures and "<dt>In line</dt>" in figures

    forms.post(page, {"paused": "1"}, action=f"{page}/pause")
    assert "Paused" in admin_client.get(page).get_data(as_text=True)
    forms.post(page, {"paused": "0"}, action=f"{page}/pause")
    assert "Paused" not in admin_client.get(page).get_data(as_text=True)
    refused = forms.post(page, {"enabled": "y", "opens_at": "2026-12-24T20:00", "admit_per_minute": "0"})
    assert refused.status_code == 422
