"""Keep a process's rep snapshot current: when the store's ``reps`` change version moves
(an alias added, a setting changed, a rep sync by any process of any node), re-read the
reps, aliases and settings at once (docs/design.md §2).

The store wakes the wait: NOTIFY on PostgreSQL, a cheap version read every 250 ms on
SQLite (relay/store/changes.py). So `relay senders add` followed by an email a second
later is decided on the new alias, by the edge and by the workers alike. The rep sync
(relay/runners/rep_sync.py) still reads Salesforce on its own interval.
"""

from __future__ import annotations

import asyncio

from relay.errors import RelayError
from relay.logs import get_logger
from relay.reps.snapshot import RepSnapshot
from relay.runners.base import sleep_or_stop, store_failed
from relay.runners.context import Runner, RunnerContext
from relay.store.model import ChangeVersions, Store
from relay.store_outage import StoreOutage

log = get_logger("relay.runners.rep_changes")

WAIT_SECONDS = 0.5
"""One wait on the store: also how long a stop request may wait for this loop."""
TOPICS = ("reps",)


class RepChangesRunner:
    name = "rep_changes"

    def __init__(self, store: Store, snapshot: RepSnapshot, outage: StoreOutage) -> None:
        self.store = store
        self.snapshot = snapshot
        self.outage = outage

    async def run(self, stopping: asyncio.Event) -> None:
        # A snapshot never read (None) compares unequal to every version: read at once.
        seen = ChangeVersions(reps=-1 if self.snapshot.version is None else self.snapshot.version)
        while not stopping.is_set():
            try:
                now = await asyncio.to_thread(
                    self.store.wait_for_change, seen, WAIT_SECONDS, TOPICS
                )
                if now.reps != self.snapshot.version:
                    await asyncio.to_thread(self.snapshot.refresh, self.store)
            except Exception as error:
                wait = store_failed(self.outage, self.name, error)
                if wait is None:
                    if not isinstance(error, RelayError):
                        raise
                    log.warning("reps_refresh_failed", reason=error.reason)
                    wait = WAIT_SECONDS
                await sleep_or_stop(stopping, wait)
                continue
            self.outage.succeeded(self.name)
            seen = now


def rep_changes_runner() -> Runner:
    """The watcher for a process whose snapshot no delivery runner refreshes (the edge
    of ``relay serve --workers N``); ``delivery_runner`` runs its own."""

    async def watch(context: RunnerContext) -> None:
        if context.sender_policy is None:
            return
        runner = RepChangesRunner(context.store, context.sender_policy, context.store_outage)
        await runner.run(context.stopping)

    return watch
