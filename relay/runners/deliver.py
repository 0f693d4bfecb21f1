"""The delivery runner: claims batches (relay/runners/base.py) and hands each to the
delivery steps (relay/delivery/pipeline.py), which return one outcome per message.

Only the claim pace is decided here: under API budget pressure the runner waits before
claiming, to batch harder, and stops writing when over budget; while the node's SMTP
edge takes a burst, it steps back (relay/accepting.py). A runner claims from one
lane (relay/store/claims.py): ``relay serve`` runs one for live mail and one for
imported mail in each worker, so a live email never waits behind an import's batch
(docs/design.md §11).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from relay.accepting import YieldPolicy
from relay.config import Config
from relay.delivery.outcomes import BatchResult
from relay.delivery.pipeline import Delivery
from relay.delivery.reps import Reps
from relay.metrics import Metrics
from relay.outbound import Outbound
from relay.runners.base import BatchRunner
from relay.salesforce.client import SalesforceClient
from relay.store.claims import ANY_LANE, IMPORT_CLAIM_LIMIT, IMPORTED_LANE
from relay.store.model import Store, StoredMessage
from relay.store_outage import StoreOutage


class DeliveryRunner(BatchRunner):
    name = "deliver"

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
        lane: str = ANY_LANE,
    ) -> None:
        if lane == IMPORTED_LANE:
            self.name = "deliver-import"  # its own worker id, so its own leases
            self.batch_size = IMPORT_CLAIM_LIMIT
        self.lane = lane
        super().__init__(store, config.pipeline, outage)
        self.client = client
        self.delivery = Delivery(store, config, client, metrics, reps=reps, outbound=outbound)
        self._edge_rate = edge_rate
        self._yield = YieldPolicy(
            min_rate=config.pipeline.yield_min_rate,
            max_yield_seconds=config.pipeline.yield_max_seconds,
        )
        self._stepping_back_since: float | None = None

    def warm_up(self) -> None:
        """Read the org profile before the first email (relay/delivery/pipeline.py)."""
        self.delivery.warm_up()

    def batch_window(self) -> float:
        pressure = self.client.budget.pressure()
        if pressure >= 1.0:
            return self.pipeline.rate_limit_pause_seconds  # over budget: stop writing
        return self.pipeline.max_batch_window_seconds * pressure if pressure > 0.5 else 0.0

    def intake_yield(self) -> float:
        if self._edge_rate is None:
            return 0.0
        wait, self._stepping_back_since = self._yield.wait(
            self._edge_rate(), time.monotonic(), self._stepping_back_since
        )
        return wait

    def process(self, batch: Sequence[StoredMessage]) -> BatchResult:
        return self.delivery.run(batch)
