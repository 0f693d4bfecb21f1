"""A damaged SQLite store: the readiness write fails as enqueue does, and quick_check
names the damage with the way back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.errors import StoreUnavailable
from relay.store import open_store
from relay.store.integrity import StoreDamaged, check_store_file
from tests.support.damaged_sqlite import ENVELOPE, damaged_store


def test_readiness_write_fails_where_enqueue_fails(tmp_path: Path) -> None:
    """Every new message is refused as malformed, so the readiness write must be too."""
    path = tmp_path / "relay.db"
    damaged_store(path)
    store = open_store(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreUnavailable, match="malformed"):
            store.enqueue(b"Subject: new\r\n\r\nx", ENVELOPE, datetime.now(UTC))
        with pytest.raises(StoreUnavailable, match="malformed"):
            store.check_writable()
    finally:
        store.close()


def test_quick_check_names_the_file_and_the_way_back(tmp_path: Path) -> None:
    """A damaged file raises StoreDamaged naming it and SQLite's recovery; an intact one
    and a PostgreSQL URL pass."""
    path = tmp_path / "relay.db"
    url = f"sqlite:///{path}"
    open_store(url).close()
    check_store_file(url)
    check_store_file("postgresql://relay@db.invalid/relay")
    damaged_store(path)
    with pytest.raises(StoreDamaged) as caught:
        check_store_file(url)
    assert caught.value.detail.startswith(f"the store {path} is damaged (PRAGMA quick_check: ")
    assert f"sqlite3 {path} .recover" in caught.value.fix
    assert "\n" not in caught.value.reason


def test_a_file_that_is_no_database_at_all_is_damaged(tmp_path: Path) -> None:
    """Garbage where the header should be: quick_check cannot even open it."""
    path = tmp_path / "relay.db"
    path.write_bytes(b"not sqlite" * 1000)
    with pytest.raises(StoreDamaged, match="not a database"):
        check_store_file(f"sqlite:///{path}")
