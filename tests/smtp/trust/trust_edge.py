"""A real SMTP edge (Relay's SmtpServer on an ephemeral port, a real SQLite store with
Alice and Bob as reps) whose SPF/DKIM/DMARC seam is a small function answering from a
table of verdicts, so each row of the sender table can be driven over real SMTP.
tests/smtp/trust/test_trust_serve.py runs the real checks against a DNS server."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from relay.config import Config, SmtpConfig
from relay.metrics import Metrics
from relay.reps.directory import load_address_secret, personal_address
from relay.smtp.senders import AuthChecks, SenderPolicy
from relay.smtp.server import SmtpServer
from relay.store import SqlStore, open_store
from relay.store.model import Rep

DOMAIN = "relay.acme-widgets.example"
ALICE = Rep("0055g0000000002AAA", "alice@acme-widgets.example", "alice@acme-widgets.example")
BOB = Rep("0055g0000000003AAA", "bob@acme-widgets.example", "bob@acme-widgets.example")
INBOUND_SECRET = "s3cret-inbound-0123456789"


@dataclass(frozen=True)
class Verdict:
    """The fields of relay.smtp.authentication.AuthVerdict the edge reads."""

    from_domain: str
    dmarc: str = "none"
    aligned_pass: bool = False
    temporary: bool = False
    reason: str = "from the test's table"


PASS = "pass"
VERDICTS = {
    "pass": lambda d: Verdict(d, "pass", aligned_pass=True),
    "fail": lambda d: Verdict(d, "fail"),
    "none": lambda d: Verdict(d, "none"),
    "temperror": lambda d: Verdict(d, "temperror", temporary=True),
}


@dataclass
class TableChecks:
    """Relay's own check answered from ``results`` (From domain -> pass|fail|none|
    temperror); records each call's (client_ip, helo, mail_from)."""

    results: Mapping[str, str] = field(default_factory=dict)
    reported_results: Mapping[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    async def verify(self, raw: bytes, client_ip: str, helo: str, mail_from: str) -> Verdict:
        self.calls.append((client_ip, helo, mail_from))
        domain = _from_domain(raw)
        return VERDICTS[self.results.get(domain, "none")](domain)

    def reported(self, raw: bytes, authserv_id: str) -> Verdict | None:
        result = self.reported_results.get(authserv_id)
        return None if result is None else VERDICTS[result](_from_domain(raw))

    def seam(self) -> AuthChecks:
        return AuthChecks(verify=self.verify, reported=self.reported)


def _from_domain(raw: bytes) -> str:
    header = BytesHeaderParser().parsebytes(raw).get("From", "")
    return parseaddr(str(header))[1].rpartition("@")[2].lower()


@dataclass
class Edge:
    config: Config
    store: SqlStore
    policy: SenderPolicy
    checks: TableChecks
    port: int

    def send(
        self,
        mail_from: str,
        rcpt: str,
        header_from: str | None = None,
        header_to: str = "hank@globex.example",
    ) -> tuple[int, str]:
        """One transaction; the (code, text) of the first refusal, or of DATA's reply."""
        data = (
            f"From: {header_from or mail_from}\r\nTo: {header_to}\r\n"
            "Subject: Pricing\r\nMessage-ID: <p-1@acme-widgets.example>\r\n\r\nHello.\r\n"
        ).encode()
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.ehlo("mx.example.org")
            client.mail(mail_from)
            code, reply = client.rcpt(rcpt)
            if code != 250:
                return code, reply.decode()
            code, reply = client.data(data)
            return code, reply.decode()

    def personal(self, rep: Rep) -> str:
        return personal_address(rep.user_id, load_address_secret(self.config.home), DOMAIN)

    def auths(self) -> list[str]:
        return [message.envelope.auth for message in self.store.list()]


def run_edge(
    tmp_path: Path,
    checks: TableChecks | None = None,
    synced: bool = True,
    **smtp: Any,
) -> Iterator[Edge]:
    checks = checks or TableChecks()
    config = Config(
        home=tmp_path,
        domain=DOMAIN,
        smtp=SmtpConfig(port=0, hostname=DOMAIN, min_free_bytes=0, **smtp),
    )
    store = open_store(config.effective_store_url)
    if synced:
        store.replace_reps([ALICE, BOB], datetime.now(UTC))
    policy = SenderPolicy.from_store(config, store, checks.seam())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = SmtpServer(config, store, Metrics())
    server.handler.sender_policy = policy
    _, port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield Edge(config, store, policy, checks, port)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(5), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()
