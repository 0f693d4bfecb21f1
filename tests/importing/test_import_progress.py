"""`relay import` on a terminal: the rich progress bar on stderr (rate, ETA and the
counts), then the summary line; what a person running it sees."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.importing.mail_files import message, write_mbox
from tests.support.pipeline import REP
from tests.support.serve import RelayServe


def read_terminal(controller: int, deadline: float) -> str:
    """What the terminal received until every holder of its other side closed it."""
    chunks = []
    while time.monotonic() < deadline:
        if not select.select([controller], [], [], 0.5)[0]:
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_progress_on_a_terminal(serve: RelayServe, tmp_path: Path) -> None:
    raws = [message(i, sender=REP, to="hank@globex.example", tag="bar") for i in range(150)]
    path = write_mbox(tmp_path / "bar.mbox", raws)
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))
    env = serve.full_env() | {"TERM": "xterm-256color", "COLUMNS": "250"}
    process = subprocess.Popen(
        [sys.executable, "-m", "relay", "import", str(path), "--user", REP, "--window", "30"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
        text=True,
    )
    os.close(terminal)
    try:
        shown = read_terminal(controller, time.monotonic() + 120)
        stdout, _ = process.communicate(timeout=120)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, shown
    assert "importing" in shown
    assert "150/150" in shown  # read of the total (the mbox's table of contents)
    assert "msg/s" in shown
    for count in ("read", "matched", "logged", "duplicate", "unresolved", "skipped", "failed"):
        assert f"{count} " in shown
    assert stdout.startswith("import ")
    assert " done: read 150, logged 150," in stdout
