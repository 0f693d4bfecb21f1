"""Crash test: SIGKILL `relay serve` twice under load; every 250 survives exactly once."""

from __future__ import annotations

import smtplib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from relay.store import open_store
from tests.support.serve import INBOUND_LOG as LOG
from tests.support.serve import RelayServe

MESSAGES = 500
CONNECTIONS = 8
KILL_AFTER = (150, 320)  # answered-250 counts at which the daemon is SIGKILLed


@dataclass
class Outcomes:
    """What each attempt was answered. Every attempt has its own Message-ID."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: list[str] = field(default_factory=list)
    refused_4xx: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # connection died before a reply

    def record(self, kind: list[str], message_id: str) -> None:
        with self.lock:
            kind.append(message_id)


def attempt_raw(message_id: str) -> bytes:
    return (
        f"From: rep@customer.example\r\nTo: buyer@prospect.example\r\n"
        f"Subject: crash test\r\nMessage-ID: {message_id}\r\n\r\n"
        + "A line of body text that makes the message a little longer.\r\n"
        * 8
    ).encode()


def client(number: int, relay: RelayServe, queue: list[int], outcomes: Outcomes) -> None:
    """Send messages from ``queue`` until it is empty, reconnecting across crashes."""
    session: smtplib.SMTP | None = None
    attempt = 0
    while True:
        with outcomes.lock:
            if not queue:
                break
            message = queue.pop()
        while True:  # retry this message until it is answered 250
            attempt += 1
            message_id = f"<m{message}.c{number}.a{attempt}@crash.test>"
            try:
                if session is None:
                    session = smtplib.SMTP("127.0.0.1", relay.smtp_port, timeout=10)
                    session.ehlo("crash.test.example")
                session.mail("rep@x.example")
                session.rcpt(LOG)
                code, _ = session.data(attempt_raw(message_id))
            except (smtplib.SMTPException, OSError):
                outcomes.record(outcomes.unknown, message_id)
                if session is not None:
                    session.close()
                session = None
                time.sleep(0.05)
                continue
            if code == 250:
                outcomes.record(outcomes.accepted, message_id)
                break
            outcomes.record(
                outcomes.refused_4xx if 400 <= code < 500 else outcomes.unknown, message_id
            )
            session.rset()
    if session is not None:
        session.close()


@pytest.mark.slow
def test_sigkill_twice_mid_stream_loses_and_duplicates_nothing(serve):
    """500 messages, 8 connections, 2 SIGKILLs: each 250 stored once, no 4xx stored."""
    relay = serve()
    outcomes = Outcomes()
    queue = list(range(MESSAGES))
    threads = [
        threading.Thread(target=client, args=(n, relay, queue, outcomes))
        for n in range(CONNECTIONS)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for threshold in KILL_AFTER:
        while len(outcomes.accepted) < threshold:
            assert time.monotonic() - started < 60, f"clients stalled:\n{relay.stderr()[-3000:]}"
            time.sleep(0.01)
        relay.kill()  # SIGKILL: no chance to drain or flush anything
        relay.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    relay.kill()

    store = open_store(relay.store_url)
    try:
        stored = Counter(message.message_id for message in store.list(None))
    finally:
        store.close()
    assert len(outcomes.accepted) == MESSAGES
    assert outcomes.unknown, "the kills should have interrupted some transactions"
    assert [mid for mid in outcomes.accepted if stored[mid] != 1] == []
    assert [mid for mid in outcomes.refused_4xx if stored[mid]] == []
    # Anything else in the store is an attempt whose reply was lost with the process.
    assert set(stored) <= {*outcomes.accepted, *outcomes.unknown}
    assert time.monotonic() - started < 60
