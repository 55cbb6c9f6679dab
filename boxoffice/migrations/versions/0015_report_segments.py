"""Reports: guests as a segment of their own, fully refunded bookings kept apart in the sales summaries.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The summaries were kept by customer type, with no fully refunded bookings: the newest migration that
    # changes how the summaries are kept (0020) fills them again from the rows, as they are now kept
    # (sql/summaries/refill.sql follows the newest schema, so it cannot run at this one).
    run_sql_file(op.get_bind(), "migrations/0015_report_segments.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
