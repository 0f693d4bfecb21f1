"""The runners: Relay's loops, and nothing else (docs/design.md §1).

The delivery loop claims batches and hands each to the delivery steps
(``relay.delivery``); the rep sync, the held re-check and the retention purge run
periodically (relay/runners/base.py has the loops, ``sleep_or_stop`` and the store-outage
handling; relay/runners/context.py what the daemon hands each). The runners may import
``relay.delivery`` and every package below it (store, salesforce, reps, matching,
parsing), never ``relay.smtp``, ``relay.daemon`` or ``relay.cli``, not even through
another module: the daemon imports them, and the SMTP edge is its own world.

``delivery_runner()`` is what ``relay serve`` passes to the Daemon: it builds the
Salesforce client from the effective configuration (the embedded local org's when no
credentials are set) and runs, until the daemon stops, these loops sharing one client
and one rep view:

- ``DeliveryRunner``: parse, route by the rep's sync settings, match, log or forward;
  two of them, one per lane of the queue: live mail, and mail read by `relay import`
  (claimed only while no live mail is due, docs/design.md §11), so a live email never
  waits for an import's batch to finish; the imported-mail one gathers a big import's
  plans into Bulk API 2.0 jobs (relay/runners/import_lane.py);
- ``RepSyncRunner``: the active Users and their Email-to-Salesforce addresses, every
  ``pipeline.rep_sync_seconds``, then the SMTP edge's sender snapshot;
- ``HeldRecheckRunner``: releases held messages whose problem is fixed, every
  ``pipeline.held_recheck_seconds``;
- ``RepChangesRunner``: re-reads the reps, aliases and settings within a second of a
  change in the store (relay/runners/rep_changes.py);
- ``DigestRunner``: each rep's morning digest of their reminders, from 08:00 in their
  time zone, when a smarthost is set (relay/runners/digest.py).

The rep snapshot is the daemon's sender policy (``RunnerContext.sender_policy``, a
``RepSnapshot``, the one the SMTP handler consults), so one refresh serves the edge and
the runners.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from relay.delivery.reps import Reps
from relay.outbound import Outbound
from relay.reps.snapshot import RepSnapshot
from relay.runners.base import BatchResult, BatchRunner
from relay.runners.context import Runner, RunnerContext
from relay.runners.deliver import DeliveryRunner
from relay.runners.digest import DigestRunner
from relay.runners.import_lane import ImportLaneRunner
from relay.runners.recheck import HeldRecheckRunner
from relay.runners.rep_changes import RepChangesRunner
from relay.runners.rep_sync import RepSyncRunner
from relay.salesforce.client import SalesforceClient
from relay.store.claims import LIVE_LANE

SWITCH_INTERVAL_SECONDS = 0.001
"""The thread switch interval of a process that runs the delivery runners (Python's
default is 0.005; ``sys.setswitchinterval``). Both lanes' work runs in threads of one
process (docs/design.md §11): while the import lane plans a slice (CPU-bound, holding
the GIL), the live runner's thread, back from each socket read of its Salesforce calls
and each store call, waits up to one interval for the GIL, and a live email makes many
such returns. With 1 ms the live emails sent while the lane gathers went from a p50
of 0.27 s to 0.24 s (0.22 s idle) at the same throughput (docs/benchmarks.md, "Import
through Bulk API 2.0")."""

__all__ = [
    "BatchResult",
    "BatchRunner",
    "DeliveryRunner",
    "DigestRunner",
    "HeldRecheckRunner",
    "RepSyncRunner",
    "Runner",
    "RunnerContext",
    "delivery_runner",
]


def delivery_runner(edge_rate: Callable[[], float] | None = None) -> Runner:
    """``edge_rate``: the node's edge's messages per second, for a worker in its own
    process that steps back during a burst (relay/accepting.py)."""

    async def deliver(context: RunnerContext) -> None:
        config, store, metrics = context.config, context.store, context.metrics
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        client = SalesforceClient(
            config.salesforce,
            registry=metrics.registry if metrics is not None else None,
        )
        if metrics is not None:

            def count_call(_response: Any, *_args: Any, **_kwargs: Any) -> None:
                metrics.api_calls.inc()

            client.http.hooks["response"].append(count_call)
        snapshot: RepSnapshot | None = context.sender_policy
        if snapshot is None:
            snapshot = await asyncio.to_thread(RepSnapshot.from_store, config, store)
        reps = Reps(snapshot, config.home)
        outbound = Outbound(config)
        pipeline = config.pipeline
        outage = context.store_outage
        runner = DeliveryRunner(
            store,
            config,
            client,
            metrics,
            reps=reps,
            outbound=outbound,
            outage=outage,
            edge_rate=edge_rate,
            lane=LIVE_LANE,
        )
        importer = ImportLaneRunner(
            store,
            config,
            client,
            metrics,
            reps=reps,
            outbound=outbound,
            outage=outage,
            edge_rate=edge_rate,
        )
        rep_sync = RepSyncRunner(store, client, reps, pipeline.rep_sync_seconds, outage)
        recheck = HeldRecheckRunner(
            store, client, reps, outbound, pipeline.held_recheck_seconds, outage
        )
        try:
            # The first sync before the first email: it is attributed with a fresh
            # snapshot (and the edge stops failing open as soon as possible).
            await asyncio.to_thread(rep_sync.sync_once)
            await asyncio.to_thread(runner.warm_up)
            await asyncio.gather(
                runner.run(context.stopping),
                importer.run(context.stopping),
                rep_sync.run(context.stopping),
                recheck.run(context.stopping),
                RepChangesRunner(store, snapshot, outage).run(context.stopping),
                DigestRunner(store, reps, outbound, outage).run(context.stopping),
            )
        finally:
            client.close()

    return deliver
