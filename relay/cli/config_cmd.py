"""`relay config show`: the effective configuration, secrets redacted."""

from __future__ import annotations

import click

from relay.cli.context import AppContext, pass_app, print_json


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@pass_app
def show(app: AppContext, as_json: bool) -> None:
    """Print the effective configuration (file + RELAY_* variables), secrets redacted."""
    data = app.config.redacted()
    if app.config.store_url is None:
        data["store_url"] = app.config.effective_store_url  # the default; holds no secret
    data["salesforce"]["mode"] = (
        "configured org" if app.config.salesforce.configured else "embedded local org"
    )
    if as_json:
        print_json(data)
        return
    for section, value in data.items():
        if isinstance(value, dict):
            click.echo(f"[{section}]")
            for key, inner in value.items():
                click.echo(f"  {key} = {inner!r}")
        else:
            click.echo(f"{section} = {value!r}")
