"""`relay serve`: run the daemon in the foreground (docs/design.md §2).

Thin on purpose, like uvicorn's CLI: it turns flags into configuration, says what listens
where, and hands over to ``relay.daemon.Daemon``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path

import click

from relay.cli.context import PROBLEM_FOUND, USAGE_ERROR, AppContext, pass_app
from relay.config import Config
from relay.daemon import FORCED_EXIT_STATUS, Daemon, Listening
from relay.errors import ConfigError, RelayError


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
@pass_app
def serve(
    app: AppContext, smtp_port: int | None, http_port: int | None, ready_file: Path | None
) -> None:
    """Run the daemon: SMTP listener, runners, and the health/metrics endpoint."""
    config = _with_ports(app.config, smtp_port, http_port)
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
        if ready_file is not None:
            _write_ready_file(ready_file, listening)

    from relay.localorg.runner import embedded_org
    from relay.runners import delivery_runner
    from relay.runners.retention import retention_runner
    from relay.smtp.senders import SenderPolicy
    from relay.smtp.tls import server_tls_context

    daemon = Daemon(
        config,
        runners=[delivery_runner(), retention_runner()],
        local_org=embedded_org,
        on_ready=ready,
        sender_policy=SenderPolicy.from_store,
    )
    try:
        server_tls_context(config.smtp)  # first: a bad certificate stops start-up at once
        asyncio.run(daemon.run(install_signal_handlers=True))
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
    click.echo("relay: stopped cleanly", err=True)


def _with_ports(config: Config, smtp_port: int | None, http_port: int | None) -> Config:
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
