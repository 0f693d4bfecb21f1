"""Fixtures for the SMTP edge: a real daemon on a real loop, real sockets, a real SQLite file.

The daemon runs on its own event loop in a background thread, so the tests can drive it
with the blocking stdlib ``smtplib`` exactly as a mail server would.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from relay.config import Config, SmtpConfig
from relay.daemon import Daemon, Listening
from relay.store import open_store
from relay.store.model import Store

DOMAIN = "relay.example"


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
        return open_store(self.daemon.config.effective_store_url)

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
            store = open_store(url)
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
