"""The app's pooled connections: one the server closed is replaced when it leaves the pool, without a round
trip; one that timed out is thrown away, never handed out again."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from boxoffice.dbapi import COOL_DOWN_SECONDS
from boxoffice.extensions import db


def _connection_id(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.exec_driver_sql("SELECT CONNECTION_ID()").scalar_one()


@pytest.fixture
def engine(app):
    with app.app_context():
        yield db.engine


def test_a_connection_the_server_killed_is_replaced_as_it_leaves_the_pool(mariadb, engine):
    first = _connection_id(engine)
    mariadb.sql(f"KILL CONNECTION {first}")
    second = _connection_id(engine)  # no error: the pool noticed and connected afresh
    assert second != first


def test_taking_a_healthy_connection_from_the_pool_sends_nothing(engine):
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        before = connection.exec_driver_sql("SHOW SESSION STATUS LIKE 'Questions'").one()[1]
    for _ in range(20):
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is raw
    with engine.connect() as connection:
        after = connection.exec_driver_sql("SHOW SESSION STATUS LIKE 'Questions'").one()[1]
    # The ROLLBACK after the first SHOW (a result set leaves the transaction's state unknown, dbapi.py) and
    # the second SHOW itself: the twenty trips out of the pool and back sent nothing.
    assert int(after) - int(before) == 2


def test_a_connection_that_timed_out_is_invalidated_not_reused(mariadb, engine):
    first = _connection_id(engine)
    mariadb.stall()
    try:
        with engine.connect() as connection, pytest.raises(sa.exc.OperationalError) as timed_out:
            connection.exec_driver_sql("SELECT CONNECTION_ID()")
    finally:
        mariadb.resume()
    assert timed_out.value.connection_invalidated
    assert timed_out.value.orig.args[0] == 2013
    # For a moment the engine does not even try (boxoffice/dbapi.py's Breaker), then it connects afresh:
    # the late answer of the connection that timed out can never be read as the answer to a new question.
    with pytest.raises(sa.exc.OperationalError, match="not asked again"):
        _connection_id(engine)
    time.sleep(COOL_DOWN_SECONDS)
    assert _connection_id(engine) != first


def test_the_session_waits_a_few_seconds_for_a_lock_and_stays_in_utc(engine):
    from boxoffice.config import LOCK_WAIT_SECONDS

    with engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT @@session.innodb_lock_wait_timeout, @@session.lock_wait_timeout, @@session.time_zone").one()
    assert tuple(row) == (LOCK_WAIT_SECONDS, LOCK_WAIT_SECONDS, "+00:00")


def test_the_reports_bind_may_wait_longer_for_a_statement_than_the_storefront(app):
    from boxoffice.config import LOCK_WAIT_SECONDS, READ_WRITE_TIMEOUT, REPORTS_READ_WRITE_TIMEOUT

    with app.app_context():
        for engine, timeout in ((db.engine, READ_WRITE_TIMEOUT), (db.engines["reports"], REPORTS_READ_WRITE_TIMEOUT)):
            with engine.connect() as connection:
                raw = connection.connection.dbapi_connection
                assert (raw._read_timeout, raw._write_timeout) == (timeout, timeout)
                assert connection.exec_driver_sql("SELECT @@session.lock_wait_timeout").scalar_one() == LOCK_WAIT_SECONDS


def test_connections_that_ran_procedures_stay_in_the_pool(mariadb, committed_db, http):
    """The checkout's look at the socket never takes a healthy connection for a closed one, whatever it ran
    last (CALLs answer with several results; a half-read one would leave bytes waiting)."""
    from tests.browser.scenario import small_event

    event = small_event(committed_db)
    assert http.get(f"/events/{event.event_id}").status == 200
    connections = "SHOW GLOBAL STATUS LIKE 'Connections'"
    before = int(mariadb.sql(connections)[0][1])
    for label in ("A1", "A2", "A1", "B4"):
        answer = http.post(f"/events/{event.event_id}/seats", {"seat": event.venue.seat(label).seat_id, "section": ""},
                           headers={"HX-Request": "true"})
        assert answer.status == 200 and "very busy" not in answer.text
        assert http.get(f"/events/{event.event_id}").status == 200
    after = int(mariadb.sql(connections)[0][1])
    assert after - before == 1  # the second SHOW STATUS's own connection: the app connected no more
