"""The app's database connections skip only the ROLLBACKs that have nothing to undo (boxoffice/dbapi.py)."""
from __future__ import annotations

import pytest

from boxoffice import create_app
from boxoffice.config import load_config
from boxoffice.extensions import db


@pytest.fixture
def engine(test_database):
    """The engine of an app with one pooled connection, so each checkout gets the same connection back."""
    options = {**load_config()["SQLALCHEMY_ENGINE_OPTIONS"], "pool_size": 1, "max_overflow": 0}
    app = create_app({"TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": options})
    with app.app_context():
        yield db.engine
        db.engine.dispose()


def questions(connection) -> int:
    """Statements the server has had from this connection (COMMIT and ROLLBACK included)."""
    return int(connection.exec_driver_sql("SHOW SESSION STATUS LIKE 'Questions'").one()[1])


def test_a_connection_handed_back_in_the_middle_of_a_transaction_is_rolled_back(engine):
    with engine.connect() as connection:
        # A raw cursor: SQLAlchemy does not know that this opens a transaction.
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute("SELECT COUNT(*) FROM events")
        cursor.fetchall()
        cursor.execute("SELECT @@in_transaction")
        assert cursor.fetchone()[0] == 1
        cursor.close()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT @@in_transaction").scalar() == 0


def test_no_rollback_is_sent_when_nothing_ran_since_the_commit(engine):
    with engine.connect() as connection:
        before = questions(connection)
        connection.commit()
    # Handed back to the pool, which resets it, and checked out again.
    with engine.connect() as connection:
        after = questions(connection)
    assert after - before == 2, "only the COMMIT and the second SHOW STATUS reach the server, no ROLLBACK"


def test_a_rollback_after_a_statement_ends_the_transaction(engine):
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT COUNT(*) FROM events").all()
        assert connection.exec_driver_sql("SELECT @@in_transaction").scalar() == 1
        connection.rollback()
        assert connection.exec_driver_sql("SELECT @@in_transaction").scalar() == 0


def test_no_commit_is_sent_when_the_last_ok_packet_says_no_transaction_is_open(engine):
    with engine.connect() as connection:
        connection.exec_driver_sql("UPDATE events SET title = title WHERE event_id = 0")
        connection.exec_driver_sql("COMMIT")  # as a procedure that commits its own work ends
        connection.exec_driver_sql("DO 1")
        before = questions(connection)
        connection.exec_driver_sql("DO 1")
        connection.commit()
        assert questions(connection) - before == 2, "only DO and SHOW STATUS reach the server, no COMMIT"


def test_a_commit_after_rows_is_always_sent_the_server_status_being_unknown(engine):
    """A result set carries no status flags: a locking read's transaction must still be committed."""
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT event_id FROM events ORDER BY event_id LIMIT 1 FOR UPDATE").all()
        connection.commit()
        assert connection.exec_driver_sql("SELECT @@in_transaction").scalar() == 0


def test_a_commit_after_a_write_is_sent(engine):
    with engine.connect() as connection:
        connection.exec_driver_sql("UPDATE events SET title = title WHERE event_id = 0")
        before = questions(connection)
        connection.exec_driver_sql("UPDATE events SET title = title WHERE event_id = 0")
        connection.commit()
        assert questions(connection) - before == 3, "the UPDATE, the COMMIT and SHOW STATUS"
