"""Data in human output: always plain text, never rich markup, never terminal controls.

Rich reads ``[...]`` in a ``str`` as markup: a subject of ``[/]`` raises MarkupError and
``[link=URL]`` prints a hyperlink (OSC 8). A ``Text`` is never parsed, so every value that
comes from an email, the store or the org is printed through ``text`` (or ``cells`` for a
table row); ``clean`` is the same for ``click.echo``. Both replace control and format
characters with visible escapes (relay.terminal_text says which and why). Relay's own
fixed strings may still use markup.
"""

from __future__ import annotations

from rich.text import Text

from relay.terminal_text import inert


def clean(value: object, keep: str = "") -> str:
    """``value`` as a str that shows every character and controls none (but those in
    ``keep``, e.g. "\n" for a text of several lines)."""
    return inert(str(value), keep)


def text(value: object, style: str = "") -> Text:
    """``value`` as rich Text: shown as it is, not read as markup."""
    return Text(clean(value), style=style)


def cells(*values: object) -> list[Text]:
    """A table row of data values."""
    return [text(value) for value in values]
