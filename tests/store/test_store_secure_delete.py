"""Deleted raw mail does not linger in the SQLite file's free space (secure_delete)."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

from relay.envelope import Envelope
from relay.store import open_store


def test_a_deleted_message_leaves_no_bytes_in_the_file(tmp_path: Path, envelope: Envelope) -> None:
    """After `relay queue delete`, the body's bytes are found nowhere in relay.db or its WAL."""
    path = tmp_path / "relay.db"
    marker = f"confidential-{uuid.uuid4().hex}".encode()
    store = open_store(f"sqlite:///{path}")
    try:
        kept = store.enqueue(b"Subject: kept\r\n\r\n" + b"k" * 2000, envelope, datetime.now(UTC))
        gone = store.enqueue(b"Subject: x\r\n\r\n" + marker * 40, envelope, datetime.now(UTC))
        store.delete(gone)
        assert [m.id for m in store.list()] == [kept]
    finally:
        store.close()  # the last connection checkpoints the WAL into the file
    files = [p for p in tmp_path.iterdir() if p.name.startswith("relay.db")]
    assert path in files
    assert [p.name for p in files if marker in p.read_bytes()] == []


def test_without_secure_delete_the_bytes_would_linger(tmp_path: Path) -> None:
    """The control: the same search finds a deleted row's bytes when SQLite does not
    overwrite them (some builds default to that; Relay's store turns it on itself)."""
    path = tmp_path / "plain.db"
    marker = f"confidential-{uuid.uuid4().hex}".encode()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA secure_delete = OFF")
    connection.execute("CREATE TABLE bodies (raw BLOB)")
    connection.execute("INSERT INTO bodies VALUES (?)", (b"k" * 2000,))
    connection.execute("INSERT INTO bodies VALUES (?)", (marker * 40,))
    connection.commit()
    connection.execute("DELETE FROM bodies WHERE rowid = 2")
    connection.commit()
    connection.close()
    assert marker in path.read_bytes()
