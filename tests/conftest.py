"""Repository-wide test settings. Area fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os

import pytest

# The store fixtures (SQLite and PostgreSQL) every area may use.
pytest_plugins = ["store_backends"]


@pytest.fixture(autouse=True)
def _no_ambient_relay_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not pick up a developer's RELAY_* environment by accident."""
    for name in list(os.environ):
        if name.startswith("RELAY_") and name != "RELAY_TEST_POSTGRES_URL":
            monkeypatch.delenv(name, raising=False)
