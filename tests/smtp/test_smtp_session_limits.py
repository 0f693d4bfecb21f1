"""One client cannot take the edge: DATA slots per client (IPv6 per /64), an idle timeout
that says 421, a DATA timeout per chunk, and a cut-off after refused recipients."""

from __future__ import annotations

import smtplib
import socket
import time
from pathlib import Path

from relay.config import SmtpConfig
from relay.smtp import replies
from relay.smtp.limits import Admission, ConnectionLimits, DataGrant, DataSlots, client_key
from tests.smtp.smtp_edge import LOG, message, running_edge


def client_from(source: str, port: int, server: str = "127.0.0.1") -> smtplib.SMTP:
    client = smtplib.SMTP(server, port, timeout=10, source_address=(source, 0))
    client.ehlo("client.example")
    return client


def into_data(client: smtplib.SMTP) -> tuple[int, bytes]:
    client.mail("rep@x.example")
    client.rcpt(LOG)
    return client.docmd("DATA")


def finish(client: smtplib.SMTP) -> int:
    client.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    return client.getreply()[0]


def reply_of(code: int, text: bytes) -> str:
    return f"{code} {text.decode()}"


def test_one_client_gets_its_share_of_data_slots(tmp_path: Path):
    """16 slots, 4 per client: the fifth DATA from one address gets 451 4.7.0 while another
    address still gets in; the client's slot is back after its message."""
    with running_edge(tmp_path, max_concurrent_data=16, trusted_networks=()) as edge:
        assert edge.config.smtp.data_slots_per_client == 4
        hogs = [client_from("127.0.0.1", edge.port) for _ in range(5)]
        answers = [into_data(hog) for hog in hogs]
        assert [code for code, _ in answers] == [354, 354, 354, 354, 451]
        assert reply_of(*answers[-1]) == replies.CLIENT_BUSY
        with client_from("127.0.0.2", edge.port) as other:
            assert into_data(other)[0] == 354
            assert finish(other) == 250
        assert finish(hogs[0]) == 250
        assert into_data(hogs[4])[0] == 354
        for hog in hogs[1:]:
            assert finish(hog) == 250
        for hog in hogs:
            hog.close()


def test_a_trusted_mta_is_held_only_to_the_server_wide_cap(tmp_path: Path):
    """The admin's own MTA in front carries every client's mail from one address: its
    sessions may use every DATA slot, and the server-wide cap still holds."""
    with running_edge(tmp_path, max_concurrent_data=3, trusted_networks=("127.0.0.1/32",)) as edge:
        mta = [client_from("127.0.0.1", edge.port) for _ in range(4)]
        answers = [into_data(session) for session in mta]
        assert [code for code, _ in answers] == [354, 354, 354, 451]
        assert reply_of(*answers[-1]) == replies.BUSY
        for session in mta[:3]:
            assert finish(session) == 250
        for session in mta:
            session.close()


def test_ipv6_clients_share_data_slots_per_slash_64(tmp_path: Path):
    """Over IPv6 (::1) the per-client share applies too; addresses count per /64."""
    with running_edge(tmp_path, host="::1", max_concurrent_data=4, trusted_networks=()) as edge:
        first = client_from("::1", edge.port, server="::1")
        second = client_from("::1", edge.port, server="::1")
        assert into_data(first)[0] == 354
        assert reply_of(*into_data(second)) == replies.CLIENT_BUSY
        first.close()
        second.close()
    slots = DataSlots(capacity=16, per_client=1)
    assert slots.try_acquire("2001:db8:1:2::1") is DataGrant.GRANTED
    assert slots.try_acquire("2001:db8:1:2:ffff::9") is DataGrant.CLIENT_FULL
    assert slots.try_acquire("2001:db8:1:3::1") is DataGrant.GRANTED


def test_connections_per_client_count_ipv6_per_slash_64():
    """Changing the low 64 bits does not buy another connection."""
    limits: ConnectionLimits[str] = ConnectionLimits(max_total=100, max_per_client=2)
    assert limits.admit("a", "2001:db8::1") is Admission.ADMITTED
    assert limits.admit("b", "2001:db8::2") is Admission.ADMITTED
    assert limits.admit("c", "2001:db8::abcd:3") is Admission.TOO_MANY_FROM_CLIENT
    assert limits.admit("d", "2001:db8:0:1::1") is Admission.ADMITTED
    assert limits.admit("e", "::ffff:192.0.2.1") is Admission.ADMITTED
    assert client_key("::ffff:192.0.2.1") == client_key("192.0.2.1") == "192.0.2.1"
    limits.release("a")
    assert limits.admit("f", "2001:db8::99") is Admission.ADMITTED


def test_per_client_share_defaults_to_a_quarter():
    """A quarter of the server's DATA slots, at least one, unless configured."""
    assert SmtpConfig().data_slots_per_client == 4
    assert SmtpConfig(max_concurrent_data=2).data_slots_per_client == 1
    assert SmtpConfig(max_concurrent_data_per_client=7).data_slots_per_client == 7


def test_an_idle_session_gets_421_then_is_closed(tmp_path: Path):
    """RFC 5321 §4.5.3.2.7: after the idle timeout the client reads 421 4.4.2, then EOF."""
    with (
        running_edge(tmp_path, idle_timeout_seconds=2.0) as edge,
        socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock,
        sock.makefile("rb") as replies_in,  # one reply line per readline, whatever the chunks
    ):
        assert replies_in.readline().startswith(b"220 ")
        sock.sendall(b"EHLO client.example\r\n")
        line = replies_in.readline()
        while line.startswith(b"250-"):  # the EHLO reply's continuation lines
            line = replies_in.readline()
        assert line.startswith(b"250 "), line
        started = time.monotonic()
        assert replies_in.readline() == replies.TIMEOUT.encode() + b"\r\n"
        assert time.monotonic() - started >= 1.5
        assert replies_in.read(1) == b""


def test_data_timeout_runs_per_chunk_not_per_transfer(tmp_path: Path):
    """A slow but moving DATA outlasts the timeout several times over and is queued; a
    stalled one gets 421 4.4.2 and nothing is stored."""
    with running_edge(tmp_path, idle_timeout_seconds=0.8, data_timeout_seconds=0.8) as edge:
        with client_from("127.0.0.1", edge.port) as client:
            assert into_data(client)[0] == 354
            started = time.monotonic()
            client.send(b"Subject: slow\r\n\r\n")
            while time.monotonic() - started < 2.5:  # three timeouts' worth, in 0.3 s steps
                time.sleep(0.3)
                client.send(b"another line of a slow link\r\n")
            client.send(b".\r\n")
            assert client.getreply()[0] == 250
        assert len(edge.store.list()) == 1
        with client_from("127.0.0.1", edge.port) as client:
            assert into_data(client)[0] == 354
            client.send(b"Subject: stalled\r\n\r\nhalf a mess")
            assert reply_of(*client.getreply()) == replies.TIMEOUT
        assert len(edge.store.list()) == 1


def test_too_many_refused_recipients_end_the_session(tmp_path: Path):
    """Ten refused RCPTs in one session (default): the tenth 550 is followed by 421 and EOF."""
    with running_edge(tmp_path) as edge, client_from("127.0.0.1", edge.port) as client:
        client.mail("harvester@x.example")
        assert client.rcpt(LOG)[0] == 250  # accepted recipients do not count
        for number in range(1, 10):
            assert client.rcpt(f"guess{number}@elsewhere.example")[0] == 550
        assert client.noop()[0] == 250  # nine: still talking
        assert client.rcpt("guess10@elsewhere.example")[0] == 550
        assert reply_of(*client.getreply()) == replies.TOO_MANY_REFUSED_RECIPIENTS
        assert client.sock is not None
        assert client.sock.recv(1) == b""
    assert edge.store.list() == []


def test_refused_recipients_limit_is_configurable(tmp_path: Path):
    """smtp.max_refused_recipients sets the cut-off; a sender who makes no mistakes is never cut."""
    with running_edge(tmp_path, max_refused_recipients=2) as edge:
        with client_from("127.0.0.1", edge.port) as client:
            client.mail("rep@x.example")
            assert client.rcpt("nobody@elsewhere.example")[0] == 550
            assert client.rcpt("other@relay.example")[0] == 550
            assert reply_of(*client.getreply()) == replies.TOO_MANY_REFUSED_RECIPIENTS
        with client_from("127.0.0.1", edge.port) as client:
            for tag in range(12):
                client.sendmail("rep@x.example", [LOG], message(f"ok-{tag}"))
    assert len(edge.store.list()) == 12
