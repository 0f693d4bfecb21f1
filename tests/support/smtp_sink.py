"""The one SMTP sink of the tests: an aiosmtpd server on 127.0.0.1 and an ephemeral port
playing the smarthost (outbound mail) and Salesforce's inbound Email-to-Salesforce; it
records envelopes and exact bytes, and can refuse with a given reply."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import SMTP


@dataclass(frozen=True)
class Captured:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    peer_ip: str = ""


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
            Captured(
                envelope.mail_from,
                tuple(envelope.rcpt_tos),
                bytes(envelope.original_content),
                peer_ip=session.peer[0],
            )
        )
        self.capture.received.set()
        return "250 2.0.0 Ok: captured"


@contextmanager
def capture_sink() -> Iterator[CaptureSmtp]:
    """The capture SMTP sink on 127.0.0.1 and an ephemeral port, playing the smarthost
    and Salesforce's inbound Email-to-Salesforce; it records envelopes and exact bytes."""
    capture = CaptureSmtp("127.0.0.1", 0)
    # aiosmtpd's Controller probes its port to know it is up, which cannot work with
    # port 0; so the sink runs on its own loop in a thread, bound with create_server.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="capture-smtp", daemon=True)
    thread.start()

    async def start() -> asyncio.Server:
        return await loop.create_server(
            lambda: SMTP(Sink(capture), hostname="capture.localhost"), "127.0.0.1", 0
        )

    server = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    capture.port = server.sockets[0].getsockname()[1]
    try:
        yield capture
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
