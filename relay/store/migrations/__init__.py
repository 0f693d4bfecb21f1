"""Alembic migrations of the store (run by relay.store.migrate)."""
