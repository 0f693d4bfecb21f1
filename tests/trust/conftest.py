"""Fixtures of the end-to-end trust tests: one DKIM key, the loopback DNS server serving
the zone of tests/trust/trust_serve_helpers.py, and the local org, each per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"
if str(_PIPELINE) not in sys.path:
    sys.path.insert(0, str(_PIPELINE))

from dns_zone import DkimKey, ZoneServer, make_dkim_key, serve_zone  # noqa: E402
from pipeline_helpers import Org, running_org  # noqa: E402
from trust_serve_helpers import zone  # noqa: E402


@pytest.fixture(scope="module")
def key() -> DkimKey:
    return make_dkim_key()


@pytest.fixture(scope="module")
def dns(key: DkimKey) -> Iterator[ZoneServer]:
    with serve_zone(zone(key)) as server:
        yield server


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    with running_org(tmp_path_factory.mktemp("org")) as running:
        yield running
