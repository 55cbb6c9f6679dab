"""Reports: rollups of the sales summaries per venue, and buyer counts per customer type.

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0020_report_rollups.sql")
    # The newest migration that changes how the summaries are kept refills them all (sql/summaries/refill.sql
    # follows the newest schema): here the rollups, from the rows already there.
    run_sql_file(op.get_bind(), "summaries/refill.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
