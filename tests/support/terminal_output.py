"""Run the `relay` console script on a real pseudo-terminal, as an admin's shell does, and
the hostile text that email can carry (a module with a unique basename, so every test
area can import it).

On a terminal rich renders colours and OSC 8 hyperlinks, and click does not strip escape
sequences, so this is where markup or control characters from data would do harm.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

# Each one broke or hijacked `relay queue list` and friends when data was read as markup
# or written raw: rich's MarkupError, a clickable link, a colour change, a terminal
# hyperlink (OSC 8, ended by ST), and a right-to-left override that reverses what follows.
HOSTILE = {
    "markup_close": "[/]",
    "markup_link": "[link=https://evil.example]x[/link]",
    "csi_colour": "\x1b[31mred",
    "osc8_link": "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
    "bidi_override": "\u202eevil\u202c",
}
# What the admin sees instead: the text itself, the controls as Python escapes.
SHOWN = {
    "markup_close": "[/]",
    "markup_link": "[link=https://evil.example]x[/link]",
    "csi_colour": "\\x1b[31mred",
    "osc8_link": "\\x1b]8;;http://evil\\x1b\\click\\x1b]8;;\\x1b\\",
    "bidi_override": "\\u202eevil\\u202c",
}
EVERYTHING = " ".join(HOSTILE.values())
"""All of them in one value (no line break: a header or HELO cannot hold one)."""
COLUMNS = 400  # wide enough that rich never folds a value across lines


@dataclass(frozen=True)
class TerminalRun:
    returncode: int
    output: str
    """What the terminal received on stdout, line ends as "\\n"."""
    stderr: str


def run_on_terminal(*args: str, env: Mapping[str, str], timeout: float = 120.0) -> TerminalRun:
    """`relay ARGS` with stdout on a pseudo-terminal COLUMNS wide; only ``env``'s RELAY_*
    variables (the test environment's own are dropped, as tests/conftest.py does)."""
    full_env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("RELAY_") or key == "RELAY_TEST_POSTGRES_URL"
    }
    for quiet in ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES"):
        full_env.pop(quiet, None)
    full_env |= {"TERM": "xterm-256color", "RELAY_LOG_FORMAT": "json", **env}
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "relay", *args],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=errors,
            env=full_env,
        )
        os.close(terminal)
        try:
            received = _read_until_closed(controller, time.monotonic() + timeout)
            returncode = process.wait(timeout=timeout)
        finally:
            os.close(controller)
            if process.poll() is None:
                process.kill()
                process.wait()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    output = received.decode("utf-8", errors="replace").replace("\r\n", "\n")
    return TerminalRun(returncode, output, stderr)


def _read_until_closed(controller: int, deadline: float) -> bytes:
    chunks = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: every holder of the terminal side has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def assert_shown_inert(output: str, names: tuple[str, ...] = tuple(HOSTILE)) -> None:
    """Each hostile value in ``names`` is in ``output`` as visible text, and nothing of it
    acts: no hyperlink, no colour from the data, no control or bidi character."""
    for name in names:
        assert SHOWN[name] in output, f"{name}: {SHOWN[name]!r} not shown in {output!r}"
        if HOSTILE[name] != SHOWN[name]:
            assert HOSTILE[name] not in output, f"{name} reached the terminal raw"
    assert "\x1b]" not in output, "an OSC sequence (OSC 8 hyperlink) reached the terminal"
    acting = sorted({c for c in output if unicodedata.category(c) == "Cf" or "\x80" <= c <= "\x9f"})
    assert not acting, f"format or C1 control characters reached the terminal: {acting!r}"
