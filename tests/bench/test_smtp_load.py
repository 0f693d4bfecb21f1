"""bench/_smtp_load.py, the scale bench's SMTP client, against a real aiosmtpd sink: the
bytes arrive exactly (CRLF, dot-stuffing undone by the server), and a refusal is an
error, so a bench never counts a message the server did not take."""

from __future__ import annotations

import re

import pytest

from bench._smtp_load import SmtpLoadError, send_all, to_wire
from tests.support.smtp_sink import capture_sink

RAW = (
    b"From: rep@acme.example\nTo: buyer@customer.example\nSubject: dots\n\n"
    b".a line that starts with a dot\n..two dots\n.\nlast line without newline"
)


def test_every_message_arrives_byte_for_byte_over_several_connections() -> None:
    bodies = [RAW + b" %d" % n for n in range(30)]
    wires = [to_wire(body, "rep@acme.example", ["log@relay.example"]) for body in bodies]
    with capture_sink() as sink:
        send_all(wires, sink.port, connections=4)
    received = sorted(m.data for m in sink.messages)
    expected = sorted(body.replace(b"\n", b"\r\n") + b"\r\n" for body in bodies)
    assert received == expected
    assert {(m.mail_from, m.rcpt_tos) for m in sink.messages} == {
        ("rep@acme.example", ("log@relay.example",))
    }


def test_a_refused_message_raises_with_the_reply() -> None:
    with capture_sink() as sink:
        sink.reply = "550 5.7.1 Not a rep"
        with pytest.raises(SmtpLoadError, match=re.escape("550 5.7.1 Not a rep")):
            send_all([to_wire(RAW, "rep@acme.example", ["log@relay.example"])], sink.port, 1)


def test_connections_come_from_the_source_address_asked_for() -> None:
    """An SPF-checking server sees the client IP the bench binds (any of 127.0.0.0/8)."""
    wires = [to_wire(RAW + b" %d" % n, "rep@acme.example", ["log@relay.example"]) for n in range(6)]
    with capture_sink() as sink:
        send_all(wires, sink.port, connections=3, source_address="127.0.0.10")
        send_all(wires[:1], sink.port, connections=1)
    assert [m.peer_ip for m in sink.messages] == ["127.0.0.10"] * 6 + ["127.0.0.1"]
