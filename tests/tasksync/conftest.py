"""Fixtures for the Task sync: a seeded local org per test and a ``Harness`` (harness.py)
on each store backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.localorg.seed import seed_sample
from relay.store import SqlStore
from tests.support.localorg import RunningOrg, start_org
from tests.tasksync.harness import Harness, config_for


@pytest.fixture
def sample_org(tmp_path: Path) -> Iterator[RunningOrg]:
    running = start_org(tmp_path / "org", seed_sample)
    yield running
    running.stop()


@pytest.fixture
def harness(
    sample_org: RunningOrg, store: SqlStore, store_url: str, tmp_path: Path
) -> Iterator[Harness]:
    running = Harness(sample_org, store, config_for(sample_org, tmp_path / "home", store_url))
    yield running
    running.close()
