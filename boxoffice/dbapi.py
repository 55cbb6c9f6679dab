"""The PyMySQL connection of the app's engines: one that skips the COMMITs and ROLLBACKs the server has
nothing to do for.

SQLAlchemy's pool rolls a connection back whenever it is handed back, and the session hands it back after
every commit and at the end of every request, right after its own ROLLBACK: two or three round trips a
request that change nothing on the server. A transaction is only ever opened by a statement (the app's
connections are not in autocommit mode; MariaDB's completion_type is NO_CHAIN, so a COMMIT or ROLLBACK
opens none), so a connection that has run no statement since its last COMMIT or ROLLBACK has nothing to
end. Nor has one whose last statement ended in an OK packet that says no transaction is open (a procedure
that committed its own work): the server's status flags come with every OK packet, though not with a
result set, whose transaction stays unknown. Every statement (SQLAlchemy's, or a raw cursor's) goes
through `query`, and every answer through `_read_query_result`; whenever it cannot be sure, it sends the
COMMIT or ROLLBACK as before.

It also tells whether the server has closed a connection while it waited in the pool (a restart, a kill,
wait_timeout), without a round trip, so that the pool replaces it before a request uses it (`_checkout`);
and while the server does not answer at all, each engine's `Breaker` refuses new work at once instead of
letting every request wait out the timeouts of boxoffice/config.py.
"""
from __future__ import annotations

import functools
import select
import ssl
import threading
import time

import pymysql.connections
import sqlalchemy as sa
from flask import Flask
from pymysql.constants import CR, SERVER_STATUS

from .config import CONNECT_TIMEOUT, READ_WRITE_TIMEOUT
from .extensions import db

# After a timeout, how long an engine refuses new work before one request may try the server again.
COOL_DOWN_SECONDS = 2.0


def timed_out(error: BaseException) -> bool:
    """Whether a PyMySQL error is a timeout: PyMySQL raises its own error while handling the socket's."""
    return isinstance(getattr(error, "original_exception", None) or error.__context__, TimeoutError)


class Breaker:
    """Fails fast while the database does not answer. A timeout (a stalled server, a lost network) costs the
    whole timeout and holds a worker thread for it: with every request waiting its turn, a stalled database
    would become a hang after all. So after a timeout the engine refuses new connections and checkouts at
    once for COOL_DOWN_SECONDS (the request gets the 503 page), then lets one request try the server, still
    refusing the others while it does; the first connection made, or handed back to the pool healthy,
    closes the breaker. Errors that come fast (a refused connection, a restart) never trip it."""

    def __init__(self, cool_down: float = COOL_DOWN_SECONDS, trial: float = CONNECT_TIMEOUT + READ_WRITE_TIMEOUT):
        self.cool_down, self.trial = cool_down, trial
        self.tripped = False
        self._until = 0.0
        self._lock = threading.Lock()

    def refuses(self) -> bool:
        if not self.tripped:
            return False
        with self._lock:
            now = time.monotonic()
            if now < self._until:
                return True
            self._until = now + self.trial  # this request tries; the others wait for its answer
            return False

    def trip(self) -> None:
        with self._lock:
            self.tripped = True
            self._until = time.monotonic() + self.cool_down

    def reset(self) -> None:
        if self.tripped:
            with self._lock:
                self.tripped = False

    @staticmethod
    def refusal() -> pymysql.err.OperationalError:
        return pymysql.err.OperationalError(
            CR.CR_CONN_HOST_ERROR, "The database did not answer a moment ago; it is not asked again yet.")


class Connection(pymysql.connections.Connection):
    # True until a COMMIT or ROLLBACK succeeds: connecting runs init_command.
    _statement_since_end = True
    # Whether the last answer was an OK packet, whose status flags say if a transaction is open.
    _status_known = False
    # The engine's breaker, which a timeout trips; and whether the pool has not yet handed the connection out.
    breaker: Breaker | None = None
    just_connected = False

    def query(self, sql, unbuffered=False):
        self._statement_since_end = True
        try:
            return super().query(sql, unbuffered)
        except pymysql.err.OperationalError as error:
            if self.breaker is not None and timed_out(error):
                self.breaker.trip()
            raise

    def _read_query_result(self, unbuffered=False):
        self._status_known = False
        affected = super()._read_query_result(unbuffered)
        self._status_known = self._result.server_status is not None
        return affected

    def begin(self):
        self._statement_since_end = True
        super().begin()

    def _nothing_to_end(self) -> bool:
        return not self._statement_since_end or (
            self._status_known and not self.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)

    def commit(self):
        if not self._nothing_to_end():
            super().commit()
        self._statement_since_end = False

    def rollback(self):
        if not self._nothing_to_end():
            super().rollback()
        self._statement_since_end = False

    def closed_by_server(self) -> bool:
        """Whether an idle connection is dead: the server only ever speaks when asked, so a socket with
        something to read (end of file, or the error packet of a server closing it) is a connection the
        server has let go. A zero-timeout poll, one system call. Over TLS the readable bytes may instead be
        the server's session tickets, sent after the handshake: there a ping decides (once, as it reads
        them)."""
        if self._sock is None:
            return True
        poller = select.poll()
        poller.register(self._sock, select.POLLIN | select.POLLPRI)
        if not poller.poll(0):
            return False
        if not isinstance(self._sock, ssl.SSLSocket):
            return True
        try:
            self.ping(reconnect=False)
        except pymysql.err.Error:
            return True
        return False


def _connect(breaker: Breaker, dialect, connection_record, cargs, cparams) -> Connection:
    if breaker.refuses():
        raise breaker.refusal()
    try:
        connection = Connection(*cargs, **cparams)
    except pymysql.err.OperationalError as error:
        if timed_out(error):
            breaker.trip()
        raise
    breaker.reset()
    connection.breaker = breaker
    connection.just_connected = True
    return connection


def _checkout(breaker: Breaker, dbapi_connection, connection_record, connection_proxy) -> None:
    """A connection taken from the pool that the server has closed is replaced (DisconnectionError makes
    the pool connect afresh, and give up with an OperationalError if it cannot): the first request after
    a restart of the database gets a working connection instead of an error. A connection that fails
    mid-statement (a read timeout, a server killed while it answers) is not retried, since the statement
    may have had its effect; SQLAlchemy invalidates it, and the pool's other connections with it. While
    the breaker refuses, a pooled connection is not handed out either (the pool lets it go)."""
    if not isinstance(dbapi_connection, Connection):
        return
    if dbapi_connection.just_connected:
        dbapi_connection.just_connected = False  # the breaker was asked as it connected
    elif breaker.refuses():
        raise breaker.refusal()
    if dbapi_connection.closed_by_server():
        raise sa.exc.DisconnectionError("the database server closed this connection while it was in the pool")


def _checkin(breaker: Breaker, dbapi_connection, connection_record) -> None:
    # A connection handed back healthy (SQLAlchemy hands back None for one it invalidated): the server answers.
    if dbapi_connection is not None:
        breaker.reset()


def init_app(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            breaker = Breaker()
            sa.event.listen(engine, "do_connect", functools.partial(_connect, breaker))
            sa.event.listen(engine, "checkout", functools.partial(_checkout, breaker))
            sa.event.listen(engine, "checkin", functools.partial(_checkin, breaker))
