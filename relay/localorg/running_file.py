"""How CLI commands reach the embedded org a running `relay serve` holds: its data
directory's ``running.json`` (docs/design.md §2). Apart from the runner so that a
command reading it (relay/cli/org_access.py) does not load the org's server.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from relay.localorg.auth import write_private

RUNNING_FILE = "running.json"


def write_running_file(path: Path, document: dict[str, Any]) -> None:
    """Record how to reach a running embedded org (0600 from its first byte: it holds a
    session token), with this process's pid."""
    write_private(path, json.dumps({**document, "pid": os.getpid()}).encode())


def read_running_file(data_dir: Path) -> dict[str, Any] | None:
    """The running embedded org's details, or None when no live daemon serves it (a
    file left by a SIGKILLed daemon names a pid that is gone)."""
    path = data_dir / RUNNING_FILE
    try:
        document: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(document["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return document
