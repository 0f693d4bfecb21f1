"""Fixtures for the process-model tests: `relay serve` supervisors (the shared launcher,
tests/support/serve.py) that are always killed with their children at the end, and a
seeded local org in this process (its latency can be raised mid-test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relay.localorg.seed import seed_sample
from tests.support.localorg import RunningOrg, running_org
from tests.support.serve import RelayServe

START_TIMEOUT_SECONDS = 60  # a supervisor waits for each of its children in turn


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Callable[..., RelayServe]]:
    """``supervised(*args, **env)``: start `relay serve ARGS` with ``env`` (trial trust)."""
    started: list[RelayServe] = []

    def start(*args: str, **env: str) -> RelayServe:
        relay = RelayServe(tmp_path / f"home{len(started)}", env=env, args=args)
        started.append(relay)
        return relay.start(timeout=START_TIMEOUT_SECONDS)

    yield start
    for relay in started:
        relay.kill()


@pytest.fixture
def org(tmp_path: Path) -> Iterator[RunningOrg]:
    with running_org(tmp_path / "org", seed_sample) as running:
        yield running
