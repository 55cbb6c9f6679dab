"""Alembic environment: migrations run as the owner user, then the repeatable SQL objects are re-applied.

Versioned changes to tables live in sql/migrations/NNNN_*.sql, each applied by one revision in
versions/. Views, triggers and procedures live in sql/objects/ and are dropped and re-created after every
upgrade that reaches head, so their files always hold their one current definition (like Flyway's
repeatable migrations).
"""
import sqlalchemy as sa
from alembic import context

from boxoffice.sqlfiles import repeatable_object_files, run_sql_file

config = context.config


def run_migrations_online() -> None:
    url = config.attributes.get("owner_url") or config.get_main_option("sqlalchemy.url")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool,
                              connect_args={"init_command": "SET time_zone = '+00:00'"})
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
        # The object files hold the current definitions, which may use tables of the newest revision:
        # they are applied once the schema is at head (an upgrade to an older revision leaves the objects
        # for the upgrade that reaches head).
        at_head = context.get_context().get_current_revision() == context.script.get_current_head()
        if at_head and not context.get_x_argument(as_dictionary=True).get("skip_objects"):
            for path in repeatable_object_files():
                run_sql_file(connection, path)
            connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) mode is not used: the SQL already lives in sql/.")
run_migrations_online()
