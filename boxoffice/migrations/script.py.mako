"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
from alembic import op

from boxoffice.sqlfiles import run_sql_file

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file(op.get_bind(), "migrations/NNNN_name.sql")


def downgrade() -> None:
    raise NotImplementedError("The box office only moves forward; restore a backup to go back.")
