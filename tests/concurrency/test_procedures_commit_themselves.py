"""The hold and booking procedures commit the app's transaction themselves (their `p_commit`): the event's
lock is let go inside the server, before the answer travels back, and no COMMIT round trip follows."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from boxoffice import create_app
from boxoffice.config import load_config
from boxoffice.extensions import db
from boxoffice.services import holds
from tests.builders import committed, make_customer, make_event, make_venue
from tests.concurrency.harness import new_key, pay

pytestmark = pytest.mark.concurrency


def statements_sent() -> int:
    """Statements this session's connection has sent the server, COMMIT and ROLLBACK included; the reading
    counts itself, and its transaction is ended (one COMMIT more) so that the next change starts afresh."""
    sent = int(db.session.execute(sa.text("SHOW SESSION STATUS LIKE 'Questions'")).one()[1])
    db.session.commit()
    return sent


def event_lock_is_free(engine: sa.Engine, event_id: int) -> bool:
    with engine.connect() as other:
        other.execute(sa.text("SET SESSION innodb_lock_wait_timeout = 1"))
        try:
            other.execute(sa.text("SELECT event_id FROM events WHERE event_id = :e FOR UPDATE NOWAIT"), {"e": event_id})
        except sa.exc.OperationalError:
            return False
        finally:
            other.rollback()
    return True


@pytest.fixture
def one_connection_app(test_database):
    """The app with a pool of one connection, so every statement below is counted on the same session."""
    options = {**load_config()["SQLALCHEMY_ENGINE_OPTIONS"], "pool_size": 1, "max_overflow": 0}
    app = create_app({"TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": options})
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_hold_change_and_a_booking_commit_inside_the_server(one_connection_app, owner_engine):
    app = one_connection_app
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=1, seats_per_row=4)
        buyer = make_customer(c).customer_id
        event = make_event(c, venue)
        owner = holds.new_hold_owner()
        with app.app_context():
            before = statements_sent()
            hold = holds.toggle_seat(event.event_id, event.seat_ids("A1")[0], owner, minutes=10)
            # The reading before and its COMMIT, the CALL, the reading now: no COMMIT after the CALL.
            assert statements_sent() - before == 3
            assert hold.seat_ids == tuple(event.seat_ids("A1"))
            assert event_lock_is_free(owner_engine, event.event_id), "HoldSeats let the event's lock go"

            before = statements_sent()
            holds.extend_for_payment(event.event_id, owner)
            assert statements_sent() - before == 3
            assert event_lock_is_free(owner_engine, event.event_id), "ExtendHold let the event's lock go"

            confirmation = pay(event.event_id, owner, buyer, new_key())
            assert not confirmation.replayed
            assert event_lock_is_free(owner_engine, event.event_id), "InsertBooking let the event's lock go"
            db.session.remove()
        assert c.execute(sa.text("SELECT COUNT(*) FROM tickets WHERE booking_id = :b"),
                         {"b": confirmation.booking_id}).scalar() == 1
