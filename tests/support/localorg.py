"""The one launcher of the embedded local org for tests, and its clients.

``start_org``/``running_org`` run the org on HTTPS in this process (an ephemeral port, its
own CA), optionally seeded; ``OrgProcess`` runs it as `relay org serve` in a process of
its own, for tests that SIGKILL the relay and must not touch the org. Both give a
``RunningOrg``: its ``info`` (LocalOrgInfo), ``admin`` (a session with the org's CA and
token: ``admin.get(url)`` for raw calls, ``admin(path, body)`` to PUT an admin endpoint
such as /_localorg/settings), simple-salesforce clients and the RELAY_* settings of a
relay pointed at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce

from relay.config import Config, load_config
from relay.localorg.data import OrgData
from relay.localorg.runner import LocalOrg, LocalOrgInfo
from relay.localorg.seed import SampleOrg

API_VERSION = "62.0"
T = TypeVar("T")


def https_session(info: LocalOrgInfo, token: str | None = None) -> requests.Session:
    session = requests.Session()
    # Without this, REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE in the environment silently win
    # over session.verify (requests' merge_environment_settings), and proxies apply.
    session.trust_env = False
    session.verify = info.ca_file
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def salesforce_client(info: LocalOrgInfo, version: str = API_VERSION) -> Salesforce:
    """simple-salesforce on a direct session, as Relay uses it."""
    return Salesforce(
        instance_url=info.instance_url,
        session_id=info.access_token,
        session=https_session(info),
        version=version,
    )


class OrgAdmin(requests.Session):
    """A session with the org's CA and Bearer token; calling it PUTs ``body`` to the
    admin endpoint ``path`` (relative to the instance) and checks the 200."""

    def __init__(self, info: LocalOrgInfo) -> None:
        super().__init__()
        self.trust_env = False  # see https_session
        self.verify = info.ca_file
        self.headers["Authorization"] = f"Bearer {info.access_token}"
        self.instance_url = info.instance_url

    def __call__(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        response = self.put(self.instance_url + path, json=dict(body))
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


@dataclass
class RunningOrg:
    """A running local org: ``org`` is None when it runs in its own process."""

    org: LocalOrg | None
    info: LocalOrgInfo
    seeded: Any = None
    admin: OrgAdmin = field(init=False)

    def __post_init__(self) -> None:
        self.admin = OrgAdmin(self.info)

    @property
    def sample(self) -> SampleOrg:
        """The sample org, when the seed was (or included) ``seed_sample``."""
        sample = self.seeded if isinstance(self.seeded, SampleOrg) else self.seeded.sample
        assert isinstance(sample, SampleOrg)
        return sample

    def call(self, function: Callable[[OrgData], T]) -> T:
        """Run ``function`` on the org's data, in its event loop (in-process orgs only)."""
        assert self.org is not None
        return self.org.call(function)

    def stop(self) -> None:
        self.admin.close()
        if self.org is not None:
            self.org.stop()

    def client(self, version: str = API_VERSION) -> Salesforce:
        return salesforce_client(self.info, version)

    def sf(self) -> Salesforce:
        return self.client()

    def url(self, path: str) -> str:
        return f"{self.info.instance_url}{path}"

    def set_faults(self, rates: Mapping[str, float]) -> None:
        self.admin("/_localorg/faults", rates)

    def set_settings(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return self.admin("/_localorg/settings", values)

    def set_latency(self, latency_ms: float) -> None:
        """Every org request waits this long first, from now on (in-process orgs only)."""
        assert self.org is not None
        assert self.org.state is not None
        self.org.state.latency_ms = latency_ms

    def task_subjects(self) -> list[str]:
        """Every Task's Subject (one per Task, so a duplicate shows twice), without the
        "Email: " that Email to Salesforce puts first."""
        records = self.sf().query_all("SELECT Subject FROM Task")["records"]
        return [str(record["Subject"]).removeprefix("Email: ") for record in records]

    def tasks(self, where: str = "") -> list[dict[str, Any]]:
        soql = "SELECT Id, Subject, WhoId, WhatId, OwnerId, Status, Relay_Key__c FROM Task" + (
            f" WHERE {where}" if where else ""
        )
        return list(self.sf().query_all(soql)["records"])

    def env(self) -> dict[str, str]:
        """RELAY_SF_* for a relay pointed at this org with OAuth credentials (so it can
        log in again) and the current access token."""
        info = self.info
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

    def relay_env(self, home: Path, **extra: str) -> dict[str, str]:
        """RELAY_* variables for an in-process relay in ``home`` pointed at this org with a
        direct session (access token only)."""
        return {
            "RELAY_HOME": str(home),
            "RELAY_DOMAIN": "relay.acme-widgets.example",
            "RELAY_SF_INSTANCE_URL": self.info.instance_url,
            "RELAY_SF_ACCESS_TOKEN": self.info.access_token,
            "RELAY_SF_CA_FILE": str(self.info.ca_file),
            "RELAY_LOG_FORMAT": "json",
            **extra,
        }

    def config(self, home: Path, **extra: str) -> Config:
        return load_config(environ=self.relay_env(home, **extra))


def start_org(
    data_dir: Path, seed: Callable[[OrgData], Any] | None = None, **options: Any
) -> RunningOrg:
    """Start the org in this process (``options`` go to LocalOrg: latency_ms,
    session_ttl_seconds...), seeded with ``seed`` if given. The caller stops it."""
    org = LocalOrg(data_dir, **options)
    info = org.start()
    try:
        seeded = org.call(seed) if seed is not None else None
    except BaseException:
        org.stop()
        raise
    return RunningOrg(org, info, seeded)


@contextmanager
def running_org(
    data_dir: Path, seed: Callable[[OrgData], Any] | None = None, **options: Any
) -> Iterator[RunningOrg]:
    """``start_org`` until the block ends."""
    running = start_org(data_dir, seed, **options)
    try:
        yield running
    finally:
        running.stop()


def stop_process(process: subprocess.Popen[Any] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class OrgProcess:
    """`relay org serve` in its own process, so SIGKILLing the relay never touches it."""

    data_dir: Path
    latency_ms: float = 0.0
    faults: str = ""
    process: subprocess.Popen[str] | None = None
    info: LocalOrgInfo | None = None

    def start(self, timeout: float = 30) -> RunningOrg:
        home = self.data_dir.parent / "org-home"
        home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
        env |= {"RELAY_HOME": str(home), "RELAY_LOG_FORMAT": "json"}
        command = [sys.executable, "-m", "relay", "org", "serve", "--data", str(self.data_dir)]
        command += ["--latency-ms", str(self.latency_ms), "--faults", self.faults]
        with (home / "org.stderr").open("ab") as stderr:
            self.process = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._stdout().readline()))
        reader.start()
        reader.join(timeout)
        if not line or not line[0].startswith("{"):
            self.stop()
            raise RuntimeError(f"relay org serve did not start: {line}")
        self.info = LocalOrgInfo(**json.loads(line[0]))
        return self.org

    def _stdout(self) -> Any:
        assert self.process is not None
        assert self.process.stdout is not None
        return self.process.stdout

    @property
    def org(self) -> RunningOrg:
        assert self.info is not None
        return RunningOrg(None, self.info)

    def set_faults(self, faults: Mapping[str, float]) -> None:
        self.org.set_faults(faults)

    def stop(self) -> None:
        stop_process(self.process)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
