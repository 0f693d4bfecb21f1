"""The periodic runners on a store that fails every call: they back off and report it,
they do not die (a dead runner stops the daemon, and SMTP with it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from relay.runners.recheck import HeldRecheckRunner
from relay.store import open_store
from relay.store_outage import StoreOutage
from tests.support.damaged_sqlite import damaged_store


def test_recheck_runner_backs_off_on_a_failing_store(tmp_path: Path) -> None:
    """Reading the held messages fails (a damaged page): the runner keeps running, and the
    outage names the runner and the reason."""
    path = tmp_path / "relay.db"
    damaged_store(path)
    store = open_store(f"sqlite:///{path}")
    outage = StoreOutage()
    nothing = cast(Any, None)  # never reached: the store fails first
    runner = HeldRecheckRunner(store, nothing, nothing, nothing, 0.05, outage)

    async def run_for_a_second() -> bool:
        stopping = asyncio.Event()
        task = asyncio.create_task(runner.run(stopping))
        await asyncio.sleep(1.0)
        alive = not task.done()
        stopping.set()
        await task
        return alive

    try:
        assert asyncio.run(run_for_a_second())
    finally:
        store.close()
    reason = outage.reason() or ""
    assert reason.startswith("recheck: ")
    assert "malformed" in reason
