"""The runners: claim queued messages and move them through the pipeline (DESIGN.md §1).

``delivery_runner()`` is what ``relay serve`` passes to the Daemon: it builds the
Salesforce client from the effective configuration (the embedded local org's when no
credentials are set) and runs ``DeliveryRunner`` until the daemon stops.
"""

from __future__ import annotations

import asyncio
from typing import Any

from relay.daemon import Runner, RunnerContext
from relay.runners.base import BatchResult, BatchRunner
from relay.runners.deliver import DeliveryRunner
from relay.salesforce.client import SalesforceClient

__all__ = ["BatchResult", "BatchRunner", "DeliveryRunner", "delivery_runner"]


def delivery_runner() -> Runner:
    async def deliver(context: RunnerContext) -> None:
        metrics = context.metrics
        client = SalesforceClient(
            context.config.salesforce,
            registry=metrics.registry if metrics is not None else None,
        )
        if metrics is not None:

            def count_call(_response: Any, *_args: Any, **_kwargs: Any) -> None:
                metrics.api_calls.inc()

            client.http.hooks["response"].append(count_call)
        runner = DeliveryRunner(context.store, context.config, client, metrics)
        try:
            await asyncio.to_thread(runner.warm_up)
            await runner.run(context.stopping)
        finally:
            client.close()

    return deliver
