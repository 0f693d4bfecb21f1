"""The batch loop's heartbeat, with a real store: a batch that runs longer than its
lease keeps it (nobody else may claim the messages meanwhile), and a worker that lost a
lease cannot record an outcome over the new owner's (docs/design.md §2)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from relay.config import PipelineConfig
from relay.envelope import Envelope
from relay.runners.base import BatchResult, BatchRunner
from relay.store import SqlStore, State
from relay.store.model import Outcome, StoredMessage

ENVELOPE = Envelope(mail_from="rep@example.com", rcpt_tos=("log@relay.localhost",))
LEASE = 0.6


class SlowRunner(BatchRunner):
    """Takes ``seconds`` per batch; logs every message."""

    name = "slow"

    def __init__(self, *args: object, seconds: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.seconds = seconds
        self.started = threading.Event()

    def process(self, batch: Sequence[StoredMessage]) -> BatchResult:
        self.started.set()
        time.sleep(self.seconds)
        return BatchResult([Outcome(m.id, State.LOGGED, "ok") for m in batch])


def test_a_batch_longer_than_its_lease_keeps_it(store: SqlStore) -> None:
    """Four leases long: another worker claiming all the while gets nothing, and the
    message ends logged by its first owner, claimed once."""
    queue_id = store.enqueue(b"Subject: x\r\n\r\nx", ENVELOPE, datetime.now(UTC))
    pipeline = PipelineConfig(lease_seconds=LEASE, idle_wait_seconds=0.05)
    runner = SlowRunner(store, pipeline, seconds=LEASE * 4)
    stolen: list[str] = []

    async def scenario() -> None:
        stopping = asyncio.Event()
        loop = asyncio.create_task(runner.run(stopping))
        await asyncio.to_thread(runner.started.wait, 10)
        deadline = time.monotonic() + LEASE * 3.5
        while time.monotonic() < deadline:
            claimed = await asyncio.to_thread(store.claim, 10, "rival", 60)
            stolen.extend(m.id for m in claimed)
            await asyncio.sleep(LEASE / 6)
        await asyncio.to_thread(finished, store, queue_id)
        stopping.set()
        await loop

    asyncio.run(scenario())
    assert stolen == []
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.LOGGED
    assert message.attempts == 1


def finished(store: SqlStore, queue_id: str) -> None:
    while (message := store.get(queue_id)) is not None and message.state is State.PROCESSING:
        time.sleep(0.05)


def test_a_lost_lease_does_not_overwrite_the_new_owner(store: SqlStore) -> None:
    """The lease expired and another worker claimed the message: the first worker's
    outcome is refused (logged as skipped), and the message stays with the new owner."""
    queue_id = store.enqueue(b"Subject: x\r\n\r\nx", ENVELOPE, datetime.now(UTC))
    pipeline = PipelineConfig(lease_seconds=LEASE)
    runner = SlowRunner(store, pipeline, seconds=0)
    batch = store.claim(10, runner.worker, 0.05)
    time.sleep(0.1)
    assert [m.id for m in store.claim(10, "rival", 60)] == [queue_id]
    runner.run_batch(batch)
    message = store.get(queue_id)
    assert message is not None
    assert message.state is State.PROCESSING
