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
"""
from __future__ import annotations

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


def _connect(dialect, connection_record, cargs, cparams) -> Connection:
    return Connection(*cargs, **cparams)


def init_app(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            sa.event.listen(engine, "do_connect", _connect)
