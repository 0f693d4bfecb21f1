"""Record storage: SQLite underneath, every row cached in memory, writes go through.

Rows live in one SQLite table (``records``: id, sobject, JSON data) so the org survives
a restart; reads never touch SQLite. The cache keeps per-field indexes (lower-cased
strings) for the lookups the data layer and SOQL's ``equals`` hint need. Transactions nest
with SAVEPOINTs; an undo log restores the cache on rollback, so memory and disk agree.
A row dict is never mutated after it is stored: writers replace it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Row = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    sobject TEXT NOT NULL,
    data TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_usage (day TEXT PRIMARY KEY, used INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS org_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def index_key(value: Any) -> Any:
    """Index keys compare strings case-insensitively, as SOQL ``=`` does."""
    return value.lower() if isinstance(value, str) else value


class RecordStore:
    """Every row of every object, in memory and in SQLite."""

    def __init__(self, path: Path, indexed: Mapping[str, Iterable[str]]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # WAL with synchronous=NORMAL survives a process crash, which is what a restart
        # needs; a power cut may lose the last commits of this test org (acceptable).
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_SCHEMA)
        self._rows: dict[str, dict[str, Row]] = {name: {} for name in indexed}
        self._indexed = {name: tuple(fields) for name, fields in indexed.items()}
        self._index: dict[tuple[str, str], dict[Any, set[str]]] = {
            (name, f): {} for name, fields in self._indexed.items() for f in fields
        }
        self._undo: list[tuple[str, str, Row | None]] = []
        self._depth = 0
        for sobject, data in self.conn.execute("SELECT sobject, data FROM records"):
            if sobject in self._rows:
                row = json.loads(data)
                self._rows[sobject][row["Id"]] = row
                self._index_row(sobject, row, add=True)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    # Reads -------------------------------------------------------------------------

    def get(self, sobject: str, record_id: str) -> Row | None:
        return self._rows[sobject].get(record_id)

    def all(self, sobject: str) -> Iterable[Row]:
        return list(self._rows[sobject].values())

    def ids(self, sobject: str) -> Iterable[str]:
        return self._rows[sobject].keys()

    def is_indexed(self, sobject: str, field: str) -> bool:
        return (sobject, field) in self._index

    def lookup(self, sobject: str, field: str, value: Any) -> list[Row]:
        """Rows whose ``field`` equals ``value`` (strings case-insensitively)."""
        ids = self._index[(sobject, field)].get(index_key(value), ())
        rows = self._rows[sobject]
        return [rows[i] for i in sorted(ids)]

    # Writes ------------------------------------------------------------------------

    def put(self, sobject: str, row: Row) -> None:
        """Insert or replace ``row`` (keyed by its Id)."""
        with self.lock:
            record_id = row["Id"]
            old = self._rows[sobject].get(record_id)
            self.conn.execute(
                "INSERT OR REPLACE INTO records (id, sobject, data) VALUES (?, ?, ?)",
                (record_id, sobject, json.dumps(row, separators=(",", ":"))),
            )
            if self._depth:
                self._undo.append((sobject, record_id, old))
            self._swap(sobject, record_id, old, row)

    def purge(self, sobject: str, record_id: str) -> None:
        """Remove a row for good (past the recycle-bin window)."""
        with self.lock:
            old = self._rows[sobject].get(record_id)
            if old is None:
                return
            self.conn.execute("DELETE FROM records WHERE id = ?", (record_id,))
            if self._depth:
                self._undo.append((sobject, record_id, old))
            self._swap(sobject, record_id, old, None)

    def _swap(self, sobject: str, record_id: str, old: Row | None, new: Row | None) -> None:
        if old is not None:
            self._index_row(sobject, old, add=False)
        if new is None:
            self._rows[sobject].pop(record_id, None)
        else:
            self._rows[sobject][record_id] = new
            self._index_row(sobject, new, add=True)

    def _index_row(self, sobject: str, row: Row, *, add: bool) -> None:
        for field in self._indexed[sobject]:
            value = row.get(field)
            if value is None:
                continue
            bucket = self._index[(sobject, field)]
            key = index_key(value)
            if add:
                bucket.setdefault(key, set()).add(row["Id"])
            else:
                ids = bucket.get(key)
                if ids is not None:
                    ids.discard(row["Id"])
                    if not ids:
                        del bucket[key]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes inside commit together or not at all; nests through SAVEPOINTs."""
        with self.lock:
            depth = self._depth
            mark = len(self._undo)
            self.conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            self._depth += 1
            try:
                yield
                if depth == 0:
                    self.conn.execute("COMMIT")
                    self._undo.clear()
                else:
                    self.conn.execute(f"RELEASE sp{depth}")
            except BaseException:
                if depth == 0:
                    self.conn.execute("ROLLBACK")
                else:
                    self.conn.execute(f"ROLLBACK TO sp{depth}")
                    self.conn.execute(f"RELEASE sp{depth}")
                self._restore(mark)
                raise
            finally:
                self._depth = depth

    def _restore(self, mark: int) -> None:
        while len(self._undo) > mark:
            sobject, record_id, old = self._undo.pop()
            current = self._rows[sobject].get(record_id)
            self._swap(sobject, record_id, current, old)

    # Small key-value tables ----------------------------------------------------------

    def read_settings(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM settings")}

    def write_settings(self, values: Mapping[str, Any]) -> None:
        with self.lock:
            self.conn.executemany(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(k, json.dumps(v)) for k, v in values.items()],
            )

    def read_meta(self) -> dict[str, Any]:
        """The org's own bookkeeping (clock offset, recycle-bin purge marks): not settings."""
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM org_meta")}

    def write_meta(self, key: str, value: Any) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO org_meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value)),
            )

    def read_usage(self, day: str) -> int:
        row = self.conn.execute("SELECT used FROM api_usage WHERE day = ?", (day,)).fetchone()
        return int(row[0]) if row else 0

    def write_usage(self, day: str, used: int) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT INTO api_usage (day, used) VALUES (?, ?) "
                "ON CONFLICT (day) DO UPDATE SET used = excluded.used",
                (day, used),
            )
