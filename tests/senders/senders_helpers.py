"""Helpers shared by tests/senders: the capture SMTP sink's records and the running
sample org (a module with a unique basename, so tests can import it by name)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.config import Config, load_config
from relay.salesforce.localorg.runner import LocalOrg, LocalOrgInfo
from relay.salesforce.localorg.seed import SampleOrg


@dataclass(frozen=True)
class Captured:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


@dataclass
class CaptureSmtp:
    """A running sink; ``reply`` (e.g. "550 5.1.1 No such user") refuses the next DATA."""

    host: str
    port: int
    messages: list[Captured] = field(default_factory=list)
    reply: str | None = None
    received: threading.Event = field(default_factory=threading.Event)

    @property
    def smarthost(self) -> str:
        return f"{self.host}:{self.port}"


class Sink:
    def __init__(self, capture: CaptureSmtp) -> None:
        self.capture = capture

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.capture.reply is not None:
            return self.capture.reply
        self.capture.messages.append(
            Captured(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        self.capture.received.set()
        return "250 2.0.0 Ok: captured"


@dataclass(frozen=True)
class SampleOrgRunning:
    """The local org over HTTPS, seeded with the sample org (Alice has an E2S address)."""

    org: LocalOrg
    info: LocalOrgInfo
    sample: SampleOrg

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """RELAY_* variables for a relay pointed at this org with a direct session."""
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
        return load_config(environ=self.env(home, **extra))
