"""The rep-changes loop: a change made through another store object (another process,
another node: its own engine and connections) reaches this process's snapshot with no
refresh asked for, on both backends, and a stop request ends the loop. How fast (the
target is within a second) is measured by bench/deadlines.py, not asserted here."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from relay.config import Config
from relay.reps.snapshot import RepSnapshot
from relay.runners.rep_changes import RepChangesRunner
from relay.store import open_store
from relay.store.model import Rep
from relay.store_outage import StoreOutage

ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")


def test_a_change_elsewhere_reaches_the_snapshot_within_a_second(
    store_url: str, tmp_path: Path
) -> None:
    mine, theirs = open_store(store_url), open_store(store_url)
    try:
        theirs.replace_reps([ALICE], datetime.now(UTC))
        snapshot = RepSnapshot.from_store(Config(home=tmp_path), mine)
        runner = RepChangesRunner(mine, snapshot, StoreOutage())

        async def scenario() -> None:
            stopping = asyncio.Event()
            loop = asyncio.create_task(runner.run(stopping))
            await asyncio.sleep(0.3)  # the loop is waiting on the store
            await asyncio.to_thread(
                theirs.add_sender, "alice.home@example.org", ALICE.user_id, ALICE.username
            )
            changed = time.monotonic()
            while snapshot.directory.rep_for("alice.home@example.org") is None:
                assert time.monotonic() - changed < 30, "the change never arrived"
                await asyncio.sleep(0.01)
            stopping.set()
            await asyncio.wait_for(loop, timeout=30)

        asyncio.run(scenario())
        assert snapshot.is_current(mine)
    finally:
        mine.close()
        theirs.close()
