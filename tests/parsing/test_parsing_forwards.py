"""Forwarded email: E2S's forward rule and the original's people, per client and language."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

from relay.parsing import Email


def emails(addresses: tuple[object, ...]) -> list[str]:
    return [a.email for a in addresses]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "source", "sender", "to", "cc", "subject"),
    [
        (
            "gmail_forward_en.eml",
            "text",
            "jane.doe@acme.example",
            ["rep@us.example"],
            ["bob@acme.example", "ann.smith@acme.example"],
            "Pricing for Q1",
        ),
        (
            "gmail_forward_html_only_fr.eml",
            "html",
            "jean.dupont@client.example",
            ["renee@us.example"],
            [],
            "Tarifs pour le T1",
        ),
        (
            "outlook_forward_text_en.eml",
            "text",
            "jane.doe@acme.example",
            ["rep@us.example", "bob@acme.example", "carla@partner.example"],
            ["legal@acme.example"],
            "Contract renewal",
        ),
        (
            "outlook_forward_html_de.eml",
            "html",
            "k.mueller@kunde.example",
            ["rep@us.example"],
            ["eva.schmidt@kunde.example"],
            "Angebot 2025",
        ),
        (
            "outlook_forward_text_fr.eml",
            "text",
            "jean.dupont@client.example",
            ["rep@us.example"],
            ["marie@client.example", "paul.martin@client.example"],
            "Devis",
        ),
        (
            "outlook_forward_text_es.eml",
            "text",
            "lucia.garcia@cliente.example",
            ["rep@us.example"],
            ["pedro@cliente.example"],
            "Presupuesto",
        ),
        (
            "apple_forward_en.eml",
            "text",
            "jane.doe@acme.example",
            ["rep@us.example"],
            ["bob@acme.example", "carla@partner.example"],
            "Meeting notes",
        ),
        (
            "apple_forward_de.eml",
            "text",
            "k.mueller@kunde.example",
            ["rep@us.example"],
            ["eva.schmidt@kunde.example"],
            "Termin",
        ),
        (
            "attached_rfc822_forward.eml",
            "rfc822",
            "zoe@bücher.example",
            ["rep@us.example"],
            ["accounts@bücher.example", "zoe@bücher.example"],
            "Order 4471",
        ),
    ],
)
def test_forward_original_people(
    fixture_email: Callable[..., Email],
    name: str,
    source: str,
    sender: str,
    to: list[str],
    cc: list[str],
    subject: str,
) -> None:
    """Each client's forward layout yields the original's From, To, Cc and subject."""
    email = fixture_email(name)
    assert email.is_forward
    original = email.forwarded
    assert original is not None, email.defects
    assert original.source == source
    assert original.from_ is not None
    assert original.from_.email == sender
    assert emails(original.to) == to
    assert emails(original.cc) == cc
    assert original.subject == subject


def test_forward_keeps_display_names_with_commas(fixture_email: Callable[..., Email]) -> None:
    """Outlook's unquoted "Last, First <addr>" keeps the whole name."""
    original = fixture_email("outlook_forward_text_en.eml").forwarded
    assert original is not None
    assert original.from_ is not None
    assert original.from_.display_name == "Doe, Jane"
    assert original.to[1].display_name == "Stone, Bob"


def test_forward_dates_from_client_text(fixture_email: Callable[..., Email]) -> None:
    """Client-printed dates are read: Gmail in the forwarder's zone, Apple with its GMT offset."""
    gmail = fixture_email("gmail_forward_en.eml").forwarded
    assert gmail is not None
    assert gmail.date == datetime(2025, 1, 6, 10, 15, tzinfo=timezone(timedelta(hours=1)))
    apple = fixture_email("apple_forward_en.eml").forwarded
    assert apple is not None
    assert apple.date == datetime(2025, 1, 8, 16, 5, 12, tzinfo=UTC)
    rfc822 = fixture_email("attached_rfc822_forward.eml").forwarded
    assert rfc822 is not None
    assert rfc822.date == datetime(2025, 1, 9, 13, 20, tzinfo=UTC)


def test_forward_with_unreadable_date_keeps_people(fixture_email: Callable[..., Email]) -> None:
    """A localised date that cannot be read leaves date None but the people intact."""
    original = fixture_email("outlook_forward_text_fr.eml").forwarded
    assert original is not None
    assert original.date is None
    assert original.from_ is not None


def test_not_a_forward_when_others_are_addressed(parse_raw: Callable[..., Email]) -> None:
    """E2S rule: another To or any Cc means the message is not a forward."""
    raw = (
        b"From: rep@us.example\r\nTo: log@relay.localhost, jane@acme.example\r\n"
        b"Subject: x\r\nMessage-ID: <a@b>\r\n\r\n---------- Forwarded message ---------\r\n"
        b"From: Bob <bob@acme.example>\r\nTo: rep@us.example\r\n\r\nhi\r\n"
    )
    email = parse_raw(raw)
    assert not email.is_forward
    assert email.forwarded is None
    with_cc = raw.replace(b", jane@acme.example", b"").replace(
        b"Subject", b"Cc: jane@acme.example\r\nSubject"
    )
    assert not parse_raw(with_cc).is_forward


def test_forward_without_block_is_flagged(parse_raw: Callable[..., Email]) -> None:
    """A message sent only to the relay with no original block says so in defects."""
    email = parse_raw(
        b"From: rep@us.example\r\nTo: log+acme@relay.localhost\r\nSubject: note\r\n"
        b"Message-ID: <n@us.example>\r\n\r\nJust a note to self.\r\n"
    )
    assert email.is_forward
    assert email.forwarded is None
    assert any("forward without" in defect for defect in email.defects)


def test_default_relay_predicate_is_the_envelope() -> None:
    """Without a predicate, the envelope's recipients are the relay's addresses."""
    from relay.envelope import Envelope
    from relay.parsing import parse

    raw = (
        b"From: rep@us.example\r\nTo: Log <LOG@Relay.Localhost>\r\nSubject: Fwd\r\n"
        b"Message-ID: <d@us.example>\r\n\r\nFrom: Jane <jane@acme.example>\r\n"
        b"To: rep@us.example\r\nSubject: hi\r\n\r\nbody\r\n"
    )
    email = parse(raw, Envelope("rep@us.example", ("log@relay.localhost",)), datetime.now(UTC))
    assert email.is_forward
    assert email.forwarded is not None
    assert email.forwarded.from_ is not None
    assert email.forwarded.from_.email == "jane@acme.example"


def _forward(body: str, content_type: str = "text/plain") -> bytes:
    head = (
        "From: Rep <rep@us.example>\r\nTo: log@relay.localhost\r\nSubject: Fwd: x\r\n"
        "Date: Wed, 8 Jan 2025 16:40:03 +0100\r\nMessage-ID: <f@us.example>\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: {content_type}; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return (head + body.replace("\n", "\r\n")).encode("utf-8")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (  # Apple Mail, French
            "Début du message réexpédié :\n\nDe: Jean Dupont <jean@client.example>\n"
            "Objet: Devis\nDate: 8 janvier 2025 à 17:05:12 UTC+1\nÀ: Rep <rep@us.example>\n"
            "Cc: Marie <marie@client.example>\n\nBonjour\n",
            "text/plain",
        ),
        (  # Apple Mail, Spanish
            "Inicio del mensaje reenviado:\n\nDe: Jean Dupont <jean@client.example>\n"
            "Asunto: Devis\nFecha: 8 de enero de 2025, 17:05:12 CET\nPara: Rep <rep@us.example>\n"
            "Cc: Marie <marie@client.example>\n\nHola\n",
            "text/plain",
        ),
        (  # Gmail, German
            "---------- Weitergeleitete Nachricht ---------\n"
            "Von: Jean Dupont <jean@client.example>\nDate: Mi., 8. Jan. 2025 um 17:05 Uhr\n"
            "Subject: Devis\nTo: <rep@us.example>\nCc: Marie <marie@client.example>\n\nHallo\n",
            "text/plain",
        ),
        (  # Gmail, Spanish
            "---------- Forwarded message ---------\n"
            "De: Jean Dupont <jean@client.example>\nDate: mié, 8 ene 2025 a las 17:05\n"
            "Subject: Devis\nTo: <rep@us.example>\nCc: Marie <marie@client.example>\n\nHola\n",
            "text/plain",
        ),
        (  # Outlook on the web, French HTML: bold labels, no-break space before the colon
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif"><b>De&nbsp;:'
            "</b> Jean Dupont &lt;jean@client.example&gt;<br><b>Envoyé&nbsp;:</b> mercredi 8 "
            "janvier 2025 17:05<br><b>À&nbsp;:</b> Rep &lt;rep@us.example&gt;<br><b>Cc&nbsp;:"
            "</b> Marie &lt;marie@client.example&gt;<br><b>Objet&nbsp;:</b> Devis</font>"
            "<div>&nbsp;</div></div><div>Bonjour</div>",
            "text/html",
        ),
        (  # a quoted forward (reply-style quoting) with a wrapped Cc list
            "See below\n\n> From: Jean Dupont <jean@client.example>\n> Sent: Wednesday, "
            "January 8, 2025 5:05 PM\n> To: rep@us.example\n> Cc: Marie <marie@client.example>,\n"
            ">  Paul <paul@client.example>\n> Subject: Devis\n>\n> Hello\n",
            "text/plain",
        ),
    ],
)
def test_forward_layouts_in_other_languages(
    parse_raw: Callable[..., Email], body: str, content_type: str
) -> None:
    """Labels in FR/DE/ES (and quoted or HTML layouts) yield the original's people."""
    original = parse_raw(_forward(body, content_type)).forwarded
    assert original is not None
    assert original.from_ is not None
    assert original.from_.email == "jean@client.example"
    assert [a.email for a in original.to] == ["rep@us.example"]
    assert "marie@client.example" in [a.email for a in original.cc]
    assert original.subject == "Devis"
