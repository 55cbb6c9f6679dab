"""Fixtures of the fault tests: the box office on a private MariaDB that a test may kill, restart or stall.

Every test in tests/faults/ is marked `faults` and runs against the private server of tests/faults/server.py
(never the machine's shared one), made once per run: its data directory, the box-office database with its
three users and the schema at head (boxoffice.database.set_up). Here the usual fixtures of tests/conftest.py
mean that server:

    mariadb        the PrivateMariaDB: kill9(), restart(), stall(), resume(), sql(...); after each test it
                   is resumed or restarted if the test left it stalled or dead
    settings, test_database
                   its DatabaseSettings (so `owner_engine` and the builders work on it)
    owner_engine   the schema owner, pinging before each use (it outlives the server's restarts)
    app            a fresh app for each test, its pools empty, configured as in production
    client, db_session, forms
                   as everywhere (db_session's rolled-back transaction dies with a killed server: tests that
                   kill commit for real, through `committed_db`)
    committed_db   an autocommit connection as the owner; every row made during the test is deleted after
    live_server    the test's app served over HTTP (werkzeug, threaded) on a free port: its base URL
    http           a cookie-keeping HTTP client for live_server (tests/faults/http.py)

A money-path test, for example:

    def test_kill_after_charge(mariadb, app, live_server, committed_db, http):
        event = small_event(committed_db)
        ... http.post(f"{live_server}/events/{event.event_id}/seats", {...}) ...
        mariadb.kill9(); mariadb.restart()
        ... assert over raw rows read through committed_db (it reconnects by itself) ...

The server runs in this process's control, and the app in this process: to kill it at an exact point of a
request (after the charge, inside InsertBooking), monkeypatch a function the request calls there so that
it calls `mariadb.kill9()` first (or `mariadb.stall()`), then `mariadb.restart()` in the test.

The app's database timeouts are production's (boxoffice/config.py): a statement on a stalled server fails
after READ_WRITE_TIMEOUT (4 s), a lock wait after LOCK_WAIT_SECONDS (3 s).

Run them on their own with `BOXOFFICE_DB=boxoffice_test_faults .venv/bin/pytest -q -m faults`.
"""
from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from boxoffice import create_app, database
from boxoffice.config import DatabaseSettings, load_config
from boxoffice.extensions import db
from tests import builders
from tests.faults.http import HttpClient
from tests.faults.server import INSTALL_DB, MARIADBD, PrivateMariaDB

FAULTS_DIR = __file__.rsplit("/", 1)[0]


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if str(item.path).startswith(FAULTS_DIR + "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def _private_server(tmp_path_factory) -> Iterator[PrivateMariaDB]:
    """The private server, installed, started and set up once per run; stopped at its end. Missing MariaDB
    server programs fail the run: the fault tests are never skipped."""
    missing = [program for program in (MARIADBD, INSTALL_DB) if not shutil.which(program)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: the fault tests start a MariaDB server of their own "
                    "(on Debian: apt-get install mariadb-server).")
    server = PrivateMariaDB(tmp_path_factory.mktemp("mariadb"))
    server.install()
    server.start()
    try:
        database.set_up(server.settings())
        yield server
    finally:
        server.stop()


@pytest.fixture
def mariadb(_private_server) -> Iterator[PrivateMariaDB]:
    """The private server, running; left running and answering after the test, whatever the test did."""
    _private_server.ensure_healthy()
    yield _private_server
    _private_server.close_connections()
    _private_server.ensure_healthy()


@pytest.fixture(scope="session")
def settings(_private_server) -> DatabaseSettings:
    return _private_server.settings()


@pytest.fixture(scope="session")
def test_database(settings) -> DatabaseSettings:
    return settings


@pytest.fixture(scope="session")
def owner_engine(test_database) -> Iterator[sa.Engine]:
    """The schema owner. It pings before each use: it outlives the kills and restarts of the tests. It waits
    10 s at most for a lock (not InnoDB's 50 s): a lock left behind fails a test, it does not stall the run."""
    engine = sa.create_engine(test_database.owner_url, pool_pre_ping=True, connect_args={
        "init_command": "SET time_zone = '+00:00', innodb_lock_wait_timeout = 10, lock_wait_timeout = 10",
        "connect_timeout": 5})
    yield engine
    engine.dispose()


def app_config(settings: DatabaseSettings) -> dict:
    """The app's settings for `settings`' database, everything else (the engines' options: timeouts, pool,
    the checkout's liveness check) exactly as production configures it."""
    config = load_config()
    binds = {name: {**options, "url": settings.reports_url} for name, options in config["SQLALCHEMY_BINDS"].items()}
    return {"TESTING": True, "DATABASE": settings, "SQLALCHEMY_DATABASE_URI": settings.app_url,
            "SQLALCHEMY_BINDS": binds}


@pytest.fixture
def app(mariadb, settings) -> Iterator[Flask]:
    """A fresh app on the private server for each test (its pools start empty)."""
    app = create_app(app_config(settings))
    yield app
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def committed_db(_private_server, owner_engine) -> Iterator[sa.Connection]:
    """An autocommit connection as the owner for building a test's data; everything made during the test
    (the app's own rows included) is deleted at its end, on a new connection: a test that kills the server
    kills this one too (take another from `owner_engine` to read rows after a restart)."""
    with owner_engine.connect() as connection:
        marks = builders._marks(connection)
    connection = owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield connection
    finally:
        connection.invalidate()
        connection.close()
        _private_server.close_connections()
        _private_server.ensure_healthy()
        with owner_engine.begin() as cleanup:
            for table, key in builders._CLEANUP_ORDER:
                cleanup.execute(sa.text(f"DELETE FROM {table} WHERE {key} > :mark ORDER BY {key} DESC"),
                                {"mark": marks[builders._MARK_OF.get(table, table)]})


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The test's app served over HTTP on a free port, threaded (as a worker with threads), for real
    clients and the browser."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture
def http(live_server) -> HttpClient:
    return HttpClient(live_server)
