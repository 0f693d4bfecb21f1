"""Fixtures for the deploy/ checks (the helpers live in deploy_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.deploy_helpers import serve
from tests.support.serve import RelayServe


@pytest.fixture(scope="session")
def running_relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayServe]:
    """One `relay serve` shared by this area's tests (starting one costs about a second)."""
    with serve(tmp_path_factory.mktemp("deploy-relay")) as relay:
        yield relay
