"""deploy/container: the image's health check works against a real relay; compose is coherent."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys

import pytest

from relay.config import SETTINGS, SmtpConfig
from tests.deploy.deploy_helpers import DEPLOY
from tests.support.serve import RelayServe

CONTAINERFILE = DEPLOY / "container" / "Containerfile"
COMPOSE = DEPLOY / "container" / "compose.yaml"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", CONTAINERFILE.read_text())
    lines = [line for line in joined.splitlines() if line and not line.startswith("#")]
    final_stage = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return [tuple(line.split(" ", 1)) for line in lines[final_stage:]]  # type: ignore[misc]


def healthcheck_command() -> list[str]:
    (arguments,) = [args for name, args in instructions() if name == "HEALTHCHECK"]
    command: list[str] = json.loads(arguments.split(" CMD ", 1)[1])
    assert command[0] == "python"  # python:slim has no curl
    return [sys.executable, *command[1:]]


def run_healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        healthcheck_command(),
        env={"RELAY_HTTP_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_passes_on_a_ready_relay(running_relay: RelayServe) -> None:
    """The HEALTHCHECK command exits 0 against a real relay serve's /readyz."""
    result = run_healthcheck(running_relay.http_port)
    assert result.returncode == 0, result.stderr


def test_healthcheck_fails_when_nothing_answers() -> None:
    """The HEALTHCHECK command exits non-zero when the endpoint is down."""
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run_healthcheck(port)
    assert result.returncode != 0


def test_image_runs_as_non_root_with_the_documented_ports() -> None:
    """Slim base, numeric non-root user, the volume and the two ports."""
    final = instructions()
    assert final[0] == ("FROM", "python:3.11-slim")
    (user,) = [args for name, args in final if name == "USER"]
    assert not user.startswith(("0", "root"))
    assert ("EXPOSE", "2525 8025") in final
    assert ("VOLUME", "/var/lib/relay") in final
    env = " ".join(args for name, args in final if name == "ENV")
    assert "RELAY_HOME=/var/lib/relay" in env
    assert "RELAY_HTTP_HOST=0.0.0.0" in env


def test_compose_wires_relay_to_a_healthy_postgres() -> None:
    """compose.yaml parses; relay waits for a healthy postgres:16 and points its store at it."""
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    document = yaml.safe_load(COMPOSE.read_text())
    services = document["services"]
    postgres, relay = services["postgres"], services["relay"]
    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert relay["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert relay["environment"]["RELAY_STORE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in relay["environment"]["RELAY_STORE_URL"]
    assert services["postfix"]["profiles"] == ["postfix"]
    known = {setting.env for setting in SETTINGS}
    assert set(relay["environment"]) <= known
    grace = int(str(relay["stop_grace_period"]).removesuffix("s"))
    # One shutdown deadline (30 s by default) shared by the SMTP drain and the runners.
    assert grace >= SmtpConfig().shutdown_deadline_seconds + 10
