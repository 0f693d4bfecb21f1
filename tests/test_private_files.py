"""Secret files are 0600 from their first byte, whatever the umask, and written whole."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from relay.localorg.auth import write_private
from relay.reps.directory import ADDRESS_KEY_FILE, load_address_secret


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("umask_022")
def test_write_private_never_writes_into_a_file_others_can_read(tmp_path: Path) -> None:
    """A world-readable file planted at a predictable temporary name is not reused: the
    secret goes into a new 0600 file, and the planted one never sees it."""
    target = tmp_path / "credentials.json"
    planted = tmp_path / "credentials.json.tmp"
    planted.write_bytes(b"")
    planted.chmod(0o644)
    write_private(target, b'{"password": "s3cret"}')
    assert mode(target) == 0o600
    assert target.read_bytes() == b'{"password": "s3cret"}'
    assert planted.read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["credentials.json", planted.name]


@pytest.mark.usefixtures("umask_022")
def test_address_secret_is_private_and_one_for_all_concurrent_starters(tmp_path: Path) -> None:
    """Sixteen threads create it at once: all get the same whole 32-byte secret, 0600."""
    home = tmp_path / "home"
    results: list[bytes] = []
    start = threading.Barrier(16)

    def load() -> None:
        start.wait()
        results.append(load_address_secret(home))

    threads = [threading.Thread(target=load) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16
    assert len(set(results)) == 1
    assert len(results[0]) == 32
    assert mode(home / ADDRESS_KEY_FILE) == 0o600
    assert [p.name for p in home.iterdir()] == [ADDRESS_KEY_FILE], "no temporary file left"
