"""Cluster chaos test: three `relay serve` nodes share one PostgreSQL schema
and one local org under 10 % transient faults; one node is SIGKILLed mid-run and not
restarted (its claimed messages come back when their lease ends), and a few emails
reach two nodes at the same moment. Every message answered 250 has exactly one Task per
record, none lost, none duplicated.

CI size: 300 messages. Full size (1,500): ``bench/chaos.py --cluster`` or CHAOS_MESSAGES.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.chaos_harness import postgres_schema, run_cluster_chaos

POSTGRES_URL_VARIABLE = "RELAY_TEST_POSTGRES_URL"


@pytest.mark.slow
@pytest.mark.postgres
def test_chaos_cluster_exactly_once(tmp_path: Path) -> None:
    """Three nodes on one PostgreSQL, one SIGKILLed: each 250 is one Task per record."""
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base:
        pytest.skip(f"the cluster chaos test needs PostgreSQL: set {POSTGRES_URL_VARIABLE}")
    messages = int(os.environ.get("CHAOS_MESSAGES", "300"))
    with postgres_schema(base) as store_url:
        result = run_cluster_chaos(
            tmp_path, messages=messages, store_url=store_url, lease_seconds=5.0
        )
    print(result.report())
    assert len(result.log.acked) >= messages * 0.9, result.report()
    assert any("sent twice at once" in line for line in result.story), result.report()
    assert result.audit.ok, result.audit.summary() + "\n" + result.report()
