"""Body text and attachment metadata, read from mail-parser's result (no second parse)."""

from __future__ import annotations

import re
from typing import Any

from inscriptis import get_text

from relay.parsing.model import Attachment

# HTML beyond this is not converted: the Task Description holds at most 32,000
# characters (Object Reference, Task), and inscriptis' cost grows with the document.
HTML_CONVERT_LIMIT = 512 * 1024


def html_to_text(html: str) -> tuple[str, tuple[str, ...]]:
    """Readable text from HTML (inscriptis keeps the layout of tables and lists)."""
    defects: tuple[str, ...] = ()
    if len(html) > HTML_CONVERT_LIMIT:
        html = html[:HTML_CONVERT_LIMIT]
        defects = (f"html body longer than {HTML_CONVERT_LIMIT} characters; truncated",)
    try:
        text = get_text(html)
    except Exception as exc:  # lxml's parser errors; any HTML must still yield an Email
        return "", (*defects, f"html body could not be converted: {exc}")
    return normalise_text(text), defects


def normalise_text(text: str) -> str:
    """LF line ends, no trailing spaces on lines, no leading/trailing blank lines."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def text_body(text_plain: list[str], text_html: list[str]) -> tuple[str, tuple[str, ...]]:
    """The body as text: the text/plain parts if any, else the first HTML part converted."""
    plain = [part for part in text_plain if part.strip()]
    if plain:
        return normalise_text("\n\n".join(plain)), ()
    if text_html:
        return html_to_text(text_html[0])
    return "", ()


def _decoded_size(item: dict[str, Any]) -> int:
    """The attachment's size in bytes once decoded, without decoding it.

    mail-parser keeps binary payloads base64-encoded: 3 bytes per 4 characters,
    less one per ``=`` of padding (RFC 4648 §4).
    """
    payload = item.get("payload") or ""
    if not isinstance(payload, str):
        return len(payload)
    if item.get("binary"):
        length = len(payload) - sum(payload.count(char) for char in " \t\r\n")
        padding = payload.rstrip()[-2:].count("=")
        return max(0, length * 3 // 4 - padding)
    return len(payload.encode("utf-8", "surrogateescape"))


# mail-parser names an unnamed RTF or "attachment" part with ten random lower-case
# letters (utils.random_string); a random name would make parse non-deterministic.
_INVENTED_NAME = re.compile(r"[a-z]{10}\.(?:rtf|txt)")


def _filename(item: dict[str, Any]) -> str:
    name = str(item.get("filename") or "")
    disposition = str(item.get("content-disposition") or "")
    if _INVENTED_NAME.fullmatch(name) and name not in disposition:
        return ""
    return name


def attachments(items: list[dict[str, Any]]) -> tuple[Attachment, ...]:
    """Name, type and decoded size of each attachment mail-parser found."""
    out: list[Attachment] = []
    for item in items:
        out.append(
            Attachment(
                filename=_filename(item),
                content_type=str(item.get("mail_content_type") or "application/octet-stream"),
                size=_decoded_size(item),
            )
        )
    return tuple(out)
