"""Fixtures for tests/e2s: one seeded local org per module, the capture SMTP sink, and
`relay serve` (a subprocess) per test with short intervals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2s_helpers import CaptureSmtp, Org, Serve, capture_sink, fast_env, running_org, wait_for


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    with running_org(tmp_path_factory.mktemp("org")) as running:
        yield running


@pytest.fixture
def capture() -> Iterator[CaptureSmtp]:
    with capture_sink() as sink:
        yield sink


@pytest.fixture
def serve(tmp_path: Path, org: Org, capture: CaptureSmtp) -> Iterator[Serve]:
    org.admin("/_localorg/settings", {"api_enabled": True, "email_to_salesforce_active": True})
    process = Serve(tmp_path / "relay", env=org.env() | fast_env(capture)).start()
    try:
        wait_for(lambda: process.events("reps_synced"), what="the first rep sync")
        yield process
    finally:
        process.stop()
        org.admin("/_localorg/settings", {"api_enabled": True, "email_to_salesforce_active": True})
