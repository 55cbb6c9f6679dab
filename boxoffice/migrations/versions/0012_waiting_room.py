"""An on-sale waiting room: an event's room (queue on, opening, admission rate) and the visitors in its line.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0012_waiting_room.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
