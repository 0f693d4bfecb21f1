"""Prometheus metrics of one daemon, in its own registry (not the process-global one).

A per-daemon ``CollectorRegistry`` keeps tests that start several daemons in one process
independent, and keeps library collectors we did not choose out of ``/metrics``.

With worker processes (docs/design.md §2) the runners count in their own process: each
worker sends ``snapshot()`` to the edge when it changed (checked every 50 ms,
relay/cli/serve_children.py; over relay/wakeups.py), and the edge's
``render`` adds them to its own (``add_remote``): counters are summed, a gauge the edge
does not have itself shows the largest value a worker saw (the API budget gauges: every
worker reads the same org's usage). A restarted worker's counters start again from 0,
which Prometheus' ``rate()`` reads as a counter reset.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from relay.store.model import State


class Metrics:
    """The counters and gauges the SMTP edge and the store report through."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._remote: dict[str, list[dict[str, Any]]] = {}
        self._remote_lock = threading.Lock()
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
        with self._remote_lock:
            remote = [family for families in self._remote.values() for family in families]
        if not remote:
            return generate_latest(self.registry)
        merged = CollectorRegistry(auto_describe=False)
        merged.register(_Merged(list(self.registry.collect()), remote))
        return generate_latest(merged)

    def snapshot(self) -> list[dict[str, Any]]:
        """This process's samples as plain data, for ``add_remote`` in the edge."""
        return [
            {
                "name": family.name,
                "documentation": family.documentation,
                "type": family.type,
                "samples": [[s.name, s.labels, s.value] for s in family.samples],
            }
            for family in self.registry.collect()
        ]

    def add_remote(self, process: str, snapshot: list[dict[str, Any]]) -> None:
        """The latest ``snapshot()`` of another process (replaces its previous one)."""
        with self._remote_lock:
            self._remote[process] = snapshot


class _Merged(Collector):
    """The edge's families with the workers' samples added (see the module docstring)."""

    def __init__(self, local: list[Metric], remote: list[dict[str, Any]]) -> None:
        self._local = local
        self._remote = remote

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        for family in self._local:
            families[family.name] = Metric(family.name, family.documentation, family.type)
            values[family.name] = {
                (s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples
            }
        local_keys = {name: set(samples) for name, samples in values.items()}
        for remote in self._remote:
            name = str(remote["name"])
            if name not in families:
                families[name] = Metric(name, str(remote["documentation"]), str(remote["type"]))
                values[name] = {}
                local_keys[name] = set()
            samples = values[name]
            for sample_name, labels, value in remote["samples"]:
                key = (str(sample_name), tuple(sorted(labels.items())))
                if key not in samples:
                    samples[key] = float(value)
                elif str(sample_name).endswith("_created"):
                    samples[key] = min(samples[key], float(value))
                elif families[name].type == "counter":
                    samples[key] += float(value)
                elif key not in local_keys[name]:  # a gauge only the workers have
                    samples[key] = max(samples[key], float(value))
        for name, family in families.items():
            for (sample_name, labels), value in values[name].items():
                family.add_sample(sample_name, dict(labels), value)
            yield family
