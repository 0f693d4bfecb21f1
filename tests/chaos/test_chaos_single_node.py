"""Chaos test: SMTP under 10 % transient Salesforce faults, `relay serve`
SIGKILLed and restarted at random moments, then drained: every message answered 250 has
exactly one Task per record, none is lost, none is duplicated, each is ``logged``.

CI size: 200 messages, 2 kills. Full size (1,000 messages, 3 kills): ``bench/chaos.py``,
or CHAOS_MESSAGES / CHAOS_KILLS here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.chaos.chaos_harness import run_chaos


@pytest.mark.slow
def test_chaos_single_node_exactly_once(tmp_path: Path) -> None:
    """Every 250-acknowledged message is logged once per record despite faults and SIGKILLs."""
    messages = int(os.environ.get("CHAOS_MESSAGES", "200"))
    kills = int(os.environ.get("CHAOS_KILLS", "2"))
    result = run_chaos(tmp_path, messages=messages, kills=kills)
    print(result.report())
    assert len(result.log.acked) >= messages * 0.9, result.report()
    assert sum(1 for line in result.story if line.startswith("SIGKILL")) == kills
    assert result.audit.ok, result.audit.summary() + "\n" + result.report()
