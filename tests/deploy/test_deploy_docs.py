"""docs/operations.md: the log events and metrics it documents are ones Relay really emits."""

from __future__ import annotations

import re

from relay.metrics import Metrics
from tests.deploy.deploy_helpers import REPO

OPERATIONS = (REPO / "docs" / "operations.md").read_text()


def section(title: str) -> str:
    start = OPERATIONS.index(f"## {title}")
    end = OPERATIONS.find("\n## ", start + 1)
    return OPERATIONS[start:end]


def test_documented_log_events_exist_in_the_code() -> None:
    """Every event in the log table is a string literal some module of relay/ logs."""
    table = section("6. Logs")
    documented = set(re.findall(r"^\| `([a-z_]+)`", table, flags=re.MULTILINE))
    documented |= set(re.findall(r"^\| `[a-z_]+` / `([a-z_]+)`", table, flags=re.MULTILINE))
    documented |= set(re.findall(r"^\| `[a-z_]+`, `([a-z_]+)`", table, flags=re.MULTILINE))
    assert len(documented) > 30
    source = "\n".join(p.read_text() for p in (REPO / "relay").rglob("*.py"))
    missing = {event for event in documented if f'"{event}"' not in source}
    assert missing == set()


def test_documented_metrics_are_exposed() -> None:
    """Every metric name in the metrics table appears in a fresh daemon's /metrics text."""
    table = section("7. Metrics")
    documented = set(re.findall(r"`(relay_[a-z_]+)(?:\{[a-z]+\})?`", table))
    exposed = Metrics().render({}).decode()
    budget = (REPO / "relay" / "salesforce" / "budget.py").read_text()
    missing = {name for name in documented if name not in exposed and f'"{name}"' not in budget}
    assert missing == set()
