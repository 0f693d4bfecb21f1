"""Under the usual login umask of 022, nothing `relay serve` creates in RELAY_HOME is
readable by other users: the store and its WAL, the local org's files, keys and tokens."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable

from tests.support.serve import RelayServe


def test_everything_serve_creates_is_private_under_umask_022(
    serve: Callable[..., RelayServe],
) -> None:
    """Files 0600 and directories 0700 (or tighter), the WAL and running.json included."""
    previous = os.umask(0o022)  # inherited by the `relay serve` subprocess
    try:
        relay = serve()
    finally:
        os.umask(previous)
    created = [
        path
        for path in relay.home.rglob("*")
        if not path.name.endswith(".stderr")  # the test's own capture of serve's stderr
    ]
    names = {path.relative_to(relay.home).as_posix() for path in created}
    assert {"relay.db", "relay.db-wal", "address.key", "ready.json"} <= names
    assert "localorg/running.json" in names
    assert any(name.startswith("localorg/") and name.endswith(".db") for name in names)
    loose = {
        path.relative_to(relay.home).as_posix(): oct(stat.S_IMODE(path.lstat().st_mode))
        for path in created
        if stat.S_IMODE(path.lstat().st_mode) & 0o077
    }
    assert loose == {}
