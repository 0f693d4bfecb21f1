"""Fixtures of the end-to-end trust tests: one DKIM key, the loopback DNS server serving
the zone of tests/smtp/trust/trust_serve_helpers.py, and the local org, each per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.smtp.trust.trust_serve_helpers import zone
from tests.support.dns_zone import DkimKey, ZoneServer, make_dkim_key, serve_zone
from tests.support.localorg import RunningOrg, running_org
from tests.support.pipeline import seed_pipeline


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return make_dkim_key()


@pytest.fixture(scope="module")
def dns(key: DkimKey) -> Iterator[ZoneServer]:
    with serve_zone(zone(key)) as server:
        yield server


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    with running_org(tmp_path_factory.mktemp("org"), seed_pipeline) as running:
        yield running
