"""Shared by the deploy/ checks: the repository paths and a real `relay serve`.

A module of its own (not conftest.py): `from conftest import` resolves to whichever
conftest pytest imported first when several test folders run together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
REP = "alice@acme-widgets.example"
RELAY_DOMAIN = "relay.example.com"  # the domain the deploy/ samples use


@dataclass(frozen=True)
class RunningRelay:
    """A `relay serve` subprocess on OS-picked ports, and the environment it runs with."""

    home: Path
    env: dict[str, str]
    smtp_port: int
    http_port: int

    def relay(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the relay CLI against the same RELAY_HOME (as an admin would)."""
        return subprocess.run(
            [sys.executable, "-m", "relay", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def relay_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
    return env | {
        "RELAY_HOME": str(home),
        "RELAY_DOMAIN": RELAY_DOMAIN,
        "RELAY_LOG_FORMAT": "json",
        "RELAY_SMTP_MIN_FREE_BYTES": "0",
        # The README's swaks step talks to Relay from this host as a trial
        # (deploy/postfix/README.md, step 1): the trial trust of `make run`.
        "RELAY_SMTP_TRUSTED_NETWORKS": "127.0.0.1/32,::1/128",
        "RELAY_SMTP_SENDER_AUTH": "trusted_only",
    }


@contextmanager
def serve(home: Path, **extra_env: str) -> Iterator[RunningRelay]:
    """Run `relay serve` in ``home`` until the block ends (SIGTERM, then wait)."""
    home.mkdir(parents=True, exist_ok=True)
    env = relay_env(home) | extra_env
    # The sample org's reps (REP): under the trial trust a sender must be a rep's address,
    # as the README's swaks step says ("use a rep's address as --from").
    subprocess.run(
        [sys.executable, "-m", "relay", "org", "seed", "--sample"],
        env=env, check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    ready = home / "ready.json"
    stderr_path = home / "serve.stderr"
    command = [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"]
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "--ready-file", str(ready)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"relay serve did not start:\n{stderr_path.read_text()}")
            time.sleep(0.05)
        ports = json.loads(ready.read_text())
        yield RunningRelay(home, env, ports["smtp_port"], ports["http_port"])
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
