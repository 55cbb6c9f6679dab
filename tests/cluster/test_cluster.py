"""The box office on two app servers behind nginx, with the reports on a MariaDB replica (tests/cluster/
conftest.py starts it all): what one server does shows on the other at the next poll, the reports on the
replica see a booking once it has replicated, the once-only jobs wait for the one lock, and killing an
app server loses nothing (nginx sends the next requests to the other).

The tests run in file order on one cluster; the last one kills app server A.
"""
from __future__ import annotations

import datetime as dt
import re
import time

import pytest
import sqlalchemy as sa

from boxoffice import create_app
from boxoffice.config import PROJECT_ROOT, REPORTS_READ_WRITE_TIMEOUT, _engine_options
from boxoffice.extensions import db
from boxoffice.services import replica, reporting
from tests.browser.scenario import small_event
from tests.builders import book, make_customer, rows
from tests.faults.http import HttpClient

A, B = 0, 1
GOOD_CARD = {"method": "card", "holder": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "exp_month": "12",
             "exp_year": "2035", "cvv": "123", "promo_code": ""}
POLLER = re.compile(r'name="v" value="([^"]*)".*?name="t" value="([^"]*)"', re.S)


def server(cluster, index: int) -> str:
    return f"http://127.0.0.1:{cluster.ports.apps[index]}"


def seat_on_map(answer: str, seat_id: int) -> str | None:
    """The state a seat-map page or poll draws for a seat (None: the seat is not in it)."""
    found = re.search(rf'id="seat-{seat_id}"\s+class="seat seat--(\w+)', answer)
    return found.group(1) if found else None


def wait_until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} did not happen within {seconds} s"
        time.sleep(0.05)


def test_a_booking_through_server_a_shows_on_server_bs_map_at_the_next_poll(cluster, primary):
    event = small_event(primary)
    seat_id = event.venue.seat("B3").seat_id
    viewer = HttpClient(server(cluster, B))
    version, as_of = POLLER.search(viewer.get(f"/events/{event.event_id}").text).groups()
    assert seat_on_map(viewer.get(f"/events/{event.event_id}").text, seat_id) == "available"

    buyer = HttpClient(server(cluster, A))
    customer = make_customer(primary)
    buyer.get("/account/login")
    assert buyer.post("/account/login", {"email": customer.email, "password": customer.password}).status == 200
    buyer.get(f"/events/{event.event_id}")
    assert buyer.post(f"/events/{event.event_id}/seats", {"seat": seat_id, "section": ""}).status == 200
    poll = viewer.get(f"/events/{event.event_id}/seats/changes?v={version}&t={as_of}", headers={"HX-Request": "true"})
    assert poll.status == 200 and seat_on_map(poll.text, seat_id) == "held"

    version, as_of = POLLER.search(poll.text).groups()
    page = buyer.get(f"/checkout/{event.event_id}").text
    form = {**GOOD_CARD, "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1),
            "expected_total": re.search(r'name="expected_total" value="([^"]+)"', page).group(1)}
    assert "is confirmed" in buyer.post(f"/checkout/{event.event_id}", form).text
    poll = viewer.get(f"/events/{event.event_id}/seats/changes?v={version}&t={as_of}", headers={"HX-Request": "true"})
    assert poll.status == 200 and seat_on_map(poll.text, seat_id) == "sold"


def test_nginx_keeps_bundles_a_year_compresses_and_micro_caches_only_what_no_cookie_touches(cluster, primary):
    event = small_event(primary)
    bundle = next((PROJECT_ROOT / "static" / "gen").glob("*.css")).name
    answer = HttpClient(cluster.url).get(f"/static/gen/{bundle}", headers={"Accept-Encoding": "gzip"})
    assert answer.status == 200 and answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["content-encoding"] == "gzip"

    page = f"/events/{event.event_id}"
    looks = [HttpClient(cluster.url).get(page, headers={"Accept-Encoding": "gzip"}) for _ in range(3)]
    assert all(answer.headers["content-encoding"] == "gzip" and "set-cookie" not in answer.headers for answer in looks)
    assert looks[0].headers["cache-control"] == "public, max-age=1"
    assert "HIT" in [answer.headers["x-cache"] for answer in looks[1:]], "anonymous event pages come from the cache"
    # A browser's own copy: nginx answers 304 to its ETag from the cache.
    again = HttpClient(cluster.url).get(page, headers={"Accept-Encoding": "gzip", "If-None-Match": looks[-1].headers["etag"]})
    assert again.status == 304
    # One copy for everyone (a hit, or the same copy checked with the app past its second), unpacked for a
    # client that takes no gzip.
    plain = HttpClient(cluster.url).get(page)
    assert plain.headers["x-cache"] != "MISS" and "content-encoding" not in plain.headers and "</html>" in plain.text
    assert HttpClient(cluster.url).get(page, headers={"Cookie": "session=x"}).headers["x-cache"] == "BYPASS"

    version, as_of = POLLER.search(HttpClient(cluster.url).get(page).text).groups()
    poll = f"/events/{event.event_id}/seats/changes?v={version}&t={as_of}"
    anonymous = [HttpClient(cluster.url).get(poll, headers={"HX-Request": "true"}) for _ in range(3)]
    assert [answer.status for answer in anonymous] == [204] * 3
    assert "HIT" in [answer.headers["x-cache"] for answer in anonymous[1:]]
    with_cookie = HttpClient(cluster.url).get(poll, headers={"HX-Request": "true", "Cookie": "session=x"})
    assert with_cookie.headers["x-cache"] == "BYPASS"


def test_a_seat_taken_shows_through_the_micro_cache_within_a_second(cluster, primary):
    """The cache never hides a change for longer than its second: the page and the poll of someone who only
    looks, asked through nginx, show a seat taken on server A within that (plus the time to ask again)."""
    event = small_event(primary)
    seat_id = event.venue.seat("C2").seat_id
    page = f"/events/{event.event_id}"
    viewer = HttpClient(cluster.url)
    shown = viewer.get(page).text
    version, as_of = POLLER.search(shown).groups()
    poll = f"/events/{event.event_id}/seats/changes?v={version}&t={as_of}"
    assert seat_on_map(shown, seat_id) == "available" and viewer.get(poll, headers={"HX-Request": "true"}).status == 204
    wait_until(lambda: viewer.get(page).headers["x-cache"] == "HIT", 5, "a cached copy of the page")

    buyer = HttpClient(server(cluster, A))
    buyer.get(page)
    assert buyer.post(f"{page}/seats", {"seat": seat_id, "section": ""}).status == 200
    taken = time.monotonic()

    def changes():
        answer = viewer.get(poll, headers={"HX-Request": "true"})
        return answer if answer.status == 200 else None

    assert seat_on_map(wait_until(changes, 3, "the poll through nginx showing the seat").text, seat_id) == "held"
    wait_until(lambda: seat_on_map(viewer.get(page).text, seat_id) == "held", 3, "the page through nginx showing it")
    assert time.monotonic() - taken < 2, "no cached copy outlived its second (by more than the time to ask)"


def reports_app(cluster):
    """An app configured as the app servers are: the reports bind on the primary, the replica beside it."""
    primary = cluster.primary.settings()
    options = _engine_options(REPORTS_READ_WRITE_TIMEOUT)
    return create_app({"TESTING": True, "DATABASE": primary, "SQLALCHEMY_DATABASE_URI": primary.app_url,
                       "SQLALCHEMY_BINDS": {"reports": {**options, "url": primary.reports_url},
                                            replica.REPLICA_BIND: {**options, "url": cluster.replica_url()}}})


def selects_on(node) -> int:
    return int(node.sql("SHOW GLOBAL STATUS LIKE 'Com_select'")[0][1])


def test_the_reports_read_a_booking_on_the_replica_once_it_has_replicated(cluster, primary):
    event = small_event(primary)
    book(primary, event, make_customer(primary), seats=[event.venue.seat("A1").seat_id, event.venue.seat("A2").seat_id])
    cluster.wait_replicated()
    app = reports_app(cluster)
    today = dt.date.today()
    with app.test_request_context("/admin/reports/"):
        before = selects_on(cluster.replica)
        day = dt.timedelta(days=1)
        dashboard = reporting.dashboard(reporting.ReportFilter(today - day, today + day, None, event.event_id, None, None))
        source = replica.reports_source()
        # (Caught up but for what the jobs' passes write meanwhile: a second or two behind at most.)
        assert source.on_replica and source.lag is not None and source.lag < 5
        assert (dashboard.as_of is None) is (source.lag < 1)
        assert selects_on(cluster.replica) > before, "the figures were read on the replica"
        assert (dashboard.kpis.bookings, dashboard.kpis.tickets_sold) == (1, 2)
        for engine in db.engines.values():
            engine.dispose()
    # Each app server reports the replica's lag; only Prometheus (on this machine) reads it, never via nginx.
    assert re.search(r"^replica ok lag \d+s$", HttpClient(server(cluster, B)).get("/readyz").text, re.M)
    assert re.search(r"^boxoffice_replica_lag_seconds \d", HttpClient(server(cluster, B)).get("/metrics").text, re.M)
    assert HttpClient(cluster.url).get("/metrics").status == 404


def test_the_once_only_jobs_wait_for_the_one_lock_and_send_each_mail_once(cluster, primary, smtp_sink):
    lock = f"{cluster.primary.database}.jobs"
    event = small_event(primary)
    customer = make_customer(primary)
    # Both app servers run the jobs every quarter second; while this connection holds their lock, none does.
    assert primary.scalar(sa.text("SELECT GET_LOCK(:name, 5)"), {"name": lock}) == 1
    try:
        booking = book(primary, event, customer, seats=[event.venue.seat("C5").seat_id])
        time.sleep(1.5)
        assert rows(primary, "SELECT status FROM outbox_emails WHERE booking_id = :b", b=booking["booking_id"]) == [
            ("queued",)]
        assert smtp_sink.to(customer.email) == []
    finally:
        primary.scalar(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": lock})
    wait_until(lambda: smtp_sink.to(customer.email), 20, "the confirmation mail")
    time.sleep(1.0)  # more passes of both servers: none sends it again
    assert len(smtp_sink.to(customer.email)) == 1
    assert rows(primary, "SELECT status FROM outbox_emails WHERE booking_id = :b", b=booking["booking_id"]) == [
        ("sent",)]


def test_killing_app_server_a_loses_nothing_nginx_sends_the_next_requests_to_b(cluster, primary, smtp_sink):
    event = small_event(primary)
    buyer = HttpClient(cluster.url)
    customer = make_customer(primary)
    buyer.get("/account/login")
    assert buyer.post("/account/login", {"email": customer.email, "password": customer.password}).status == 200
    booking = book(primary, event, customer, seats=[event.venue.seat("B1").seat_id])

    cluster.kill_app(A)
    with pytest.raises(OSError):  # master and workers gone: nothing answers on A's port
        HttpClient(server(cluster, A)).get("/healthz", timeout=2)
    answers = [buyer.get(path).status for path in ["/", f"/events/{event.event_id}"] * 5]
    assert answers == [200] * 10
    # The buyer's session (a signed cookie) and booking are as good on B; a new hold goes through.
    assert buyer.get(f"/account/orders/{booking['booking_code']}").status == 200
    assert buyer.post(f"/events/{event.event_id}/seats", {"seat": event.venue.seat("C1").seat_id,
                                                          "section": ""}).status == 200
    # The jobs go on with one server left.
    wait_until(lambda: smtp_sink.to(customer.email), 20, "the confirmation mail sent by server B")
