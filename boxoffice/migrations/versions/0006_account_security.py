"""Account security: session epochs, the sign-in throttle per account and address, the budget per address.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0006_account_security.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
