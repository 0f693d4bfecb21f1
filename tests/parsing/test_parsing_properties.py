"""Property tests: parse never raises, and its keys are deterministic."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relay.envelope import Envelope
from relay.parsing import parse

ENVELOPE = Envelope("rep@us.example", ("log@relay.localhost",))
NOW = datetime(2025, 2, 1, tzinfo=UTC)

SEED = (
    b"From: Jane Doe <jane@acme.example>\r\n"
    b"To: log@relay.localhost\r\n"
    b"Subject: =?utf-8?q?Fwd=3A_hi?=\r\n"
    b"Date: Mon, 13 Jan 2025 10:00:04 +0100\r\n"
    b"Message-ID: <x@acme.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    b"---------- Forwarded message ---------\r\nFrom: Bob <bob@acme.example>\r\n"
    b"To: rep@us.example\r\nSubject: hi (ref: 0015g00000AbCdE)\r\n\r\nbody\r\n"
    b"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: c@d.example\r\nTo: e@f.example\r\n\r\nx\r\n"
    b"--b\r\nContent-Type: text/html\r\n\r\n<p>De\xc2\xa0: <b>x</b></p>\r\n--b--\r\n"
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=2000))
def test_parse_never_raises_on_bytes(raw: bytes) -> None:
    """Arbitrary bytes always give an Email with a key and an aware date."""
    email = parse(raw, ENVELOPE, NOW)
    assert email.message_key
    assert email.date.tzinfo is not None


@st.composite
def mutated_emails(draw: st.DrawFn) -> bytes:
    """The seed email with random splices: deletions, insertions and byte flips."""
    data = bytearray(SEED)
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["delete", "insert", "flip"]))
        if action == "delete":
            del data[position : position + draw(st.integers(1, 40))]
        elif action == "insert":
            data[position:position] = draw(
                st.one_of(
                    st.binary(max_size=30),
                    st.sampled_from(
                        [b"\r\n", b"--b\r\n", b"=?utf-8?b?", b"<", b">", b"@", b":", b"\xff\xfe"]
                    ),
                )
            )
        elif position < len(data):
            data[position] = draw(st.integers(0, 255))
    return bytes(data)


@FAST
@given(mutated_emails())
def test_parse_never_raises_on_mutated_emails(raw: bytes) -> None:
    """Structured-but-broken emails always give an Email, and parsing twice agrees."""
    first = parse(raw, ENVELOPE, NOW)
    second = parse(raw, ENVELOPE, NOW)
    assert first == second
    assert first.message_key == second.message_key
