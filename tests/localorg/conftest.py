"""Fixtures for the local org: a real HTTPS server on an ephemeral port, real clients.

- ``local_org``: one org shared by the whole session (data that tests only add to).
- ``fresh_org``: a new org per test (faults, settings, limits, expiry, restarts).
- ``sf``: a simple-salesforce client on ``local_org`` (API 62.0), over HTTPS with the
  org's CA.

Each ``RunningOrg`` has ``.info`` (LocalOrgInfo), ``.admin`` (a ``requests.Session``
with the org's CA and Bearer token, for ``/_localorg`` and raw REST calls) and
``.client(version)`` (a new simple-salesforce client).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from tests.support.localorg import RunningOrg, start_org


@pytest.fixture(scope="session")
def local_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    running = start_org(tmp_path_factory.mktemp("localorg"))
    yield running
    running.admin.close()
    running.org.stop()


@pytest.fixture
def fresh_org(tmp_path: Path) -> Iterator[RunningOrg]:
    running = start_org(tmp_path / "org")
    yield running
    running.admin.close()
    running.org.stop()


@pytest.fixture
def sf(local_org: RunningOrg) -> Iterator[Salesforce]:
    client = local_org.client()
    yield client
    client.session.close()
