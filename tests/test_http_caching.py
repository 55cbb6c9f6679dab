"""People who only look get pages any cache may keep for a second, with no cookie; every form still refuses a
request forged by another site (boxoffice/csrf.py); event pages and seat-map polls answer 304 while their
map has not changed (boxoffice/http_cache.py)."""
from __future__ import annotations

import gzip
import re
import time
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import g

from boxoffice.services import holds
from tests.builders import PREMIUM, make_customer, make_event, make_venue, new_hold_owner, rows
from tests.conftest import SAME_ORIGIN

HX = {"HX-Request": "true"}
SHARED = "public, max-age=1"


@pytest.fixture
def event(db_session):
    venue = make_venue(db_session, rows=2, seats_per_row=5, categories={"A": PREMIUM})
    event = make_event(db_session, venue, title="Cache Me If You Can")
    db_session.commit()
    return event


def poll_url(html: str) -> str:
    return re.search(r'hx-get="([^"]*seats/changes[^"]*)"', html).group(1).replace("&amp;", "&")


def held_seats(db_session, event) -> list[tuple]:
    return rows(db_session, "SELECT seat_id FROM event_seats WHERE event_id = :e AND state = 'held'", e=event.event_id)


# ---------------------------------------------------------------- no cookie, and kept by any cache

def test_someone_who_only_looks_gets_no_cookie_and_pages_any_cache_may_keep_for_a_second(client, event):
    page = client.get(f"/events/{event.event_id}")
    for response in (client.get("/"), page, client.get(poll_url(page.get_data(as_text=True)), headers=HX)):
        assert response.status_code in (200, 204)
        assert "Set-Cookie" not in response.headers, "no session, and no remember-me cookie deleted either"
        assert response.headers["Cache-Control"] == SHARED
        assert "Cookie" in response.headers["Vary"], "a cache keeps the cookieless copy apart from a buyer's"
    assert 'name="csrf_token" value=""' in page.get_data(as_text=True), "no token drawn: it would start a session"


def test_a_shared_copy_is_gzipped_once_by_the_app_and_a_private_one_is_not(client, forms, event):
    url = f"/events/{event.event_id}"
    plain = client.get(url)
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data) / 2
    forms.post(url, {"seat": event.seat_ids("A1")[0]}, action=f"{url}/seats")
    private = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in private.headers, "nginx compresses what is not shared, for each client"


@pytest.mark.parametrize("path", ["/account/login", "/account/register", "/account/password/forgot", "/orders/find",
                                  "/admin/login"])
def test_no_page_for_people_without_a_session_starts_one(client, path):
    response = client.get(path)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers


def test_the_first_seat_pressed_starts_the_session_and_from_then_on_the_pages_are_private(client, event, db_session):
    seat = event.seat_ids("A1")[0]
    pressed = client.post(f"/events/{event.event_id}/seats", data={"seat": seat}, headers=SAME_ORIGIN)
    assert pressed.status_code == 302 and "session=" in pressed.headers["Set-Cookie"]
    assert held_seats(db_session, event) == [(seat,)]
    page = client.get(f"/events/{event.event_id}")
    assert page.headers["Cache-Control"] == "private, no-cache"
    assert "held for you" in page.get_data(as_text=True)
    assert re.search(r'name="csrf_token" value="[^"]+"', page.get_data(as_text=True)), "now it has a session: a token"
    poll = client.get(poll_url(page.get_data(as_text=True)), headers=HX)
    assert poll.headers["Cache-Control"] == "private, no-cache"
    assert "Set-Cookie" not in poll.headers, "a poll leaves the session as it is"
    assert client.get("/").headers["Cache-Control"] == "private, no-cache"


def test_someone_holding_seats_is_sent_the_session_once_not_with_every_page_and_poll(client, event):
    """Each request with a fresh `g`, as on a server (the tests' app context would keep the user Flask-Login
    loaded for the first request, hiding what its session protection does on the next)."""
    def fresh(response):
        for name in list(g):
            g.pop(name)
        return response

    url = f"/events/{event.event_id}"
    assert "session=" in fresh(client.post(f"{url}/seats", data={"seat": event.seat_ids("A1")[0]},
                                           headers=SAME_ORIGIN)).headers["Set-Cookie"]
    page = fresh(client.get(url))
    poll = fresh(client.get(poll_url(page.get_data(as_text=True)), headers=HX))
    again = fresh(client.get(url))
    assert "held for you" in again.get_data(as_text=True)
    assert "remember_token" not in str(page.headers.getlist("Set-Cookie")), "nothing to delete"
    for response in (poll, again):  # (the first page put its form token in the session)
        assert "Set-Cookie" not in response.headers, response.headers.getlist("Set-Cookie")


def test_a_signed_in_buyers_pages_are_private(client, forms, event, db_session):
    buyer = make_customer(db_session, vip=True, rate=Decimal("0.1000"), password="a-long-password")
    db_session.commit()
    assert forms.post("/account/login", {"email": buyer.email, "password": "a-long-password"}).status_code == 302
    for path in ("/", f"/events/{event.event_id}"):
        response = client.get(path)
        assert response.headers["Cache-Control"] == "private, no-cache" and "My account" in response.get_data(as_text=True)


# ---------------------------------------------------------------- forged requests

@pytest.mark.parametrize("says", [{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                                  {"Origin": "https://evil.example"}, {"Origin": "null"},
                                  {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"}])
def test_a_post_from_another_site_is_refused_even_with_the_sessions_token(client, forms, event, db_session, says):
    seat = event.seat_ids("A1")[0]
    forms.post(f"/events/{event.event_id}", {"seat": seat}, action=f"/events/{event.event_id}/seats")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/events/{event.event_id}").get_data(as_text=True))
    response = client.post(f"/events/{event.event_id}/seats", data={"seat": event.seat_ids("A2")[0],
                                                                      "csrf_token": token.group(1)}, headers=says)
    assert response.status_code == 400
    assert held_seats(db_session, event) == [(seat,)], "the forged press held nothing"


def test_a_sign_in_forged_by_another_site_is_refused(client, db_session):
    buyer = make_customer(db_session, password="a-long-password")
    db_session.commit()
    response = client.post("/account/login", data={"email": buyer.email, "password": "a-long-password"},
                           headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"})
    assert response.status_code == 400 and "Set-Cookie" not in response.headers


def test_a_post_from_the_sites_own_page_needs_only_what_the_browser_says(client, event, db_session):
    seat = event.seat_ids("A1")[0]
    assert client.post(f"/events/{event.event_id}/seats", data={"seat": seat},
                       headers={"Origin": "http://localhost"}).status_code == 302
    assert held_seats(db_session, event) == [(seat,)]


def test_a_post_that_says_nothing_of_where_it_comes_from_needs_the_sessions_token(client, forms, event, db_session):
    first, second = event.seat_ids("A1")[0], event.seat_ids("A2")[0]
    assert client.post(f"/events/{event.event_id}/seats", data={"seat": first}).status_code == 400
    forms.post(f"/events/{event.event_id}", {"seat": first}, action=f"/events/{event.event_id}/seats")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/events/{event.event_id}").get_data(as_text=True))
    assert client.post(f"/events/{event.event_id}/seats", data={"seat": second}).status_code == 400
    assert client.post(f"/events/{event.event_id}/seats",
                       data={"seat": second, "csrf_token": token.group(1)}).status_code == 302
    assert sorted(held_seats(db_session, event)) == sorted([(first,), (second,)])


# ---------------------------------------------------------------- ETag and 304

def test_an_event_page_is_answered_304_until_its_map_changes(client, event, db_session):
    url = f"/events/{event.event_id}"
    first = client.get(url)
    tag = first.headers["ETag"]
    assert tag.startswith('W/"')
    again = client.get(url, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    assert again.headers["Cache-Control"] == SHARED and "Set-Cookie" not in again.headers
    holds.hold_seats(event.event_id, [event.seat_ids("B3")[0]], new_hold_owner(), 10)
    db_session.commit()
    changed = client.get(url, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and "held by someone else" in changed.get_data(as_text=True)
    assert changed.headers["ETag"] != tag
    assert client.get(url, headers={"If-None-Match": changed.headers["ETag"]}).status_code == 304


def test_a_hold_running_out_changes_the_tag_though_nothing_is_written(client, event, db_session):
    seat = event.seat_ids("A2")[0]
    holds.hold_seats(event.event_id, [seat], new_hold_owner(), 10)
    db_session.execute(sa.text("UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 400000 MICROSECOND"
                               " WHERE event_id = :e AND seat_id = :s"), {"e": event.event_id, "s": seat})
    db_session.commit()
    tag = client.get(f"/events/{event.event_id}").headers["ETag"]
    assert client.get(f"/events/{event.event_id}", headers={"If-None-Match": tag}).status_code == 304
    time.sleep(0.6)
    assert client.get(f"/events/{event.event_id}", headers={"If-None-Match": tag}).status_code == 200


def test_a_new_price_the_fragment_and_another_viewer_each_need_their_own_copy(app, client, forms, event, db_session):
    url = f"/events/{event.event_id}"
    tag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag, **HX}).status_code == 200, "the picker alone is another copy"
    picker_tag = client.get(url, headers=HX).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": picker_tag, **HX}).status_code == 304
    forms.post(url, {"seat": event.seat_ids("A1")[0]}, action=f"{url}/seats")
    holder_tag = client.get(url).headers["ETag"]
    someone = app.test_client()
    assert someone.get(url, headers={"If-None-Match": holder_tag}).status_code == 200, "not the holder's copy"
    anonymous_tag = someone.get(url).headers["ETag"]
    assert someone.get(url, headers={"If-None-Match": anonymous_tag}).status_code == 304
    db_session.execute(sa.text("UPDATE event_prices SET price = price + 1 WHERE event_id = :e"), {"e": event.event_id})
    db_session.commit()
    assert someone.get(url, headers={"If-None-Match": anonymous_tag}).status_code == 200


def test_a_message_waiting_on_the_page_is_always_drawn(client, event, db_session):
    url = f"/events/{event.event_id}"
    taken = event.seat_ids("B1")[0]
    holds.hold_seats(event.event_id, [taken], new_hold_owner(), 10)
    db_session.commit()
    client.post(f"{url}/seats", data={"seat": event.seat_ids("A1")[0]}, headers=SAME_ORIGIN)
    tag = client.get(url).headers["ETag"]
    client.post(f"{url}/seats", data={"seat": taken}, headers=SAME_ORIGIN)  # refused, and nothing changed
    told = client.get(url, headers={"If-None-Match": tag})
    assert told.status_code == 200 and "held by someone else" in told.get_data(as_text=True)
    assert told.headers["ETag"] != tag, "the page with the message is a copy of its own"
    assert client.get(url, headers={"If-None-Match": told.headers["ETag"]}).status_code == 200, "shown once"
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304


def test_a_poll_is_answered_304_until_the_map_changes(client, event, db_session):
    poll = poll_url(client.get(f"/events/{event.event_id}").get_data(as_text=True))
    nothing = client.get(poll, headers=HX)
    assert nothing.status_code == 204 and nothing.headers["Cache-Control"] == SHARED
    assert client.get(poll, headers={**HX, "If-None-Match": nothing.headers["ETag"]}).status_code == 304
    holds.hold_seats(event.event_id, [event.seat_ids("B3")[0]], new_hold_owner(), 10)
    db_session.commit()
    changed = client.get(poll, headers={**HX, "If-None-Match": nothing.headers["ETag"]})
    assert changed.status_code == 200 and "held by someone else" in changed.get_data(as_text=True)
    assert client.get(poll, headers={**HX, "If-None-Match": changed.headers["ETag"]}).status_code == 304


def test_a_tag_that_is_not_ours_is_simply_answered(client, event):
    for tag in ('"abc"', 'W/"1.2.zzzzzzzzzzzzzzzz"', 'W/"99999999999999999999.1.0123456789abcdef"', "*"):
        assert client.get(f"/events/{event.event_id}", headers={"If-None-Match": tag}).status_code == 200


def test_a_debug_server_draws_every_page_again(app, client, event, monkeypatch):
    """Its templates change while it runs, under a release digest read once."""
    url = f"/events/{event.event_id}"
    tag = client.get(url).headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    monkeypatch.setitem(app.config, "DEBUG", True)
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 200
