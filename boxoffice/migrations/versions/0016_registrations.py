"""Registrations waiting for their e-mail to be confirmed; keys for pruning the sign-in counters.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/0016_registrations.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
