"""The health and metrics HTTP endpoint (aiohttp) on ``RELAY_HTTP_PORT``.

- ``GET /healthz``: the process and its event loop answer (liveness).
- ``GET /readyz``: the store takes a write (one message written as enqueue writes it,
  then rolled back), the runners reach the store, and the SMTP listener is up
  (readiness); 503 and a JSON body naming the failing check and why otherwise.
- ``GET /metrics``: Prometheus text format from the daemon's own registry.

With a ``Console`` (relay/console), the same listener serves the web console at ``/``;
the three endpoints above stay as they are, without a session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from relay.errors import StoreUnavailable
from relay.logs import get_logger
from relay.metrics import Metrics
from relay.store.model import Store

if TYPE_CHECKING:
    from relay.console.context import Console

log = get_logger("relay.health")


class HealthServer:
    """A small aiohttp app; ``start`` returns the bound (host, port)."""

    def __init__(
        self,
        host: str,
        port: int,
        store: Store,
        metrics: Metrics,
        smtp_serving: Callable[[], bool],
        store_failing: Callable[[], str | None] = lambda: None,
        console: Console | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._store = store
        self._metrics = metrics
        self._smtp_serving = smtp_serving
        self._store_failing = store_failing
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics)
        self._console = console
        if console is not None:
            from relay.console.app import add_console

            add_console(app, console)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start(self) -> tuple[str, int]:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()  # set up but never serving: nothing else frees it
            raise
        host, port = self._runner.addresses[0][:2]
        log.info("http_listening", host=host, port=port, paths=["/healthz", "/readyz", "/metrics"])
        if self._console is not None:
            url = self._console.bound(str(host), int(port))
            log.info("console_listening", url=url, sign_in=self._console.sign_in is not None)
        return str(host), int(port)

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self._console is not None:
            await asyncio.to_thread(self._console.close)

    async def healthz(self, _request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(self, _request: web.Request) -> web.Response:
        checks: dict[str, str] = {}
        try:
            await asyncio.to_thread(self._store.check_writable)
            checks["store"] = "ok"
        except StoreUnavailable as exc:
            checks["store"] = f"not writable: {exc.reason}"
        except Exception as exc:  # a broken store is "not ready", never a 500 here
            checks["store"] = f"error: {exc!r}"
        failing = self._store_failing()
        checks["runners"] = "ok" if failing is None else f"store unavailable: {failing}"
        checks["smtp"] = "ok" if self._smtp_serving() else "not listening"
        ready = all(value == "ok" for value in checks.values())
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )

    async def metrics(self, _request: web.Request) -> web.Response:
        counts = await asyncio.to_thread(self._store.counts)
        body = self._metrics.render(counts)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
