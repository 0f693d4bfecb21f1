"""relay.terminal_text: which characters a terminal would act on, and how they are shown."""

from __future__ import annotations

import pytest

from relay.terminal_text import inert


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("Pricing follow-up", "Pricing follow-up"),
        ("Angebot für Müller 日本 😀", "Angebot für Müller 日本 😀"),
        ("[/] [link=https://evil.example]x[/link]", "[/] [link=https://evil.example]x[/link]"),
        ("\x1b[31mred", "\\x1b[31mred"),  # ESC: C0
        ("a\tb\r\nc\x00", "a\\x09b\\x0d\\x0ac\\x00"),  # every C0, line breaks too
        ("\x7f\x9b31m\x85", "\\x7f\\x9b31m\\x85"),  # DEL, C1 CSI, C1 NEL
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),  # bidi override and pop (UAX #9)
        ("\u2066\u2069\u200e\u200f\u061c", "\\u2066\\u2069\\u200e\\u200f\\u061c"),
        ("in\u200bvisible\u00ad", "in\\u200bvisible\\xad"),  # zero-width space, soft hyphen
        ("tag\U000e0041", "tag\\U000e0041"),  # tag characters hide text
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),  # Zl, Zp
        ("bad\udcff", "bad\\udcff"),  # a lone surrogate (undecodable byte)
        ("می\u200cخواهم 👨\u200d👩", "می\u200cخواهم 👨\u200d👩"),  # ZWNJ, ZWJ kept
    ],
)
def test_inert_escapes_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    """Controls, format and separator characters become Python escapes; text stays."""
    assert inert(text) == shown


def test_keep_leaves_named_characters() -> None:
    """A traceback keeps its line breaks; the rest is still escaped."""
    assert inert("Traceback\n  \x1b[31m", keep="\n") == "Traceback\n  \\x1b[31m"
