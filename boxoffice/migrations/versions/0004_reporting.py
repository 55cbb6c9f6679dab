"""Reporting: the sales summary tables (filled from the rows already there) and shared dashboard links.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0004_reporting.sql")
    # The rows already there are summarised by the newest migration that changes how the summaries are kept
    # (0020): sql/summaries/refill.sql follows the newest schema, so it cannot run at this one.


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
