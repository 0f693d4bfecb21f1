"""Pipeline fixtures: a seeded local org (HTTPS, in this process) and `relay serve`
(a subprocess) pointed at it with OAuth credentials, so re-authentication works.

``org``/``serve`` are shared by a module (tests use distinct subjects and addresses);
``fresh_org``/``fresh_serve`` are per test, for faults and org switches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.localorg import RunningOrg, running_org
from tests.support.pipeline import seed_pipeline
from tests.support.serve import RelayServe


def _org(path: Path) -> Iterator[RunningOrg]:
    with running_org(path, seed_pipeline) as org:
        yield org


def _serve(path: Path, org: RunningOrg, **env: str) -> Iterator[RelayServe]:
    process = RelayServe(path, env=org.env() | env).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    yield from _org(tmp_path_factory.mktemp("org"))


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, org: RunningOrg) -> Iterator[RelayServe]:
    yield from _serve(tmp_path_factory.mktemp("relay"), org)


@pytest.fixture
def fresh_org(tmp_path: Path) -> Iterator[RunningOrg]:
    yield from _org(tmp_path / "org")


@pytest.fixture
def fresh_serve(tmp_path: Path, fresh_org: RunningOrg) -> Iterator[RelayServe]:
    # Short backoff so deferred messages come back within the test.
    yield from _serve(
        tmp_path / "relay",
        fresh_org,
        RELAY_PIPELINE_BACKOFF_INITIAL_SECONDS="0.5",
        RELAY_PIPELINE_BACKOFF_MAX_SECONDS="1",
        RELAY_PIPELINE_RATE_LIMIT_PAUSE_SECONDS="1",
        RELAY_SF_READ_TIMEOUT_SECONDS="2",
    )
