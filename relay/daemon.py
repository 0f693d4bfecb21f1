"""The daemon: the one owner of Relay's lifecycle, as in uvicorn (docs/design.md §2).

Start-up, in order::

    load config (the CLI) -> check the store file (SQLite quick_check) and open the store
    -> local org (if no Salesforce credentials) -> sender policy (reps from the store)
    -> health/metrics HTTP -> SMTP listener -> store.recover() -> runners

With ``relay serve --workers N`` (N > 0, docs/design.md §2) the supervisor
(relay/supervisor.py) runs this daemon in two roles, one per process: the edge
(``edge=True, recover=True``: listeners, recover, the retention runner) and each worker
(``edge=False, recover=False``: the delivery runners only, no port, no recovery). With
``--workers 0`` one daemon does both, as it always did.

Both ports are bound before ``recover``: a second daemon started on the same home by
mistake fails on its ports before it could requeue the first one's messages in flight.

Shutdown runs the same steps in reverse within ONE deadline (smtp.shutdown_deadline_seconds,
counted from the stop request): runners are told to stop at once and finish their batch
while the SMTP listener stops accepting and drains; the HTTP endpoint stops; runners still
running when the deadline is up are cancelled (their messages are recovered at the next
start); the local org stops; the store closes. SIGTERM or a
first SIGINT starts the graceful shutdown; a second SIGINT forces the exit.

Seams for later stages:

- ``runners``: coroutine functions ``async def run(ctx: RunnerContext) -> None``. Each runs
  as one task from start-up until ``ctx.stopping`` is set; it should then return promptly
  (it is cancelled after the deadline). A runner that raises stops the daemon (exit 1)
  rather than leaving a stage silently dead; its messages stay in the store.
- ``local_org``: ``(Config) -> async context manager yielding Config``. Used only when no
  Salesforce credentials are configured: it starts the embedded local org and yields the
  configuration the runners should use to reach it; leaving the context stops it.
- ``sender_policy``: ``(Config, Store) -> SenderPolicy`` (docs/design.md §4). Built once
  the store is open, attached to the SMTP handler, and handed to the runners
  (``RunnerContext.sender_policy``), which refresh it after each rep sync. Without it
  the edge accepts every sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

from relay.config import Config
from relay.errors import ConfigError
from relay.health import HealthServer
from relay.listening import FORCED_EXIT_STATUS, Listening
from relay.logs import get_logger
from relay.metrics import Metrics
from relay.runners.context import Runner, RunnerContext
from relay.smtp.senders import SenderPolicy
from relay.smtp.server import SmtpServer
from relay.store.model import Store
from relay.store_outage import StoreOutage

log = get_logger("relay.daemon")

# After a forced exit is requested, give the loop this long to unwind, then leave anyway
# (a store call stuck in a worker thread would otherwise keep the process alive).
_FORCED_EXIT_GRACE_SECONDS = 2.0


LocalOrg = Callable[[Config], AbstractAsyncContextManager[Config]]
StoreFactory = Callable[[str], Store]
SenderPolicyFactory = Callable[[Config, Store], SenderPolicy]


def open_default_store(url: str) -> Store:
    # Imported here: the CLI loads the daemon lazily.
    from relay.store import open_store
    from relay.store.integrity import check_store_file

    check_store_file(url)  # a damaged SQLite file stops start-up, before anything writes
    return open_store(url)


class Daemon:
    """Runs Relay until asked to stop. ``await Daemon(config).run()``."""

    def __init__(
        self,
        config: Config,
        *,
        runners: Sequence[Runner] = (),
        local_org: LocalOrg | None = None,
        store_factory: StoreFactory = open_default_store,
        on_ready: Callable[[Listening], None] | None = None,
        sender_policy: SenderPolicyFactory | None = None,
        edge: bool = True,
        recover: bool = True,
        on_queued: Callable[[], None] | None = None,
        on_started: Callable[[], None] | None = None,
        store_outage: StoreOutage | None = None,
    ) -> None:
        self.config = config
        self.metrics = Metrics()
        self.store_outage = store_outage if store_outage is not None else StoreOutage()
        self.listening: Listening | None = None
        self.failure: str | None = None
        self._runners = tuple(runners)
        self._local_org = local_org
        self._store_factory = store_factory
        self._on_ready = on_ready
        self._sender_policy = sender_policy
        self._edge = edge
        self._recover = recover
        self._on_queued = on_queued
        self._on_started = on_started
        self._stopping = asyncio.Event()
        self._shutdown_started_at: float | None = None
        self._forced = asyncio.Event()
        self._ready = asyncio.Event()

    # --- control -----------------------------------------------------------------------

    def request_stop(self, reason: str = "requested") -> None:
        """Begin the graceful shutdown (idempotent)."""
        if not self._stopping.is_set():
            log.info("shutdown_started", reason=reason)
            self._shutdown_started_at = time.monotonic()
            self._stopping.set()

    def _shutdown_time_left(self) -> float:
        """One deadline for the whole shutdown (smtp.shutdown_deadline_seconds), shared
        by the SMTP drain and the runners, so a service manager's stop timeout can be
        set just above it (deploy/systemd/relay.service)."""
        if self._shutdown_started_at is None:
            self._shutdown_started_at = time.monotonic()
        deadline = self._shutdown_started_at + self.config.smtp.shutdown_deadline_seconds
        return max(0.0, deadline - time.monotonic())

    def force_stop(self) -> None:
        """Stop waiting for sessions and runners; committed mail is already durable."""
        if not self._forced.is_set():
            log.warning("shutdown_forced")
            self._forced.set()
            self._stopping.set()

    @property
    def forced(self) -> bool:
        return self._forced.is_set()

    async def wait_ready(self) -> Listening:
        await self._ready.wait()
        assert self.listening is not None  # an edge's: a worker listens on nothing
        return self.listening

    # --- lifecycle ---------------------------------------------------------------------

    async def run(self, install_signal_handlers: bool = False) -> None:
        if install_signal_handlers:
            self._install_signal_handlers()
        config = self.config
        async with AsyncExitStack() as stack:
            config.home.mkdir(parents=True, exist_ok=True)
            store = await asyncio.to_thread(self._store_factory, config.effective_store_url)
            stack.callback(store.close)

            if not config.salesforce.configured:
                log.warning(
                    "salesforce_not_configured",
                    action="using the embedded local org, not a real Salesforce org",
                    fix="set RELAY_SF_TOKEN_URL and its credentials, or RELAY_SF_INSTANCE_URL",
                )
                if self._local_org is not None:
                    config = await stack.enter_async_context(self._local_org(config))

            policy = None
            if self._sender_policy is not None:
                policy = await asyncio.to_thread(self._sender_policy, config, store)
            context = RunnerContext(
                config=config,
                store=store,
                stopping=self._stopping,
                metrics=self.metrics,
                sender_policy=policy,
                store_outage=self.store_outage,
            )
            # Registered first so that it runs last: SMTP drains, then the runners stop.
            tasks: list[asyncio.Task[None]] = []
            stack.push_async_callback(self._stop_runners, tasks)

            if self._edge:
                self.listening = await self._listen_edge(stack, config, store, policy)
            if self._recover:
                # Only with both ports ours does this node touch the queue: a second
                # `relay serve` started on the same home by mistake stops above, before
                # it could requeue the first one's messages in flight. Once per node
                # start: a worker restarted by the supervisor must not requeue its
                # siblings' messages in flight (docs/design.md §2).
                requeued = await asyncio.to_thread(store.recover)
                log.info("store_recovered", requeued=requeued)
            tasks.extend(self._start_runner(runner, context) for runner in self._runners)

            log.info(
                "daemon_ready",
                runners=len(tasks),
                pid=os.getpid(),
                role="edge" if self._edge else "worker",
            )
            if self._on_ready is not None and self.listening is not None:
                self._on_ready(self.listening)
            if self._on_started is not None:
                self._on_started()
            self._ready.set()
            await self._stopping.wait()
        log.info("shutdown_complete", forced=self.forced, failure=self.failure)

    async def _listen_edge(
        self, stack: AsyncExitStack, config: Config, store: Store, policy: SenderPolicy | None
    ) -> Listening:
        """Bind the HTTP endpoint, then the SMTP listener; both stop with ``stack``."""
        smtp = SmtpServer(config, store, self.metrics)
        smtp.handler.sender_policy = policy
        smtp.handler.on_queued = self._on_queued
        from relay.console.build import build_console

        health = HealthServer(
            config.http_host,
            config.http_port,
            store,
            self.metrics,
            lambda: smtp.serving,
            self.store_outage.reason,
            console=build_console(config, store),
        )
        http_host, http_port = await _listen(
            health.start(), "health and metrics", "RELAY_HTTP_PORT", config.http_host,
            config.http_port,
        )  # fmt: skip
        stack.push_async_callback(health.stop)
        smtp_host, smtp_port = await _listen(
            smtp.start(), "SMTP", "RELAY_SMTP_PORT", config.smtp.host, config.smtp.port
        )
        stack.push_async_callback(smtp.stop, config.smtp.shutdown_deadline_seconds, self._forced)
        return Listening(smtp_host, smtp_port, http_host, http_port)

    def _start_runner(self, runner: Runner, context: RunnerContext) -> asyncio.Task[None]:
        name = getattr(runner, "__qualname__", repr(runner))

        async def supervised() -> None:
            await runner(context)

        task = asyncio.create_task(supervised(), name=f"runner:{name}")

        def finished(done: asyncio.Task[None]) -> None:
            if done.cancelled() or self._stopping.is_set():
                return
            error = done.exception()
            self.failure = f"runner {name} {'crashed: ' + repr(error) if error else 'exited'}"
            log.error("runner_stopped_unexpectedly", runner=name, error=repr(error))
            self.request_stop(reason=self.failure)

        task.add_done_callback(finished)
        return task

    async def _stop_runners(self, tasks: list[asyncio.Task[None]]) -> None:
        # Also reached when start-up failed after the runners started: they must be told.
        self._stopping.set()
        if not tasks:
            return
        pending = {task for task in tasks if not task.done()}
        if pending and not self.forced:
            all_done = asyncio.ensure_future(asyncio.wait(pending))
            forced = asyncio.ensure_future(self._forced.wait())
            await asyncio.wait(
                {all_done, forced},
                timeout=self._shutdown_time_left(),
                return_when=asyncio.FIRST_COMPLETED,
            )
            all_done.cancel()
            forced.cancel()
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for task, result in zip(tasks, results, strict=True):
            if isinstance(result, Exception):
                log.error("runner_failed", runner=task.get_name(), error=repr(result))

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._on_sigint)

    def _on_sigint(self) -> None:
        if not self._stopping.is_set():
            self.request_stop("SIGINT")
            return
        self.force_stop()
        asyncio.get_running_loop().call_later(_FORCED_EXIT_GRACE_SECONDS, _exit_now)


def _exit_now() -> None:
    log.error("forced_exit")
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    os._exit(FORCED_EXIT_STATUS)


async def _listen(
    start: Coroutine[Any, Any, tuple[str, int]], what: str, variable: str, host: str, port: int
) -> tuple[str, int]:
    """Bind a listener; a port in use (or a host not on this machine) is a one-line
    configuration problem naming the variable to change, not a traceback."""
    try:
        return await start
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(
            [
                f"cannot listen on {host}:{port} for {what}: {reason} (change {variable} or "
                "the host, or stop the program that uses it)"
            ]
        ) from None
