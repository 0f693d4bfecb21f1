"""Keep the rep snapshot fresh: ``sync_reps`` at start-up and every
``pipeline.rep_sync_seconds`` (five minutes), then the Email-to-Salesforce addresses of
every rep, then the SMTP edge's and the runners' snapshot (``RepSnapshot.refresh``,
relay/reps/snapshot.py).

Three API calls per sync (the Users, the EmailToSalesforce function, the addresses):
every five minutes that is about 860 calls a day, under 1% of the smallest Enterprise
allocation (100,000 a day). Aliases and settings changed by `relay senders|settings`
reach every process within a second through the store's change version
(relay/runners/rep_changes.py); the refresh from the store every
``LOCAL_REFRESH_SECONDS`` between syncs, at no API cost, is only a backstop.
A failed sync logs a warning and keeps the last snapshot: the edge keeps deciding on it,
and fails open only while no sync ever succeeded (relay/smtp/senders.py).
A failing store is reported to the daemon's ``StoreOutage`` and tried again after its
backoff, not after the next tick (relay/store_outage.py).
"""

from __future__ import annotations

import asyncio

from relay.delivery.reps import Reps
from relay.errors import RelayError
from relay.logs import get_logger
from relay.reps.directory import sync_reps
from relay.reps.e2s_addresses import find_e2s_addresses
from relay.runners.base import PeriodicRunner, store_failed
from relay.salesforce.client import SalesforceClient
from relay.store.errors import as_store_unavailable
from relay.store.model import Store
from relay.store_outage import StoreOutage

log = get_logger("relay.runners.rep_sync")

LOCAL_REFRESH_SECONDS = 60.0
FIRST_RETRY_SECONDS = 5.0
"""After a failed sync, the first retry; each further failure doubles it, up to the
interval."""


class RepSyncRunner(PeriodicRunner):
    """Syncs every interval (the first sync at start-up is the caller's); refreshes
    from the store in between."""

    name = "rep_sync"

    def __init__(
        self,
        store: Store,
        client: SalesforceClient,
        reps: Reps,
        interval_seconds: float,
        outage: StoreOutage | None = None,
    ) -> None:
        super().__init__(outage)
        self.store = store
        self.client = client
        self.reps = reps
        self.interval_seconds = interval_seconds
        self._retry_seconds: float | None = None
        """Set while the last sync failed: the wait before the next try, doubling."""
        self._waited = 0.0
        self._since_sync = 0.0

    @property
    def _tick(self) -> float:
        return min(self.interval_seconds, LOCAL_REFRESH_SECONDS)

    def first_wait(self) -> float:
        self._since_sync = 0.0
        self._waited = min(self._tick, self._retry_seconds or self._tick)
        return self._waited

    async def tick(self, stopping: asyncio.Event) -> float:
        self._since_sync += self._waited
        if self._since_sync >= self.interval_seconds or self._retry_seconds is not None:
            self._since_sync = 0.0
            await asyncio.to_thread(self.sync_once)
        else:
            await asyncio.to_thread(self.refresh_from_store)
        tick = self._tick
        self._waited = min(
            tick, self._retry_seconds or tick, self.outage.retry_wait(self.name) or tick
        )
        return self._waited

    def refresh_from_store(self) -> None:
        """Aliases and settings changed by the CLI, without calling Salesforce."""
        try:
            self.reps.refresh(self.store)
        except Exception as error:
            if store_failed(self.outage, self.name, error) is None:
                if not isinstance(error, RelayError):
                    raise
                log.warning("reps_refresh_failed", reason=error.reason)
            return
        self.outage.succeeded(self.name)

    def sync_once(self) -> bool:
        """One sync (blocking); True if the reps were read from Salesforce."""
        synced = False
        try:
            reps = sync_reps(self.client, self.store)
            synced = True
            self.reps.set_e2s(find_e2s_addresses(self.client, [r.user_id for r in reps]))
            log.info("reps_synced", reps=len(reps))
        except Exception as error:
            problem = as_store_unavailable(error) or error
            if not isinstance(problem, RelayError):
                raise
            log.warning(
                "reps_sync_failed",
                reason=problem.reason,
                keeping="the last rep snapshot" if not synced else "the last E2S addresses",
            )
        # A failed sync is tried again soon, not at the next interval: until Relay knows
        # its reps, mail that nobody is proven to have sent is held (docs/design.md §4),
        # so a Salesforce outage at start-up must not hold mail for a whole interval.
        if synced:
            self._retry_seconds = None
        else:
            doubled = 2 * self._retry_seconds if self._retry_seconds else FIRST_RETRY_SECONDS
            self._retry_seconds = min(doubled, self.interval_seconds)
        self.refresh_from_store()
        return synced
