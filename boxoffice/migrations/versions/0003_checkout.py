"""Checkout: the once-only hold extension, the simulated gateway ledger, the mail outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0003_checkout.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
