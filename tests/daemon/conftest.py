"""Fixtures for daemon tests: `relay serve` subprocesses that are always cleaned up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serve_process import ServeProcess


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., ServeProcess]]:
    """Start `relay serve` with extra RELAY_* variables; killed at teardown if still up."""
    processes: list[ServeProcess] = []

    def start(**env: str) -> ServeProcess:
        process = ServeProcess(home=tmp_path / f"home{len(processes)}", env=env).start()
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()
