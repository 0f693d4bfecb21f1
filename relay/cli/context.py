"""What every command receives: the configuration, loaded once on first use."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from relay.config import Config, load_config, unknown_variables
from relay.errors import ConfigError
from relay.logs import configure_logging

USAGE_ERROR = 2
PROBLEM_FOUND = 1


@dataclass
class AppContext:
    config_path: Path | None
    _config: Config | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        """The effective configuration; invalid configuration exits 2 with every problem."""
        if self._config is None:
            warnings = unknown_variables()
            try:
                self._config = load_config(self.config_path)
            except ConfigError as exc:
                click.echo(f"relay: {exc.reason}", err=True)
                for warning in warnings:  # a typo often explains a "missing" setting
                    click.echo(f"relay: WARNING: {warning}", err=True)
                raise SystemExit(USAGE_ERROR) from None
            configure_logging(self._config.log_level, self._config.log_format)
            for warning in warnings:
                click.echo(f"relay: WARNING: {warning}", err=True)
        return self._config


def pass_app(function: Any) -> Any:
    """Decorator: pass the AppContext as the first argument."""
    return click.make_pass_decorator(AppContext)(function)


def print_json(document: Any) -> None:
    """Print one JSON document to stdout (every `--json` flag, docs/design.md §8)."""
    json.dump(document, sys.stdout, indent=2, default=str, sort_keys=False)
    sys.stdout.write("\n")


def console() -> Console:
    return Console(highlight=False, soft_wrap=True)
