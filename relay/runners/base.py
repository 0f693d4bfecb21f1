"""The shared base of Relay's runners: the batch loop (claim, process, finish, defer,
crash), the periodic loop, ``sleep_or_stop`` and the store-outage handling.

Modelled on GNU Mailman 3's ``core/runner.py``: the base owns the loop, the claim and
finish steps and the shunt-on-crash path; a stage runner only says what one batch does
(``BatchRunner.process``), or what one pass does (``PeriodicRunner.tick``).

- Claim: whatever is due, up to ``batch_size``, at once: a lone email never waits for a
  batch to fill. Batches form by themselves while the previous one is in flight. Only
  under API budget pressure does the runner wait (up to ``max_batch_window_seconds``)
  to batch harder.
- All store and Salesforce work runs in a worker thread, never on the event loop.
- Crash path: a batch that raises is retried one message at a time, so one poison
  message cannot hold back the others; a message that still raises is deferred, and
  quarantined once it has crashed ``crash_attempts`` times (the exception's type and
  text are recorded, never the body). Nothing is lost: a runner that dies leaves its
  messages in ``processing`` and the lease hands them out again.
- A failing store is not a crash: a claim, a finish or any store call in ``process``
  that fails on the database (a lock held past the busy timeout, a lost connection)
  is reported to the daemon's ``StoreOutage`` (relay/store_outage.py) and retried after
  a backoff; the batch is deferred, not counted against its messages.
"""

from __future__ import annotations

import abc
import asyncio
import os
import socket
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from structlog.contextvars import bound_contextvars

from relay.config import PipelineConfig
from relay.delivery.outcomes import BatchResult, Happening, backoff_until, decided
from relay.errors import StoreUnavailable
from relay.logs import get_logger
from relay.store.errors import InvalidTransition, UnknownMessage, as_store_unavailable
from relay.store.model import Outcome, Store, StoredMessage
from relay.store_outage import StoreOutage

__all__ = ["BatchResult", "BatchRunner", "PeriodicRunner", "sleep_or_stop", "store_failed"]


class BatchRunner(abc.ABC):
    """Claims batches from the store and hands them to ``process`` in a thread."""

    name = "runner"
    lane = "any"
    """The queue lane this runner claims from (relay/store/claims.py)."""
    batch_size: int | None = None
    """Messages per claim; None: ``pipeline.batch_size``."""

    def __init__(
        self, store: Store, pipeline: PipelineConfig, outage: StoreOutage | None = None
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.outage = outage if outage is not None else StoreOutage()
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{self.name}"
        self.log = get_logger(f"relay.runners.{self.name}")

    @abc.abstractmethod
    def process(self, batch: Sequence[StoredMessage]) -> BatchResult:
        """Process claimed messages (in a thread); must return an outcome for each."""

    def batch_window(self) -> float:
        """Seconds to wait before claiming, to batch harder (0: claim at once)."""
        return 0.0

    def intake_yield(self) -> float:
        """Seconds to step back before claiming, asked again after each wait, while the
        node's SMTP edge takes a burst (relay/accepting.py; 0: claim now)."""
        return 0.0

    # --- the loop ------------------------------------------------------------------------

    async def claim_next(
        self, stopping: asyncio.Event, limit: int
    ) -> Sequence[StoredMessage] | None:
        """Claim up to ``limit`` from this runner's lane, in a thread. None when the store
        failed: the outage is reported and its backoff waited, and the caller looks
        again."""
        try:
            batch = await asyncio.to_thread(
                self.store.claim, limit, self.worker, self.pipeline.lease_seconds, self.lane
            )
        except Exception as error:
            wait = store_failed(self.outage, self.name, error)
            if wait is None:
                raise
            await sleep_or_stop(stopping, wait)
            return None
        self.outage.succeeded(self.name)
        return batch

    async def ready_to_claim(self, stopping: asyncio.Event) -> bool | None:
        """The pace before a claim: step back while the node's edge takes a burst, then
        wait the batch window. True: claim now; False: look again; None: stopping."""
        step_back = self.intake_yield()
        if step_back > 0:
            return None if await sleep_or_stop(stopping, step_back) else False
        window = self.batch_window()
        if window > 0 and await sleep_or_stop(stopping, window):
            return None
        return True

    async def run(self, stopping: asyncio.Event) -> None:
        self.log.info("runner_started", worker=self.worker)
        while not stopping.is_set():
            ready = await self.ready_to_claim(stopping)
            if ready is None:
                break
            if not ready:
                continue
            batch = await self.claim_next(stopping, self.batch_size or self.pipeline.batch_size)
            if batch is None:
                continue
            if not batch:
                await asyncio.to_thread(self.store.wait_for_work, self.pipeline.idle_wait_seconds)
                continue
            heartbeat = asyncio.create_task(self._renew_leases(batch))
            try:
                pause = await asyncio.to_thread(self.run_batch, batch)
            finally:
                heartbeat.cancel()
            if pause > 0:
                self.log.warning("runner_paused", seconds=round(pause, 1))
                await sleep_or_stop(stopping, pause)
        self.log.info("runner_stopped", worker=self.worker)

    async def _renew_leases(self, batch: Sequence[StoredMessage]) -> None:
        """The batch's heartbeat: renew its leases every third of ``lease_seconds`` while
        it runs, so a short lease (a dead worker's messages go to another within one
        lease) still covers a long batch (docs/design.md §2). A lost lease is logged by
        the store, and the store then refuses this worker's outcome for that message."""
        ids = [message.id for message in batch]
        lease = self.pipeline.lease_seconds
        while True:
            await asyncio.sleep(lease / 3)
            try:
                held = await asyncio.to_thread(self.store.renew_leases, ids, self.worker, lease)
            except Exception as error:
                # The next beat tries again: one missed beat still fits in the lease.
                if store_failed(self.outage, self.name, error) is None:
                    self.log.warning("lease_renewal_failed", error=_summary(error))
                continue
            ids = [queue_id for queue_id in ids if queue_id in held]
            if not ids:
                return

    def run_batch(self, batch: Sequence[StoredMessage]) -> float:
        """Process and finish one batch (in a thread); returns the pause asked for."""
        started = time.monotonic()
        try:
            result = self.process(batch)
        except Exception as error:
            failure = as_store_unavailable(error)
            if failure is not None:
                self._finish(self._store_failed(batch, failure))
                return 0.0
            self.log.error(
                "batch_crashed",
                messages=len(batch),
                error=_summary(error),
                queue_ids=[m.id for m in batch],
            )
            result = self._isolate(batch, error)
        self._finish(result)
        self.log.info(
            "batch_finished",
            messages=len(batch),
            seconds=round(time.monotonic() - started, 3),
        )
        return result.pause_seconds

    def _isolate(self, batch: Sequence[StoredMessage], error: Exception) -> BatchResult:
        """The crash path: one message at a time, so only the poison one is set aside."""
        if len(batch) == 1:
            return BatchResult([self._crashed(batch[0], error)])
        merged = BatchResult()
        for message in batch:
            try:
                result = self.process([message])
            except Exception as single:
                failure = as_store_unavailable(single)
                if failure is not None:
                    result = self._store_failed([message], failure)
                else:
                    with bound_contextvars(queue_id=message.id):
                        self.log.error("message_crashed", error=_summary(single))
                    result = BatchResult([self._crashed(message, single)])
            merged.outcomes.extend(result.outcomes)
            merged.unresolved_items.extend(result.unresolved_items)
            merged.pause_seconds = max(merged.pause_seconds, result.pause_seconds)
        return merged

    def _store_failed(
        self, batch: Sequence[StoredMessage], failure: StoreUnavailable
    ) -> BatchResult:
        """The store failed mid-batch: defer every message past the backoff (if the store
        takes that write), without counting it as a crash of the message."""
        wait = self.outage.failed(self.name, failure.reason)
        until = datetime.now(UTC) + timedelta(seconds=wait)
        return BatchResult(
            [
                decided(m.id, Happening.STORE_UNAVAILABLE, until=until, reason=failure.reason)
                for m in batch
            ]
        )

    def _crashed(self, message: StoredMessage, error: Exception) -> Outcome:
        summary = _summary(error)
        if message.attempts >= self.pipeline.crash_attempts:
            return decided(
                message.id,
                Happening.CRASHED_TOO_OFTEN,
                attempts=message.attempts,
                summary=summary,
            )
        until = backoff_until(message.attempts, self.pipeline)
        return decided(message.id, Happening.CRASHED, until=until, summary=summary)

    def _finish(self, result: BatchResult) -> None:
        try:
            self.store.finish_many(
                result.outcomes,
                unresolved_items=result.unresolved_items,
                worker=self.worker,
                reminders=result.reminders,
            )
            return
        except (InvalidTransition, UnknownMessage) as error:
            # An admin deleted or moved a message meanwhile: record the others one by one.
            self.log.warning("batch_finish_conflict", reason=str(error))
        except StoreUnavailable as error:
            # Left in processing: the lease expires and the messages are claimed again;
            # the ledger keeps their Tasks from being written twice.
            self.log.error("batch_finish_failed", reason=error.reason)
            self.outage.failed(self.name, error.reason)
            return
        items = {item.queue_id: item for item in result.unresolved_items}
        reminders = {reminder.queue_id: reminder for reminder in result.reminders}
        for outcome in result.outcomes:
            item = items.get(outcome.queue_id)
            reminder = reminders.get(outcome.queue_id)
            try:
                self.store.finish_many(
                    [outcome],
                    unresolved_items=[item] if item else [],
                    worker=self.worker,
                    reminders=[reminder] if reminder else [],
                )
            except (InvalidTransition, UnknownMessage, StoreUnavailable) as error:
                self.log.warning("finish_skipped", queue_id=outcome.queue_id, reason=str(error))


def _summary(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class PeriodicRunner(abc.ABC):
    """A loop that waits, runs one pass, and waits again until the daemon stops: the rep
    sync, the held re-check and the retention purge. ``tick`` runs a pass and returns
    the wait before the next one."""

    name = "periodic"

    def __init__(self, outage: StoreOutage | None = None) -> None:
        self.outage = outage if outage is not None else StoreOutage()

    def first_wait(self) -> float:
        """Seconds before the first pass (0: at once)."""
        return 0.0

    @abc.abstractmethod
    async def tick(self, stopping: asyncio.Event) -> float:
        """One pass; returns the seconds to wait before the next one."""

    async def run(self, stopping: asyncio.Event) -> None:
        wait = self.first_wait()
        while not await sleep_or_stop(stopping, wait):
            wait = await self.tick(stopping)


def store_failed(outage: StoreOutage, name: str, error: Exception) -> float | None:
    """If ``error`` is the store failing, report it to the daemon's ``StoreOutage`` and
    return the backoff before the next try; None for any other error."""
    failure = as_store_unavailable(error)
    if failure is None:
        return None
    return outage.failed(name, failure.reason)


async def sleep_or_stop(stopping: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True if asked to stop meanwhile (or before)."""
    if stopping.is_set():
        return True
    if seconds <= 0:
        return False
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
