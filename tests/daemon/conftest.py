"""Fixtures for daemon tests: `relay serve` subprocesses that are always cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.serve import INBOUND_ONLY, RelayServe


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., RelayServe]]:
    """Start `relay serve` with extra RELAY_* variables; killed at teardown if still up."""
    processes: list[RelayServe] = []

    def start(**env: str) -> RelayServe:
        process = RelayServe(
            home=tmp_path / f"home{len(processes)}", env=env, trust=INBOUND_ONLY
        ).start()
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
