"""RELAY_BULK_THRESHOLD: from how many Tasks one write goes through Bulk API 2.0."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.config import load_config
from relay.errors import ConfigError


def test_bulk_threshold_defaults_to_two_thousand() -> None:
    assert load_config(environ={}).pipeline.bulk_threshold == 2000


def test_bulk_threshold_from_toml_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    path.write_text("[pipeline]\nbulk_threshold = 500\n")
    assert load_config(path, environ={}).pipeline.bulk_threshold == 500
    environ = {"RELAY_BULK_THRESHOLD": "5000"}
    assert load_config(path, environ=environ).pipeline.bulk_threshold == 5000


@pytest.mark.parametrize("value", ["0", "-1", "many", "1.5"])
def test_bulk_threshold_must_be_a_positive_whole_number(value: str) -> None:
    with pytest.raises(ConfigError, match="RELAY_BULK_THRESHOLD"):
        load_config(environ={"RELAY_BULK_THRESHOLD": value})
