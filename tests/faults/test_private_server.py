"""The private MariaDB of the fault tests does what the tests ask of it, and the data survives a kill."""
from __future__ import annotations

import pymysql
import pytest

from tests.builders import rows
from tests.browser.scenario import small_event


def test_the_private_server_is_not_the_shared_one(mariadb):
    assert mariadb.port != 3306
    assert mariadb.sql("SELECT @@datadir")[0][0].rstrip("/") == str(mariadb.datadir)


def test_a_committed_row_survives_kill9_and_restart(mariadb, committed_db, owner_engine):
    event = small_event(committed_db)
    mariadb.kill9()
    assert not mariadb.running
    mariadb.restart()
    with owner_engine.connect() as connection:
        assert rows(connection, "SELECT title FROM events WHERE event_id = :e", e=event.event_id) == [(event.title,)]


def test_a_stalled_server_answers_nothing_until_resumed(mariadb):
    mariadb.stall()
    with pytest.raises(pymysql.err.OperationalError):
        mariadb.connect(connect_timeout=1, read_timeout=1)
    mariadb.resume()
    assert mariadb.sql("SELECT 1") == [(1,)]


def test_the_app_reads_the_private_servers_database(app, http, committed_db):
    event = small_event(committed_db)
    answer = http.get(f"/events/{event.event_id}")
    assert answer.status == 200
    assert event.title in answer.text


def test_locks_a_test_left_behind_are_let_go(mariadb):
    mariadb.sql("FLUSH TABLES WITH READ LOCK", mariadb.connect())
    mariadb.close_connections()  # as the fixtures do after every test, passed or failed
    mariadb.sql(f"CREATE TABLE {mariadb.database}.scratch (n INT)")
    mariadb.sql(f"DROP TABLE {mariadb.database}.scratch")
