"""Prometheus metrics of one daemon, in its own registry (not the process-global one).

A per-daemon ``CollectorRegistry`` keeps tests that start several daemons in one process
independent, and keeps library collectors we did not choose out of ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from relay.store.model import State


class Metrics:
    """The counters and gauges the SMTP edge and the store report through."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.accepted = Counter(
            "relay_smtp_messages_accepted",
            "Messages committed to the store and answered 250.",
            registry=self.registry,
        )
        self.accepted_bytes = Counter(
            "relay_smtp_accepted_bytes",
            "Raw bytes of the messages committed to the store.",
            registry=self.registry,
        )
        self.rejected = Counter(
            "relay_smtp_rejected",
            "SMTP commands or connections refused, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.connections = Gauge(
            "relay_smtp_connections",
            "Open SMTP connections.",
            registry=self.registry,
        )
        self.data_in_progress = Gauge(
            "relay_smtp_data_in_progress",
            "SMTP DATA phases in progress (capped by smtp.max_concurrent_data).",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "relay_queue_messages",
            "Messages in the store, by state.",
            ["state"],
            registry=self.registry,
        )

        # The runners. The API budget gauges (relay_salesforce_api_used, _limit,
        # _budget_pressure) are registered here too, by the runners' Salesforce client.
        self.tasks_written = Counter(
            "relay_tasks_written",
            "Tasks written to Salesforce (created or upserted), duplicates excluded.",
            registry=self.registry,
        )
        self.messages_processed = Counter(
            "relay_messages_processed",
            "Messages the runners finished, by outcome (logged, unresolved, held, ...).",
            ["outcome"],
            registry=self.registry,
        )
        self.api_calls = Counter(
            "relay_salesforce_api_calls",
            "HTTP calls the runners made to Salesforce (every attempt, logins included).",
            registry=self.registry,
        )

    def record_accepted(self, size: int) -> None:
        self.accepted.inc()
        self.accepted_bytes.inc(size)

    def record_rejected(self, reason: str) -> None:
        self.rejected.labels(reason=reason).inc()

    def render(self, counts: Mapping[State, int]) -> bytes:
        """The text exposition format, with the queue depth taken from ``counts``."""
        for state in State:
            self.queue_depth.labels(state=state.value).set(counts.get(state, 0))
        return generate_latest(self.registry)
