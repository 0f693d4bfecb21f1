"""Run `relay serve` as a real subprocess on free ports, for daemon-level tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

DOMAIN = "relay.example"
INBOUND_SECRET = "daemon-inbound-secret-0001"
LOG = f"log+inbound-{INBOUND_SECRET}@{DOMAIN}"
"""These tests are about durability, not senders: they write as a named inbound source
(localhost with the secret address), whose copies are accepted whoever sent them."""


@dataclass
class ServeProcess:
    """One `relay serve` process; RELAY_HOME is ``home``, ports are picked by the OS."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    smtp_port: int = 0
    http_port: int = 0
    generation: int = 0

    @property
    def ready_file(self) -> Path:
        return self.home / "ready.json"

    @property
    def stderr_path(self) -> Path:
        return self.home / f"serve-{self.generation}.stderr"

    @property
    def store_url(self) -> str:
        return f"sqlite:///{(self.home / 'relay.db').as_posix()}"

    def start(self, timeout: float = 30) -> ServeProcess:
        self.home.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        self.generation += 1
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RELAY_", "PYTEST_", "COV_"))
        }
        env |= {
            "RELAY_HOME": str(self.home),
            "RELAY_DOMAIN": DOMAIN,
            "RELAY_LOG_FORMAT": "json",
            "RELAY_SMTP_MIN_FREE_BYTES": "0",
            "RELAY_SMTP_INBOUND_NETWORKS": "127.0.0.1/32",
            "RELAY_SMTP_INBOUND_SECRET": INBOUND_SECRET,
        } | self.env
        command = [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"]
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*command, "--ready-file", str(self.ready_file)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"relay serve exited early:\n{self.stderr()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"relay serve not ready in {timeout}s:\n{self.stderr()}")
            time.sleep(0.05)
        ready = json.loads(self.ready_file.read_text())
        self.smtp_port = ready["smtp_port"]
        self.http_port = ready["http_port"]
        return self

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def events(self) -> list[dict[str, object]]:
        """The JSON log events this generation wrote to stderr."""
        events = []
        for line in self.stderr().splitlines():
            if line.startswith("{"):
                events.append(json.loads(line))
        return events

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
