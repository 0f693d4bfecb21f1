"""Repository-wide test settings. Folder fixtures live in tests/<folder>/conftest.py;
shared helpers in tests/support (see tests/README.md)."""

from __future__ import annotations

import os

import pytest

# The fixtures every folder may use (store backends, the SMTP sink); tests/support is
# importable because pyproject's pytest settings put the repository on sys.path.
pytest_plugins = ["tests.support.plugin"]


# Settings of the test run itself, not of Relay: the PostgreSQL to test on, the browser
# of the console's tests and where they save screenshots (tests/console/browser.py).
TEST_RUN_VARIABLES = frozenset(
    {"RELAY_TEST_POSTGRES_URL", "RELAY_CHROMIUM", "RELAY_TEST_SCREENSHOTS"}
)


@pytest.fixture(autouse=True)
def _no_ambient_relay_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not pick up a developer's RELAY_* environment by accident."""
    for name in list(os.environ):
        if name.startswith("RELAY_") and name not in TEST_RUN_VARIABLES:
            monkeypatch.delenv(name, raising=False)
