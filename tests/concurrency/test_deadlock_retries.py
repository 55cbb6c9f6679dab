"""unit_of_work.retried_after_deadlock against a real deadlock. The decorated unit of work takes one event's
lock row and then another's, while a second connection takes the same two in the opposite order: InnoDB
finds the cycle and rolls back the lighter transaction, the unit of work's (its partner has changed more
rows first), with error 1213. The unit of work runs again and succeeds, its first run undone whole; it gives
up with Busy when it is the victim every time; and inside an outer transaction (a test's), which the
deadlock has rolled back too, it is not run again."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from boxoffice.errors import DEADLOCK, Busy
from boxoffice.extensions import db
from boxoffice.services.unit_of_work import DEADLOCK_RETRIES, LOCK_EVENT, retried_after_deadlock, unit_of_work
from tests.builders import committed, make_customer, make_event, make_venue, rows

pytestmark = pytest.mark.concurrency


class Deadlocks:
    """Two events and a partner connection that deadlocks with the unit of work `times` times, then lets it
    be. Each time, the partner changes a few rows (so that its transaction is the heavier, and InnoDB chooses
    the unit of work as the victim), takes the second event's lock row, waits until the unit of work has
    taken the first's (`meet`), then asks for the first's: granted once the victim is rolled back, it rolls
    back too."""

    def __init__(self, c, owner_engine: sa.Engine, times: int):
        venue = make_venue(c, rows=1, seats_per_row=2)
        self.first, self.second = make_event(c, venue).event_id, make_event(c, venue).event_id
        self.ballast = [make_customer(c).customer_id for _ in range(8)]
        self.times = times
        self.meetings = 0
        self._barrier = threading.Barrier(2, timeout=20)
        self._engine = owner_engine
        self.partner_error: BaseException | None = None
        self._thread = threading.Thread(target=self._partner, daemon=True)
        self._thread.start()

    def _partner(self) -> None:
        try:
            with self._engine.connect() as partner:
                for _ in range(self.times):
                    partner.execute(sa.text("UPDATE customers SET full_name = CONCAT(full_name, '.') "
                                            "WHERE customer_id IN :ids").bindparams(
                        sa.bindparam("ids", expanding=True)), {"ids": self.ballast})
                    partner.execute(LOCK_EVENT, {"event_id": self.second})
                    self._barrier.wait()
                    partner.execute(LOCK_EVENT, {"event_id": self.first})
                    partner.rollback()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            self.partner_error = error
            self._barrier.abort()

    def meet(self) -> None:
        """In the unit of work, holding the first event's lock row: the partner's turn, while it has rounds
        left."""
        if self.meetings < self.times:
            self.meetings += 1
            self._barrier.wait()

    def done(self) -> None:
        self._thread.join(20)
        assert not self._thread.is_alive(), "the partner connection is still waiting"
        assert self.partner_error is None, f"the partner failed: {self.partner_error!r}"


def taking_both_events(deadlocks: Deadlocks, runs: list[int]):
    """A decorated unit of work that marks the first event (a change the deadlock must undo), takes the first
    event's lock row, meets its partner, then takes the second's. Returns how many times it ran."""

    @retried_after_deadlock
    def take_both() -> int:
        runs.append(1)
        with unit_of_work(lock_event=deadlocks.first):
            db.session.execute(sa.text("UPDATE events SET title = CONCAT(title, ' +') WHERE event_id = :e"),
                               {"e": deadlocks.first})
            deadlocks.meet()
            db.session.execute(LOCK_EVENT, {"event_id": deadlocks.second})
        return len(runs)

    return take_both


def marks(c, event_id: int) -> int:
    [(title,)] = rows(c, "SELECT title FROM events WHERE event_id = :e", e=event_id)
    return title.count(" +")


def test_a_unit_of_work_chosen_as_a_deadlocks_victim_runs_again_and_succeeds(app, owner_engine):
    with committed(owner_engine) as c:
        deadlocks = Deadlocks(c, owner_engine, times=1)
        runs: list[int] = []
        with app.app_context():
            try:
                assert taking_both_events(deadlocks, runs)() == 2
            finally:
                db.session.remove()
        deadlocks.done()
        assert marks(c, deadlocks.first) == 1, "the victim's first run was undone whole, the second committed"


def test_a_unit_of_work_that_is_the_victim_every_time_gives_up_busy_after_its_retries(app, owner_engine):
    with committed(owner_engine) as c:
        deadlocks = Deadlocks(c, owner_engine, times=1 + DEADLOCK_RETRIES)
        runs: list[int] = []
        with app.app_context():
            try:
                with pytest.raises(Busy) as busy:
                    taking_both_events(deadlocks, runs)()
            finally:
                db.session.remove()
        deadlocks.done()
        assert len(runs) == 1 + DEADLOCK_RETRIES
        assert busy.value.__cause__.orig.args[0] == DEADLOCK
        assert marks(c, deadlocks.first) == 0, "nothing of any run was kept"


def errnos(error: BaseException | None) -> list[int]:
    """The database error numbers along an exception's chain (its causes and the errors it was raised in)."""
    found = []
    while error is not None:
        if isinstance(error, sa.exc.DBAPIError):
            found.append(error.orig.args[0])
        error = error.__cause__ or error.__context__
    return found


def test_inside_an_outer_transaction_a_deadlocks_victim_is_not_run_again(db_session, owner_engine):
    """The deadlock has rolled back the outer transaction (a test's) whole, savepoints and all: running the
    unit of work again would do its work outside the transaction its caller thinks it is in. (What leaves is
    the fault of unit_of_work's own rollback to its savepoint, which the deadlock took with it: 1305, raised
    while handling the deadlock.)"""
    with committed(owner_engine) as c:
        deadlocks = Deadlocks(c, owner_engine, times=1)
        runs: list[int] = []
        with pytest.raises((Busy, sa.exc.DBAPIError)) as raised:
            taking_both_events(deadlocks, runs)()
        deadlocks.done()
        assert runs == [1]
        assert DEADLOCK in errnos(raised.value)
        assert marks(c, deadlocks.first) == 0
