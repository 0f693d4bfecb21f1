"""Outbound mail through the smarthost: forwards keep the bytes, notices never loop."""

from __future__ import annotations

import socket
from email import message_from_bytes
from pathlib import Path

import pytest

from relay.config import Config
from relay.errors import NeedsAttention, TemporaryError, Unprocessable
from relay.outbound import Outbound
from tests.support.smtp_sink import CaptureSmtp

ORIGINAL = (
    b"Received: from mx.acme-widgets.example by relay; Mon, 6 Jan 2025 10:00:00 +0000\r\n"
    b"From: Alice Nguyen <alice@acme-widgets.example>\r\n"
    b"To: hank@globex.example\r\n"
    b"Subject: =?utf-8?q?Pr=C3=A9sentation?=\r\n"
    b"Message-ID: <fwd-1@acme-widgets.example>\r\n"
    b"Content-Type: text/plain; charset=latin-1\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    b"Caf\xe9 at 10?\r\n  trailing spaces  \r\n.leading dot\r\n"
)


def outbound(tmp_path: Path, smarthost: str | None) -> Outbound:
    return Outbound(Config(home=tmp_path, domain="relay.example.com", smarthost=smarthost))


def test_forward_keeps_the_original_bytes(tmp_path: Path, capture_smtp: CaptureSmtp) -> None:
    """forward_original delivers the exact bytes (8-bit, dot lines) with the rep as sender."""
    outbound(tmp_path, capture_smtp.smarthost).forward_original(
        ORIGINAL, "emailtosalesforce@x.le.salesforce.com", "alice@acme-widgets.example"
    )
    [captured] = capture_smtp.messages
    assert captured.data == ORIGINAL
    assert captured.mail_from == "alice@acme-widgets.example"
    assert captured.rcpt_tos == ("emailtosalesforce@x.le.salesforce.com",)


def test_notice_is_auto_submitted_from_relay_with_null_sender(
    tmp_path: Path, capture_smtp: CaptureSmtp
) -> None:
    """A notice is plain text from relay@DOMAIN, Auto-Submitted, MAIL FROM:<> (RFC 3834)."""
    outbound(tmp_path, capture_smtp.smarthost).send_notice(
        "alice@acme-widgets.example", "Relay: action needed", "Open My Settings."
    )
    [captured] = capture_smtp.messages
    message = message_from_bytes(captured.data)
    assert captured.mail_from == "<>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["From"] == "Relay <relay@relay.example.com>"
    assert message.get_content_type() == "text/plain"
    assert "Open My Settings." in message.get_payload()


def test_unset_smarthost_needs_attention(tmp_path: Path) -> None:
    """Without RELAY_SMARTHOST, sending raises NeedsAttention naming the variable."""
    sender = outbound(tmp_path, None)
    assert not sender.enabled
    with pytest.raises(NeedsAttention, match="RELAY_SMARTHOST"):
        sender.send_notice("alice@acme-widgets.example", "s", "t")


@pytest.mark.parametrize(
    ("reply", "error"),
    [("451 4.3.0 try later", TemporaryError), ("550 5.1.1 no such user", Unprocessable)],
)
def test_refusals_are_classified(
    tmp_path: Path, capture_smtp: CaptureSmtp, reply: str, error: type[Exception]
) -> None:
    """A 4xx from the smarthost is temporary, a 5xx is permanent; the reply is in the reason."""
    capture_smtp.reply = reply
    with pytest.raises(error, match=reply.split()[0]):
        outbound(tmp_path, capture_smtp.smarthost).forward_original(ORIGINAL, "a@b.example", "")


def test_unreachable_smarthost_is_temporary(tmp_path: Path) -> None:
    """A refused connection is a TemporaryError (retry later), not a lost message."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TemporaryError, match="cannot send"):
        outbound(tmp_path, f"127.0.0.1:{port}").forward_original(ORIGINAL, "a@b.example", "")
