"""Fixtures for the SMTP edge: a real daemon on a real loop, real sockets, a real SQLite file.

The daemon runs on its own event loop in a background thread, so the tests can drive it
with the blocking stdlib ``smtplib`` exactly as a mail server would.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from relay.config import Config, SmtpConfig
from relay.daemon import Daemon, Listening
from relay.envelope import Envelope
from relay.errors import StoreUnavailable
from relay.store.model import State, Store, StoredMessage, Transition

DOMAIN = "relay.example"


class StandInStore(Store):
    """A tiny SQLite-file store used until relay.store.open_store lands. TEMPORARY."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS m (id INTEGER PRIMARY KEY, raw BLOB, mail_from TEXT,"
            " rcpt TEXT, peer TEXT, helo TEXT, received_at TEXT, state TEXT)"
        )
        self._lock = threading.Lock()

    def enqueue(self, raw: bytes, envelope: Envelope, received_at: datetime) -> str:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO m (raw, mail_from, rcpt, peer, helo, received_at, state)"
                " VALUES (?, ?, ?, ?, ?, ?, 'queued')",
                (
                    raw,
                    envelope.mail_from,
                    "\n".join(envelope.rcpt_tos),
                    envelope.peer,
                    envelope.helo,
                    received_at.isoformat(),
                ),
            )
            return f"Q{cursor.lastrowid:08d}"

    def raw(self, queue_id: str) -> bytes:
        with self._lock:
            row = self._db.execute("SELECT raw FROM m WHERE id=?", (int(queue_id[1:]),)).fetchone()
        if row is None:
            raise KeyError(queue_id)
        return bytes(row[0])

    def get(self, queue_id: str) -> StoredMessage | None:
        found = [m for m in self.list() if m.id == queue_id]
        return found[0] if found else None

    def list(
        self, states: Collection[State] | None = None, limit: int | None = None
    ) -> Sequence[StoredMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, mail_from, rcpt, peer, helo, received_at, state, length(raw)"
                " FROM m ORDER BY id"
            ).fetchall()
        messages = []
        for row_id, mail_from, rcpt, peer, helo, received_at, state, size in rows:
            at = datetime.fromisoformat(received_at)
            envelope = Envelope(mail_from, tuple(rcpt.split("\n")), peer, helo)
            messages.append(
                StoredMessage(
                    f"Q{row_id:08d}",
                    State(state),
                    at,
                    envelope,
                    None,
                    None,
                    size,
                    0,
                    None,
                    None,
                    at,
                )
            )
        return messages[:limit]

    def counts(self) -> dict[State, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, count(*) FROM m GROUP BY state").fetchall()
        return {State(state): count for state, count in rows}

    def check_writable(self) -> None:
        try:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc

    def recover(self) -> int:
        return 0

    def close(self) -> None:
        self._db.close()

    def transitions(self, queue_id: str) -> Sequence[Transition]:
        raise NotImplementedError

    def claim(self, limit: int, worker: str, lease_seconds: float) -> Sequence[StoredMessage]:
        raise NotImplementedError

    def finish(self, queue_id: str, state: State, reason: str | None = None) -> None:
        raise NotImplementedError

    def defer(self, queue_id: str, not_before: datetime, reason: str) -> None:
        raise NotImplementedError

    def retry(self, queue_id: str) -> None:
        raise NotImplementedError

    def hold(self, queue_id: str, reason: str) -> None:
        raise NotImplementedError

    def release(self, queue_id: str) -> None:
        raise NotImplementedError

    def delete(self, queue_id: str) -> None:
        raise NotImplementedError


def open_test_store(url: str) -> Store:
    return StandInStore(Path(url.removeprefix("sqlite:///")))


def stored_raw(store: Store) -> list[bytes]:
    """Every raw message the store holds, whatever its state, oldest first."""
    return [store.raw(message.id) for message in store.list(None)]


@dataclass
class RunningDaemon:
    daemon: Daemon
    store: Store
    listening: Listening
    loop: asyncio.AbstractEventLoop

    @property
    def smtp_port(self) -> int:
        return self.listening.smtp_port

    @property
    def http_url(self) -> str:
        return f"http://{self.listening.http_host}:{self.listening.http_port}"

    thread: threading.Thread | None = None

    def stored(self) -> list[bytes]:
        return stored_raw(self.store)

    def stop(self) -> None:
        """Stop the daemon and wait for its thread (the store is closed after this)."""
        self.loop.call_soon_threadsafe(self.daemon.request_stop, "test over")
        assert self.thread is not None
        self.thread.join(30)
        assert not self.thread.is_alive()

    def reopen_store(self) -> Store:
        """A fresh store on the daemon's database, as the next start would see it."""
        return open_test_store(self.daemon.config.effective_store_url)

    def call(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` on the daemon's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(_call(function), self.loop).result(10)


async def _call(function: Callable[[], Any]) -> Any:
    return function()


def daemon_config(home: Path, store_url: str | None = None, **smtp: Any) -> Config:
    defaults: dict[str, Any] = {"port": 0, "hostname": "mx.relay.example", "min_free_bytes": 0}
    return Config(
        home=home,
        domain=DOMAIN,
        store_url=store_url,
        http_port=0,
        smtp=SmtpConfig(**(defaults | smtp)),
    )


DaemonFactory = Callable[..., RunningDaemon]


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[DaemonFactory]:
    """Start a daemon in a background thread; ``wrap_store`` may wrap the real store."""
    started: list[tuple[RunningDaemon, threading.Thread]] = []

    def start(
        wrap_store: Callable[[Store], Store] | None = None,
        store_url: str | None = None,
        **smtp: Any,
    ) -> RunningDaemon:
        home = tmp_path / f"home{len(started)}"
        config = daemon_config(home, store_url, **smtp)
        stores: list[Store] = []

        def factory(url: str) -> Store:
            store = open_test_store(url)
            stores.append(store)
            return wrap_store(store) if wrap_store else store

        daemon = Daemon(config, store_factory=factory)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(daemon.run(),))
        thread.start()
        listening = asyncio.run_coroutine_threadsafe(daemon.wait_ready(), loop).result(10)
        running = RunningDaemon(daemon, stores[0], listening, loop, thread)
        started.append((running, thread))
        return running

    yield start
    for running, _thread in started:
        running.stop()
        running.loop.close()
