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
wait_timeout), without a round trip, so that the pool replaces it before a request uses it (`_checkout`).
"""
from __future__ import annotations

import select
import ssl

import pymysql.connections
import sqlalchemy as sa
from flask import Flask
from pymysql.constants import SERVER_STATUS

from .extensions import db


class Connection(pymysql.connections.Connection):
    # True until a COMMIT or ROLLBACK succeeds: connecting runs init_command.
    _statement_since_end = True
    # Whether the last answer was an OK packet, whose status flags say if a transaction is open.
    _status_known = False

    def query(self, sql, unbuffered=False):
        self._statement_since_end = True
        return super().query(sql, unbuffered)

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


def _connect(dialect, connection_record, cargs, cparams) -> Connection:
    return Connection(*cargs, **cparams)


def _checkout(dbapi_connection, connection_record, connection_proxy) -> None:
    """A connection taken from the pool that the server has closed is replaced (DisconnectionError makes
    the pool connect afresh, and give up with an OperationalError if it cannot): the first request after
    a restart of the database gets a working connection instead of an error. A connection that fails
    mid-statement (a read timeout, a server killed while it answers) is not retried, since the statement
    may have had its effect; SQLAlchemy invalidates it, and the pool's other connections with it."""
    if isinstance(dbapi_connection, Connection) and dbapi_connection.closed_by_server():
        raise sa.exc.DisconnectionError("the database server closed this connection while it was in the pool")


def init_app(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            sa.event.listen(engine, "do_connect", _connect)
            sa.event.listen(engine, "checkout", _checkout)
