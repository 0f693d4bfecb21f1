"""A real SMTP listener (SmtpServer) on its own loop, with a handler that records what
each DATA saw on the session: the XFORWARD attributes and the inbound source."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.config import Config, SmtpConfig
from relay.metrics import Metrics
from relay.smtp.server import SmtpServer
from relay.store import open_store
from relay.store.model import Store

DOMAIN = "relay.example"
LOG = f"log@{DOMAIN}"
HOSTNAME = "mx.relay.example"


@dataclass
class Seen:
    xforward: dict[str, str] | None
    inbound_source: str | None


@dataclass
class Edge:
    config: Config
    store: Store
    server: SmtpServer
    port: int
    host: str
    seen: list[Seen] = field(default_factory=list)


@contextmanager
def running_edge(tmp_path: Path, host: str = "127.0.0.1", **smtp: Any) -> Iterator[Edge]:
    settings: dict[str, Any] = {"port": 0, "host": host, "hostname": HOSTNAME, "min_free_bytes": 0}
    config = Config(home=tmp_path, domain=DOMAIN, smtp=SmtpConfig(**(settings | smtp)))
    store = open_store(config.effective_store_url)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = SmtpServer(config, store, Metrics())
    edge = Edge(config, store, server, 0, host)
    handle_data = server.handler.handle_DATA

    async def recording(smtp_server: Any, session: Any, envelope: Any) -> str:
        xforward = session.xforward
        edge.seen.append(
            Seen(dict(xforward) if xforward is not None else None, session.inbound_source)
        )
        return await handle_data(smtp_server, session, envelope)

    server.handler.handle_DATA = recording  # type: ignore[method-assign]
    _, edge.port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    try:
        yield edge
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(5), loop).result(20)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()


def message(tag: str) -> bytes:
    return (
        f"From: Rep <rep@customer.example>\r\nTo: buyer@prospect.example\r\n"
        f"Subject: {tag}\r\nMessage-ID: <{tag}@test.example>\r\n\r\nHello.\r\n"
    ).encode()
