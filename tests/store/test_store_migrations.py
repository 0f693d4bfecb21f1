"""The schema comes only from the migrations, and opening is safe when nodes race."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from relay.store import SqlStore, open_store
from relay.store.migrate import head_revision
from relay.store.tables import metadata


def test_migrated_schema_matches_the_query_tables(store: SqlStore) -> None:
    """Alembic finds no difference between the migrated schema and relay/store/tables.py."""
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_schema_is_at_head_with_only_the_migrated_tables(store: SqlStore) -> None:
    """open_store leaves the schema at head; its tables are exactly those queries know."""
    with store.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names())
    assert revision == head_revision() is not None
    assert tables == {"alembic_version", *metadata.tables}
    assert {"messages", "message_bodies", "transitions"} <= tables


def test_nodes_opening_an_empty_database_together(store_url: str) -> None:
    """Four nodes migrating one empty database at once all succeed (migration lock)."""
    stores: list[SqlStore] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def node() -> None:
        barrier.wait()
        try:
            stores.append(open_store(store_url))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=node) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert len(stores) == 4
        with stores[0].engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_revision() == head_revision()
    finally:
        for opened in stores:
            opened.close()
