"""Fixtures for the local org's data layer: a real SQLite file and a clock tests move."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relay.localorg.data import OrgData
from tests.localorg.data.localorg_clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC))


@pytest.fixture
def org_path(tmp_path: Path) -> Path:
    return tmp_path / "org.sqlite3"


@pytest.fixture
def org(org_path: Path, clock: Clock) -> Iterator[OrgData]:
    data = OrgData(org_path, clock=clock)
    yield data
    data.close()


@pytest.fixture
def admin(org: OrgData) -> str:
    return org.admin_user_id
