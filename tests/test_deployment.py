"""Running behind nginx and beside a replica: the app believes exactly the configured proxy hops, and the
reports' lag guard reads the replica while it is fresh enough, says how fresh, and falls back to the primary."""
from __future__ import annotations

import datetime as dt

import pytest
from flask import request

from boxoffice import create_app
from boxoffice.clock import utcnow
from boxoffice.config import ConfigurationError, load_config
from boxoffice.extensions import db
from boxoffice.services import replica


def _who_app(**config):
    app = create_app({"TESTING": True, **config})
    app.add_url_rule("/_who", "who", lambda: f"{request.remote_addr} {request.scheme}")
    return app


def test_behind_one_trusted_proxy_the_app_sees_the_buyers_address_and_scheme():
    client = _who_app(TRUSTED_PROXIES=1).test_client()
    answer = client.get("/_who", environ_base={"REMOTE_ADDR": "127.0.0.1"},
                        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Forwarded-Proto": "https"})
    # The client's own X-Forwarded-For (6.6.6.6) is not believed: only the address nginx appended.
    assert answer.get_data(as_text=True) == "203.0.113.7 https"


def test_without_a_trusted_proxy_forwarded_headers_are_ignored():
    client = _who_app().test_client()
    answer = client.get("/_who", environ_base={"REMOTE_ADDR": "198.51.100.9"},
                        headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"})
    assert answer.get_data(as_text=True) == "198.51.100.9 http"


@pytest.mark.parametrize("value", ["6", "-1", "one", "1.5"])
def test_a_trusted_proxies_value_out_of_range_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("BOXOFFICE_TRUSTED_PROXIES", value)
    with pytest.raises(ConfigurationError, match="BOXOFFICE_TRUSTED_PROXIES"):
        load_config()


def test_a_replica_url_adds_the_replica_bind_and_a_bad_one_stops_the_start(monkeypatch):
    assert replica.REPLICA_BIND not in load_config()["SQLALCHEMY_BINDS"]
    monkeypatch.setenv("DATABASE_REPLICA_URL", "mysql+pymysql://boxoffice_reports:pw@replica.internal:3306/boxoffice")
    bind = load_config()["SQLALCHEMY_BINDS"][replica.REPLICA_BIND]
    assert (bind["url"].host, bind["url"].database) == ("replica.internal", "boxoffice")
    monkeypatch.setenv("DATABASE_REPLICA_URL", "replica.internal")
    with pytest.raises(ConfigurationError, match="DATABASE_REPLICA_URL"):
        load_config()
    monkeypatch.setenv("DATABASE_REPLICA_URL", "mysql+pymysql://u@h/db")
    monkeypatch.setenv("BOXOFFICE_REPLICA_MAX_LAG", "0")
    with pytest.raises(ConfigurationError, match="BOXOFFICE_REPLICA_MAX_LAG"):
        load_config()


MARIADB_ROW = {"Slave_IO_Running": "Yes", "Slave_SQL_Running": "Yes", "Seconds_Behind_Master": 3}
MYSQL_ROW = {"Replica_IO_Running": "Yes", "Replica_SQL_Running": "Yes", "Seconds_Behind_Source": 7}


@pytest.mark.parametrize("rows, lag", [
    ([MARIADB_ROW], 3.0),
    ([MYSQL_ROW], 7.0),
    ([MARIADB_ROW, {**MARIADB_ROW, "Seconds_Behind_Master": 12}], 12.0),  # two primaries: the worst
    ([{**MARIADB_ROW, "Slave_IO_Running": "Connecting", "Seconds_Behind_Master": 0}], None),  # primary away
    ([{**MYSQL_ROW, "Replica_SQL_Running": "No"}], None),  # stopped or broken
    ([{**MARIADB_ROW, "Seconds_Behind_Master": None}], None),
    ([], None),  # not a replica
])
def test_the_lag_is_read_from_the_replicas_status(rows, lag):
    assert replica.lag_from_status(rows) == lag


@pytest.fixture
def replica_app():
    """An app with a replica bind (its engine is never connected: the lag is given by each test)."""
    config = load_config()
    binds = {**config["SQLALCHEMY_BINDS"], replica.REPLICA_BIND: config["SQLALCHEMY_BINDS"]["reports"]}
    app = create_app({"TESTING": True, "SQLALCHEMY_BINDS": binds, "REPLICA_MAX_LAG": 60})
    with app.app_context():
        yield app


@pytest.mark.parametrize("lag, on_replica, says_as_of", [
    (0.0, True, False),  # caught up: the replica, nothing to say
    (5.0, True, True),  # behind within the limit: the replica, "figures as of"
    (60.0, True, True),
    (61.0, False, False),  # past the limit: the primary's current figures
    (None, False, False),  # replication stopped, or the replica away
])
def test_the_reports_read_the_replica_while_it_is_fresh_enough(replica_app, monkeypatch, lag, on_replica, says_as_of):
    monkeypatch.setattr(replica, "replica_lag", lambda engine: lag)
    with replica_app.test_request_context("/admin/reports/"):
        source = replica.reports_source()
        assert source.on_replica is on_replica
        assert source.engine is db.engines[replica.REPLICA_BIND if on_replica else "reports"]
        assert (source.as_of is not None) is says_as_of
        if says_as_of:
            assert abs(source.as_of - (utcnow() - dt.timedelta(seconds=lag))) < dt.timedelta(seconds=2)


def test_one_request_asks_the_replica_once(replica_app, monkeypatch):
    asked = []
    monkeypatch.setattr(replica, "replica_lag", lambda engine: asked.append(1) or 0.0)
    with replica_app.test_request_context("/admin/reports/"):
        assert replica.reports_source() is replica.reports_source()
    assert asked == [1]


def test_without_a_replica_the_reports_read_the_primary(replica_app):
    app = create_app({"TESTING": True})
    with app.test_request_context("/admin/reports/"):
        source = replica.reports_source()
        assert (source.engine, source.on_replica, source.as_of) == (db.engines["reports"], False, None)
