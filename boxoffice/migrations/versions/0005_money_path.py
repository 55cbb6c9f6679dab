"""The money path: payment attempts, booking refunds, the outbox states, the simulated provider's cards and refunds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0005_money_path.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
