"""Pipeline fixtures: a seeded local org (HTTPS, in this process) and `relay serve`
(a subprocess) pointed at it with OAuth credentials, so re-authentication works."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_helpers import Org, Serve, seed_pipeline

from relay.salesforce.localorg.runner import LocalOrg


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    local = LocalOrg(tmp_path / "org")
    info = local.start()
    try:
        yield Org(local, info, local.call(seed_pipeline))
    finally:
        local.stop()


@pytest.fixture
def serve(tmp_path: Path, org: Org) -> Iterator[Serve]:
    process = Serve(tmp_path / "relay", env=org.env()).start()
    try:
        yield process
    finally:
        process.stop()
