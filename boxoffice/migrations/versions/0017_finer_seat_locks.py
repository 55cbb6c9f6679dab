"""A higher ceiling for one event: the event's lock row, buyers' lock rows, a booking's rows refer to the former.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0017_finer_seat_locks.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
