"""The retention setting: retention_days / RELAY_RETENTION_DAYS, default 30, 0 = forever."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.config import load_config
from relay.errors import ConfigError


def test_retention_defaults_to_thirty_days() -> None:
    """Raw bytes are kept 30 days after a message's outcome unless said otherwise."""
    assert load_config(environ={}).retention_days == 30


def test_retention_from_toml_and_environment(tmp_path: Path) -> None:
    """Top-level `retention_days` in the file; the variable wins; 0 keeps forever."""
    path = tmp_path / "relay.toml"
    path.write_text("retention_days = 7\n")
    assert load_config(path, environ={}).retention_days == 7
    assert load_config(path, environ={"RELAY_RETENTION_DAYS": "0"}).retention_days == 0


@pytest.mark.parametrize("value", ["-1", "a week", "1.5"])
def test_retention_must_be_a_whole_number_of_days(value: str) -> None:
    """A negative or non-integer value stops start-up and names the variable."""
    with pytest.raises(ConfigError, match="RELAY_RETENTION_DAYS"):
        load_config(environ={"RELAY_RETENTION_DAYS": value})
