"""Retention: purge the raw bytes of finished messages ``retention_days`` after their
outcome (docs/operations.md, "Retention and erasure"; relay/store/retention.py says what
is purged and what is kept).

A pass runs at start-up and then every ``PASS_INTERVAL_SECONDS``, in transactions of
``PURGE_BATCH`` messages, so a first pass over a large backlog never holds the store's
write lock for long and stops promptly at shutdown. ``retention_days = 0`` keeps raw
bytes forever (the runner only waits). On PostgreSQL every node runs it: the purge
locks rows with SKIP LOCKED, so two nodes never purge the same message.

``purge_older_than`` is the same loop, called once by `relay queue purge`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta

from relay.errors import RelayError
from relay.logs import get_logger
from relay.runners.base import PeriodicRunner
from relay.runners.context import Runner, RunnerContext
from relay.store.model import State
from relay.store.retention import PURGE_BATCH, RETENTION_STATES, PurgeCount, RetentionStore

PASS_INTERVAL_SECONDS = 3600.0
"""Raw bytes outlive their window by at most this (an hour against a window of days)."""


def purge_older_than(
    store: RetentionStore,
    days: int,
    *,
    states: Collection[State] = RETENTION_STATES,
    how: str,
    dry_run: bool = False,
    now: datetime | None = None,
    batch: int = PURGE_BATCH,
) -> PurgeCount:
    """Purge (or, ``dry_run``, count) the raw bytes of messages in ``states`` whose
    outcome is more than ``days`` days old at ``now``; batch after batch until none is
    left. Logs one ``raw_purged`` event when anything was purged."""
    now = now or datetime.now(UTC)
    before = now - timedelta(days=days)
    if dry_run:
        return store.purgeable(before=before, states=states)
    total = PurgeCount()
    while True:
        done = store.purge_raw(before=before, now=now, how=how, states=states, limit=batch)
        total += done
        if done.messages < batch:
            break
    _log_purge(total, how)
    return total


def _log_purge(total: PurgeCount, how: str) -> None:
    if total.messages:
        get_logger("relay.runners.retention").info(
            "raw_purged",
            messages=total.messages,
            bytes=total.bytes,
            by_state=total.by_state,
            how=how,
        )


class RetentionRunner(PeriodicRunner):
    """Purges in batches, one transaction each, and stops between batches when asked."""

    name = "retention"

    def __init__(
        self,
        store: RetentionStore,
        days: int,
        interval_seconds: float = PASS_INTERVAL_SECONDS,
        batch: int = PURGE_BATCH,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.store = store
        self.clock = clock
        self.days = days
        self.interval_seconds = interval_seconds
        self.batch = batch
        self.how = f"under retention ({days} days)"

    async def run(self, stopping: asyncio.Event) -> None:
        if self.days == 0:
            log = get_logger("relay.runners.retention")
            log.info("retention_off", reason="retention_days = 0 keeps raw bytes forever")
            await stopping.wait()
            return
        await super().run(stopping)  # a pass at once, then every interval

    async def tick(self, stopping: asyncio.Event) -> float:
        total = PurgeCount()
        try:
            while not stopping.is_set():
                done = await asyncio.to_thread(self.purge_batch)
                total += done
                if done.messages < self.batch:
                    break
        except RelayError as error:  # StoreUnavailable: the next pass tries again
            get_logger("relay.runners.retention").warning("retention_failed", reason=error.reason)
        _log_purge(total, self.how)
        return self.interval_seconds

    def purge_batch(self, now: datetime | None = None) -> PurgeCount:
        """One transaction: up to ``batch`` messages past the window at ``now``."""
        now = now or self.clock()
        return self.store.purge_raw(
            before=now - timedelta(days=self.days), now=now, how=self.how, limit=self.batch
        )

    def purge_once(self, now: datetime | None = None) -> PurgeCount:
        """A whole pass (blocking): every message past the window at ``now``."""
        now = now or self.clock()
        return purge_older_than(self.store, self.days, how=self.how, now=now, batch=self.batch)


def retention_runner() -> Runner:
    """The daemon's retention loop, on the daemon's store."""

    async def retention(context: RunnerContext) -> None:
        store = context.store
        if not isinstance(store, RetentionStore):
            await context.stopping.wait()  # a store without raw-byte retention
            return
        await RetentionRunner(store, context.config.retention_days).run(context.stopping)

    return retention
