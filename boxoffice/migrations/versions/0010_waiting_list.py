"""A waiting list for sold-out events (the line, its offers and their tokens); the reports' new filters on shared
links and an index for their average order value.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0010_waiting_list.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
