"""Every reply code of the SMTP edge, over real sockets with smtplib."""

from __future__ import annotations

import errno
import re
import shutil
import smtplib
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from relay.errors import StoreUnavailable
from tests.smtp.smtp_session_helpers import DOMAIN, LOG, connect, message, send

QUEUED = re.compile(rb"^2\.0\.0 Ok: queued as (\S+)$")


def test_accepts_log_and_tagged_addresses_in_one_transaction(start_daemon):
    """Postfix sends one transaction with several RCPTs: one stored message, one 250."""
    relay = start_daemon()
    raw = message("multi")
    code, text = send(relay.smtp_port, raw, rcpts=(LOG, f"log+rep42@{DOMAIN}", "LOG@RELAY.EXAMPLE"))
    assert code == 250
    match = QUEUED.match(text)
    assert match, text
    queue_id = match.group(1).decode()
    stored = relay.store.get(queue_id)
    assert stored is not None
    assert stored.envelope.rcpt_tos == (LOG, f"log+rep42@{DOMAIN}", "LOG@RELAY.EXAMPLE")
    assert stored.envelope.mail_from == "rep@x.example"
    assert stored.envelope.helo == "client.test.example"
    assert stored.envelope.peer.startswith("127.0.0.1:")
    assert relay.store.raw(queue_id) == raw


@pytest.mark.parametrize(
    ("rcpt", "expected"),
    [
        (f"sales@{DOMAIN}", b"5.1.1"),
        (f"log+@{DOMAIN}", b"5.1.1"),
        ("log@elsewhere.example", b"5.7.1"),
        (f"log@sub.{DOMAIN}", b"5.7.1"),
        ("log@[127.0.0.1]", b"5.7.1"),
    ],
)
def test_refuses_recipients_that_are_not_ours(start_daemon, rcpt, expected):
    """Other mailboxes at our domain get 550 5.1.1; other domains 550 5.7.1 (no open relay)."""
    relay = start_daemon()
    with connect(relay.smtp_port) as client:
        client.mail("rep@x.example")
        code, text = client.rcpt(rcpt)
    assert code == 550
    assert text.startswith(expected)


def test_too_many_recipients_get_452(start_daemon):
    """Past smtp.max_recipients, RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.10)."""
    relay = start_daemon(max_recipients=2)
    with connect(relay.smtp_port) as client:
        client.mail("rep@x.example")
        assert client.rcpt(LOG)[0] == 250
        assert client.rcpt(f"log+a@{DOMAIN}")[0] == 250
        code, text = client.rcpt(f"log+b@{DOMAIN}")
        assert (code, text[:5]) == (452, b"4.5.3")
        code, _ = client.data(message("two-of-three"))
    assert code == 250
    assert relay.store.list(None)[0].envelope.rcpt_tos == (LOG, f"log+a@{DOMAIN}")


def test_null_sender_is_accepted(start_daemon):
    """DSNs come from <>; the edge accepts them and records an empty mail_from."""
    relay = start_daemon()
    code, _ = send(relay.smtp_port, message("dsn"), sender="<>")
    assert code == 250
    assert relay.store.list(None)[0].envelope.mail_from == ""


def test_size_is_advertised_and_enforced_at_mail(start_daemon):
    """EHLO advertises SIZE; MAIL with a larger SIZE= gets 552 5.3.4 (RFC 1870 §6.1)."""
    relay = start_daemon(max_message_bytes=10_000)
    with connect(relay.smtp_port) as client:
        assert client.esmtp_features["size"] == "10000"
        code, text = client.mail("rep@x.example", options=["SIZE=10001"])
    assert (code, text[:5]) == (552, b"5.3.4")


def test_oversize_data_gets_552_and_is_not_stored(start_daemon):
    """A message over the limit without SIZE= is refused after DATA with 552 5.3.4."""
    relay = start_daemon(max_message_bytes=10_000)
    code, text = send(relay.smtp_port, message("big", b"x" * 70 + b"\r\n") * 200)
    assert (code, text[:5]) == (552, b"5.3.4")
    assert relay.stored() == []


def test_64_kib_lines_are_accepted_byte_for_byte(start_daemon):
    """Real mail has long lines: a 64 KiB line is stored exactly as sent."""
    relay = start_daemon()
    long_line = b"<p>" + b"a" * (64 * 1024 - 3) + b"\r\n"
    raw = message("long-line", long_line + b".starts with a dot\r\n")
    code, _ = send(relay.smtp_port, raw)
    assert code == 250
    assert relay.stored() == [raw]


def test_line_over_the_limit_is_refused_not_truncated(start_daemon):
    """A line longer than smtp.max_line_bytes is refused whole, never cut."""
    relay = start_daemon(max_line_bytes=2000)
    code, text = send(relay.smtp_port, message("too-long", b"b" * 2100 + b"\r\n"))
    assert code == 500
    assert text.startswith(b"5.5.2")
    assert relay.stored() == []


def test_low_disk_space_gets_452_at_mail(start_daemon):
    """Below smtp.min_free_bytes, MAIL gets 452 4.3.1 before the client sends anything."""
    relay = start_daemon(min_free_bytes=2**62)
    with connect(relay.smtp_port) as client:
        code, text = client.mail("rep@x.example")
    assert (code, text[:5]) == (452, b"4.3.1")


def fail_with(error: Exception):
    """A store write fault: raised inside the write transaction, as a full disk would."""

    def fault(_connection) -> None:
        raise error

    return fault


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        StoreUnavailable("database or disk is full"),
    ],
    ids=["oserror-enospc", "store-unavailable"],
)
def test_store_failure_gets_451_and_nothing_is_stored(start_daemon, error):
    """When the commit fails the client gets 451 4.3.0, never 250, and nothing is queued."""
    relay = start_daemon()
    relay.store.write_fault = fail_with(error)
    with capture_logs() as logs:
        code, text = send(relay.smtp_port, message("enospc"))
    assert (code, text[:5]) == (451, b"4.3.0")
    relay.store.write_fault = None
    assert relay.stored() == []
    assert "message_queued" not in [entry["event"] for entry in logs]
    # The store recovers with the disk: the next message is accepted.
    assert send(relay.smtp_port, message("after-enospc"))[0] == 250


def test_unexpected_exception_in_handler_is_a_4xx(start_daemon, tmp_path: Path):
    """An exception inside a hook (here: RELAY_HOME vanished) is 451, not aiosmtpd's 500."""
    relay = start_daemon(store_url=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    shutil.rmtree(relay.daemon.config.home)
    with connect(relay.smtp_port) as client:
        code, text = client.mail("rep@x.example")
    assert (code, text[:5]) == (451, b"4.3.0")
    assert b"Error" not in text


def test_commands_in_the_wrong_order_keep_aiosmtpd_replies(start_daemon):
    """DATA before RCPT is a 503 protocol error, not swallowed by the DATA cap."""
    relay = start_daemon()
    with connect(relay.smtp_port) as client:
        client.mail("rep@x.example")
        with pytest.raises(smtplib.SMTPDataError) as caught:
            client.data(message("no-rcpt"))
    assert caught.value.smtp_code == 503


@pytest.mark.parametrize(
    ("rcpt", "why"),
    [
        (f"log+remind-3x@{DOMAIN}", b"remind-3x: not a reminder SPEC"),
        (f"log+remind-2020-01-01@{DOMAIN}", b"remind-2020-01-01: that date is past"),
        (f"log+rep42+remind-0w@{DOMAIN}", b"remind-0w: w count must be 1..52"),
        (f"log+remind-@{DOMAIN}", b"remind-: not a reminder SPEC"),
    ],
)
def test_a_bad_reminder_spec_is_refused_with_the_grammar(start_daemon, rcpt, why):
    """A reminder address whose SPEC is malformed or past: 550 5.1.3, naming why and the
    grammar (relay/reps/reminders.py), so the rep's own server tells them at once."""
    relay = start_daemon()
    with connect(relay.smtp_port) as client:
        client.mail("rep@x.example")
        code, text = client.rcpt(rcpt)
    assert code == 550
    assert text.startswith(b"5.1.3 " + why)
    assert b"log+remind[-SPEC]@ or log+TOKEN+remind[-SPEC]@" in text
    assert b"Nd, Nw, Nbd (business days), tomorrow, mon..sun, YYYY-MM-DD" in text


def test_reminder_addresses_are_ours(start_daemon):
    """Every reminder form is accepted as a relay address and stored as given."""
    relay = start_daemon()
    rcpts = (
        f"log+remind@{DOMAIN}",
        f"log+remind-3bd@{DOMAIN}",
        f"LOG+REMIND-TOMORROW@{DOMAIN}",
        f"log+rep42+remind-fri@{DOMAIN}",
        f"log+remind-2999-12-31@{DOMAIN}",
    )
    code, text = send(relay.smtp_port, message("reminders"), rcpts=rcpts)
    assert code == 250, text
    match = QUEUED.match(text)
    assert match, text
    stored = relay.store.get(match.group(1).decode())
    assert stored is not None
    assert stored.envelope.rcpt_tos == rcpts
