"""Entry point of the `relay` console script.

Sub-commands live in their own modules and are imported only when used, so `relay --help`
stays fast. Exit codes (docs/design.md §8):
0 success, 1 a problem found, 2 a usage error (click's own, and invalid configuration).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import click

from relay import __version__
from relay.cli.context import AppContext

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "serve": "relay.cli.serve:serve",
    "queue": "relay.cli.queue:queue",
    "config": "relay.cli.config_cmd:config",
    "org": "relay.cli.org:org",
    "explain": "relay.cli.explain:explain",
    "unresolved": "relay.cli.unresolved:unresolved",
    "doctor": "relay.cli.doctor:doctor",
    "address": "relay.cli.address:address",
    "senders": "relay.cli.senders:senders",
    "settings": "relay.cli.settings:settings",
    "forget": "relay.cli.forget:forget_command",
    "smtp": "relay.cli.smtp:smtp",
    "tasks": "relay.cli.tasks:tasks",
    "import": "relay.cli.importing:import_command",
}
# The processes `relay serve` starts (relay/supervisor.py): not listed in --help.
INTERNAL_COMMANDS: dict[str, str] = {
    "_edge": "relay.cli.serve_children:edge",
    "_worker": "relay.cli.serve_children:worker",
    "_local-org": "relay.cli.serve_children:local_org",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name) or INTERNAL_COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: Any = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="RELAY_CONFIG",
    help="TOML configuration file (env: RELAY_CONFIG). RELAY_* variables override it.",
)
@click.version_option(__version__, prog_name="relay")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Relay: log BCC'd email to Salesforce as Tasks."""
    ctx.obj = AppContext(config_path=config_path)


def main() -> None:
    # Everything a command creates in RELAY_HOME (relay.db and its -wal, the local org's
    # org.db, keys and tokens) is for Relay's own user only, whatever the login's umask
    # (often 022: world-readable). Set here, not in ``cli``, so that tests calling the
    # group in-process keep their own umask.
    os.umask(0o077)
    cli(prog_name="relay")
