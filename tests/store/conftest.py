"""Store fixtures: every store test runs on SQLite (a file in tmp_path) and on PostgreSQL.

The backend fixtures (store, store_url, postgres_schema_url) are in tests/support/store_backends.py.
Each test gets its own schema (search_path in the URL), dropped afterwards, so parallel
runs never see each other's tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from relay.envelope import Envelope
from relay.store import SqlStore


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
