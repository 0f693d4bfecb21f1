"""The import lane's delivery runner: a big import's Tasks go through Bulk API 2.0
ingest jobs (docs/design.md §11, "Big imports").

The claim does not change: at most ``IMPORT_CLAIM_LIMIT`` (100) imported messages, and
only while no live mail is due (relay/store/claims.py). Each claimed slice is parsed,
routed, looked up and planned on its own trip to a thread (``Delivery.prepare``), so the
live runner of the same worker gets the CPU between slices as it did between batches.
What changes, for an import with at least ``RELAY_BULK_THRESHOLD`` messages still in
the queue, is the write: the slices' plans are gathered, their messages still
``processing`` under this runner's leases (one heartbeat renews them all), until they
hold ``gather_rows`` Task drafts (``RELAY_PIPELINE_IMPORT_BULK_ROWS``) or
``GATHER_BYTES`` of Task text, or the lane has no more to give; then ONE write
(``Delivery.complete``), which ``TaskWriter`` sends through one Bulk API 2.0 job when it
holds ``RELAY_BULK_THRESHOLD`` drafts or more, through REST otherwise. The outcomes are
recorded ``FINISH_CHUNK`` to a transaction, so none holds the store's write lock long,
and before each step of the write (each ledger transaction, the job, each REST call,
each transaction of outcomes) the lane gives way while live mail is due or being
processed (``_give_way``, docs/design.md §11, "The lane gives way").
A smaller import's slices are written one by one as before: gathering them could not
reach the threshold and would only claim ahead of them.

Exactly once across crashes, with nothing new to make durable: the gathered plans are
only in memory, and the messages stay ``processing`` under a lease until their outcome
is recorded. A crash before the write leaves no trace but the leases: the messages are
claimed again (``recover()`` at the next start, or the lease's expiry) and planned
again. From the write on, the ledger rules hold as for any write (docs/design.md §5):
the intents are committed before the job is created, the job upserts on the external
id, and a re-run after a crash mid-job upserts the same keys again, which updates the
Tasks the first job made instead of adding any. Without the external-id field nothing
is gathered: the lane writes each slice as it is claimed, as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from relay.config import Config
from relay.delivery.outcomes import BatchResult
from relay.delivery.pipeline import Prepared, joined
from relay.delivery.reps import Reps
from relay.metrics import Metrics
from relay.outbound import Outbound
from relay.runners.base import sleep_or_stop, store_failed
from relay.runners.deliver import DeliveryRunner
from relay.salesforce.client import SalesforceClient
from relay.store.claims import IMPORT_CLAIM_LIMIT, IMPORTED_LANE
from relay.store.errors import as_store_unavailable
from relay.store.imports import ImportStore
from relay.store.model import Store, StoredMessage
from relay.store_outage import StoreOutage

GATHER_BYTES = 32 * 1024 * 1024
"""Subject and description characters gathered at most before writing: the gathered
plans are in memory until the write, and one job's upload may hold about 100 MB of CSV
("Upload Job Data", Bulk API 2.0 and Bulk API Developer Guide)."""
GATHER_WAIT_SECONDS = 2.0
"""How long the lane must stay empty before what is gathered is written: an empty claim
is often only a moment, while a live email is due (the lane then gives nothing) or
between two of `relay import`'s chunks of 100; writing then would cut the job short
(docs/benchmarks.md, "Import")."""
FINISH_CHUNK = 500
"""Outcomes per store transaction when a gathered write is recorded."""
GIVE_WAY_POLL_SECONDS = 0.02
"""How often a gathered write that gives way looks whether live mail is still in flight."""
GIVE_WAY_MAX_SECONDS = 5.0
"""The longest one step of a gathered write waits for live mail: under a steady stream
of live mail the import still moves (its claims wait for a gap in the live mail, this
only for the end of a live batch's work), and its leases are renewed meanwhile."""


@dataclass
class Gathered:
    """The slices planned but not yet written, and the ids the heartbeat renews."""

    slices: list[Sequence[StoredMessage]] = field(default_factory=list)
    parts: list[Prepared] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    rows: int = 0
    text: int = 0

    def add(self, batch: Sequence[StoredMessage], part: Prepared) -> None:
        self.slices.append(batch)
        self.parts.append(part)
        self.rows += part.rows()
        self.text += sum(
            len(d.subject) + len(d.description) for p in part.planned for d in p.drafts
        )

    def messages(self) -> int:
        return sum(len(batch) for batch in self.slices)


class ImportLaneRunner(DeliveryRunner):
    """The imported-mail runner of a worker (relay/runners/__init__.py)."""

    def __init__(
        self,
        store: Store,
        config: Config,
        client: SalesforceClient,
        metrics: Metrics | None = None,
        *,
        reps: Reps | None = None,
        outbound: Outbound | None = None,
        outage: StoreOutage | None = None,
        edge_rate: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(
            store,
            config,
            client,
            metrics,
            reps=reps,
            outbound=outbound,
            outage=outage,
            edge_rate=edge_rate,
            lane=IMPORTED_LANE,
        )
        pipeline = config.pipeline
        self.gather_rows = pipeline.import_bulk_rows
        self.bulk_threshold = pipeline.bulk_threshold
        self.gave_way = 0.0
        """Seconds the current gathered write has waited for live mail so far (its
        ``import_write_finished`` event says it)."""
        self._stopping: asyncio.Event | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        self.log.info("runner_started", worker=self.worker, gather_rows=self.gather_rows)
        self._stopping = stopping
        gathered = Gathered()
        heartbeat = asyncio.create_task(self._renew_gathered(gathered))
        empty_since: float | None = None
        try:
            while not stopping.is_set():
                ready = await self.ready_to_claim(stopping)
                if ready is None:
                    break
                if not ready:
                    continue
                batch = await self.claim_next(stopping, IMPORT_CLAIM_LIMIT)
                if batch is None:
                    continue
                if not batch:
                    now = time.monotonic()
                    empty_since = now if empty_since is None else empty_since
                    waited = now - empty_since
                    if gathered.slices and waited >= GATHER_WAIT_SECONDS:
                        await self._write(gathered, stopping)
                        continue
                    idle = self.pipeline.idle_wait_seconds
                    if gathered.slices:
                        idle = min(idle, GATHER_WAIT_SECONDS - waited)
                    await asyncio.to_thread(self.store.wait_for_work, idle)
                    continue
                empty_since = None
                gathered.ids.extend(message.id for message in batch)
                part = await asyncio.to_thread(self._prepare, batch, not gathered.slices)
                if isinstance(part, float):  # delivered on its own; the pause it asks for
                    gathered.ids[len(gathered.ids) - len(batch) :] = []
                    if part > 0:
                        self.log.warning("runner_paused", seconds=round(part, 1))
                        await sleep_or_stop(stopping, part)
                    continue
                gathered.add(batch, part)
                if gathered.rows >= self.gather_rows or gathered.text >= GATHER_BYTES:
                    await self._write(gathered, stopping)
            if gathered.slices:
                # Stopping: finish what is gathered, as a batch is finished (docs/design.md
                # §2); a kill instead leaves the leases, and the messages are planned again.
                await self._write(gathered, stopping)
        finally:
            heartbeat.cancel()
        self.log.info("runner_stopped", worker=self.worker)

    def _prepare(self, batch: Sequence[StoredMessage], first: bool) -> Prepared | float:
        """The slice's plans, to gather (in a thread). Or the slice delivered on its own
        as an ordinary batch (``run_batch``; the pause it asks for is returned): when
        its imports (``first``: nothing is gathered yet) have fewer messages left in the
        queue than the bulk threshold (their writes could not reach it, and gathering
        would only claim ahead of them), when the org has no external-id field (no bulk
        job could write them), or when the org profile cannot be read or preparing
        raised (the crash path of ``run_batch`` isolates the message that causes it)."""
        try:
            if (
                not first or self._big(batch)
            ) and self.delivery.org.get().external_id_field is not None:
                return self.delivery.prepare(batch)
        except Exception as error:  # the ordinary path handles it
            self.log.info("import_slice_alone", reason=type(error).__name__)
        return self.run_batch(batch)

    def _big(self, batch: Sequence[StoredMessage]) -> bool:
        """Whether the slice's imports still have the bulk threshold's worth of messages
        in the queue (this slice included). The import keeps up to a gathered write's
        worth and 1,000 more queued (relay/importing/run.py ``import_window``), so a big
        import is seen as big as soon as its reading is ahead of its delivery."""
        if not isinstance(self.store, ImportStore):
            return False
        import_ids = {message.import_id for message in batch if message.import_id}
        return self.store.import_pending(import_ids) >= self.bulk_threshold

    async def _write(self, gathered: Gathered, stopping: asyncio.Event) -> None:
        slices, parts = list(gathered.slices), list(gathered.parts)
        gathered.slices.clear()
        gathered.parts.clear()
        gathered.rows = gathered.text = 0
        try:
            pause = await asyncio.to_thread(self._write_parts, slices, parts)
        finally:
            written = {message.id for batch in slices for message in batch}
            gathered.ids[:] = [queue_id for queue_id in gathered.ids if queue_id not in written]
        if pause > 0:
            self.log.warning("runner_paused", seconds=round(pause, 1))
            await sleep_or_stop(stopping, pause)

    def _write_parts(
        self, slices: Sequence[Sequence[StoredMessage]], parts: Sequence[Prepared]
    ) -> float:
        """One write for the gathered plans, then their outcomes (in a thread)."""
        started = time.monotonic()
        whole = joined(parts)
        messages = sum(len(batch) for batch in slices)
        self.gave_way = 0.0
        self.delivery.writer.between = self._give_way
        try:
            result = self.delivery.complete(whole)
        except Exception as error:
            failure = as_store_unavailable(error)
            result = BatchResult()
            for batch in slices:
                if failure is not None:
                    self._merge(result, self._store_failed(batch, failure))
                    continue
                # As a crashed batch: each slice again on its own, with its isolation.
                # The ledger keeps what the failed write did do from being written twice.
                try:
                    self._merge(result, self.process(batch))
                except Exception as single:
                    self._merge(result, self._isolate(batch, single))
        finally:
            self.delivery.writer.between = None
        for start in range(0, len(result.outcomes), FINISH_CHUNK):
            self._give_way()
            self._finish(_chunk(result, start, start + FINISH_CHUNK))
        self.log.info(
            "import_write_finished",
            messages=messages,
            rows=whole.rows(),
            seconds=round(time.monotonic() - started, 3),
            gave_way_seconds=round(self.gave_way, 3),
        )
        return result.pause_seconds

    def _give_way(self) -> None:
        """Wait while live mail is due or being processed, on any worker (the store
        says), up to ``GIVE_WAY_MAX_SECONDS`` (in the write's thread). A gathered write's
        steps (its intents, its job or REST calls, its written marks, its outcomes 500
        at a time) each take the worker's CPU, the store's write lock and the org's
        attention for a moment; run back to back, during a live email's own calls, they
        made its 250-to-Task several times the idle figure (docs/benchmarks.md, "Import
        through Bulk API 2.0"). Between the steps nothing is held but the leases, which
        the heartbeat renews, so waiting changes no outcome: the live-first rule of the
        claims (relay/store/claims.py), kept through the write (docs/design.md §11).
        Not while the worker stops: its live runner claims nothing more, and what is
        gathered is written before the worker exits (docs/design.md §2)."""
        deadline = time.monotonic() + GIVE_WAY_MAX_SECONDS
        while time.monotonic() < deadline:
            if self._stopping is not None and self._stopping.is_set():
                return
            try:
                if not self.store.live_in_flight():
                    return
            except Exception as error:
                if as_store_unavailable(error) is None:
                    raise
                return  # the write's own store calls report a failing store
            time.sleep(GIVE_WAY_POLL_SECONDS)
            self.gave_way += GIVE_WAY_POLL_SECONDS

    @staticmethod
    def _merge(into: BatchResult, result: BatchResult) -> None:
        into.outcomes.extend(result.outcomes)
        into.unresolved_items.extend(result.unresolved_items)
        into.reminders.extend(result.reminders)
        into.pause_seconds = max(into.pause_seconds, result.pause_seconds)

    async def _renew_gathered(self, gathered: Gathered) -> None:
        """The heartbeat of everything gathered (and being written): renew the leases
        every third of ``lease_seconds`` (docs/design.md §2). A lost lease is logged by
        the store, which then refuses this runner's outcome for that message; its Task is
        still written at most once (the ledger, docs/design.md §5)."""
        lease = self.pipeline.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            ids = list(gathered.ids)
            if not ids:
                continue
            try:
                await asyncio.to_thread(self.store.renew_leases, ids, self.worker, lease)
            except Exception as error:
                # The next beat tries again: one missed beat still fits in the lease.
                if store_failed(self.outage, self.name, error) is None:
                    self.log.warning("lease_renewal_failed", error=type(error).__name__)


def _chunk(result: BatchResult, start: int, end: int) -> BatchResult:
    """Outcomes ``start:end`` of ``result`` with their unresolved items and reminders."""
    outcomes = result.outcomes[start:end]
    ids = {outcome.queue_id for outcome in outcomes}
    return BatchResult(
        outcomes,
        unresolved_items=[item for item in result.unresolved_items if item.queue_id in ids],
        reminders=[reminder for reminder in result.reminders if reminder.queue_id in ids],
    )


__all__ = [
    "FINISH_CHUNK",
    "GATHER_BYTES",
    "GATHER_WAIT_SECONDS",
    "GIVE_WAY_MAX_SECONDS",
    "Gathered",
    "ImportLaneRunner",
]
