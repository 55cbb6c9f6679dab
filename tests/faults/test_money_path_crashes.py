"""The database killed (kill -9) at each point of the payment path, restarted, and the money made whole.

A buyer pays over HTTP (the app served in this process on the private MariaDB of tests/faults/server.py).
At one point of the payment the server is killed: after the payment attempt is written, after the provider
took the money, while InsertBooking waits inside the server, and after the booking's commit. The server is
restarted, the buyer retries or the reconciler runs, and then, over raw rows: every captured charge has
exactly one booking or was given back in full, every booking has its tickets and its confirmation mail, no
seat is sold twice, and the sales summaries equal the raw rows.
"""
from __future__ import annotations

import datetime as dt
import re
import threading
import time

import sqlalchemy as sa

from boxoffice.services import payment_attempts, payments, reconciler
from tests.browser.scenario import small_event
from tests.builders import make_customer, rows
from tests.concurrency.harness import assert_inventory_consistent, money_problems
from tests.test_reports_summaries import assert_summaries_equal_the_raw_rows

GOOD_CARD = {"method": "card", "holder": "Ada Lovelace", "card_number": "4242 4242 4242 4242", "exp_month": "12",
             "exp_year": "2035", "cvv": "123", "promo_code": ""}


def at_checkout(http, committed_db, *labels: str):
    """A signed-in buyer holding `labels` of a fresh event, on the payment page: (event, the payment form)."""
    event = small_event(committed_db)
    buyer = make_customer(committed_db)
    http.get("/account/login")
    assert http.post("/account/login", {"email": buyer.email, "password": buyer.password}).status == 200
    http.get(f"/events/{event.event_id}")
    for label in labels:
        held = http.post(f"/events/{event.event_id}/seats", {"seat": event.venue.seat(label).seat_id, "section": ""})
        assert held.status == 200, held.text[:500]
    page = http.get(f"/checkout/{event.event_id}").text
    form = {**GOOD_CARD, "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1),
            "expected_total": re.search(r'name="expected_total" value="([^"]+)"', page).group(1)}
    return event, form


def assert_money_path_whole(owner_engine, event, key: str) -> None:
    """The promises of the money path, over raw rows of a fresh connection."""
    with owner_engine.connect() as c:
        nonce = key.partition("-")[0]
        assert money_problems(c, [nonce]) == []
        charged = rows(c, "SELECT status, amount, refunded_amount FROM gateway_charges WHERE idempotency_key = :k",
                       k=key)
        booked = rows(c, "SELECT booking_id FROM bookings WHERE idempotency_key = :k", k=key)
        assert len(charged) <= 1 and len(booked) <= 1
        if charged and charged[0][0] == "captured":
            assert booked or charged[0][2] == charged[0][1], "money taken without a booking is given back in full"
        for (booking_id,) in booked:
            assert rows(c, "SELECT COUNT(*) > 0 FROM tickets WHERE booking_id = :b", b=booking_id) == [(1,)]
            assert rows(c, """SELECT COUNT(*) FROM outbox_emails
                               WHERE booking_id = :b AND kind = 'booking_confirmation'""", b=booking_id) == [(1,)]
        assert rows(c, "SELECT COUNT(*) FROM payment_attempts WHERE idempotency_key = :k AND in_flight",
                    k=key) == [(0,)], "nothing is left half-way"
        assert_inventory_consistent(c, event.event_id)
        assert_summaries_equal_the_raw_rows(c)


def query(engine, sql: str, **params) -> list[tuple]:
    """Rows read on a fresh connection (the server may have been restarted since the last one)."""
    with engine.connect() as c:
        return rows(c, sql, **params)


def killing_before(monkeypatch, mariadb, module, name: str) -> None:
    """Kill the server as the request reaches module.name (which then fails: the server is gone)."""
    real = getattr(module, name)

    def killed_first(*args, **kwargs):
        mariadb.kill9()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, killed_first)


def reconcile(app) -> reconciler.Reconciliation:
    with app.app_context():
        return reconciler.reconcile(grace=dt.timedelta(0))


def test_killed_after_the_attempt_was_written_the_buyers_retry_pays_once(mariadb, app, committed_db, http,
                                                                         owner_engine, monkeypatch):
    event, form = at_checkout(http, committed_db, "B3", "B4")
    killing_before(monkeypatch, mariadb, payments.gateway, "charge")
    assert http.post(f"/checkout/{event.event_id}", form).status == 503
    monkeypatch.undo()
    mariadb.restart()
    assert query(owner_engine, "SELECT state FROM payment_attempts WHERE idempotency_key = :k",
                k=form["idempotency_key"]) == [("created",)]

    retried = http.post(f"/checkout/{event.event_id}", form)
    assert retried.status == 200 and "is confirmed" in retried.text
    assert_money_path_whole(owner_engine, event, form["idempotency_key"])


def test_killed_after_the_attempt_was_written_the_reconciler_gives_it_up_when_stale(mariadb, app, committed_db,
                                                                                    http, owner_engine, monkeypatch):
    event, form = at_checkout(http, committed_db, "B5")
    killing_before(monkeypatch, mariadb, payments.gateway, "charge")
    assert http.post(f"/checkout/{event.event_id}", form).status == 503
    monkeypatch.undo()
    mariadb.restart()
    with owner_engine.begin() as c:  # the buyer never came back
        c.execute(sa.text("UPDATE payment_attempts SET created_at = created_at - INTERVAL 5 MINUTE "
                          "WHERE idempotency_key = :k"), {"k": form["idempotency_key"]})
    assert reconcile(app).attempts["abandoned"] == 1
    assert query(owner_engine, "SELECT COUNT(*) FROM gateway_charges WHERE idempotency_key = :k",
                k=form["idempotency_key"]) == [(0,)]
    assert_money_path_whole(owner_engine, event, form["idempotency_key"])


def test_killed_after_the_charge_the_reconciler_books_the_seats(mariadb, app, committed_db, http, owner_engine,
                                                                monkeypatch):
    event, form = at_checkout(http, committed_db, "C1", "C2")
    killing_before(monkeypatch, mariadb, payment_attempts, "_insert_booking")
    assert http.post(f"/checkout/{event.event_id}", form).status == 503
    monkeypatch.undo()
    mariadb.restart()
    assert query(owner_engine, "SELECT status FROM gateway_charges WHERE idempotency_key = :k",
                k=form["idempotency_key"]) == [("captured",)], "the provider took the money"

    assert reconcile(app).attempts == {"booked": 1}
    assert_money_path_whole(owner_engine, event, form["idempotency_key"])
    # The buyer's retry is answered with the booking the reconciler made.
    assert "is confirmed" in http.post(f"/checkout/{event.event_id}", form).text


def test_killed_after_the_charge_when_the_seats_are_gone_the_money_goes_back(mariadb, app, committed_db, http,
                                                                             owner_engine, monkeypatch):
    event, form = at_checkout(http, committed_db, "C3")
    killing_before(monkeypatch, mariadb, payment_attempts, "_insert_booking")
    assert http.post(f"/checkout/{event.event_id}", form).status == 503
    monkeypatch.undo()
    mariadb.restart()
    with owner_engine.begin() as c:  # the hold runs out and someone else buys the seat meanwhile
        c.execute(sa.text("""UPDATE event_seats SET state = 'sold', hold_owner = NULL, hold_expires_at = NULL
                              WHERE event_id = :e AND seat_id = :s"""),
                  {"e": event.event_id, "s": event.venue.seat("C3").seat_id})

    assert reconcile(app).attempts == {"refunded": 1}
    assert query(owner_engine, "SELECT kind FROM outbox_emails o JOIN payment_attempts a USING (attempt_id) "
                              "WHERE a.idempotency_key = :k", k=form["idempotency_key"]) == [("payment_returned",)]
    with owner_engine.begin() as c:  # (the other buyer's sale was made by hand: undo it for the checks)
        c.execute(sa.text("UPDATE event_seats SET state = 'available' WHERE event_id = :e AND seat_id = :s"),
                  {"e": event.event_id, "s": event.venue.seat("C3").seat_id})
    assert_money_path_whole(owner_engine, event, form["idempotency_key"])


def test_killed_while_insert_booking_waits_inside_the_server_the_reconciler_books_once(mariadb, app, committed_db,
                                                                                      http, owner_engine):
    event, form = at_checkout(http, committed_db, "D5", "D6")
    # Another transaction has taken the event as a whole (as a cancellation does), so InsertBooking, at its
    # first statement (the event's lock row, shared), waits inside the server when the server dies.
    blocker = mariadb.connect()
    try:
        mariadb.sql("START TRANSACTION", blocker)
        mariadb.sql(f"SELECT event_id FROM {mariadb.database}.event_locks WHERE event_id = {event.event_id} "
                    "FOR UPDATE", blocker)
        answers = []
        paying = threading.Thread(target=lambda: answers.append(http.post(f"/checkout/{event.event_id}", form)))
        paying.start()
        # (Inside a procedure the process list shows the statement it is running: InsertBooking's first.)
        deadline = time.monotonic() + 5
        while not mariadb.sql("SELECT 1 FROM information_schema.PROCESSLIST "
                              "WHERE INFO LIKE '%FROM event_locks WHERE event_id = %LOCK IN SHARE MODE%' "
                              "AND ID <> CONNECTION_ID()"):
            assert time.monotonic() < deadline, "InsertBooking never started"
            time.sleep(0.05)
        mariadb.kill9()
        paying.join(30)
    finally:
        blocker.close()
    assert answers and answers[0].status == 503
    mariadb.restart()

    assert reconcile(app).attempts == {"booked": 1}
    assert reconcile(app).attempts == {}, "once"
    assert_money_path_whole(owner_engine, event, form["idempotency_key"])


def test_killed_after_the_booking_committed_the_mail_is_there_and_the_retry_is_confirmed(mariadb, app, committed_db,
                                                                                        http, owner_engine,
                                                                                        monkeypatch):
    event, form = at_checkout(http, committed_db, "A7")
    real = payment_attempts._insert_booking

    def booked_then_killed(*args, **kwargs):
        booked = real(*args, **kwargs)
        mariadb.kill9()
        return booked

    monkeypatch.setattr(payment_attempts, "_insert_booking", booked_then_killed)
    assert http.post(f"/checkout/{event.event_id}", form).status == 503
    monkeypatch.undo()
    mariadb.restart()

    assert reconcile(app).attempts == {}, "nothing was left to finish"
    retried = http.post(f"/checkout/{event.event_id}", form)
    assert retried.status == 200 and "is confirmed" in retried.text
    assert_money_path_whole(owner_engine, event, form["idempotency_key"])
