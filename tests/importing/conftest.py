"""Import fixtures: a seeded local org (HTTPS, in this process, 20 ms per request so an
import takes long enough to be interrupted) and `relay serve` pointed at it, shared by
a module; each test imports its own mailbox with its own Message-IDs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.localorg import RunningOrg, running_org
from tests.support.pipeline import seed_pipeline
from tests.support.serve import RelayServe


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    with running_org(tmp_path_factory.mktemp("org"), seed_pipeline) as running:
        running.set_latency(20)
        yield running


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, org: RunningOrg) -> Iterator[RelayServe]:
    process = RelayServe(tmp_path_factory.mktemp("relay"), env=org.env()).start()
    try:
        yield process
    finally:
        process.stop()
