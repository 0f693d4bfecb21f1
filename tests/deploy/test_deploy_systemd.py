"""deploy/systemd: the unit passes systemd's own checks and the env file covers every setting."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relay.config import SETTINGS, SmtpConfig, load_config
from tests.deploy.deploy_helpers import DEPLOY

UNIT = DEPLOY / "systemd" / "relay.service"
ENV_FILE = DEPLOY / "systemd" / "relay.env"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed"
)
# Variables read outside relay/config.py's table: the config file path, serve's flag, and
# the event loop (relay/loops.py).
EXTRA_VARIABLES = {"RELAY_CONFIG", "RELAY_READY_FILE", "RELAY_EVENT_LOOP", "RELAY_IMAP_PASSWORD"}


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def checkable_unit(tmp_path: Path) -> Path:
    """The unit with ExecStart pointed at this checkout's relay (verify needs a real binary)."""
    relay = Path(sys.executable).with_name("relay")
    text = UNIT.read_text().replace("/opt/relay/bin/relay", str(relay))
    path = tmp_path / "relay.service"
    path.write_text(text)
    return path


@needs_systemd_analyze
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """`systemd-analyze verify` reports no problem with the unit."""
    result = subprocess.run(
        [str(SYSTEMD_ANALYZE), "verify", str(checkable_unit(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "relay.service" not in result.stderr, result.stderr


@needs_systemd_analyze
def test_unit_exposure_is_low(tmp_path: Path) -> None:
    """`systemd-analyze security --offline` rates the sandbox at most 2.0 ("OK")."""
    result = subprocess.run(
        [str(SYSTEMD_ANALYZE), "security", "--offline=true", str(checkable_unit(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for relay\.service: ([\d.]+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0, result.stdout


def test_unit_stop_timeout_covers_the_shutdown_deadline() -> None:
    """TimeoutStopSec outlasts the one shutdown deadline (SMTP drain and runners share it)."""
    settings = unit_settings()
    timeout = int(settings["TimeoutStopSec"][-1].removesuffix("s"))
    assert timeout >= SmtpConfig().shutdown_deadline_seconds + 10
    assert settings["KillSignal"] == ["SIGTERM"]
    assert settings["Type"] == ["exec"]  # relay does not call sd_notify
    assert settings["CapabilityBoundingSet"] == [""]
    assert "RELAY_HOME=/var/lib/relay" in settings["Environment"]
    assert settings["StateDirectory"] == ["relay"]


def test_env_file_lists_every_relay_variable() -> None:
    """Every RELAY_* variable relay reads appears in the env template, and nothing unknown."""
    text = ENV_FILE.read_text()
    listed = set(re.findall(r"^#?(RELAY_[A-Z0-9_]+)=", text, flags=re.MULTILINE))
    known = {setting.env for setting in SETTINGS if setting.env} | EXTRA_VARIABLES
    assert known - listed == set(), "missing from relay.env"
    assert listed - known == set(), "relay.env names variables relay does not read"


def test_env_file_active_lines_load(tmp_path: Path) -> None:
    """The template's uncommented lines form a valid configuration without secrets."""
    active = {}
    for line in ENV_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            assert " " not in value, line  # also sourceable by sh
            assert '"' not in value, line
            active[key] = value
    config = load_config(environ=active)
    assert config.domain == "relay.example.com"
    assert not config.salesforce.configured  # a template carries no credentials
