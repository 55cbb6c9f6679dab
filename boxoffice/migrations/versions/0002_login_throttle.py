"""Failed sign-ins, for rate-limiting sign-in.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0002_login_throttle.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
