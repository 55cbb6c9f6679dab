"""One transaction of a back-office change, with the database's refusals turned into domain errors.

The database keeps the rules of the box office in CHECK constraints and unique keys (sql/migrations). A
service does not repeat those rules in Python: it writes, and when the database refuses, the refusal
becomes a BoxOfficeError whose message the person can act on. Each service gives the messages for the
constraints and keys of its own tables, by name.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy.exc import DBAPIError

from ..errors import CHECK_CONSTRAINT_FAILED, DUPLICATE_KEY, BoxOfficeError, DuplicateRecord, from_database_error
from ..extensions import db

# MariaDB names the constraint or key in its message: "CONSTRAINT `ck_x` failed for ..." and
# "Duplicate entry '...' for key 'uq_x'".
_NAMED = re.compile(r"CONSTRAINT `([^`]+)` failed|for key '(?:[^'.]+\.)?([^']+)'")


def refusal(error: DBAPIError, messages: Mapping[str, str]) -> BoxOfficeError | None:
    """The domain error for a refusal by the database: a broken CHECK constraint or unique key named in
    `messages` gets that message; SIGNALs and other duplicates as errors.from_database_error says.
    None when the error is not a refusal but a fault."""
    args = getattr(error.orig, "args", ())
    if len(args) >= 2 and args[0] in (CHECK_CONSTRAINT_FAILED, DUPLICATE_KEY):
        named = _NAMED.search(str(args[1]))
        name = named and (named.group(1) or named.group(2))
        if name in messages:
            return (DuplicateRecord if args[0] == DUPLICATE_KEY else BoxOfficeError)(messages[name])
    return from_database_error(error)


@contextmanager
def transaction(messages: Mapping[str, str]) -> Iterator[None]:
    """Run the block as one transaction of db.session: committed at its end, rolled back whole on any
    error. A refusal by the database (see `refusal`) is raised as its domain error."""
    try:
        yield
        db.session.commit()
    except DBAPIError as error:
        db.session.rollback()
        refused = refusal(error, messages)
        if refused is None:
            raise
        raise refused from error
    except BaseException:
        db.session.rollback()
        raise


def procedure_may_commit() -> bool:
    """Whether a procedure called now may commit db.session's transaction itself (the `p_commit` of
    HoldSeats, ExtendHold and InsertBooking): yes when the transaction is the connection's own, no when it
    is a savepoint inside an outer transaction (a test's), which only its owner may end."""
    return not db.session.connection().in_nested_transaction()
