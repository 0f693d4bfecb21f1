"""The Task sync's loop: one cycle (relay/tasksync/engine.py) every
``RELAY_TASK_SYNC_INTERVAL`` seconds (120 by default), started where the retention runner
is (once per node: the SMTP edge's process, or `relay serve --workers 0`'s one).

With no rep's ``task_sync`` on, a cycle reads two small store tables and makes no API
call. Salesforce errors are the engine's to report (they are kept for `relay doctor`:
transient ones are tried again next cycle, a rate limit pauses the sync, a configuration
problem is held with its guidance); a failing store goes to the daemon's ``StoreOutage``
and the next cycle waits out its backoff. Two nodes running it at once cost API calls,
never duplicates: creates are upserts on the external id, imports meet a unique index,
and a reminder write only lands on the version the cycle read (relay/store/task_sync.py).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from relay.logs import get_logger
from relay.runners.base import PeriodicRunner, store_failed
from relay.runners.context import Runner, RunnerContext
from relay.salesforce.client import SalesforceClient
from relay.store.sql_store import SqlStore
from relay.store_outage import StoreOutage
from relay.tasksync.engine import TaskSyncEngine

log = get_logger("relay.runners.task_sync")


class TaskSyncRunner(PeriodicRunner):
    name = "task_sync"

    def __init__(
        self, engine: TaskSyncEngine, interval_seconds: float, outage: StoreOutage | None = None
    ) -> None:
        super().__init__(outage)
        self.engine = engine
        self.interval_seconds = interval_seconds

    async def tick(self, stopping: asyncio.Event) -> float:
        try:
            report = await asyncio.to_thread(self.engine.cycle)
        except Exception as error:
            backoff = store_failed(self.outage, self.name, error)
            if backoff is None:
                # A bug must not stop mail: log it, and try again next cycle.
                log.exception("task_sync_crashed")
                return self.interval_seconds
            return backoff
        self.outage.succeeded(self.name)
        if report.paused:
            paused_until = self.engine.store.task_sync_state().paused_until
            if paused_until is not None:
                remaining = (paused_until - datetime.now(UTC)).total_seconds()
                return max(1.0, min(remaining, self.interval_seconds))
        return self.interval_seconds


def task_sync_runner() -> Runner:
    """The daemon's Task-sync loop, with a Salesforce client of its own."""

    async def task_sync(context: RunnerContext) -> None:
        config, store = context.config, context.store
        if not isinstance(store, SqlStore):
            await context.stopping.wait()
            return
        # Its own budget gauges: the delivery runner's client already registered the
        # metrics' names in `relay serve --workers 0`'s one registry.
        client = SalesforceClient(config.salesforce)
        engine = TaskSyncEngine(
            store,
            client,
            config.sync,
            key_field=config.pipeline.external_id_field,
            rate_limit_pause_seconds=config.pipeline.rate_limit_pause_seconds,
        )
        try:
            runner = TaskSyncRunner(engine, config.task_sync_interval, context.store_outage)
            await runner.run(context.stopping)
        finally:
            client.close()

    return task_sync
