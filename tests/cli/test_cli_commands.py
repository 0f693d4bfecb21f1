"""Every command of the contract (docs/design.md §8) is registered, imports, and answers --help."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from relay.cli.main import COMMANDS, cli

CONTRACT = {
    "serve", "doctor", "queue", "unresolved", "explain", "address",
    "senders", "settings", "config", "org", "forget",
    "smtp", "tasks", "import",
}  # fmt: skip


def test_the_contract_commands_are_registered() -> None:
    """The command line has exactly the contract's commands (docs/design.md §8)."""
    assert set(COMMANDS) == CONTRACT


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_each_command_loads_and_shows_help(name: str) -> None:
    """A command module that fails to import would break `relay NAME` for admins."""
    result = CliRunner().invoke(cli, [name, "--help"], prog_name="relay")
    assert result.exit_code == 0, result.output
    assert "Usage: relay" in result.output


def test_unknown_command_is_a_usage_error() -> None:
    """Exit status 2 for a usage error (docs/design.md §8)."""
    assert CliRunner().invoke(cli, ["frobnicate"]).exit_code == 2
