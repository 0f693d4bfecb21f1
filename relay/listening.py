"""Where a started ``relay serve`` listens, and its exit status when forced: the two facts
the supervisor (relay/supervisor.py) and the daemon (relay/daemon.py) share. A module of
its own so that the supervisor process never loads the daemon and everything under it
(the store, the SMTP edge, the Salesforce client): it only starts and watches children
(docs/design.md §2)."""

from __future__ import annotations

from dataclasses import dataclass

FORCED_EXIT_STATUS = 130
"""128 + SIGINT, what shells report for Ctrl-C: a second SIGINT forced the exit."""


@dataclass(frozen=True)
class Listening:
    """Where the daemon listens, once it is ready (ports resolved if 0 was asked)."""

    smtp_host: str
    smtp_port: int
    http_host: str
    http_port: int
