"""The SMTP listener's lifecycle on the daemon's own event loop.

aiosmtpd's ``Controller`` runs its own loop in a thread and its ``stop()`` cancels work
in flight, so Relay creates the server itself with ``loop.create_server``. Python 3.11's
``Server.wait_closed()`` does not wait for open connections (bpo-79033, fixed in 3.12),
so ``ConnectionLimits`` tracks them and ``stop`` drains them itself:

1. stop accepting (``Server.close``); new connections get 421 while the socket closes;
2. idle sessions get ``421 4.3.2`` and are closed; sessions in a transaction finish it,
   get their reply, then 421;
3. at the deadline (or on a forced exit) whatever is left is closed;
4. commits that already started always finish: 250 was, or may be, on its way.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from relay.config import Config
from relay.logs import get_logger
from relay.metrics import Metrics
from relay.smtp import replies
from relay.smtp.credentials import Credentials
from relay.smtp.handler import RelayHandler
from relay.smtp.limits import ConnectionLimits, DataSlots
from relay.smtp.protocol import RelaySMTP
from relay.smtp.tls import server_tls_context
from relay.store.model import Store

log = get_logger("relay.smtp")

_DRAIN_POLL_SECONDS = 0.05


class SmtpServer:
    """Owns the listening socket and the sessions."""

    def __init__(self, config: Config, store: Store, metrics: Metrics) -> None:
        self._config = config
        smtp = config.smtp
        # Checked here, before anything listens: a bad certificate stops start-up.
        self._tls_context = server_tls_context(smtp)
        self.handler = RelayHandler(config, store, metrics)
        self.connections: ConnectionLimits[RelaySMTP] = ConnectionLimits(
            smtp.max_connections, smtp.max_connections_per_client
        )
        self.data_slots = DataSlots(smtp.max_concurrent_data, smtp.data_slots_per_client)
        # Parsed once (each hash is checked at config load); verified per AUTH off the loop.
        self._credentials = Credentials(smtp.auth_users)
        self._metrics = metrics
        self._server: asyncio.Server | None = None
        metrics.connections.set_function(lambda: len(self.connections.open))
        metrics.data_in_progress.set_function(lambda: self.data_slots.in_use)

    async def start(self) -> tuple[str, int]:
        """Listen on ``smtp.host:smtp.port`` (port 0 picks a free one); return the address."""
        loop = asyncio.get_running_loop()
        smtp = self._config.smtp

        def session() -> RelaySMTP:
            return RelaySMTP(
                self.handler,
                smtp,
                self.connections,
                self.data_slots,
                loop,
                self._tls_context,
                self._credentials,
            )

        self._server = await loop.create_server(
            session, host=smtp.host, port=smtp.port, reuse_address=True
        )
        sockname = self._server.sockets[0].getsockname()
        address = (str(sockname[0]), int(sockname[1]))
        log.info(
            "smtp_listening",
            host=address[0],
            port=address[1],
            hostname=smtp.hostname,
            domain=self._config.domain,
            max_message_bytes=smtp.max_message_bytes,
            starttls=self._tls_context is not None,
            require_tls=smtp.require_tls,
            auth=bool(self._credentials),
            client_certificates=smtp.tls_client_ca_file is not None,
        )
        return address

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self._server.sockets) if self._server is not None else ()

    async def stop(self, deadline_seconds: float, force: asyncio.Event | None = None) -> None:
        """Drain gracefully within ``deadline_seconds``; ``force`` cuts the wait short."""
        self.connections.shutting_down = True
        if self._server is not None:
            self._server.close()
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + deadline_seconds
        force = force or asyncio.Event()
        while self.connections.open and loop.time() < give_up_at and not force.is_set():
            for session in self.connections.open:
                if session.idle:
                    session.close_now(replies.SHUTTING_DOWN)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(force.wait(), _DRAIN_POLL_SECONDS)
        leftover = self.connections.open
        for session in leftover:
            session.close_now(replies.SHUTTING_DOWN)
        if not force.is_set():
            await self.handler.wait_for_commits()
        if self._server is not None:
            await self._server.wait_closed()
        log.info("smtp_stopped", cut_off_sessions=len(leftover), forced=force.is_set())
