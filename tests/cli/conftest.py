"""Fixtures for `relay queue`: a RELAY_HOME with a store, and a runner for the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relay.envelope import Envelope
from relay.store import SqlStore, open_store

RunRelay = Callable[..., Any]


@pytest.fixture
def relay_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def queue_store(relay_home: Path) -> Iterator[SqlStore]:
    """The store `relay queue` will open (the default SQLite file in RELAY_HOME)."""
    store = open_store(f"sqlite:///{relay_home / 'relay.db'}")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def add_message(queue_store: SqlStore) -> Callable[..., str]:
    """Enqueue one message with the given subject; return its queue id."""

    def add(subject: str = "Pricing", sender: str = "rep@example.com") -> str:
        raw = (
            f"Message-ID: <{subject.replace(' ', '.')}@mail.example.com>\r\n"
            f"From: Rep <{sender}>\r\nTo: buyer@customer.example\r\nSubject: {subject}\r\n\r\n"
            "Hello\r\n"
        ).encode()
        envelope = Envelope(sender, ("log@relay.localhost",), "127.0.0.1:4000", "mx.example.com")
        return queue_store.enqueue(raw, envelope, datetime.now(UTC))

    return add


@pytest.fixture
def run_relay(relay_home: Path) -> RunRelay:
    """Run the `relay` console script in a subprocess with RELAY_HOME set."""

    def run(*args: str, input_text: str | None = None, binary: bool = False) -> Any:
        """``binary``: stdout as bytes (stderr is decoded either way)."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("RELAY_") or key == "RELAY_TEST_POSTGRES_URL"
        }
        env.update(RELAY_HOME=str(relay_home), RELAY_LOG_FORMAT="json")
        if binary:
            result = subprocess.run(
                [sys.executable, "-m", "relay", *args],
                env=env,
                capture_output=True,
                timeout=60,
                check=False,
            )
            result.stderr = result.stderr.decode(errors="replace")
            return result
        return subprocess.run(
            [sys.executable, "-m", "relay", *args],
            env=env,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
