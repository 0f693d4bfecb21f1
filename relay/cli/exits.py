"""How CLI commands end on a problem: `relay: reason` on stderr, exit 1 (docs/design.md
§8), and the store opened with that rule. Kept light (no Salesforce client, no local
org) so that a command that needs only these, such as `relay import`, does not load the
rest."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from relay.cli.context import PROBLEM_FOUND, AppContext
from relay.cli.safe_text import clean
from relay.errors import RelayError
from relay.store import SqlStore, open_store


def fail(reason: str) -> NoReturn:
    click.echo(f"relay: {clean(reason)}", err=True)  # reasons may quote data
    raise SystemExit(PROBLEM_FOUND)


@contextmanager
def opened_store(app: AppContext) -> Iterator[SqlStore]:
    """The store from the configuration; any RelayError becomes `relay: reason`, exit 1."""
    try:
        store = open_store(app.config.effective_store_url)
    except (RelayError, ValueError) as error:
        fail(str(error))
    try:
        yield store
    except RelayError as error:  # UnknownMessage, InvalidTransition, StoreUnavailable
        fail(error.reason)
    finally:
        store.close()
