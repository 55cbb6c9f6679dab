"""The first box-office schema: people, venues and seats, events and inventory, bookings and payments.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0001_schema.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
