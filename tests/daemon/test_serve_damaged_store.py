"""A damaged SQLite store: `relay serve` refuses to start with one line that says what to
do, `relay doctor` fails its store check, and /readyz is not ready."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from relay.health import HealthServer
from relay.metrics import Metrics
from relay.store import open_store
from tests.support.damaged_sqlite import damaged_store
from tests.support.serve import DOMAIN, INBOUND_ONLY, RelayServe


def relay_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
    return env | {"RELAY_HOME": str(home), "RELAY_DOMAIN": DOMAIN, "RELAY_LOG_FORMAT": "json"}


def test_serve_refuses_to_start_on_a_damaged_store(tmp_path: Path) -> None:
    """Exit 1 before listening, with one line naming the file and how to recover it."""
    home = tmp_path / "home"
    home.mkdir()
    damaged_store(home / "relay.db")
    relay = RelayServe(home=home, trust=INBOUND_ONLY)
    with pytest.raises(RuntimeError, match="exited early"):
        relay.start()
    assert relay.wait() == 1
    lines = [line for line in relay.stderr().splitlines() if line.startswith("relay: cannot")]
    assert len(lines) == 1, relay.stderr()
    assert f"the store {home / 'relay.db'} is damaged (PRAGMA quick_check:" in lines[0]
    assert f"sqlite3 {home / 'relay.db'} .recover" in lines[0]
    assert not [e for e in relay.events() if e["event"] == "smtp_listening"]


def test_doctor_fails_the_store_check_on_a_damaged_store(tmp_path: Path) -> None:
    """`relay doctor --json` exits 1 and its store check says what is damaged and what to do."""
    home = tmp_path / "home"
    home.mkdir()
    damaged_store(home / "relay.db")
    result = subprocess.run(
        [sys.executable, "-m", "relay", "doctor", "--json"],
        env=relay_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    assert checks["store"]["status"] == "fail"
    assert "is damaged (PRAGMA quick_check:" in checks["store"]["detail"]
    assert ".recover" in checks["store"]["fix"][0]


def test_readyz_is_not_ready_on_a_damaged_store(tmp_path: Path) -> None:
    """The readiness write meets the damage every new message meets: 503, and why."""
    path = tmp_path / "relay.db"
    damaged_store(path)
    store = open_store(f"sqlite:///{path}")

    async def readyz() -> tuple[int, dict[str, object]]:
        health = HealthServer("127.0.0.1", 0, store, Metrics(), lambda: True)
        host, port = await health.start()
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://{host}:{port}/readyz") as response,
            ):
                return response.status, await response.json()
        finally:
            await health.stop()

    try:
        status, body = asyncio.run(readyz())
    finally:
        store.close()
    assert status == 503
    assert body["status"] == "not ready"
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert "malformed" in checks["store"]
