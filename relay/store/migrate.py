"""Bring the schema to the newest migration, safely when several nodes start together.

The lock: on PostgreSQL a transaction-level advisory lock
(``pg_advisory_xact_lock``, https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS)
keyed by the schema, so a second node waits, then finds the schema at head and does
nothing. PostgreSQL DDL is transactional, so a crash mid-migration leaves nothing half
done. On SQLite the migration runs inside ``BEGIN IMMEDIATE``, which serialises it
against every other writer of the file.
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from relay.store.engine import write_engine

SCRIPT_LOCATION = "relay.store:migrations"
_LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(hashtext('relay-migrations:' || current_schema()))"


def alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade_to_head(engine: Engine) -> None:
    """Run every pending migration, under the migration lock."""
    with write_engine(engine).begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text(_LOCK_MIGRATIONS))
        if MigrationContext.configure(connection).get_current_revision() == head_revision():
            return  # the common case at start-up: nothing to do, no Alembic machinery
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
