"""Store fixtures: every store test runs on SQLite (a file in tmp_path) and on PostgreSQL.

PostgreSQL runs when RELAY_TEST_POSTGRES_URL is set (CI: postgresql://postgres@127.0.0.1:5432/test).
Each test gets its own schema (search_path in the URL), dropped afterwards, so parallel
runs never see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from relay.envelope import Envelope
from relay.store import SqlStore, open_store

POSTGRES_URL_VARIABLE = "RELAY_TEST_POSTGRES_URL"


def message_bytes(n: int = 0, subject: str = "Quarterly pricing", size: int = 2048) -> bytes:
    head = (
        f"Message-ID: <{n}.{uuid.uuid4().hex}@mail.example.com>\r\n"
        f"From: Rep <rep@example.com>\r\nTo: buyer@customer.example\r\n"
        f"Subject: {subject}\r\nDate: Mon, 6 Jan 2025 10:00:00 +0000\r\n\r\n"
    ).encode()
    return head + b"x" * max(size - len(head), 0)


ENVELOPE = Envelope(
    mail_from="rep@example.com",
    rcpt_tos=("log@relay.localhost", "log+abc@relay.localhost"),
    peer="127.0.0.1:40000",
    helo="mx.example.com",
)


@pytest.fixture
def postgres_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, private schema."""
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_URL_VARIABLE} (e.g. postgresql://...)")
    schema = f"relay_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'relay.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[SqlStore]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def envelope() -> Envelope:
    return ENVELOPE


@pytest.fixture
def make_message() -> Callable[..., bytes]:
    """Build a realistic message: make_message(n, subject=..., size=...)."""
    return message_bytes


@pytest.fixture
def enqueue(store: SqlStore) -> Callable[..., str]:
    """Enqueue a realistic 2 KB message; keyword arguments go to message_bytes."""
    counter = iter(range(1_000_000))

    def enqueue_one(**kwargs: object) -> str:
        return store.enqueue(message_bytes(next(counter), **kwargs), ENVELOPE, datetime.now(UTC))  # type: ignore[arg-type]

    return enqueue_one
