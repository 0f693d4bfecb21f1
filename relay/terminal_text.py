"""Text from email and from the org, made inert for a terminal: pure, no I/O.

Subjects, addresses, HELO names, display names and hold reasons are written by whoever
sent the mail. A terminal acts on some characters instead of showing them:

- C0 controls and DEL (U+0000-U+001F, U+007F); ESC starts a control sequence (ECMA-48
  §5.4): CSI colours and cursor moves, OSC 8 hyperlinks, OSC 52 clipboard writes;
- C1 controls (U+0080-U+009F), the 8-bit forms of the same (ECMA-48 §5.3, e.g. U+009B CSI);
- format characters (Unicode category Cf): the bidirectional embeddings, overrides and
  isolates (UAX #9 §2.1-2.4; "Trojan Source", CVE-2021-42574) reorder what is shown, and
  the invisible ones (zero-width space, word joiner, the tag characters U+E0000 block) hide
  text; line and paragraph separators (Zl, Zp) start new lines; lone surrogates (Cs, from
  undecodable bytes) cannot even be encoded for output.

Each such character becomes a visible escape in Python's notation (``\\x1b``,
``\\u202e``), so the admin sees that it was there and nothing acts on it. ZERO WIDTH
NON-JOINER and JOINER (U+200C, U+200D) are kept: Persian, Indic scripts and emoji
sequences need them (Unicode §23.2) and they move nothing.

Human output and console logs use this; JSON output does not need it (json.dumps writes
every control character as ``\\uXXXX`` and keeps the others exactly).
"""

from __future__ import annotations

import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_KEPT_FORMAT = frozenset({"\u200c", "\u200d"})


def is_unsafe(char: str) -> bool:
    """True for a character a terminal would act on or hide rather than show."""
    if char in _KEPT_FORMAT:
        return False
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def escaped(char: str) -> str:
    """``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN``, as Python writes it."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def inert(text: str, keep: str = "") -> str:
    """``text`` with every unsafe character but those in ``keep`` (e.g. "\\n" for a
    multi-line traceback) replaced by its visible escape."""
    if text.isascii() and text.isprintable():  # the common case: nothing to look at
        return text
    return "".join(escaped(char) if char not in keep and is_unsafe(char) else char for char in text)
