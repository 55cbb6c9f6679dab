"""The one way a service runs a transaction: `with unit_of_work(): ...`.

The block is one transaction of db.session, begun afresh (so its reads see everything committed before
it began), committed at its end and rolled back whole on any error. With `lock_event`, it first takes the
event as a whole: its lock row (migration 0017) exclusive, which every hold, extension and booking of the
event holds shared for its own transaction (sql/objects/35_seat_states.sql, "Locks"). So the block runs
with none of them under way and none starting, as it always did, while they run beside each other; reads
after the lock see every change committed by whoever held it before. A lock not granted within the
session's lock wait timeout is the domain error Busy.

The database keeps the rules of the box office in CHECK constraints, unique keys, triggers and
procedures. A service does not repeat those rules in Python: it writes, and when the database refuses,
the refusal becomes a BoxOfficeError whose message the person can act on: SIGNALs and lock timeouts as
errors.from_database_error says, broken constraints and keys with the messages the service gives for
them by name. Anything else (the server gone, a timeout) is a fault and is raised as it is.

Nothing else in boxoffice/services commits or rolls back.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ..errors import (CHECK_CONSTRAINT_FAILED, DEADLOCK, DUPLICATE_KEY, BoxOfficeError, Busy, DuplicateRecord,
                      from_database_error)
from ..extensions import db

# MariaDB names the constraint or key in its message: "CONSTRAINT `ck_x` failed for ..." and
# "Duplicate entry '...' for key 'uq_x'".
_NAMED = re.compile(r"CONSTRAINT `([^`]+)` failed|for key '(?:[^'.]+\.)?([^']+)'")

# The lock row alone (the events row is the last lock of a booking: taking it here first could wait in
# the opposite order), then the event as it is once the lock is ours.
LOCK_EVENT = sa.text("SELECT event_id FROM event_locks WHERE event_id = :event_id FOR UPDATE")
READ_EVENT = sa.text("""
    SELECT event_id, status, starts_at, sales_start, sales_end, max_seats_per_order
      FROM events WHERE event_id = :event_id""")


def refusal(error: DBAPIError, messages: Mapping[str, str]) -> BoxOfficeError | None:
    """The domain error for a refusal by the database: a broken CHECK constraint or unique key named in
    `messages` gets that message; SIGNALs, lock timeouts and other duplicates as errors.from_database_error
    says. None when the error is not a refusal but a fault."""
    args = getattr(error.orig, "args", ())
    if len(args) >= 2 and args[0] in (CHECK_CONSTRAINT_FAILED, DUPLICATE_KEY):
        named = _NAMED.search(str(args[1]))
        name = named and (named.group(1) or named.group(2))
        if name in messages:
            return (DuplicateRecord if args[0] == DUPLICATE_KEY else BoxOfficeError)(messages[name])
    return from_database_error(error)


def refused_key(error: BoxOfficeError) -> str | None:
    """The unique key a DuplicateRecord raised by unit_of_work broke, if the database named one."""
    cause = error.__cause__
    if not isinstance(error, DuplicateRecord) or not isinstance(cause, DBAPIError):
        return None
    named = _NAMED.search(str(getattr(cause.orig, "args", ("", ""))[1]))
    return named and named.group(2)


@dataclass(frozen=True)
class Work:
    """What the block is given: the locked event's row (None without `lock_event`, or for no such event)."""

    event: sa.Row | None

    @property
    def procedure_may_commit(self) -> bool:
        """Whether a procedure called in this block may commit the transaction itself (the `p_commit` of
        HoldSeats, ExtendHold and InsertBooking), so their locks are let go inside the server: yes when
        the transaction is the connection's own, no when it is a savepoint inside an outer transaction (a
        test's), which only its owner may end. (After such a commit, the block's own COMMIT costs no round
        trip: boxoffice/dbapi.py knows there is nothing to end.)"""
        return not db.session.connection().in_nested_transaction()


@contextmanager
def unit_of_work(*, lock_event: int | None = None, messages: Mapping[str, str] | None = None) -> Iterator[Work]:
    """Run the block as one transaction (see the module's docstring). Raises the domain error of a
    refusal by the database, Busy for a lock not granted in time, and any fault as it is."""
    session = db.session
    # A fresh transaction: whatever the request read before is let go, and the snapshot of this one is
    # taken after the lock.
    session.commit()
    try:
        event = None
        if lock_event is not None and session.execute(LOCK_EVENT, {"event_id": lock_event}).one_or_none():
            event = session.execute(READ_EVENT, {"event_id": lock_event}).one()
        yield Work(event)
        session.commit()
    except DBAPIError as error:
        session.rollback()
        refused = refusal(error, messages or {})
        if refused is None:
            raise
        raise refused from error
    except BaseException:
        session.rollback()
        raise


T = TypeVar("T")
# How many times a unit of work chosen as a deadlock's victim is run again.
DEADLOCK_RETRIES = 2


def retried_after_deadlock(work: Callable[..., T]) -> Callable[..., T]:
    """For a function that runs one unit of work: run it again (DEADLOCK_RETRIES times at most) when the
    database chose its transaction as a deadlock's victim. InnoDB rolls the victim back whole, so running it
    again is safe (and InnoDB's own advice): changes that lock the same rows in other orders can meet however
    the procedures order their locks (a hold taken as another buyer's hold runs out and its owner pays).
    Inside an outer transaction (a test's) nothing is run again: the deadlock rolled that back too, so the
    unit of work's savepoint is gone and rolling back to it fails, and that error, not Busy, is raised."""

    @wraps(work)
    def again(*args, **kwargs) -> T:
        retries = 0
        while True:
            try:
                return work(*args, **kwargs)
            except Busy as busy:
                cause = busy.__cause__
                deadlocked = isinstance(cause, DBAPIError) and getattr(cause.orig, "args", (None,))[0] == DEADLOCK
                retries += 1
                if not deadlocked or retries > DEADLOCK_RETRIES:
                    raise

    return again
