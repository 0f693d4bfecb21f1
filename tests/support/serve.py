"""The one launcher of `relay serve` for tests: a real subprocess with a private
RELAY_HOME, OS-picked ports (``--smtp-port 0 --http-port 0``, read back from
``--ready-file``), an environment free of the developer's RELAY_* variables, its stderr
(the JSON log) kept per start, and a clean stop (SIGTERM, then SIGKILL) or a kill.

The trust settings are an explicit choice of each caller (``trust=``): the quick start's
trial trust (``TRIAL_TRUST``, the Makefile's `run`), a named inbound source only
(``INBOUND_ONLY``), or Relay's own defaults (``trust={}``)."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

DOMAIN = "relay.example"
INBOUND_SECRET = "tests-inbound-secret-0001"
INBOUND_LOG = f"log+inbound-{INBOUND_SECRET}@{DOMAIN}"
"""Where localhost, as a named inbound source, sends copies; they are accepted whoever
sent them (docs/design.md, the SMTP edge's sender checks)."""
LOG = f"log@{DOMAIN}"

INBOUND_ONLY: Mapping[str, str] = {
    "RELAY_SMTP_INBOUND_NETWORKS": "127.0.0.1/32",
    "RELAY_SMTP_INBOUND_SECRET": INBOUND_SECRET,
}
"""Localhost as a named inbound source, nothing trusted: for tests about durability,
not senders."""
LOCAL_TRIAL: Mapping[str, str] = {
    "RELAY_SMTP_TRUSTED_NETWORKS": "127.0.0.1/32,::1/128",
    "RELAY_SMTP_SENDER_AUTH": "trusted_only",
}
"""Localhost plays the reps' own mail server (the Makefile's `run`)."""
TRIAL_TRUST: Mapping[str, str] = {**LOCAL_TRIAL, **INBOUND_ONLY}
"""The trial trust and the named inbound source: the end-to-end tests send from
localhost as the reps' own mail server would, and inbound copies as an inbound source.
tests/smtp/trust covers the safe defaults."""


def relay_env(home: Path, trust: Mapping[str, str] = TRIAL_TRUST, **env: str) -> dict[str, str]:
    """The environment of a relay process (serve or CLI) in ``home``: this process's
    environment without RELAY_*, PYTEST_* and COV_* variables, then the test defaults,
    ``trust`` and ``env`` (later wins)."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("RELAY_", "PYTEST_", "COV_"))
    }
    return inherited | {
        "RELAY_HOME": str(home),
        "RELAY_DOMAIN": DOMAIN,
        "RELAY_LOG_FORMAT": "json",
        "RELAY_SMTP_MIN_FREE_BYTES": "0",
        **trust,
        **env,
    }


@dataclass
class RelayServe:
    """One `relay serve` process in ``home`` (restartable: each start is a generation
    with its own stderr file), with ``env`` over ``trust`` over the test defaults."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    trust: Mapping[str, str] = field(default_factory=lambda: dict(TRIAL_TRUST))
    process: subprocess.Popen[bytes] | None = None
    smtp_port: int = 0
    http_port: int = 0
    generation: int = 0

    @property
    def ready_file(self) -> Path:
        return self.home / "ready.json"

    @property
    def stderr_path(self) -> Path:
        """The stderr (JSON log) of the current start."""
        return self.home / f"serve-{self.generation}.stderr"

    @property
    def store_url(self) -> str:
        """The default store: the SQLite file in RELAY_HOME."""
        return f"sqlite:///{(self.home / 'relay.db').as_posix()}"

    def full_env(self) -> dict[str, str]:
        return relay_env(self.home, self.trust, **self.env)

    def start(self, timeout: float = 30) -> RelayServe:
        """Start and wait until the ready file names the ports; raise RuntimeError with
        the log if the process exits or is not ready in ``timeout`` seconds."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.ready_file.unlink(missing_ok=True)
        self.generation += 1
        command = [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"]
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [*command, "--ready-file", str(self.ready_file)],
                env=self.full_env(),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"relay serve exited early:\n{self.stderr()[-4000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"relay serve not ready in {timeout}s:\n{self.stderr()[-4000:]}")
            time.sleep(0.05)
        ready = json.loads(self.ready_file.read_text())
        self.smtp_port, self.http_port = ready["smtp_port"], ready["http_port"]
        return self

    def stderr(self, every_start: bool = False) -> str:
        """The log of the current start (of all starts with ``every_start``)."""
        paths = (
            [self.home / f"serve-{n}.stderr" for n in range(1, self.generation + 1)]
            if every_start
            else [self.stderr_path]
        )
        return "".join(path.read_text(errors="replace") for path in paths if path.exists())

    def events(self, name: str | None = None, every_start: bool = False) -> list[dict[str, Any]]:
        """The JSON log events (named ``name``, if given) of the current start."""
        found = [json.loads(x) for x in self.stderr(every_start).splitlines() if x.startswith("{")]
        return [e for e in found if name is None or e.get("event") == name]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the relay CLI with the same environment (as an admin on the host would)."""
        return subprocess.run(
            [sys.executable, "-m", "relay", *args],
            env=self.full_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def send(self, message: EmailMessage, rcpt: tuple[str, ...] = (LOG,)) -> None:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message, from_addr=str(message["From"]), to_addrs=list(rcpt))

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM (a graceful drain), then SIGKILL if it has not exited in ``timeout``."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@contextmanager
def serving(home: Path, trust: Mapping[str, str] = TRIAL_TRUST, **env: str) -> Iterator[RelayServe]:
    """`relay serve` in ``home`` until the block ends, then stopped (SIGTERM, SIGKILL)."""
    process = RelayServe(home, env=dict(env), trust=trust).start()
    try:
        yield process
    finally:
        process.stop()
