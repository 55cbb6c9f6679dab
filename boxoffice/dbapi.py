"""The PyMySQL connection of the app's engines: one that skips ROLLBACKs the server has nothing to do for.

SQLAlchemy's pool rolls a connection back whenever it is handed back, and the session hands it back after
every commit and at the end of every request, right after its own ROLLBACK: two or three round trips a
request that change nothing on the server. A transaction is only ever opened by a statement (the app's
connections are not in autocommit mode; MariaDB's completion_type is NO_CHAIN, so a COMMIT or ROLLBACK
opens none), so a connection that has run no statement since its last COMMIT or ROLLBACK has nothing to
roll back. It knows, because every statement (SQLAlchemy's, or a raw cursor's) goes through `query`; and
it rolls back as before whenever it cannot be sure.
"""
from __future__ import annotations

import pymysql.connections
import sqlalchemy as sa
from flask import Flask

from .extensions import db


class Connection(pymysql.connections.Connection):
    # True until a COMMIT or ROLLBACK succeeds: connecting runs init_command.
    _statement_since_end = True

    def query(self, sql, unbuffered=False):
        self._statement_since_end = True
        return super().query(sql, unbuffered)

    def begin(self):
        self._statement_since_end = True
        super().begin()

    def commit(self):
        super().commit()
        self._statement_since_end = False

    def rollback(self):
        if self._statement_since_end:
            super().rollback()
            self._statement_since_end = False


def _connect(dialect, connection_record, cargs, cparams) -> Connection:
    return Connection(*cargs, **cparams)


def init_app(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            sa.event.listen(engine, "do_connect", _connect)
