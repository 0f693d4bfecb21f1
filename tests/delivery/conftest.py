"""Fixtures for the Email-to-Salesforce forwarding tests: one seeded local org per
module, the capture SMTP sink, and `relay serve` (a subprocess) per test with short
intervals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.delivery.e2s_helpers import fast_env
from tests.support.localorg import RunningOrg, running_org
from tests.support.pipeline import seed_pipeline, wait_for
from tests.support.serve import RelayServe
from tests.support.smtp_sink import CaptureSmtp, capture_sink


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningOrg]:
    with running_org(tmp_path_factory.mktemp("org"), seed_pipeline) as running:
        yield running


@pytest.fixture
def capture() -> Iterator[CaptureSmtp]:
    with capture_sink() as sink:
        yield sink


@pytest.fixture
def serve(tmp_path: Path, org: RunningOrg, capture: CaptureSmtp) -> Iterator[RelayServe]:
    org.admin("/_localorg/settings", {"api_enabled": True, "email_to_salesforce_active": True})
    process = RelayServe(tmp_path / "relay", env=org.env() | fast_env(capture)).start()
    try:
        wait_for(lambda: process.events("reps_synced"), what="the first rep sync")
        yield process
    finally:
        process.stop()
        org.admin("/_localorg/settings", {"api_enabled": True, "email_to_salesforce_active": True})
