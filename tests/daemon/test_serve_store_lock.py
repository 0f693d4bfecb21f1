"""`relay serve` while an admin's sqlite3 session holds the write lock past the busy timeout.

A real lock from a second connection (``BEGIN IMMEDIATE``, as the sqlite3 shell takes it),
not a fault injected into the store.
"""

from __future__ import annotations

import json
import smtplib
import sqlite3
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from relay.store import State, open_store
from tests.support.serve import INBOUND_LOG as LOG
from tests.support.serve import RelayServe

WAITING = {State.QUEUED, State.PROCESSING, State.DEFERRED}

BUSY_TIMEOUT_SECONDS = 1
LOCK_HELD_SECONDS = 6 * BUSY_TIMEOUT_SECONDS


def readyz(relay: RelayServe) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{relay.http_port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def send(relay: RelayServe, message_id: str) -> tuple[int, str]:
    raw = (
        f"From: rep@customer.example\r\nTo: buyer@prospect.example\r\n"
        f"Subject: sent during a lock\r\nMessage-ID: {message_id}\r\n\r\nHello.\r\n"
    ).encode()
    with smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=30) as client:
        client.ehlo("client.test.example")
        client.mail("rep@customer.example")
        client.rcpt(LOG)
        code, text = client.data(raw)
    return code, text.decode()


def wait_for(condition: Any, what: str, relay: RelayServe, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert relay.process is not None
        assert relay.process.poll() is None, f"relay serve exited:\n{relay.stderr()[-3000:]}"
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}:\n{relay.stderr()[-3000:]}")


def events(relay: RelayServe, name: str) -> list[dict[str, object]]:
    return [event for event in relay.events() if event["event"] == name]


def processed_state(relay: RelayServe, message_id: str) -> str | None:
    """The state the runner left the message in (None while it waits for a runner)."""
    store = open_store(relay.store_url)
    try:
        found = [m for m in store.list(None) if m.message_id == message_id]
    finally:
        store.close()
    assert len(found) <= 1, "the refused attempt must not be stored"
    return found[0].state.value if found and found[0].state not in WAITING else None


def test_a_lock_held_past_the_busy_timeout_keeps_serve_up_and_says_why(
    serve: Any, tmp_path: Path
) -> None:
    """RelayServe stays up, SMTP answers 451 4.3.0, /readyz names the lock; after it, mail flows."""
    database = tmp_path / "home0" / "relay.db"  # the fixture's first RELAY_HOME
    relay = serve(RELAY_STORE_URL=f"sqlite:///{database}?timeout={BUSY_TIMEOUT_SECONDS}")
    assert readyz(relay)[0] == 200

    admin = sqlite3.connect(database, isolation_level=None)
    admin.execute("BEGIN IMMEDIATE")
    locked_at = time.monotonic()
    try:
        wait_for(lambda: events(relay, "store_unavailable"), "store_unavailable", relay)
        status, body = readyz(relay)
        assert status == 503
        assert body["status"] == "not ready"
        assert "database is locked" in body["checks"]["store"]
        assert "database is locked" in body["checks"]["runners"]
        assert body["checks"]["smtp"] == "ok"

        # Nothing can be committed while the lock is held: the edge says try later
        # (RFC 5321 §4.2.5), and nothing of that message is stored.
        code, text = send(relay, "<during-lock@test.example>")
        assert (code, text[:5]) == (451, "4.3.0"), text

        wait_for(lambda: time.monotonic() - locked_at > LOCK_HELD_SECONDS, "the lock", relay)
    finally:
        admin.execute("ROLLBACK")
        admin.close()

    # The sending MTA retries; now it is accepted and delivered.
    code, text = send(relay, "<during-lock@test.example>")
    assert code == 250, text
    wait_for(lambda: processed_state(relay, "<during-lock@test.example>"), "processing", relay)
    wait_for(lambda: readyz(relay)[0] == 200, "/readyz ready", relay)

    # Once per outage and runner: the live lane's runner always claims; the import
    # lane's may or may not have tried during the lock.
    unavailable = events(relay, "store_unavailable")
    assert sorted(e["runner"] for e in unavailable) in (["deliver"], ["deliver", "deliver-import"])
    assert "database is locked" in str(unavailable[0]["reason"])
    available = events(relay, "store_available")
    assert sorted(e["runner"] for e in available) == sorted(e["runner"] for e in unavailable)
    (live,) = [e for e in available if e["runner"] == "deliver"]
    assert int(str(live["failures"])) >= 2
    assert relay.process is not None
    assert relay.process.poll() is None
