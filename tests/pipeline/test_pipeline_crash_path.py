"""The base runner's crash path, with a real store: a poison message is isolated,
deferred, then quarantined; the others finish normally."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from relay.config import PipelineConfig
from relay.envelope import Envelope
from relay.runners.base import BatchResult, BatchRunner
from relay.store import SqlStore, State, open_store
from relay.store.engine import write_engine
from relay.store.model import Outcome, StoredMessage

ENVELOPE = Envelope(mail_from="rep@example.com", rcpt_tos=("log@relay.localhost",))


class PoisonRunner(BatchRunner):
    """Logs every message, except that processing the poison one raises."""

    name = "poison"

    def __init__(self, *args: object, poison: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.poison = poison
        self.calls: list[int] = []

    def process(self, batch: Sequence[StoredMessage]) -> BatchResult:
        self.calls.append(len(batch))
        if any(self.store.raw(m.id).startswith(self.poison.encode()) for m in batch):
            raise ZeroDivisionError("boom")
        return BatchResult([Outcome(m.id, State.LOGGED, "ok") for m in batch])


def test_poison_message_is_isolated_then_quarantined(tmp_path: Path) -> None:
    """One bad message among three: the two good ones are logged, the bad one deferred
    with the exception summary, and quarantined once it crashed crash_attempts times."""
    store = open_store(f"sqlite:///{tmp_path / 'relay.db'}")
    try:
        ids = [
            store.enqueue(raw, ENVELOPE, datetime.now(UTC))
            for raw in (b"good one\r\n\r\nx", b"POISON\r\n\r\nx", b"good two\r\n\r\nx")
        ]
        pipeline = PipelineConfig(crash_attempts=2, backoff_initial_seconds=0.001)
        runner = PoisonRunner(store, pipeline, poison="POISON")
        runner.run_batch(store.claim(10, runner.worker, 60))
        assert runner.calls == [3, 1, 1, 1]
        states = {m.id: m for m in store.list()}
        assert states[ids[0]].state is State.LOGGED
        assert states[ids[2]].state is State.LOGGED
        assert states[ids[1]].state is State.DEFERRED
        assert states[ids[1]].reason == "processing crashed: ZeroDivisionError: boom"
        again: Sequence[StoredMessage] = []
        while not again:  # the backoff is a millisecond
            again = store.claim(10, runner.worker, 60)
        assert [m.id for m in again] == [ids[1]]
        runner.run_batch(again)
        poisoned = store.get(ids[1])
        assert poisoned is not None
        assert poisoned.state is State.QUARANTINED
        assert "crashed 2 times" in (poisoned.reason or "")
    finally:
        store.close()


class LockedOutRunner(BatchRunner):
    """Its store write meets a lock that another connection holds (a real ``BEGIN
    IMMEDIATE``, as an admin's sqlite3 session takes it), released right after."""

    name = "locked_out"

    def __init__(self, *args: object, database: Path, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.database = database

    def process(self, batch: Sequence[StoredMessage]) -> BatchResult:
        admin = sqlite3.connect(self.database, isolation_level=None)
        admin.execute("BEGIN IMMEDIATE")
        try:
            assert isinstance(self.store, SqlStore)
            with write_engine(self.store.engine).begin() as connection:
                connection.execute(text("UPDATE messages SET reason = reason WHERE 0"))
        finally:
            admin.execute("ROLLBACK")
            admin.close()
        return BatchResult([Outcome(m.id, State.LOGGED, "ok") for m in batch])


def test_a_store_failure_in_process_defers_without_counting_a_crash(tmp_path: Path) -> None:
    """A locked store is not the message's fault: deferred with the reason, never
    quarantined however often it happens, and reported to the store outage."""
    database = tmp_path / "relay.db"
    store = open_store(f"sqlite:///{database}?timeout=0.1")
    try:
        queue_id = store.enqueue(b"Subject: x\r\n\r\nx", ENVELOPE, datetime.now(UTC))
        pipeline = PipelineConfig(crash_attempts=2)
        runner = LockedOutRunner(store, pipeline, database=database)
        for _ in range(pipeline.crash_attempts + 1):
            batch: Sequence[StoredMessage] = []
            while not batch:  # deferred past the backoff (at most a second at first)
                batch = store.claim(10, runner.worker, 60)
            runner.run_batch(batch)
            message = store.get(queue_id)
            assert message is not None
            assert message.state is State.DEFERRED
            assert "store unavailable" in (message.reason or "")
            assert "database is locked" in (message.reason or "")
        assert "database is locked" in (runner.outage.reason() or "")
    finally:
        store.close()
