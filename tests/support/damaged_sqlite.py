"""A real store file, written by the store, then damaged on disk as a failing disk or a
bad copy damages it: some pages overwritten with garbage."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from relay.envelope import Envelope
from relay.store import open_store

ENVELOPE = Envelope("rep@example.com", ("log@relay.localhost",), "127.0.0.1:1", "mx.example")
DAMAGED_INDEX = "ix_messages_state_not_before"


def damaged_store(path: Path, messages: int = 300) -> None:
    """Fill a store at ``path``, then overwrite the root page of an index that every new
    message is written to (and that an UPDATE matching no row never reads)."""
    store = open_store(f"sqlite:///{path}")
    try:
        for n in range(messages):
            raw = f"Subject: m{n}\r\nMessage-ID: <{n}@damage.test>\r\n\r\n".encode()
            store.enqueue(raw + b"x" * 3000, ENVELOPE, datetime.now(UTC))
    finally:
        store.close()
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        root = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (DAMAGED_INDEX,)
        ).fetchone()[0]
    finally:
        connection.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(os.urandom(page_size))
