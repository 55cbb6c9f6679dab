"""Buyers: guest customers (an e-mail unique among accounts only), venue details for visitors.

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0009_buyers.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
