"""`relay serve` with its process tree: the supervisor as a real subprocess, the edge,
workers and local org found in /proc, and a local org in this process to count Tasks."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests

from relay.localorg.runner import LocalOrg, LocalOrgInfo

DOMAIN = "relay.example"
LOG = f"log@{DOMAIN}"
REP = "alice@acme-widgets.example"
CUSTOMER = "hank@globex.example"
TRIAL_TRUST = {
    # Localhost plays the reps' own mail server (the quick start's trial trust), so the
    # rep's mail is accepted and logged without DNS.
    "RELAY_SMTP_TRUSTED_NETWORKS": "127.0.0.1/32,::1/128",
    "RELAY_SMTP_SENDER_AUTH": "trusted_only",
}


def org_env(info: LocalOrgInfo) -> dict[str, str]:
    return {
        "RELAY_SF_INSTANCE_URL": info.instance_url,
        "RELAY_SF_ACCESS_TOKEN": info.access_token,
        "RELAY_SF_TOKEN_URL": info.token_url,
        "RELAY_SF_CLIENT_ID": info.client_id,
        "RELAY_SF_CLIENT_SECRET": info.client_secret,
        "RELAY_SF_USERNAME": info.username,
        "RELAY_SF_PASSWORD": info.password,
        "RELAY_SF_CA_FILE": info.ca_file,
    }


def task_subjects(info: LocalOrgInfo) -> list[str]:
    """Every Task's Subject, through the org's REST query API (one per Task), without
    the "Email: " that Email to Salesforce puts first."""
    session = requests.Session()
    session.trust_env = False
    url = f"{info.instance_url}/services/data/v62.0/query"
    response = session.get(
        url,
        params={"q": "SELECT Subject FROM Task"},
        headers={"Authorization": f"Bearer {info.access_token}"},
        verify=info.ca_file,
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    subjects = [str(record["Subject"]).removeprefix("Email: ") for record in body["records"]]
    assert body["done"], "more Tasks than one page: the test sends fewer"
    return subjects


def set_latency(org: LocalOrg, latency_ms: float) -> None:
    """Every org request waits this long first (the org runs in this process)."""
    assert org.state is not None
    org.state.latency_ms = latency_ms


def email(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = REP
    message["To"] = CUSTOMER
    message["Subject"] = subject
    message["Date"] = "Mon, 06 Jan 2025 10:00:00 +0000"
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@acme-widgets.example>"
    message.set_content("Hello, here is the proposal.\n")
    return message


# --- /proc ---------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def nice(pid: int) -> int:
    """The process's nice value (proc(5): the 19th field of /proc/PID/stat)."""
    fields = _stat(pid)
    assert fields is not None
    return int(fields[16])


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return sorted(found)


def wait_for(predicate: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


@dataclass
class Supervised:
    """One `relay serve` (the supervisor) on OS-picked ports."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    smtp_port: int = 0
    http_port: int = 0
    started_children: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def store_url(self) -> str:
        return f"sqlite:///{(self.home / 'relay.db').as_posix()}"

    def start(self, timeout: float = 60) -> Supervised:
        self.home.mkdir(parents=True, exist_ok=True)
        ready = self.home / "ready.json"
        ready.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
        env |= {
            "RELAY_HOME": str(self.home),
            "RELAY_DOMAIN": DOMAIN,
            "RELAY_LOG_FORMAT": "json",
            "RELAY_SMTP_MIN_FREE_BYTES": "0",
            **TRIAL_TRUST,
        } | self.env
        command = [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"]
        with (self.home / "serve.stderr").open("ab") as stderr:
            self.process = subprocess.Popen(
                [*command, *self.args, "--ready-file", str(ready)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"relay serve did not start:\n{self.stderr()[-4000:]}")
            time.sleep(0.05)
        document = json.loads(ready.read_text())
        self.smtp_port, self.http_port = document["smtp_port"], document["http_port"]
        self.started_children = children_of(self.process.pid)
        return self

    def stderr(self) -> str:
        path = self.home / "serve.stderr"
        return path.read_text(errors="replace") if path.exists() else ""

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(x) for x in self.stderr().splitlines() if x.startswith("{")]
        return [e for e in found if name is None or e.get("event") == name]

    def pids(self, role: str) -> list[int]:
        """The live processes of a role (``edge``, ``worker``), from daemon_ready."""
        ready = self.events("daemon_ready")
        return [int(e["pid"]) for e in ready if e.get("role") == role and alive(int(e["pid"]))]

    def send(self, message: EmailMessage) -> str:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=30) as smtp:
            smtp.ehlo("client.test.example")
            smtp.mail(REP)
            code, _ = smtp.rcpt(LOG)
            assert code == 250
            code, text = smtp.data(message.as_bytes())
        assert code == 250, text
        return text.decode().rsplit(" ", 1)[1]

    def signal(self, number: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def wait(self, timeout: float = 60) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def kill(self) -> None:
        """Teardown: the supervisor and, should any outlive it, its children."""
        if self.process is None:
            return
        children = set(children_of(self.process.pid)) | set(self.started_children)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid in children:
            if alive(pid) and b"relay" in _cmdline(pid):  # not a pid reused since
                os.kill(pid, signal.SIGKILL)
