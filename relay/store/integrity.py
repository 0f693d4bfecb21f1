"""Is the SQLite store's file damaged? ``PRAGMA quick_check``, at start-up and in `relay doctor`.

``quick_check`` reads every page and checks the B-tree structure, but not that indexes
match their tables, so it runs in about the time of reading the file once
(https://www.sqlite.org/pragma.html#pragma_quick_check). A damaged page is found before
the daemon accepts mail it could not store (each message would get ``451 ... malformed``),
and before a migration writes into the file. PostgreSQL checks its own pages
(``data_checksums``): there is nothing to run here for it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from relay.errors import RelayError

MAX_PROBLEMS = 10


class StoreDamaged(RelayError):
    """The store's file is damaged: a person must recover it before Relay uses it again.

    ``reason`` is one line: ``detail`` (the file and what is wrong), then ``fix``."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(f"{detail}. {fix}")
        self.detail = detail
        self.fix = fix


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite:///PATH`` URL (None for PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def quick_check(path: Path) -> list[str]:
    """What ``PRAGMA quick_check`` reports for the file (empty: it is intact)."""
    try:
        connection = sqlite3.connect(path, timeout=30)
        try:
            rows = connection.execute(f"PRAGMA quick_check({MAX_PROBLEMS})").fetchall()
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:  # e.g. "file is not a database"
        return [str(error)]
    lines = [line for (text,) in rows for line in str(text).splitlines()]
    return [line for line in lines if line not in ("ok", "*** in database main ***")]


def check_store_file(url: str) -> None:
    """Raise StoreDamaged, with what to do, if the store is a damaged SQLite file."""
    path = sqlite_file(url)
    if path is None or not path.exists():
        return
    problems = quick_check(path)
    if problems:
        raise damaged(path, problems)


def damaged(path: Path, problems: list[str]) -> StoreDamaged:
    """The file, the first problem, and the way back (SQLite's recovery docs)."""
    more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
    detail = f"the store {path} is damaged (PRAGMA quick_check: {problems[0]}{more})"
    return StoreDamaged(
        detail,
        f"Stop every relay process, run `sqlite3 {path} .recover | sqlite3 "
        f"{path}.recovered`, move the damaged file and its -wal and -shm aside and "
        f"{path}.recovered in its place, or restore a backup "
        "(https://www.sqlite.org/recovery.html).",
    )
