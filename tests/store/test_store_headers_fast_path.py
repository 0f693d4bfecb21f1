"""The queue's header summary: the direct scan agrees with the email parser it skips."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.store import headers
from relay.store.headers import HeaderSummary, summarize_headers

DATA = Path(__file__).resolve().parents[1]
CORPUS = sorted(
    [
        *(DATA / "data" / "cpython_email").glob("*"),
        *(DATA / "data" / "mailparser").glob("*"),
        *(DATA / "parsing" / "fixtures").glob("*.eml"),
    ]
)


def parser_summary(raw: bytes) -> HeaderSummary:
    """The reference: compat32 parsing of the header block, as before the fast path."""
    parsed = headers._parse(raw)
    if parsed is None:
        return HeaderSummary(None, None)
    return HeaderSummary(
        headers._raw_value(parsed, "Message-ID"), headers._decoded_value(parsed, "Subject")
    )


SYNTHETIC = [
    b"Subject: plain\r\nMessage-ID: <a@b>\r\n\r\nbody",
    b"subject:  folded\r\n  twice\r\n\tand thrice \r\nMESSAGE-ID:\r\n <folded@id>\r\n\r\n",
    b"Subject: first\r\nSubject: second\r\n more\r\n\r\n",
    b"Subject: =?utf-8?q?caf=C3=A9?= ok\nMessage-ID: <lf@only>\n\nbody",
    b"Subject: =?broken?q?x\r\n\r\n",
    b"Subject: no body separator\r\n",
    b"",
    b"\r\n\r\nSubject: in the body\r\n",
    b"From someone@example Mon Jan 1 00:00:00 2024\r\nSubject: mbox\r\n\r\n",
    b"Subject: a\r\n: no name\r\n continued\r\n\r\n",
    b" leading continuation\r\nSubject: x\r\n\r\n",
    b"Subject: a\r\nnot a header line\r\nMessage-ID: <hidden@id>\r\n\r\n",
    b"Subject: lone\rcr\r\n\r\n",
    b"Subject: caf\xc3\xa9 8-bit\r\nMessage-ID: <8bit@id>\r\n\r\n",
    b"Subject: nul\x00inside\r\n\r\n",
    b"Subject:\r\nMessage-ID:   \r\n\r\n",
    b"X-Spaced : value\r\nSubject: after a bad name\r\n\r\n",
]


@pytest.mark.parametrize("raw", SYNTHETIC)
def test_synthetic_headers_match_the_parser(raw: bytes) -> None:
    """Folding, duplicates, encoded-words, defects, 8-bit, lone CR: same summary."""
    assert summarize_headers(raw) == parser_summary(raw)


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name)
def test_corpus_headers_match_the_parser(path: Path) -> None:
    """Every vendored real-world message gives the same Message-ID and Subject."""
    raw = path.read_bytes()
    assert summarize_headers(raw) == parser_summary(raw)


def test_plain_headers_take_the_scan() -> None:
    """A typical ASCII header block is read without the email parser."""
    block = b"From: a@b\r\nSubject: s\r\n  t\r\nMessage-ID: <m@id>"
    fields = headers._scan_plain_fields(block, ("message-id", "subject"))
    assert fields == {"subject": "s  t", "message-id": "<m@id>"}
