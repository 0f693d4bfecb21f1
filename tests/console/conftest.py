"""One seeded local org and one `relay serve` on it for the console's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.console_helpers import set_rep_passwords
from tests.support.localorg import RunningOrg, start_org
from tests.support.pipeline import seed_pipeline
from tests.support.serve import RelayServe
from tests.support.smtp_sink import CaptureSmtp, capture_sink


@pytest.fixture(scope="module")
def console_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    org = start_org(tmp_path_factory.mktemp("console-org"), seed_pipeline)
    set_rep_passwords(org)
    yield org
    org.stop()


@pytest.fixture(scope="module")
def console_sink() -> Iterator[CaptureSmtp]:
    """The relay's smarthost: what the console sends (confirmation links) lands here."""
    with capture_sink() as capture:
        yield capture


@pytest.fixture(scope="module")
def console_relay(
    tmp_path_factory: pytest.TempPathFactory, console_org: RunningOrg, console_sink: CaptureSmtp
) -> Iterator[RelayServe]:
    home: Path = tmp_path_factory.mktemp("console-relay")
    env = {**console_org.env(), "RELAY_SMARTHOST": console_sink.smarthost}
    relay = RelayServe(home, env=env, args=("--workers", "1"))
    relay.start()
    yield relay
    relay.stop()
