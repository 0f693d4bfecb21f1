"""The one launcher of `relay serve` for tests: a real subprocess with a private
RELAY_HOME, OS-picked ports (``--smtp-port 0 --http-port 0``, read back from
``--ready-file``), an environment free of the developer's RELAY_* variables, its stderr
(the JSON log) kept per start, and a clean stop (SIGTERM, then SIGKILL) or a kill.

``args`` go to `relay serve` (e.g. ``("--workers", "2")``); its children (edge, workers,
local org: docs/design.md §2) are read from /proc (tests/support/processes.py), and a
kill takes any that outlive the supervisor with it.

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

from tests.support.processes import (
    Identity,
    children_of,
    identities,
    role_of,
    running,
    sigkill_all,
)

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
    with its own stderr file), with ``env`` over ``trust`` over the test defaults and
    ``args`` after `relay serve`'s own."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    trust: Mapping[str, str] = field(default_factory=lambda: dict(TRIAL_TRUST))
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    smtp_port: int = 0
    http_port: int = 0
    generation: int = 0
    started_children: list[Identity] = field(default_factory=list)
    """The supervisor's children when it was ready (every start's): a kill ends those
    still running."""

    @property
    def pid(self) -> int:
        """The supervisor's pid (the only process with ``--workers 0``)."""
        assert self.process is not None
        return self.process.pid

    @property
    def ready_file(self) -> Path:
        return self.home / "ready.json"

    @property
    def stderr_path(self) -> Path:
        """The stderr (JSON log) of the current start."""
        return self.home / f"serve-{self.generation}.stderr"

    @property
    def store_url(self) -> str:
        """RELAY_STORE_URL if given, else the default store: the SQLite file in RELAY_HOME."""
        return self.env.get("RELAY_STORE_URL") or f"sqlite:///{(self.home / 'relay.db').as_posix()}"

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
                [*command, *self.args, "--ready-file", str(self.ready_file)],
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
        self.started_children += identities(children_of(self.process.pid))
        return self

    def children(self) -> dict[int, str | None]:
        """The supervisor's live children and their roles (``edge``, ``worker``,
        ``local-org``), from /proc."""
        return {pid: role_of(pid) for pid in children_of(self.pid)}

    def pids(self, role: str) -> list[int]:
        """The live children of a role, from /proc."""
        return [pid for pid, found in self.children().items() if found == role]

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

    def send_queued(self, message: EmailMessage, rcpt: tuple[str, ...] = (LOG,)) -> str:
        """Send ``message`` from its From address; the queue id of the 250 reply to DATA
        ("queued as ID"). A refusal raises smtplib's SMTPResponseException."""
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.ehlo("client.test.example")
            smtp.mail(str(message["From"]))
            for address in rcpt:
                code, text = smtp.rcpt(address)
                if code != 250:
                    raise smtplib.SMTPResponseException(code, text)
            code, text = smtp.data(message.as_bytes())
        if code != 250:
            raise smtplib.SMTPResponseException(code, text)
        return text.decode().rsplit(" ", 1)[1]

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
        # A child that outlived its supervisor (it should not: PR_SET_PDEATHSIG) must not
        # keep the port or keep claiming after the test.
        sigkill_all(self.started_children)

    def kill(self) -> None:
        """SIGKILL the supervisor and, should any outlive it, its children."""
        if self.process is None:
            return
        children = set(self.started_children)
        if self.process.poll() is None:
            children |= set(identities(children_of(self.process.pid)))
            self.process.kill()
            self.process.wait(10)
        sigkill_all(sorted(children))

    def sigkill_node(self) -> list[int]:
        """A power cut: SIGKILL the supervisor and every child at the same moment, so no
        process of this node finishes, renews or releases anything. Returns the children
        it killed."""
        assert self.process is not None
        children = identities(children_of(self.process.pid))
        self.process.kill()
        sigkill_all(children)
        self.process.wait(10)
        return [pid for pid, _ in children]

    def all_stopped(self) -> bool:
        """No process of this node runs any more (nor any child it ever started)."""
        gone = self.process is None or self.process.poll() is not None
        return gone and not any(running(child) for child in self.started_children)


@contextmanager
def serving(home: Path, trust: Mapping[str, str] = TRIAL_TRUST, **env: str) -> Iterator[RelayServe]:
    """`relay serve` in ``home`` until the block ends, then stopped (SIGTERM, SIGKILL)."""
    process = RelayServe(home, env=dict(env), trust=trust).start()
    try:
        yield process
    finally:
        process.stop()
