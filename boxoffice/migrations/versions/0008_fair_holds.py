"""Fair holds: who took each held seat (account and network address), for the per-buyer cap.

Written at the same time as 0009 and 0010, which already followed 0007 when it was ready, and before
0011, which follows it: so it runs after 0010, whatever its number says, and the revisions stay one line
(0007, 0009, 0010, 0008, 0011).

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0008_fair_holds.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
