"""`relay serve`: run the daemon in the foreground (docs/design.md §2).

Thin on purpose, like uvicorn's CLI: it turns flags into configuration, says what listens
where, and hands over to the supervisor (``relay.supervisor``: the edge, ``--workers``
delivery workers and the local org, each a process) or, with ``--workers 0``, to one
``relay.daemon.Daemon`` that does everything in this process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from relay.cli.context import PROBLEM_FOUND, USAGE_ERROR, AppContext, pass_app
from relay.config import Config
from relay.errors import ConfigError, RelayError
from relay.listening import FORCED_EXIT_STATUS, Listening

if TYPE_CHECKING:
    from relay.daemon import Daemon


@click.command()
@click.option(
    "--smtp-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Override RELAY_SMTP_PORT; 0 picks a free port (see --ready-file).",
)
@click.option(
    "--http-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Override RELAY_HTTP_PORT; 0 picks a free port (see --ready-file).",
)
@click.option(
    "--ready-file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RELAY_READY_FILE",
    default=None,
    help="Once listening, write the bound addresses here as JSON (env: RELAY_READY_FILE).",
)
@click.option(
    "--workers",
    type=click.IntRange(0),
    default=None,
    help="Delivery worker processes beside the SMTP edge (RELAY_WORKERS; default: CPUs "
    "minus one, at least 1); 0 runs everything in this one process.",
)
@pass_app
def serve(
    app: AppContext,
    smtp_port: int | None,
    http_port: int | None,
    ready_file: Path | None,
    workers: int | None,
) -> None:
    """Run the daemon: SMTP listener, runners, and the health/metrics endpoint."""
    config = with_ports(app.config, smtp_port, http_port)
    if workers is None:
        workers = config.effective_workers
    if not config.salesforce.configured:
        click.echo(
            "relay: WARNING: no Salesforce credentials are configured (RELAY_SF_TOKEN_URL or "
            "RELAY_SF_INSTANCE_URL). Relay uses the EMBEDDED LOCAL ORG, not a real "
            "Salesforce org: nothing reaches your Salesforce.",
            err=True,
        )

    def ready(listening: Listening) -> None:
        click.echo(
            f"relay: accepting mail for log@{config.domain} on "
            f"smtp://{listening.smtp_host}:{listening.smtp_port}; health and metrics on "
            f"http://{listening.http_host}:{listening.http_port} "
            f"(/healthz /readyz /metrics); store {_store_label(config)}",
            err=True,
        )
        host = listening.http_host
        shown = f"[{host}]" if ":" in host else host
        console_url = config.console.public_url or f"http://{shown}:{listening.http_port}"
        click.echo(f"relay: web console at {console_url}/ (sign in with Salesforce)", err=True)
        if ready_file is not None:
            _write_ready_file(ready_file, listening)

    from relay import loops
    from relay.smtp.tls import server_tls_context

    try:
        server_tls_context(config.smtp)  # first: a bad certificate stops start-up at once
        loops.loop_factory()  # and a bad RELAY_EVENT_LOOP, before any child starts
    except ConfigError as exc:
        click.echo(f"relay: {exc.reason}", err=True)
        raise SystemExit(USAGE_ERROR) from None
    if workers == 0:
        _serve_in_one_process(config, ready)
    else:
        _supervise(app, config, workers, smtp_port, http_port, ready)
    click.echo("relay: stopped cleanly", err=True)


def _serve_in_one_process(config: Config, ready: Any) -> None:
    from relay.daemon import Daemon
    from relay.localorg.runner import embedded_org
    from relay.runners import delivery_runner
    from relay.runners.retention import retention_runner
    from relay.runners.task_sync import task_sync_runner
    from relay.smtp.senders import SenderPolicy

    daemon = Daemon(
        config,
        runners=[delivery_runner(), retention_runner(), task_sync_runner()],
        local_org=embedded_org,
        on_ready=ready,
        sender_policy=SenderPolicy.from_store,
    )
    run_daemon(daemon)


def run_daemon(daemon: Daemon) -> None:
    """Run ``daemon`` on this process's loop (uvloop when installed); a start-up problem
    is one line and exit 2 or 1, a failure exit 1, a forced stop exit 130."""
    from relay import loops

    try:
        loops.run(daemon.run(install_signal_handlers=True))
    except ConfigError as exc:  # found at start-up, e.g. an unreadable TLS certificate
        click.echo(f"relay: {exc.reason}", err=True)
        raise SystemExit(USAGE_ERROR) from None
    except RelayError as exc:  # e.g. the store cannot be opened, or its file is damaged
        click.echo(f"relay: cannot start: {exc.reason}", err=True)
        raise SystemExit(PROBLEM_FOUND) from None
    if daemon.forced:
        sys.stderr.flush()
        os._exit(FORCED_EXIT_STATUS)  # worker threads may still be stuck in the store
    if daemon.failure is not None:
        click.echo(f"relay: stopped: {daemon.failure}", err=True)
        raise SystemExit(PROBLEM_FOUND)


def _supervise(
    app: AppContext,
    config: Config,
    workers: int,
    smtp_port: int | None,
    http_port: int | None,
    ready: Any,
) -> None:
    from relay.localorg.running_file import RUNNING_FILE
    from relay.supervisor import Supervisor

    command = [sys.executable, "-m", "relay"]
    if app.config_path is not None:
        command += ["--config", str(app.config_path)]
    # The wake-up sockets (relay/wakeups.py): a private directory (0700), short enough
    # for a UNIX socket path (108 bytes, unix(7)) wherever RELAY_HOME is.
    wakeup_dir = tempfile.mkdtemp(prefix="relay-")
    org_args: list[str] = []
    if not config.salesforce.configured:
        org_args = ["--local-org", str(config.home / "localorg" / RUNNING_FILE)]
    ports: list[str] = []
    if smtp_port is not None:
        ports += ["--smtp-port", str(smtp_port)]
    if http_port is not None:
        ports += ["--http-port", str(http_port)]
    supervisor = Supervisor(
        command=command,
        workers=workers,
        shutdown_deadline_seconds=config.smtp.shutdown_deadline_seconds,
        edge_args=[
            "_edge",
            "--workers",
            str(workers),
            "--wakeup-dir",
            wakeup_dir,
            *ports,
            *org_args,
        ],
        worker_args=lambda index: [
            "_worker",
            "--index",
            str(index),
            "--wakeup-dir",
            wakeup_dir,
            *org_args,
        ],
        local_org_args=["_local-org"] if org_args else None,
        on_ready=lambda document: ready(Listening(**document)),
    )
    try:
        status = supervisor.run()
    finally:
        shutil.rmtree(wakeup_dir, ignore_errors=True)
    if supervisor.start_failed:
        raise SystemExit(status)  # the child said why, on stderr
    if supervisor.forced:
        sys.stderr.flush()
        raise SystemExit(FORCED_EXIT_STATUS)
    if supervisor.failure is not None:
        click.echo(f"relay: stopped: {supervisor.failure}", err=True)
        raise SystemExit(PROBLEM_FOUND)


def with_ports(config: Config, smtp_port: int | None, http_port: int | None) -> Config:
    if smtp_port is not None:
        config = dataclasses.replace(config, smtp=dataclasses.replace(config.smtp, port=smtp_port))
    if http_port is not None:
        config = dataclasses.replace(config, http_port=http_port)
    return config


def _store_label(config: Config) -> str:
    redacted = config.redacted().get("store_url")
    return str(redacted or config.effective_store_url)


def _write_ready_file(path: Path, listening: Listening) -> None:
    # Written to a temporary name and renamed, so a reader never sees half a document.
    document = dataclasses.asdict(listening) | {"pid": os.getpid()}
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document) + "\n", encoding="utf-8")
    temporary.replace(path)
