"""What the daemon hands each runner (docs/design.md §2): ``RunnerContext``, and the
``Runner`` type of the daemon's ``runners``. Here rather than in relay/daemon.py so that
the runners never load the daemon, nor through it the SMTP edge."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from relay.config import Config
from relay.metrics import Metrics
from relay.reps.snapshot import RepSnapshot
from relay.store.model import Store
from relay.store_outage import StoreOutage


@dataclass(frozen=True)
class RunnerContext:
    """What a runner receives: the effective config, the store, the stop signal, the
    daemon's metrics (to add its counters to /metrics), the rep snapshot the SMTP edge
    consults (``sender_policy``: the runners refresh it after each rep sync), and where
    to report that the store fails (``/readyz`` shows it)."""

    config: Config
    store: Store
    stopping: asyncio.Event
    metrics: Metrics | None = None
    sender_policy: RepSnapshot | None = None
    store_outage: StoreOutage = field(default_factory=StoreOutage)


Runner = Callable[[RunnerContext], Awaitable[None]]
