"""Fixtures for senders, sync settings, outbound mail and doctor.

``store`` runs once on SQLite and once on PostgreSQL (when RELAY_TEST_POSTGRES_URL is
set), each PostgreSQL test in a private schema, as tests/store does; ``capture_smtp``
(the capture SMTP sink) comes from tests/support/plugin.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from relay.cli.main import cli
from relay.localorg.seed import seed_sample
from relay.store import SqlStore, open_store
from tests.support.localorg import RunningOrg, running_org


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A SQLite store only, for tests about something other than the backend."""
    opened = open_store(f"sqlite:///{tmp_path / 'home' / 'relay.db'}")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="module")
def sample_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    """One seeded local org per test module (tests use their own RELAY_HOME)."""
    with running_org(tmp_path_factory.mktemp("org"), seed_sample) as running:
        yield running


@pytest.fixture
def relay_cli(sample_org: RunningOrg, tmp_path: Path) -> Callable[..., Result]:
    """Run `relay ARGS...` in-process (click's runner) against the sample org."""
    runner = CliRunner()
    home = tmp_path / "relay-home"

    def run(*args: str, **extra_env: str) -> Result:
        return runner.invoke(cli, list(args), env=sample_org.relay_env(home, **extra_env))

    return run
