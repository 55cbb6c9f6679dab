"""Where the reports read: a read replica of the database when one is configured (DATABASE_REPLICA_URL,
the `reports_replica` bind) and it is fresh enough, else the primary (the `reports` bind).

The lag guard asks the replica how far behind it is (`SHOW REPLICA STATUS`, its `Seconds_Behind_Master`;
MySQL 8 calls it `Seconds_Behind_Source`), once per request:

* caught up (under a second): the reports read the replica and say nothing;
* behind, up to REPLICA_MAX_LAG seconds: they read the replica and the page says "figures as of hh:mm:ss";
* further behind, replication stopped or broken, the status unreadable or the replica away: they read the
  primary, whose figures are current.

Seat maps, checkout and every other page read the primary always: only the reports code asks this module.
The reporting user needs the right to read the status on the replica: `GRANT SLAVE MONITOR ON *.*` on
MariaDB (10.5 and later), `GRANT REPLICATION CLIENT ON *.*` on MySQL (docs/deployment.md).
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, g

from ..clock import utcnow
from ..extensions import db

log = logging.getLogger(__name__)

REPLICA_BIND = "reports_replica"
# MariaDB (and MySQL before 8.0.22) name the columns after the master and the slave; MySQL 8 after the source
# and the replica.
_LAG_COLUMNS = ("Seconds_Behind_Master", "Seconds_Behind_Source")
_RUNNING_COLUMNS = (("Slave_IO_Running", "Replica_IO_Running"), ("Slave_SQL_Running", "Replica_SQL_Running"))
SYNTAX_ERROR = 1064


@dataclass(frozen=True)
class ReportsSource:
    """The engine the reports of one request read, and how fresh its figures are."""

    engine: sa.Engine
    on_replica: bool
    lag: float | None  # seconds the replica is behind (None: no replica, or it cannot say)
    as_of: dt.datetime | None  # (UTC) what the figures are as of, when they are older than a second


def _column(row: dict, names: tuple[str, ...]):
    return next((row[name] for name in names if name in row), None)


def replica_lag(engine: sa.Engine) -> float | None:
    """Seconds the replica behind `engine` is behind its primary; None when it is not replicating (a thread
    stopped or broken, no replication configured) or cannot be asked (away, no right to read the status)."""
    try:
        with engine.connect() as connection:
            rows = None
            # SHOW REPLICA STATUS: MariaDB 10.5+, MySQL 8.0.22+ (8.4 knows no other); SHOW SLAVE STATUS before.
            for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
                try:
                    rows = connection.exec_driver_sql(statement).mappings().all()
                    break
                except sa.exc.DBAPIError as error:
                    if getattr(error.orig, "args", (None,))[0] != SYNTAX_ERROR:
                        raise
    except sa.exc.DBAPIError as error:
        log.warning("The replica's lag cannot be read (%s); the reports read the primary.", error.orig)
        return None
    if not rows:
        log.warning("The reports' replica is not replicating anything; the reports read the primary.")
    return lag_from_status([dict(row) for row in rows])


def lag_from_status(rows: list[dict]) -> float | None:
    """The lag that SHOW REPLICA STATUS's rows say (one row per primary; the worst counts), or None when a
    replication thread is not running or there is no row."""
    lags = []
    for row in rows:
        if any(_column(row, names) != "Yes" for names in _RUNNING_COLUMNS):
            return None
        lag = _column(row, _LAG_COLUMNS)
        if lag is None:
            return None
        lags.append(float(lag))
    return max(lags) if lags else None


def reports_source() -> ReportsSource:
    """The engine for this request's reports and how fresh it is: decided once per request, so that every
    statement of a page reads the same server and the page's note tells the truth about all of them."""
    replica = db.engines.get(REPLICA_BIND)
    if replica is None:
        return ReportsSource(db.engines["reports"], False, None, None)
    if "reports_source" in g:
        return g.reports_source
    lag = replica_lag(replica)
    if lag is not None and lag <= current_app.config["REPLICA_MAX_LAG"]:
        source = ReportsSource(replica, True, lag, utcnow() - dt.timedelta(seconds=lag) if lag >= 1 else None)
    else:
        if lag is not None:
            log.warning("The reports' replica is %.0f s behind; the reports read the primary.", lag)
        source = ReportsSource(db.engines["reports"], False, lag, None)
    g.reports_source = source
    return source
