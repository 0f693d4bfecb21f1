"""Postfix XFORWARD (XFORWARD_README): offered to and accepted from trusted networks only,
and what it says lasts for the next transaction only."""

from __future__ import annotations

import smtplib
from pathlib import Path

import pytest

from relay.smtp import replies
from relay.smtp.xforward import merged, parse_xforward, xtext_decode
from tests.smtp.smtp_edge import LOG, message, running_edge

ATTRIBUTES = "NAME ADDR PORT PROTO HELO IDENT SOURCE"


def send(client: smtplib.SMTP, tag: str) -> int:
    client.mail("rep@x.example")
    client.rcpt(LOG)
    return client.data(message(tag))[0]


def test_trusted_mta_reports_the_original_client_for_the_next_transaction(tmp_path: Path):
    """From a trusted network: EHLO lists XFORWARD; its attributes reach the next DATA only."""
    with (
        running_edge(tmp_path, trusted_networks=("127.0.0.0/8",)) as edge,
        smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client,
    ):
        client.ehlo("postfix.example")
        assert client.esmtp_features["xforward"].split() == ATTRIBUTES.split()
        code, _ = client.docmd(
            "XFORWARD",
            "NAME=mail.sender.example ADDR=192.0.2.7 PORT=4711 HELO=[UNAVAILABLE]",
        )
        assert code == 250
        # Incremental (the README): a second command adds to the first; xtext decoded.
        assert client.docmd("XFORWARD", "proto=ESMTP IDENT=q+2Bid+3D1 SOURCE=REMOTE")[0] == 250
        assert send(client, "first") == 250
        assert send(client, "second") == 250
    assert [seen.xforward for seen in edge.seen] == [
        {
            "name": "mail.sender.example",
            "addr": "192.0.2.7",
            "port": "4711",
            "proto": "ESMTP",
            "ident": "q+id=1",
            "source": "REMOTE",
        },
        None,
    ]


def test_rset_and_ehlo_forget_xforward(tmp_path: Path):
    """RSET and EHLO end what XFORWARD said; inside a transaction it gets 503."""
    with (
        running_edge(tmp_path, trusted_networks=("127.0.0.1/32",)) as edge,
        smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client,
    ):
        client.ehlo("postfix.example")
        client.docmd("XFORWARD", "ADDR=192.0.2.7")
        client.rset()
        assert send(client, "after-rset") == 250
        client.docmd("XFORWARD", "ADDR=192.0.2.8")
        client.ehlo("postfix.example")
        assert send(client, "after-ehlo") == 250
        client.mail("rep@x.example")
        assert client.docmd("XFORWARD", "ADDR=192.0.2.9") == (
            503,
            b"5.5.1 Error: MAIL transaction in progress",
        )
    assert [seen.xforward for seen in edge.seen] == [None, None]


def test_untrusted_client_cannot_xforward(tmp_path: Path):
    """Anyone else: not advertised, 550 5.7.0 (Postfix's answer), and the session learns nothing."""
    with (
        running_edge(tmp_path, trusted_networks=()) as edge,
        smtplib.SMTP("127.0.0.1", edge.port, timeout=10) as client,
    ):
        client.ehlo("attacker.example")
        assert not client.has_extn("xforward")
        code, text = client.docmd("XFORWARD", "ADDR=192.0.2.7 HELO=mail.acme.example")
        assert f"{code} {text.decode()}" == replies.XFORWARD_DENIED
        assert send(client, "untrusted") == 250
    assert [seen.xforward for seen in edge.seen] == [None]


@pytest.mark.parametrize(
    ("arg", "reply"),
    [
        ("", replies.XFORWARD_SYNTAX),
        ("ADDR", replies.XFORWARD_SYNTAX),
        ("ADDR=", replies.XFORWARD_SYNTAX),
        ("LOGIN=alice", replies.xforward_bad_attribute("LOGIN")),
        ("HELO=a+0Ab", replies.xforward_bad_value("HELO")),  # a line feed after decoding
        ("HELO=a+zz", replies.xforward_bad_value("HELO")),  # "+" not followed by hex
        ("NAME=" + "a" * 256, replies.XFORWARD_TOO_LONG),
    ],
)
def test_malformed_xforward_is_refused_whole(arg: str, reply: str):
    """Postfix's 501 replies; nothing of a refused request is applied."""
    assert parse_xforward(arg) == reply


def test_xforward_values():
    """xtext (RFC 3461 §4) is decoded; [UNAVAILABLE]/[TEMPUNAVAIL] withdraw an attribute."""
    assert xtext_decode("a+2Bb+3Dc") == "a+b=c"
    update = parse_xforward("name=[TEMPUNAVAIL] Addr=IPV6:2001:db8::1 PORT=[unavailable]")
    assert update == {"name": None, "addr": "IPV6:2001:db8::1", "port": None}
    assert merged({"name": "old.example", "port": "25"}, update) == {"addr": "IPV6:2001:db8::1"}
