"""Fixtures for senders, sync settings, outbound mail and doctor.

``store`` runs once on SQLite and once on PostgreSQL (when RELAY_TEST_POSTGRES_URL is
set), each PostgreSQL test in a private schema, as tests/store does. ``capture_smtp`` is
a capture SMTP server: an aiosmtpd sink on an ephemeral port
playing the smarthost and Salesforce's inbound mail; it records every envelope and the
exact bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from senders_helpers import CaptureSmtp, SampleOrgRunning, capture_sink

from relay.cli.main import cli
from relay.localorg.runner import LocalOrg
from relay.localorg.seed import seed_sample
from relay.store import SqlStore, open_store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    """A SQLite store only, for tests about something other than the backend."""
    opened = open_store(f"sqlite:///{tmp_path / 'home' / 'relay.db'}")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def capture_smtp() -> Iterator[CaptureSmtp]:
    """An aiosmtpd sink on 127.0.0.1, an ephemeral port; records envelopes and bytes."""
    with capture_sink() as capture:
        yield capture


@pytest.fixture(scope="module")
def sample_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SampleOrgRunning]:
    """One seeded local org per test module (tests use their own RELAY_HOME)."""
    org = LocalOrg(tmp_path_factory.mktemp("org"))
    info = org.start()
    try:
        yield SampleOrgRunning(org, info, org.call(seed_sample))
    finally:
        org.stop()


@pytest.fixture
def relay_cli(sample_org: SampleOrgRunning, tmp_path: Path) -> Callable[..., Result]:
    """Run `relay ARGS...` in-process (click's runner) against the sample org."""
    runner = CliRunner()
    home = tmp_path / "relay-home"

    def run(*args: str, **extra_env: str) -> Result:
        return runner.invoke(cli, list(args), env=sample_org.env(home, **extra_env))

    return run
