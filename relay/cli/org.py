"""``relay org``: run the local org alone, and load its sample data (docs/localorg.md)."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import click

from relay.cli.context import USAGE_ERROR, AppContext, pass_app


def _data_dir(app: AppContext, data: Path | None) -> Path:
    home = app.config.home  # loading the config also configures logging (to stderr)
    return data if data is not None else home / "localorg"


@click.group()
def org() -> None:
    """The local org: an embedded Salesforce for trying, testing and benchmarking Relay."""


@org.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=0, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (default: RELAY_HOME/localorg).",
)
@click.option(
    "--latency-ms", default=0.0, show_default=True, help="Latency added to each API call."
)
@click.option(
    "--faults", "faults", default="", help="Faults to inject, e.g. 503:0.05,timeout:0.01."
)
@click.option(
    "--session-ttl",
    default=7200.0,
    show_default=True,
    help="Seconds an access token stays valid.",
)
@pass_app
def serve(
    app: AppContext,
    host: str,
    port: int,
    data: Path | None,
    latency_ms: float,
    faults: str,
    session_ttl: float,
) -> None:
    """Serve the local org over HTTPS until SIGTERM or SIGINT.

    When ready it prints one JSON line: instance_url, access_token, ca_file, token_url,
    client_id, client_secret, username, password (and security_token, user_id, org_id).
    """
    from relay.localorg.faults import FaultSpecError, parse_fault_spec
    from relay.localorg.runner import LocalOrg

    data_dir = _data_dir(app, data)  # also loads the config and sets up logging (stderr)
    try:
        spec = parse_fault_spec(faults)
    except FaultSpecError as exc:
        click.echo(f"relay org serve: --faults: {exc}", err=True)
        raise SystemExit(USAGE_ERROR) from None
    if latency_ms < 0 or session_ttl <= 0:
        click.echo("relay org serve: --latency-ms must be >= 0 and --session-ttl > 0", err=True)
        raise SystemExit(USAGE_ERROR)
    local_org = LocalOrg(
        data_dir,
        host=host,
        port=port,
        latency_ms=latency_ms,
        faults=spec,
        session_ttl_seconds=session_ttl,
    )
    asyncio.run(_serve_until_signalled(local_org))


async def _serve_until_signalled(local_org: object) -> None:
    from relay.localorg.runner import LocalOrg

    assert isinstance(local_org, LocalOrg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    info = await local_org.start_async()
    sys.stdout.write(json.dumps(info.as_json()) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await local_org.stop_async()


@org.command()
@click.option("--sample", is_flag=True, required=True, help="Load the sample org.")
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (default: RELAY_HOME/localorg). Stop the org first.",
)
@pass_app
def seed(app: AppContext, sample: bool, data: Path | None) -> None:
    """Load a small realistic org (users, accounts, contacts, leads, opportunities).

    Safe to run twice: records that exist already are left alone.
    """
    from relay.localorg.data import OrgData
    from relay.localorg.runner import DATA_FILE
    from relay.localorg.seed import seed_sample

    data_dir = _data_dir(app, data)
    data_dir.mkdir(parents=True, exist_ok=True)
    org_data = OrgData(data_dir / DATA_FILE)
    try:
        sample_org = seed_sample(org_data)
    finally:
        org_data.close()
    click.echo(json.dumps(sample_org.summary()))


@org.command()
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input instead of asking for it.",
)
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    help="Data directory (default: RELAY_HOME/localorg).",
)
@pass_app
def password(app: AppContext, username: str, password_stdin: bool, data: Path | None) -> None:
    """Set the local org password of the User USERNAME (a rep's username or email), to
    sign in to the web console as that rep. The running org takes it at the next
    sign-in. Only the embedded local org: a real org's passwords are Salesforce's."""
    from relay.localorg.data import OrgData
    from relay.localorg.runner import DATA_FILE
    from relay.localorg.seed import soql_quote
    from relay.localorg.state import LATEST_VERSION
    from relay.localorg.web_credentials import UserPasswords

    data_dir = _data_dir(app, data)
    if not (data_dir / DATA_FILE).exists():
        raise click.ClickException(
            f"no local org in {data_dir}: run `relay org seed --sample` or `relay serve` first"
        )
    wanted = soql_quote(username.strip())
    org_data = OrgData(data_dir / DATA_FILE)
    try:
        users = org_data.query(
            f"SELECT Id, Username FROM User WHERE Username = {wanted} OR Email = {wanted}",  # noqa: S608
            include_deleted=False,
            api_version=LATEST_VERSION,
        ).records
    finally:
        org_data.close()
    if len(users) != 1:
        raise click.ClickException(f"no User {username} in the local org")
    if password_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    if not secret:
        raise click.ClickException("the password is empty")
    UserPasswords(data_dir).set(str(users[0]["Id"]), secret)
    click.echo(f"password set for {users[0]['Username']}")
