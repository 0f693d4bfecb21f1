"""Store backends for tests, loaded for every folder by tests/support/plugin.py.

``store`` runs once on SQLite (a file in tmp_path) and once on PostgreSQL. PostgreSQL
runs when RELAY_TEST_POSTGRES_URL is set (CI sets postgresql://postgres@127.0.0.1:5432/test);
otherwise those tests skip and say so. Each PostgreSQL test gets its own schema
(search_path in the URL), dropped afterwards, so parallel runs never see each other.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from relay.store import SqlStore, open_store

POSTGRES_URL_VARIABLE = "RELAY_TEST_POSTGRES_URL"


@contextmanager
def postgres_schema(base_url: str, prefix: str = "relay_test") -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema, dropped afterwards
    (also used by the chaos harness and the benches, so runs never see each other)."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(base_url, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema."""
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (e.g. postgresql://...)")
    with postgres_schema(base) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'relay.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    """An empty, migrated store, once per backend."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
