"""Waking idle runners when work arrives, and waiters when something changed, instead of
polling fast.

In one process a ``WorkSignal`` is enough: enqueue, retry, release and recover call
``notify()``. Across PostgreSQL nodes, those operations also run ``pg_notify`` in their
transaction (delivered only at commit), and a ``PostgresListener`` thread turns each
notification into ``notify()`` (LISTEN/NOTIFY,
https://www.postgresql.org/docs/current/sql-notify.html).

One listener connection serves both channels of a store: new work
(``relay_work:SCHEMA``) and change versions (``relay_changes:SCHEMA``,
relay/store/changes.py), each with its own signal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

import psycopg
from psycopg import sql
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url

from relay.logs import get_logger

CHANNEL_PREFIX = "relay_work:"
CHANGES_PREFIX = "relay_changes:"


def channel_name(schema: str, prefix: str = CHANNEL_PREFIX) -> str:
    """One channel per schema: NOTIFY is database-wide, queues are per schema.
    Channel names are identifiers, at most 63 bytes (NAMEDATALEN - 1)."""
    return (prefix + schema).encode()[:63].decode(errors="ignore")


def notify_nodes(connection: Connection, channel: str) -> None:
    """NOTIFY the new-work ``channel`` in the caller's transaction (sent only if it
    commits), so idle runners of every node claim again. Without a channel (SQLite) there
    is no one to NOTIFY: the caller's ``WorkSignal`` wakes its own process only."""
    if channel:
        connection.execute(select(func.pg_notify(channel, "")))


RECONNECT_SECONDS = 2.0


class WorkSignal:
    """A generation counter: a waiter returns at once if work arrived since its last wait."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._seen = threading.local()

    def notify(self) -> None:
        with self._condition:
            self._generation += 1
            self._condition.notify_all()

    @property
    def generation(self) -> int:
        """How many notifications so far: read it before checking for news, then
        ``wait_after`` it, and a notification in between is not lost."""
        with self._condition:
            return self._generation

    def wait_after(self, generation: int, timeout: float) -> None:
        """Block until a notification after ``generation``, or ``timeout`` seconds."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._condition:
            while self._generation == generation:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)

    def wait(self, timeout: float) -> None:
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._condition:
            seen = getattr(self._seen, "generation", -1)
            while self._generation == seen:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            self._seen.generation = self._generation


class PostgresListener:
    """A daemon thread that LISTENs on the store's channels and notifies each channel's
    WorkSignal."""

    def __init__(self, url: str, signals: Mapping[str, WorkSignal]) -> None:
        # psycopg wants a libpq URL: drop SQLAlchemy's "+psycopg" driver suffix.
        self._conninfo = (
            make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        self._signals = dict(signals)
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relay-store-listen", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        reconnecting = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                    for channel in self._signals:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.listening.set()
                    if reconnecting:  # news may have arrived while we were not listening
                        self._notify_all()
                    reconnecting = True
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=0.25, stop_after=1):
                            signal = self._signals.get(notice.channel)
                            if signal is not None:
                                signal.notify()
            except psycopg.Error as error:
                # While disconnected, wake the waiters so they poll rather than sleep.
                get_logger("relay.store").warning("store_listen_failed", reason=str(error).strip())
                self._notify_all()
                self._stop.wait(RECONNECT_SECONDS)

    def _notify_all(self) -> None:
        for signal in self._signals.values():
            signal.notify()
