"""Alembic environment for the store: always run on a connection handed in by
``relay.store.migrate.upgrade_to_head`` (which holds the migration lock), never from an
alembic.ini. New tables (idempotency ledger, unresolved items, ...) arrive as new revisions
in ``versions/``; create one with ``alembic -c <ini with script_location = relay.store:migrations>
revision -m "..."``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("relay migrations run only through relay.store.migrate.upgrade_to_head")

# render_as_batch: SQLite cannot ALTER most things; batch mode rebuilds tables instead.
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
