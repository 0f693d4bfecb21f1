"""The console log format (a TTY) shows a hostile HELO, address or subject as escapes: the
terminal is never coloured, linked or reordered by data. JSON lines keep the text exact."""

from __future__ import annotations

import io
import json
import logging

import pytest

from relay.logs import configure_logging, get_logger
from tests.support.terminal_output import EVERYTHING, HOSTILE, assert_shown_inert


class TerminalStream(io.StringIO):
    """stderr on a terminal: configure_logging picks the coloured console format."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def console_stream() -> TerminalStream:
    stream = TerminalStream()
    configure_logging("info", "auto", stream)
    return stream


def test_relay_events_escape_control_characters(console_stream: TerminalStream) -> None:
    """A HELO with ESC sequences and a bidi override, logged by Relay, is shown escaped."""
    # One word with no space, "=" or quote: ConsoleRenderer prints such a str unquoted.
    names = ("markup_close", "csi_colour", "osc8_link", "bidi_override")
    helo = "".join(HOSTILE[name] for name in names)
    get_logger("relay.smtp").info("smtp_helo", helo=helo, peer="192.0.2.7:4000")
    output = console_stream.getvalue()
    assert "smtp_helo" in output
    assert "\x1b[" in output  # the renderer's own colours: this is the TTY format
    # Shown quoted, as Python writes it, so the OSC 8 example's ST shows as \x1b\\.
    assert_shown_inert(output, ("markup_close", "csi_colour", "bidi_override"))
    assert "\\x1b]8;;http://evil\\x1b\\\\click" in output


def test_library_events_escape_control_characters(console_stream: TerminalStream) -> None:
    """A library's log line (through the stdlib formatter) with the same text: escaped."""
    logging.getLogger("mail.log").warning("HELO from %s", EVERYTHING)
    output = console_stream.getvalue()
    assert "HELO from" in output
    assert_shown_inert(output)


def test_tracebacks_keep_their_lines(console_stream: TerminalStream) -> None:
    """Escaping keeps a traceback readable: its line breaks stay, the data in it does not act."""
    try:
        raise ValueError(EVERYTHING)
    except ValueError:
        get_logger("relay.runner").exception("runner_crashed")
    output = console_stream.getvalue()
    assert "Traceback (most recent call last):" in output
    assert output.count("\n") > 3
    assert_shown_inert(output)


def test_json_lines_keep_the_text_exact() -> None:
    """JSON lines are already safe (json escapes controls) and must stay exact."""
    stream = io.StringIO()
    configure_logging("info", "json", stream)
    get_logger("relay.smtp").info("smtp_helo", helo=EVERYTHING)
    assert json.loads(stream.getvalue())["helo"] == EVERYTHING
