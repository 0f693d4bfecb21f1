"""The internal commands the supervisor of `relay serve` starts (docs/design.md §2).

Hidden from ``relay --help``: nobody runs them by hand. Each loads the configuration as
every command does (the supervisor passes its ``--config`` and environment on), dies
with the supervisor (``die_with_parent``), and prints one JSON line on stdout when ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import click

from relay.accepting import RateGauge
from relay.cli.context import AppContext, pass_app
from relay.config import Config
from relay.daemon import Daemon
from relay.listening import Listening
from relay.logs import get_logger
from relay.runners.context import RunnerContext
from relay.smtp.senders import SenderPolicy
from relay.store.model import Store
from relay.store_outage import StoreOutage
from relay.supervisor import die_with_parent, lower_priority, socket_dir_paths, write_ready_line
from relay.wakeups import Listener, Poker

log = get_logger("relay.serve")
METRICS_CHECK_SECONDS = 0.05
METRICS_HEARTBEAT_SECONDS = 5.0

SUPERVISOR_PID = click.option("--supervisor-pid", type=int, required=True)
READY_FD = click.option("--ready-fd", type=int, default=None)
WAKEUP_DIR = click.option(
    "--wakeup-dir", type=click.Path(file_okay=False, path_type=Path), required=True
)
LOCAL_ORG = click.option(
    "--local-org",
    "running_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The running.json of the local org process, when it is used.",
)


def _on_sqlite(config: Config) -> bool:
    return config.effective_store_url.startswith("sqlite")


def _attached(running_file: Path | None) -> Callable[[Config], AbstractAsyncContextManager[Config]]:
    from relay.localorg.runner import attached_org

    def attach(config: Config) -> AbstractAsyncContextManager[Config]:
        assert running_file is not None
        return attached_org(config, running_file)

    return attach


@click.command("_edge", hidden=True)
@click.option("--smtp-port", type=click.IntRange(0, 65535), default=None)
@click.option("--http-port", type=click.IntRange(0, 65535), default=None)
@click.option("--workers", type=click.IntRange(0), required=True)
@WAKEUP_DIR
@LOCAL_ORG
@SUPERVISOR_PID
@READY_FD
@pass_app
def edge(
    app: AppContext,
    smtp_port: int | None,
    http_port: int | None,
    workers: int,
    wakeup_dir: Path,
    running_file: Path | None,
    supervisor_pid: int,
    ready_fd: int | None,
) -> None:
    """The SMTP edge: listeners, recovery, retention, its rep snapshot kept current from
    the store's change version; no delivery."""
    from relay.cli.serve import run_daemon, with_ports
    from relay.runners.rep_changes import rep_changes_runner
    from relay.runners.retention import retention_runner
    from relay.runners.task_sync import task_sync_runner

    die_with_parent(supervisor_pid)
    config = with_ports(app.config, smtp_port, http_port)
    edge_socket, worker_sockets = socket_dir_paths(wakeup_dir, workers)
    # On PostgreSQL the workers hear the store's own NOTIFY (relay/store/wakeup.py).
    workers_poker = Poker(worker_sockets) if _on_sqlite(config) else None
    # What the workers read to step back during a burst (relay/accepting.py).
    gauge = RateGauge.create(wakeup_dir)

    def queued() -> None:
        gauge.count()
        if workers_poker is not None:
            workers_poker.poke()

    policies: list[tuple[SenderPolicy, Store]] = []

    def make_policy(config: Config, store: Store) -> SenderPolicy:
        policy = SenderPolicy.from_store(config, store)
        policies.append((policy, store))
        return policy

    def refresh_reps() -> None:
        # A worker synced or refreshed the reps: the edge decides on the same snapshot.
        for policy, store in policies:
            try:
                policy.refresh(store)
            except Exception as error:
                log.warning("reps_refresh_failed", reason=repr(error))

    def ready(listening: Listening) -> None:
        write_ready_line(ready_fd, dataclasses.asdict(listening))

    outage = StoreOutage()
    daemon = Daemon(
        config,
        store_outage=outage,
        runners=[retention_runner(), rep_changes_runner(), task_sync_runner()],
        local_org=_attached(running_file) if running_file is not None else None,
        on_ready=ready,
        sender_policy=make_policy,
        on_queued=queued,
    )

    def from_worker(payload: bytes) -> None:
        try:
            report = json.loads(payload)
            if "reason" in report:
                outage.report_remote(str(report["worker"]), report["reason"])
            if "metrics" in report:
                daemon.metrics.add_remote(str(report["worker"]), report["metrics"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("wakeup_message_ignored", reason=repr(error))

    listener = Listener(edge_socket, refresh_reps, from_worker)
    try:
        run_daemon(daemon)
    finally:
        listener.close()
        if workers_poker is not None:
            workers_poker.close()
        gauge.close()


class _ReportingPolicy(SenderPolicy):
    """A worker's rep snapshot: after each refresh (a rep sync, or aliases changed by the
    CLI), it tells the edge to read the reps again (relay/wakeups.py)."""

    on_refresh: Callable[[], None] | None = None

    def refresh(self, store: Store) -> None:
        super().refresh(store)
        if self.on_refresh is not None:
            self.on_refresh()


@click.command("_worker", hidden=True)
@click.option("--index", type=click.IntRange(0), required=True)
@WAKEUP_DIR
@LOCAL_ORG
@SUPERVISOR_PID
@READY_FD
@pass_app
def worker(
    app: AppContext,
    index: int,
    wakeup_dir: Path,
    running_file: Path | None,
    supervisor_pid: int,
    ready_fd: int | None,
) -> None:
    """One delivery worker: deliver, rep sync, held re-check; no port, no recovery."""
    from relay.cli.serve import run_daemon
    from relay.runners import delivery_runner
    from relay.store import open_store

    die_with_parent(supervisor_pid)
    lower_priority()
    config = app.config
    edge_socket, worker_sockets = socket_dir_paths(wakeup_dir, index + 1)
    edge_poker = Poker([edge_socket])
    stores: list[Store] = []

    def open_worker_store(url: str) -> Store:
        # The edge checked the file and ran the migrations; the worker only opens it.
        store = open_store(url)
        stores.append(store)
        return store

    def wake() -> None:
        for store in stores:
            store.notify_work()

    def make_policy(config: Config, store: Store) -> SenderPolicy:
        policy = _ReportingPolicy.from_store(config, store)
        assert isinstance(policy, _ReportingPolicy)
        policy.on_refresh = edge_poker.poke
        return policy

    def report_outage(reason: str | None) -> None:
        # The edge's /readyz names it (relay/store_outage.py); a restarted worker starts
        # by clearing what its previous generation reported.
        edge_poker.send(json.dumps({"worker": f"worker-{index}", "reason": reason}).encode())

    report_outage(None)
    # The edge made it before it was ready, and the supervisor starts workers after that.
    gauge = RateGauge.open(wakeup_dir)
    edge_rate = gauge.rate if gauge is not None else None
    listener = Listener(worker_sockets[index], wake) if _on_sqlite(config) else None

    async def report_metrics(context: RunnerContext) -> None:
        # The edge serves /metrics: it adds this worker's counters to its own. Sent when
        # they changed, checked often, so that a scrape after a message is logged counts
        # its API calls (a collection is cheap next to a Salesforce call).
        last, sent_at = b"", 0.0
        while True:
            if context.metrics is not None:
                snapshot = {"worker": f"worker-{index}", "metrics": context.metrics.snapshot()}
                payload = json.dumps(snapshot).encode()
                now = time.monotonic()
                if payload != last or now - sent_at >= METRICS_HEARTBEAT_SECONDS:
                    edge_poker.send(payload)
                    last, sent_at = payload, now
            if context.stopping.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(context.stopping.wait(), METRICS_CHECK_SECONDS)

    daemon = Daemon(
        config,
        store_outage=StoreOutage(on_change=report_outage),
        on_started=lambda: write_ready_line(ready_fd, {"worker": index}),
        runners=[delivery_runner(edge_rate), report_metrics],
        local_org=_attached(running_file) if running_file is not None else None,
        store_factory=open_worker_store,
        sender_policy=make_policy,
        edge=False,
        recover=False,
    )
    try:
        run_daemon(daemon)
    finally:
        if listener is not None:
            listener.close()
        edge_poker.close()
        if gauge is not None:
            gauge.close()


@click.command("_local-org", hidden=True)
@SUPERVISOR_PID
@READY_FD
@pass_app
def local_org(app: AppContext, supervisor_pid: int, ready_fd: int | None) -> None:
    """The embedded local org, for the edge and the workers (RUNNING_FILE says where)."""
    from relay import loops
    from relay.localorg.runner import embedded_org
    from relay.localorg.running_file import RUNNING_FILE

    die_with_parent(supervisor_pid)
    config = app.config

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        config.home.mkdir(parents=True, exist_ok=True)
        async with embedded_org(config):
            write_ready_line(
                ready_fd, {"running_file": str(config.home / "localorg" / RUNNING_FILE)}
            )
            await stop.wait()

    loops.run(serve())
