"""The header block as byte spans, and the one RFC 5322.From domain."""

from __future__ import annotations

import pytest

from relay.smtp.authentication.headers import from_domain, header_fields


@pytest.mark.parametrize(
    ("from_value", "domain"),
    [
        ("alice@acme.example", "acme.example"),
        ("Alice <alice@ACME.Example>", "acme.example"),
        ('"Smith, Alice" <alice@acme.example>', "acme.example"),
        ("=?utf-8?q?Al=C3=AFce?= <alice@acme.example>", "acme.example"),
        ("Alice\r\n <alice@acme.example>", "acme.example"),
        ("alice@acme.example (Alice at Acme)", "acme.example"),
        ('"Smith, J" Jr <alice@acme.example>', "acme.example"),
        ("alice@acme.example, bob@globex.example", None),
        ("Mallory <mallory@evil.example>, Alice <alice@acme.example>", None),
        ("undisclosed-recipients:;", None),
        ("Alice <alice@localhost>", None),
        ("", None),
    ],
)
def test_from_domain(from_value: str, domain: str | None) -> None:
    """Simple forms, the full parser's forms, and what has no single domain."""
    raw = f"To: bob@customer.example\r\nFrom: {from_value}\r\n\r\nbody\r\n".encode()
    assert from_domain(raw) == domain


def test_two_from_fields_have_no_domain() -> None:
    """RFC 7489 §6.6.1: two From fields are as bad as two addresses."""
    raw = b"From: a@acme.example\r\nFrom: a@acme.example\r\n\r\n"
    assert from_domain(raw) is None


def test_fields_cover_the_header_and_stop_at_the_blank_line() -> None:
    """Each field spans its continuation lines; the body is not read as header."""
    raw = b"Subject: a\r\n b\r\nFrom: x@y.example\r\n\r\nTo: not@a.header\r\n"
    fields, body_start = header_fields(raw)
    assert [(f.name, raw[f.start : f.end]) for f in fields] == [
        ("subject", b"Subject: a\r\n b\r\n"),
        ("from", b"From: x@y.example\r\n"),
    ]
    assert raw[body_start:] == b"\r\nTo: not@a.header\r\n"
    assert fields[0].value(raw) == "a b"


def test_a_header_without_body_or_final_newline() -> None:
    """No blank line at all: the whole message is header."""
    fields, body_start = header_fields(b"From: x@y.example\nSubject: s")
    assert [f.name for f in fields] == ["from", "subject"]
    assert body_start == len(b"From: x@y.example\nSubject: s")
