"""Fixtures for the process-model tests: `relay serve` supervisors that are always
cleaned up, and a seeded local org in this process (it counts the Tasks)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from supervisor_process import Supervised

from relay.localorg.runner import LocalOrg
from relay.localorg.seed import seed_sample


@pytest.fixture
def supervised(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def start(*args: str, **env: str) -> Supervised:
        relay = Supervised(home=tmp_path / f"home{len(started)}", env=env, args=args)
        started.append(relay)
        return relay.start()

    yield start
    for relay in started:
        relay.kill()


@pytest.fixture
def org(tmp_path: Path) -> Iterator[LocalOrg]:
    local = LocalOrg(tmp_path / "org")
    local.start()
    try:
        local.call(seed_sample)
        yield local
    finally:
        local.stop()
