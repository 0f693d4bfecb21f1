"""Engines for the store's two backends, chosen by URL (``RELAY_STORE_URL``).

SQLite (the default, one node): WAL so readers never block the writer, ``synchronous=FULL``
so a commit survives power loss (https://www.sqlite.org/pragma.html#pragma_synchronous),
a busy timeout for the CLI and the daemon sharing the file (30 s, or the URL's
``?timeout=SECONDS``, the parameter SQLAlchemy's pysqlite dialect reads), foreign keys on
(SQLite leaves them off per connection), and ``secure_delete`` (deleted rows, raw mail
among them, are overwritten with zeros, not left in free pages:
https://www.sqlite.org/pragma.html#pragma_secure_delete).

SQLAlchemy's own BEGIN replaces sqlite3's legacy transaction handling (the recipe in
SQLAlchemy's SQLite dialect docs, "Serializable isolation / Savepoints / Transactional
DDL"), so writes can take the lock up front with
``BEGIN IMMEDIATE`` and never fail half-way with SQLITE_BUSY on lock upgrade.

PostgreSQL (several nodes): ``postgresql://`` is run with psycopg 3.
"""

from __future__ import annotations

import fcntl
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "relay_write"
"""Execution option: on SQLite, begin this connection's transactions with BEGIN IMMEDIATE."""


def create_store_engine(url: str) -> Engine:
    """An engine for ``sqlite:///PATH`` (parent directories created) or ``postgresql://``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise ValueError(f"{url}: the store needs a file path (sqlite:///PATH)")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        busy_timeout_ms = _busy_timeout_ms(parsed.query.get("timeout"))
        enable_wal(Path(database), busy_timeout_ms)
        engine = create_engine(
            parsed.difference_update_query(["timeout"]),
            connect_args={"timeout": busy_timeout_ms / 1000},
            pool_size=8,
            max_overflow=16,
        )

        def configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            _configure_sqlite_connection(dbapi_connection, busy_timeout_ms)

        event.listen(engine, "connect", configure)
        event.listen(engine, "begin", _begin_sqlite_transaction)
        return engine
    if backend == "postgresql":
        return create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_pre_ping=True,  # a restarted server leaves dead pooled connections
            pool_size=8,
            max_overflow=16,
            connect_args={"connect_timeout": 10},
        )
    raise ValueError(f"{url}: not a store URL (sqlite:///PATH or postgresql://...)")


def _busy_timeout_ms(value: str | tuple[str, ...] | None) -> int:
    if value is None:
        return BUSY_TIMEOUT_MS
    text = value if isinstance(value, str) else value[-1]
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"timeout={text!r} in the store URL: not a number of seconds") from None
    if not 0 <= seconds <= 3600:
        raise ValueError(f"timeout={text!r} in the store URL: give 0 to 3600 seconds")
    return int(seconds * 1000)


def enable_wal(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """Put the database file in WAL mode, once, under an exclusive lock on a sidecar file.

    The journal mode is stored in the file, so later connections need not set it. Setting
    it is not left to each new connection because switching a fresh file's mode takes an
    exclusive lock and SQLite answers "database is locked" at once, without waiting on the
    busy timeout, when two connections try together (seen with several nodes opening a new
    store at the same moment: tests/store/test_store_migrations.py).
    """
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            connection = sqlite3.connect(path, timeout=busy_timeout_ms / 1000)
            try:
                mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            finally:
                connection.close()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if str(mode).lower() != "wal":
        raise OSError(f"{path}: SQLite could not switch to WAL (journal mode {mode})")


def write_engine(engine: Engine) -> Engine:
    """The same pool, but transactions that write (BEGIN IMMEDIATE on SQLite)."""
    return engine.execution_options(**{WRITE_OPTION: True})


def _configure_sqlite_connection(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see above)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        # journal_mode=WAL is already in the file (enable_wal).
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA secure_delete = ON")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    immediate = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
