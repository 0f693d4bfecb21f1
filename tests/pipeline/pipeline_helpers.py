"""Helpers for the end-to-end pipeline tests: a seeded local org, `relay serve` as a
subprocess pointed at it, SMTP in, Tasks read back with simple-salesforce."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from relay.localorg.data import OrgData
from relay.localorg.runner import LocalOrg, LocalOrgInfo
from relay.localorg.seed import SampleOrg, seed_sample

DOMAIN = "relay.example"
LOG = f"log@{DOMAIN}"
REP = "alice@acme-widgets.example"
BIG_CUSTOMERS = [f"buyer{n:02d}@bigco.example" for n in range(60)]


@dataclass(frozen=True)
class Seeded:
    sample: SampleOrg
    hank_open_opportunities: tuple[str, ...]
    hank_closed_opportunity: str
    big_contacts: Mapping[str, str]


def seed_pipeline(data: OrgData) -> Seeded:
    """The sample org, plus Hank with two open opportunities and a closed one, and 60
    contacts at BigCo (the 50-address limit)."""
    sample = seed_sample(data)
    hank = sample.contacts["hank@globex.example"]
    globex = sample.accounts["Globex Corporation"]
    admin = data.admin_user_id
    second = data.create(
        "Opportunity",
        {"Name": "Globex - Support", "StageName": "Qualification", "CloseDate": "2027-06-30",
         "AccountId": globex},
        user_id=admin,
    )  # fmt: skip
    closed = data.create(
        "Opportunity",
        {"Name": "Globex - Pilot", "StageName": "Closed Won", "CloseDate": "2025-01-31",
         "AccountId": globex},
        user_id=admin,
    )  # fmt: skip
    for opp in (second, closed):
        data.create(
            "OpportunityContactRole",
            {"OpportunityId": opp, "ContactId": hank, "Role": "Influencer"},
            user_id=admin,
        )
    bigco = data.create("Account", {"Name": "BigCo"}, user_id=admin)
    big = {
        address: data.create(
            "Contact",
            {"LastName": f"Buyer {n}", "Email": address, "AccountId": bigco},
            user_id=admin,
        )
        for n, address in enumerate(BIG_CUSTOMERS)
    }
    return Seeded(sample, (sample.opportunities["Globex - Widget Rollout"], second), closed, big)


INBOUND_SECRET = "pipeline-inbound-secret-0001"
INBOUND_LOG = f"log+inbound-{INBOUND_SECRET}@{DOMAIN}"
"""Where localhost, as a named inbound source, sends copies of customers' mail to reps."""
TRIAL_TRUST = {
    "RELAY_SMTP_TRUSTED_NETWORKS": "127.0.0.1/32,::1/128",
    "RELAY_SMTP_SENDER_AUTH": "trusted_only",
    "RELAY_SMTP_INBOUND_NETWORKS": "127.0.0.1/32",
    "RELAY_SMTP_INBOUND_SECRET": INBOUND_SECRET,
}
"""The quick start's trial trust (the Makefile's `run`): these tests send from localhost
as the reps' own mail server would, and inbound copies as a named inbound source.
tests/trust covers the safe defaults."""


@contextmanager
def running_org(path: Path) -> Iterator[Org]:
    """The local org on HTTPS in this process, seeded with ``seed_pipeline``."""
    local = LocalOrg(path)
    info = local.start()
    try:
        yield Org(local, info, local.call(seed_pipeline))
    finally:
        local.stop()


@dataclass
class Org:
    org: LocalOrg
    info: LocalOrgInfo
    seeded: Seeded

    def sf(self) -> Salesforce:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        session.verify = self.info.ca_file
        return Salesforce(
            instance_url=self.info.instance_url,
            session_id=self.info.access_token,
            session=session,
            version="62.0",
        )

    def admin(self, path: str, body: Mapping[str, Any]) -> None:
        session = requests.Session()
        session.trust_env = False
        response = session.put(
            self.info.instance_url + path,
            json=dict(body),
            headers={"Authorization": f"Bearer {self.info.access_token}"},
            verify=self.info.ca_file,
        )
        assert response.status_code == 200, response.text

    def tasks(self, where: str = "") -> list[dict[str, Any]]:
        soql = "SELECT Id, Subject, WhoId, WhatId, OwnerId, Status, Relay_Key__c FROM Task" + (
            f" WHERE {where}" if where else ""
        )
        return list(self.sf().query_all(soql)["records"])

    def env(self) -> dict[str, str]:
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


@dataclass
class Serve:
    """`relay serve` as a subprocess on free ports, against ``org``."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    smtp_port: int = 0
    http_port: int = 0

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAY_", "PYTEST_"))}
        return (
            env
            | {
                "RELAY_HOME": str(self.home),
                "RELAY_DOMAIN": DOMAIN,
                "RELAY_LOG_FORMAT": "json",
                "RELAY_SMTP_MIN_FREE_BYTES": "0",
                **TRIAL_TRUST,
            }
            | self.env
        )

    def start(self, timeout: float = 30) -> Serve:
        self.home.mkdir(parents=True, exist_ok=True)
        ready = self.home / "ready.json"
        ready.unlink(missing_ok=True)
        command = [sys.executable, "-m", "relay", "serve", "--smtp-port", "0", "--http-port", "0"]
        with (self.home / "serve.stderr").open("ab") as stderr:
            self.process = subprocess.Popen(
                [*command, "--ready-file", str(ready)],
                env=self.base_env(),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"relay serve did not start:\n{self.stderr()[-4000:]}")
            time.sleep(0.05)
        ports = json.loads(ready.read_text())
        self.smtp_port, self.http_port = ports["smtp_port"], ports["http_port"]
        return self

    def stderr(self) -> str:
        path = self.home / "serve.stderr"
        return path.read_text(errors="replace") if path.exists() else ""

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        found = [json.loads(x) for x in self.stderr().splitlines() if x.startswith("{")]
        return [e for e in found if name is None or e.get("event") == name]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relay", *args],
            env=self.base_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def send(self, message: EmailMessage, rcpt: tuple[str, ...] = (LOG,)) -> None:
        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=10) as smtp:
            smtp.send_message(message, from_addr=str(message["From"]), to_addrs=list(rcpt))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def email(
    to: list[str],
    subject: str = "Pricing",
    *,
    cc: list[str] = (),  # type: ignore[assignment]
    sender: str = REP,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    body: str = "Hello, here is the proposal.\n",
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = "Mon, 06 Jan 2025 10:00:00 +0000"
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@acme-widgets.example>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message


def wait_for(predicate: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.1)
